#!/usr/bin/env bash
# Installs, upgrades, removes and purges havip's .deb in a throwaway Debian
# root made with debootstrap, as dpkg does it on a server, and checks each
# step: the files, the conffile kept when edited (the upgrade ships a
# changed default, so dpkg has a conffile question to answer), the
# maintainer scripts' calls to systemd, and that nothing starts havip at
# install or upgrade. Nothing is installed on this machine: every dpkg
# runs chrooted in the throwaway root, which is removed at the end.
#
# Usage (as root): scripts/package-lifecycle.sh OLD.deb NEW.deb
#   OLD and NEW are two versions of the package (NEW the upgrade, whose
#   /etc/havip.toml differs from OLD's); without them, both are built
#   from this checkout (1.0.0, and 1.0.1 with a changed /etc/havip.toml).
# scripts/package-lifecycle.sh --print-mirror prints the mirror and the
#   proxies debootstrap would use, and does nothing else.
# Environment: HAVIP_DEBIAN_SUITE (default bookworm); HAVIP_DEBIAN_MIRROR
# (default: the first deb source of apt's sources.list and
# sources.list.d/*.list and *.sources, in apt's order, that has the suite,
# or on a Debian host its own release, and the main component; else
# http://deb.debian.org/debian); http_proxy and https_proxy (default: apt's
# Acquire::http::Proxy and Acquire::https::Proxy), which debootstrap's
# downloads use.
# Exit status: 0 when every check passed, 1 when one failed, 77 when the
# throwaway root could not be made (no root, no debootstrap, no mirror).
set -euo pipefail

suite=${HAVIP_DEBIAN_SUITE:-bookworm}

# apt_mirror SUITE...: the URI of the first deb source in apt's sources
# that has one of SUITEs and the main component: the mirror this machine
# already uses, not a security or third-party archive.
apt_mirror() {
	local sl=/etc/apt/sources.list sp=/etc/apt/sources.list.d/ files=() parts=()
	if command -v apt-config >/dev/null 2>&1; then
		eval "$(apt-config shell sl Dir::Etc::sourcelist/f sp Dir::Etc::sourceparts/d)"
	fi
	[ -f "$sl" ] && files+=("$sl")
	shopt -s nullglob
	parts=("${sp%/}"/*.list "${sp%/}"/*.sources)
	shopt -u nullglob
	if [ "${#parts[@]}" -gt 0 ]; then
		mapfile -t parts < <(printf '%s\n' "${parts[@]}" | LC_ALL=C sort)
		files+=("${parts[@]}")
	fi
	[ "${#files[@]}" -gt 0 ] || return 0
	awk -v want="$*" '
	function usable(uri, suites, comps, n, i, s, main) {
		if (uri !~ /^(https?|ftp|file):/) return 0
		n = split(comps, s, " ")
		for (i = 1; i <= n; i++) if (s[i] == "main") main = 1
		if (!main) return 0
		n = split(suites, s, " ")
		for (i = 1; i <= n; i++) if (s[i] in wanted) return 1
		return 0
	}
	function found(uri) { print uri; done = 1; exit }
	# A deb822 stanza (.sources) ends at a blank line or the end of its file.
	function stanza(n, u) {
		if (types ~ /(^| )deb( |$)/ && enabled != "no") {
			n = split(uris, u, " ")
			if (n > 0 && usable(u[1], suites, comps)) found(u[1])
		}
		types = uris = suites = comps = enabled = field = ""
	}
	function set(f, v) {
		if (f == "types") types = types " " v
		else if (f == "uris") uris = uris " " v
		else if (f == "suites") suites = suites " " v
		else if (f == "components") comps = comps " " v
		else if (f == "enabled") { enabled = tolower(v); gsub(/[ \t]/, "", enabled) }
	}
	BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) wanted[w[i]] = 1 }
	FNR == 1 { stanza(); deb822 = FILENAME ~ /\.sources$/ }
	deb822 && /^#/ { next }
	deb822 && /^[ \t]*$/ { stanza(); next }
	deb822 && /^[ \t]/ { set(field, $0); next }
	deb822 {
		c = index($0, ":")
		if (c) { field = tolower(substr($0, 1, c - 1)); set(field, substr($0, c + 1)) }
		next
	}
	{ sub(/#.*/, "") }
	$1 == "deb" {
		i = 2
		if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
		c = ""
		for (j = i + 2; j <= NF; j++) c = c " " $j
		if (usable($i, $(i + 1), c)) found($i)
	}
	END { if (!done) stanza() }
	' "${files[@]}"
}

