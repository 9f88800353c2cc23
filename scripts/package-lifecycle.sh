#!/usr/bin/env bash
# Installs, upgrades, removes and purges havip's .deb in a throwaway Debian
# root made with debootstrap, as dpkg does it on a server, and checks each
# step: the files, the conffile kept when edited, the maintainer scripts'
# calls to systemd, and that nothing starts havip at install or upgrade.
# Nothing is installed on this machine: every dpkg runs chrooted in the
# throwaway root, which is removed at the end.
#
# Usage (as root): scripts/package-lifecycle.sh OLD.deb NEW.deb
#   OLD and NEW are two versions of the package (NEW the upgrade); without
#   them, both are built from this checkout (1.0.0 and 1.0.1).
# Environment: HAVIP_DEBIAN_SUITE (default bookworm), HAVIP_DEBIAN_MIRROR
# (default http://deb.debian.org/debian).
# Exit status: 0 when every check passed, 1 when one failed, 77 when the
# throwaway root could not be made (no root, no debootstrap, no mirror).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "package-lifecycle: needs root (debootstrap, chroot)" >&2
	exit 77
fi
# Mounts that debootstrap makes in the root (proc, sys) stay in a mount
# namespace of this script's own and vanish with it.
if [ -z "${HAVIP_LIFECYCLE_NS:-}" ]; then
	HAVIP_LIFECYCLE_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi
command -v debootstrap >/dev/null || {
	echo "package-lifecycle: debootstrap is missing (apt-get install debootstrap)" >&2
	exit 77
}

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t havip-lifecycle.XXXXXX)
root=$work/root
cleanup() {
	for m in "$root/proc" "$root/sys" "$root/dev/pts" "$root/dev"; do
		mountpoint -q "$m" 2>/dev/null && umount -l "$m"
	done
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

if [ $# -eq 2 ]; then
	old=$(realpath "$1")
	new=$(realpath "$2")
else
	(cd "$repo/packaging" && go run . -formats deb -version 1.0.0 -out "$work/old" >/dev/null &&
		go run . -formats deb -version 1.0.1 -out "$work/new" >/dev/null)
	old=$(ls "$work"/old/*.deb)
	new=$(ls "$work"/new/*.deb)
fi

suite=${HAVIP_DEBIAN_SUITE:-bookworm}
mirror=${HAVIP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
echo "making a throwaway $suite root with debootstrap (minbase)"
if ! debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
	tail -n 20 "$work/debootstrap.log" >&2
	echo "package-lifecycle: debootstrap of $suite from $mirror failed" >&2
	exit 77
fi

failed=0
check() { # check WHAT COMMAND...: runs COMMAND, prints PASS or FAIL WHAT
	local what=$1
	shift
	if "$@"; then
		echo "PASS $what"
	else
		echo "FAIL $what"
		failed=1
	fi
}
in_root() { chroot "$root" "$@"; }
calls() { cat "$root/var/log/systemctl.calls" 2>/dev/null || :; }
no_start() { ! calls | grep -Eq '(^| )(start|restart|try-restart|reload-or-restart|enable --now)( |$)'; }
enabled() { [ -L "$root/etc/systemd/system/multi-user.target.wants/havip.service" ]; }
dpkg_in_root() { in_root env DEBIAN_FRONTEND=noninteractive dpkg "$@" </dev/null >>"$work/dpkg.log" 2>&1; }

# The root runs no systemd, so the maintainer scripts would skip it: make
# them believe it runs, with a systemctl that records what it is asked
# (deb-systemd-invoke calls it too) and does nothing.
mkdir -p "$root/run/systemd/system"
cat >"$root/usr/bin/systemctl" <<'EOF'
#!/bin/sh
echo "$*" >>/var/log/systemctl.calls
exit 0
EOF
chmod 755 "$root/usr/bin/systemctl"
cp "$old" "$root/tmp/old.deb"
cp "$new" "$root/tmp/new.deb"
old_version=$(dpkg-deb -f "$old" Version)
new_version=$(dpkg-deb -f "$new" Version)

echo "== install $old_version"
check "dpkg -i installs $old_version" dpkg_in_root -i /tmp/old.deb
check "havip runs and says its version" sh -c "chroot '$root' havip version | grep -q '^havip ${old_version%-*} '"
check "/etc/havip.toml is a conffile" sh -c "chroot '$root' dpkg-query -W -f='\${Conffiles}' havip | grep -q '/etc/havip.toml'"
check "/etc/havip is mode 0700" test "$(stat -c %a "$root/etc/havip")" = 700
check "the unit is installed" test -f "$root/usr/lib/systemd/system/havip.service"
check "the manual page is installed" test -f "$root/usr/share/man/man1/havip.1.gz"
check "the licence is installed" test -f "$root/usr/share/doc/havip/copyright"
check "systemd reloaded its units" sh -c "grep -q daemon-reload '$root/var/log/systemctl.calls'"
check "havip is not enabled at install" sh -c '! [ -L "$1" ]' _ "$root/etc/systemd/system/multi-user.target.wants/havip.service"
check "nothing starts havip at install" no_start

echo "== the operator edits /etc/havip.toml and enables havip"
echo "# edited by the operator" >>"$root/etc/havip.toml"
# What `systemctl enable havip` makes.
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -s /usr/lib/systemd/system/havip.service "$root/etc/systemd/system/multi-user.target.wants/havip.service"
: >"$root/var/log/systemctl.calls"

echo "== upgrade to $new_version"
check "dpkg -i upgrades to $new_version without a question" dpkg_in_root -i /tmp/new.deb
check "havip says the new version" sh -c "chroot '$root' havip version | grep -q '^havip ${new_version%-*} '"
check "the edited /etc/havip.toml is kept" grep -q "^# edited by the operator" "$root/etc/havip.toml"
check "havip stays enabled" enabled
check "nothing starts or restarts havip at upgrade" no_start

echo "== remove"
mkdir -p "$root/var/lib/havip"
echo '{"maintenance":true}' >"$root/var/lib/havip/state.json"
printf 'c2VjcmV0\n' >"$root/etc/havip/secret.key"
: >"$root/var/log/systemctl.calls"
check "dpkg -r removes havip" dpkg_in_root -r havip
check "the binary is gone" test ! -e "$root/usr/bin/havip"
check "the unit is gone" test ! -e "$root/usr/lib/systemd/system/havip.service"
check "havip was stopped (its VIPs handed over)" sh -c "grep -q '^stop havip.service' '$root/var/log/systemctl.calls'"
check "/etc/havip.toml stays until purge" test -f "$root/etc/havip.toml"

echo "== purge"
check "dpkg -P purges havip" dpkg_in_root -P havip
check "/etc/havip.toml is gone" test ! -e "$root/etc/havip.toml"
check "the node state in /var/lib/havip is gone" test ! -e "$root/var/lib/havip"
check "the cluster key the operator made stays" test -f "$root/etc/havip/secret.key"
check "systemd's record of the unit is gone" sh -c '! [ -L "$1" ]' _ "$root/etc/systemd/system/multi-user.target.wants/havip.service"
check "dpkg no longer knows havip" sh -c "! chroot '$root' dpkg-query -W havip >/dev/null 2>&1"
check "nothing started havip at any step" no_start

if [ "$failed" -ne 0 ]; then
	echo "dpkg's output:"
	cat "$work/dpkg.log"
	echo "systemctl calls:"
	calls
	exit 1
fi
echo "every check passed"