# apt_proxy SCHEME: apt's proxy for SCHEME (https falls back to http's,
# as in apt); nothing for none or DIRECT.
apt_proxy() {
	local p=""
	command -v apt-config >/dev/null 2>&1 || return 0
	eval "$(apt-config shell p "Acquire::$1::Proxy")"
	if [ -z "$p" ] && [ "$1" = https ]; then
		eval "$(apt-config shell p Acquire::http::Proxy)"
	fi
	case $p in "" | DIRECT | false) ;; *) echo "$p" ;; esac
}

if [ -z "${HAVIP_DEBIAN_MIRROR:-}" ]; then
	releases=$suite
	if [ -r /etc/os-release ] && (. /etc/os-release && [ "${ID:-}" = debian ] && [ -n "${VERSION_CODENAME:-}" ]); then
		releases="$releases $(. /etc/os-release && echo "$VERSION_CODENAME")"
	fi
	HAVIP_DEBIAN_MIRROR=$(apt_mirror $releases)
fi
mirror=${HAVIP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# debootstrap downloads with wget, which reads these.
if [ -z "${http_proxy:-}" ]; then
	http_proxy=$(apt_proxy http)
fi
if [ -z "${https_proxy:-}" ]; then
	https_proxy=$(apt_proxy https)
fi
[ -z "$http_proxy" ] || export http_proxy
[ -z "$https_proxy" ] || export https_proxy
if [ "${1:-}" = --print-mirror ]; then
	echo "mirror $mirror"
	[ -z "$http_proxy" ] || echo "http_proxy $http_proxy"
	[ -z "$https_proxy" ] || echo "https_proxy $https_proxy"
	exit 0
fi

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
	(cd "$repo/packaging" && go run . -formats deb -version 1.0.0 -out "$work/old" >/dev/null)
	old=$(ls "$work"/old/*.deb)
	# The next version changes the default configuration, as a release
	# may: an edited file then makes dpkg ask.
	dpkg-deb --fsys-tarfile "$old" | tar -xOf - ./etc/havip.toml >"$work/havip.toml"
	echo "# A line the next version adds." >>"$work/havip.toml"
	(cd "$repo/packaging" && go run . -formats deb -version 1.0.1 -config "$work/havip.toml" -out "$work/new" >/dev/null)
	new=$(ls "$work"/new/*.deb)
fi

echo "making a throwaway $suite root with debootstrap (minbase) from $mirror"
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
conffile() { dpkg-deb --fsys-tarfile "$1" | tar -xOf - ./etc/havip.toml; }
conffile "$old" >"$work/old.toml"
conffile "$new" >"$work/new.toml"

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

echo "== upgrade to $new_version, which ships a changed /etc/havip.toml"
check "$new_version's /etc/havip.toml differs from $old_version's" sh -c '! cmp -s "$1" "$2"' _ "$work/old.toml" "$work/new.toml"
# Both files changed: dpkg would ask which to keep. Without a terminal it
# takes the answer from these options: keep the operator's.
check "dpkg -i --force-confdef --force-confold upgrades to $new_version without a question" dpkg_in_root -i --force-confdef --force-confold /tmp/new.deb
check "havip says the new version" sh -c "chroot '$root' havip version | grep -q '^havip ${new_version%-*} '"
check "the edited /etc/havip.toml is kept" grep -q "^# edited by the operator" "$root/etc/havip.toml"
check "the new default is beside it as havip.toml.dpkg-dist" cmp -s "$work/new.toml" "$root/etc/havip.toml.dpkg-dist"
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
check "havip.toml.dpkg-dist is gone" test ! -e "$root/etc/havip.toml.dpkg-dist"
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
