package keepalived

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file maps every keepalived directive the converter knows, one
// entry each: supporting one more in havip means changing its entry.

// scope is where a directive appears.
type scope struct {
	// where names the enclosing block ("vrrp_instance VI_1"); "" at the
	// top level.
	where  string
	in     *instance
	script *vrrpScript
	group  *syncGroup
}

// at names directive n in the report.
func (s scope) at(n *Node) string {
	if s.where == "" {
		return n.Keyword()
	}
	return s.where + ": " + n.Keyword()
}

// directive converts one line, or reports why it cannot.
type directive func(c *converter, n *Node, s scope)

// say is a directive that only reports msg.
func say(kind Kind, msg string) directive {
	return func(c *converter, n *Node, s scope) { c.rep.add(n, kind, s.at(n), "%s", msg) }
}

// Messages shared by several directives.
const (
	vrrpOnly   = "a VRRP protocol setting: havip sends no VRRP (its members talk over memberlist, UDP and TCP port 7946)"
	lvsMsg     = "havip does not configure LVS (IPVS) or check real servers: keep keepalived for that with its vrrp_instance blocks removed (or run only its checker, keepalived --check), or use haproxy or ipvsadm rules; havip moves only the VIPs"
	mailMsg    = "havip sends no mail: a notify command can"
	trackOther = "havip tracks interfaces and scripts only: a track_script that checks the same thing (pidof, test -e, ...) does"
	routesMsg  = "havip adds no routes or rules: add them in a notify.master command and remove them in notify.backup and notify.fault (ip route add/del), or configure them permanently"
	staticMsg  = "not havip's job: configure it in the system's network configuration"
	// scriptSecurityMsg is said of enable_script_security.
	scriptSecurityMsg = "havip always refuses a track script or notify command whose program (or a directory on its path) " +
		"someone other than root, the user running havip or the command's own user can change (`havip check` says which and the chmod or chown that fixes it)"
	promoteMsg = "havip does not set the sysctl: removing an interface's primary IPv4 address removes its secondary ones " +
		"(a VIP with a prefix in the subnet of the interface's own address is one) unless net.ipv4.conf.IFACE.promote_secondaries = 1; `havip check` reports it"
)

// topDirectives are the blocks of the top level. global_defs and
// vrrp_script are read before the rest (see Convert).
var topDirectives = map[string]directive{
	"global_defs":          func(*converter, *Node, scope) {},
	"vrrp_script":          func(*converter, *Node, scope) {},
	"vrrp_instance":        func(c *converter, n *Node, _ scope) { c.vrrpInstance(n) },
	"vrrp_sync_group":      func(c *converter, n *Node, _ scope) { c.collectGroup(n) },
	"virtual_server":       say(Dropped, lvsMsg),
	"virtual_server_group": say(Dropped, lvsMsg),
	"static_ipaddress":     say(Dropped, staticMsg),
	"static_routes":        say(Dropped, staticMsg),
	"static_rules":         say(Dropped, staticMsg),
	"vrrp_track_process":   say(Dropped, trackOther),
	"vrrp_track_file":      say(Dropped, trackOther),
	"track_file":           say(Dropped, trackOther),
	"bfd_instance":         say(Dropped, trackOther),
	"linkbeat_interfaces":  say(Note, "havip follows link state through netlink events"),
	"garp_group":           say(Dropped, "havip sends its announcements on the instance's interface only"),
	"net_namespace":        say(Dropped, "havip runs in the network namespace it is started in (ip netns exec NAME havip run)"),
}

// globalDirectives are the lines of global_defs; other vrrp_* and lvs_*
// settings are reported as such (see apply).
var globalDirectives = map[string]directive{
	"router_id":                       func(c *converter, n *Node, _ scope) { c.routerID = n },
	"vrrp_garp_master_delay":          func(c *converter, n *Node, _ scope) { c.garp.delay = n },
	"vrrp_garp_master_repeat":         func(c *converter, n *Node, _ scope) { c.garp.repeat = n },
	"vrrp_garp_master_refresh":        func(c *converter, n *Node, _ scope) { c.garp.refresh = n },
	"vrrp_garp_master_refresh_repeat": func(c *converter, n *Node, _ scope) { c.garp.refreshRepeat = n },
	"vrrp_garp_interval":              func(c *converter, n *Node, _ scope) { c.garp.interval = n },
	"vrrp_gna_interval":               func(c *converter, n *Node, _ scope) { c.garp.gnaInterval = n },
	"vrrp_min_garp":                   func(c *converter, n *Node, _ scope) { c.garp.min = n },
	"enable_script_security":          say(Note, scriptSecurityMsg),
	"script_user":                     func(c *converter, n *Node, _ scope) { c.scriptUser = n },
	"notification_email":              say(Dropped, mailMsg),
	"notification_email_from":         say(Dropped, mailMsg),
	"smtp_server":                     say(Dropped, mailMsg),
	"smtp_connect_timeout":            say(Dropped, mailMsg),
	"smtp_helo_name":                  say(Dropped, mailMsg),
	"smtp_alert":                      say(Dropped, mailMsg),
	"smtp_alert_vrrp":                 say(Dropped, mailMsg),
	"smtp_alert_checker":              say(Dropped, mailMsg),
	"no_email_faults":                 say(Dropped, mailMsg),
	"default_interface":               say(Dropped, staticMsg),
	"dynamic_interfaces":              say(Note, "havip waits for a missing interface (the instance is in FAULT until it appears)"),
}

// instanceDirectives are the lines of a vrrp_instance.
var instanceDirectives = map[string]directive{
	"interface": func(c *converter, n *Node, s scope) { s.in.out.Interface, s.in.ifNode = n.Arg(1), n },
	"state": say(Dropped, "havip has no initial state: every member starts holding nothing, "+
		"and the eligible member with the highest priority takes the VIPs"),
	"virtual_router_id": func(c *converter, n *Node, s scope) {
		s.in.vrid = n.Arg(1)
		c.rep.add(n, Note, s.at(n), "havip has no virtual router ID: members of a cluster share cluster.name and the key, and instances are told apart by name")
	},
	"priority":      priority,
	"advert_int":    advertInt,
	"nopreempt":     func(c *converter, n *Node, s scope) { s.in.out.Preempt = false },
	"preempt":       func(c *converter, n *Node, s scope) { s.in.out.Preempt = true },
	"preempt_delay": preemptDelay,
	"virtual_ipaddress": func(c *converter, n *Node, s scope) {
		s.in.vips = append(s.in.vips, n)
	},
	"virtual_ipaddress_excluded": func(c *converter, n *Node, s scope) {
		s.in.vips = append(s.in.vips, n)
		c.rep.add(n, Note, s.at(n), "havip sends no VRRP adverts to leave them out of: these VIPs are added like the others")
	},
	"unicast_src_ip": func(c *converter, n *Node, s scope) { s.in.bind = n },
	"mcast_src_ip":   func(c *converter, n *Node, s scope) { s.in.bind = n },
	"unicast_peer":   func(c *converter, n *Node, s scope) { s.in.peers = n },
	"authentication": func(c *converter, n *Node, s scope) {
		c.hasAuth = true
		c.rep.add(n, Note, s.at(n), "auth_pass is not used: havip encrypts and authenticates all its traffic with cluster.secret_key_file; create the key once with `havip init --no-config --secret-key-file %s` and copy it to every member (mode 0600)", c.o.SecretKeyFile)
	},
	"track_interface": trackInterface,
	"track_script": func(c *converter, n *Node, s scope) {
		s.in.tracks = append(s.in.tracks, n.Children...)
	},
	"notify_master":              func(c *converter, n *Node, s scope) { s.in.notify["master"] = n },
	"notify_backup":              func(c *converter, n *Node, s scope) { s.in.notify["backup"] = n },
	"notify_fault":               func(c *converter, n *Node, s scope) { s.in.notify["fault"] = n },
	"notify_stop":                func(c *converter, n *Node, s scope) { s.in.notify["stop"] = n },
	"notify":                     func(c *converter, n *Node, s scope) { s.in.notify["any"] = n },
	"notify_master_rx_lower_pri": say(Dropped, "havip has no equivalent"),
	"notify_deleted":             say(Dropped, "havip has no equivalent"),
	"garp_master_delay":          func(c *converter, n *Node, s scope) { s.in.garp.delay = n },
	"garp_master_repeat":         func(c *converter, n *Node, s scope) { s.in.garp.repeat = n },
	"garp_master_refresh":        func(c *converter, n *Node, s scope) { s.in.garp.refresh = n },
	"garp_master_refresh_repeat": func(c *converter, n *Node, s scope) { s.in.garp.refreshRepeat = n },
	"garp_interval":              func(c *converter, n *Node, s scope) { s.in.garp.interval = n },
	"gna_interval":               func(c *converter, n *Node, s scope) { s.in.garp.gnaInterval = n },
	"garp_lower_prio_delay":      say(Dropped, "havip announces again whenever it meets another holder; there is no lower-priority advert to answer"),
	"garp_lower_prio_repeat":     say(Dropped, "havip announces again whenever it meets another holder; there is no lower-priority advert to answer"),
	"virtual_routes":             say(Dropped, routesMsg),
	"virtual_rules":              say(Dropped, routesMsg),
	"track_process":              say(Dropped, trackOther),
	"track_file":                 say(Dropped, trackOther),
	"track_bfd":                  say(Dropped, trackOther),
	"smtp_alert":                 say(Dropped, mailMsg),
	"use_vmac":                   say(Dropped, "havip keeps the interface's own MAC address and announces the VIPs with gratuitous ARP or unsolicited neighbour advertisements"),
	"vmac_xmit_base":             say(Dropped, "havip keeps the interface's own MAC address"),
	"dont_track_primary":         say(Changed, "havip always tracks the instance's interface: while it is down the instance is in FAULT"),
	"promote_secondaries":        say(Note, promoteMsg),
	"lvs_sync_daemon_interface":  say(Dropped, lvsMsg),
	"version":                    say(Note, vrrpOnly),
	"native_ipv6":                say(Note, vrrpOnly),
	"accept":                     say(Note, "havip's VIPs always accept traffic"),
	"no_accept":                  say(Dropped, "havip's VIPs always accept traffic"),
	"strict_mode":                say(Note, vrrpOnly),
	"check_unicast_src":          say(Note, vrrpOnly),
	"unicast_ttl":                say(Note, vrrpOnly),
	"unicast_fault_no_peer":      say(Note, vrrpOnly),
	"skip_check_adv_addr":        say(Note, vrrpOnly),
	"debug":                      say(Note, "havip run --log-level debug"),
}

// priority reads the base priority (1..255, keepalived's default 100).
func priority(c *converter, n *Node, s scope) {
	s.in.prioNode = n
	v, err := strconv.Atoi(n.Arg(1))
	if err != nil || v < 1 || v > 255 {
		c.rep.add(n, Problem, s.at(n), "%q is not 1..255: havip's default, 100, is kept", n.Arg(1))
		return
	}
	s.in.out.Priority = v
}

// advertInt reads the advert interval, which picks the timing profile.
func advertInt(c *converter, n *Node, s scope) {
	d, err := seconds(n.Arg(1))
	if err != nil || d <= 0 {
		c.rep.add(n, Problem, s.at(n), "%q is not a positive number of seconds: ignored", n.Arg(1))
		return
	}
	s.in.advert = d
	s.in.advertNode = n
}

// preemptDelay reads the delay before a better member takes over.
func preemptDelay(c *converter, n *Node, s scope) {
	d, err := seconds(n.Arg(1))
	if err != nil {
		c.rep.add(n, Problem, s.at(n), "%v: ignored", err)
		return
	}
	s.in.out.PreemptDelay = d.String()
}

// trackInterface reads a track_interface block. An interface without a
// weight (or weight 0) puts the instance in FAULT while it is down, as
// in havip. With a weight, keepalived changes the priority instead: a
// negative one lowers it while the interface is down, which havip's
// weight does; a positive one raises it while the interface is up,
// which is the same as raising the priority and lowering it while the
// interface is down.
func trackInterface(c *converter, n *Node, s scope) {
	for _, l := range n.Children {
		where := s.at(n) + " " + l.Keyword()
		if msg := interfaceProblem(l.Keyword()); msg != "" {
			c.rep.add(l, Problem, where, "%s: left out", msg)
			continue
		}
		t := Tracked{Interface: l.Keyword()}
		if l.Arg(1) == "weight" {
			w, err := strconv.Atoi(l.Arg(2))
			switch {
			case err != nil || w < -254 || w > 254:
				c.rep.add(l, Problem, where, "weight %q is not -254..254: the interface puts the instance in FAULT while it is down", l.Arg(2))
			case w < 0:
				t.Weight = -w
			case w > 0:
				t.Weight = w
				s.in.raise += w
				c.rep.add(l, Changed, where, "weight +%d: keepalived adds it to the priority while %s is up, havip subtracts it while it is down; the instance's priority is raised by it, so the priority is the same either way", w, l.Keyword())
			}
			if l.Arg(3) == "reverse" {
				c.rep.add(l, Dropped, where+": reverse", "havip has no reversed weight: the weight applies while the interface is down")
			}
		}
		if !slices.ContainsFunc(s.in.out.TrackInterfaces, func(o Tracked) bool { return o.Interface == t.Interface }) {
			s.in.out.TrackInterfaces = append(s.in.out.TrackInterfaces, t)
		}
	}
}

// scriptDirectives are the lines of a vrrp_script.
var scriptDirectives = map[string]directive{
	"script": func(c *converter, n *Node, s scope) {
		cmd, ok := c.command(n, s.at(n))
		if !ok {
			return
		}
		if len(cmd.extra) > 0 {
			c.rep.add(n, Dropped, s.at(n), "%q: keepalived reads only the first word after script; quote the whole command line", strings.Join(cmd.extra, " "))
		}
		s.script.cmd = cmd
	},
	"interval": func(c *converter, n *Node, s scope) { c.scriptTime(n, s, &s.script.interval) },
	"timeout":  func(c *converter, n *Node, s scope) { c.scriptTime(n, s, &s.script.timeout) },
	"weight": func(c *converter, n *Node, s scope) {
		if v, ok := c.scriptInt(n, s, -253, 253); ok {
			s.script.weight = v
		}
		if n.Arg(2) == "reverse" {
			c.rep.add(n, Dropped, s.at(n)+" reverse", "havip has no reversed weight: the weight applies while the script fails")
		}
	},
	"rise": func(c *converter, n *Node, s scope) { s.script.rise, _ = c.scriptInt(n, s, 1, 100) },
	"fall": func(c *converter, n *Node, s scope) { s.script.fall, _ = c.scriptInt(n, s, 1, 100) },
	"user": func(c *converter, n *Node, s scope) {
		s.script.user = n
		if len(n.Words) > 3 {
			c.rep.add(n, Problem, s.at(n), "%q: a user and a group at most", n.Line)
		}
	},
	"init_fail": say(Note, "havip waits for every script's first run before it takes a VIP, so a script that starts failed never lets the node hold one"),
}

// script reads a vrrp_script block, with keepalived's defaults: every
// second, a timeout of one interval, one result to rise or fall, weight 0.
func (c *converter) script(n *Node) {
	s := &vrrpScript{interval: time.Second, rise: 1, fall: 1}
	c.apply(scriptDirectives, n.Children, scope{where: "vrrp_script " + n.Arg(1), script: s})
	if s.timeout == 0 {
		s.timeout = s.interval
	}
	if s.cmd == nil {
		c.rep.add(n, Problem, "vrrp_script "+n.Arg(1), "no script line: the instances that track it do without it")
	}
	c.scripts[n.Arg(1)] = s
}

// scriptTime reads a script's interval or timeout: havip takes 10ms..1h.
func (c *converter) scriptTime(n *Node, s scope, to *time.Duration) {
	d, err := seconds(n.Arg(1))
	switch {
	case err != nil:
		c.rep.add(n, Problem, s.at(n), "%v: keepalived's default is kept", err)
	case d < 10*time.Millisecond || d > time.Hour:
		*to = min(max(d, 10*time.Millisecond), time.Hour)
		c.rep.add(n, Changed, s.at(n), "%s is outside havip's 10ms..1h: %s", d, *to)
	default:
		*to = d
	}
}

// scriptInt reads an integer of a script, clamped to lo..hi.
func (c *converter) scriptInt(n *Node, s scope, lo, hi int) (int, bool) {
	v, err := strconv.Atoi(n.Arg(1))
	switch {
	case err != nil:
		c.rep.add(n, Problem, s.at(n), "%q is not a number: keepalived's default is kept", n.Arg(1))
		return 0, false
	case v < lo || v > hi:
		c.rep.add(n, Changed, s.at(n), "%d is outside %d..%d: %d", v, lo, hi, min(max(v, lo), hi))
	}
	return min(max(v, lo), hi), true
}

// vipOption is an option of a virtual_ipaddress line.
type vipOption struct {
	// arg is true when the option takes a value.
	arg bool
	// apply carries the option (with its value) over to v, or says why
	// it is not, "" when havip does the same; nil: msg always applies.
	apply func(in *instance, v *vipLine, val string) string
	msg   string
}

// vipLine is a line of virtual_ipaddress being converted.
type vipLine struct {
	prefix netip.Prefix
	out    VIPEntry
	// label is the label option, checked once the line's dev is known.
	label string
}

// vipOptions maps the options of a virtual_ipaddress line.
var vipOptions = map[string]vipOption{
	"dev": {arg: true, apply: func(in *instance, v *vipLine, dev string) string {
		if dev != in.out.Interface {
			v.out.Interface = dev
		}
		return ""
	}},
	"label": {arg: true, apply: func(_ *instance, v *vipLine, label string) string {
		v.label = label
		return ""
	}},
	"brd":           {arg: true, apply: broadcastOption},
	"broadcast":     {arg: true, apply: broadcastOption},
	"scope":         {arg: true, apply: globalScope},
	"peer":          {arg: true, msg: "havip adds no point-to-point peer address"},
	"preferred_lft": {arg: true, msg: "havip sets the address lifetimes itself (cluster.tuning.address_lifetime)"},
	"track_group":   {arg: true, msg: trackOther},
	"use_vmac":      {msg: "havip keeps the interface's own MAC address"},
	"home":          {msg: "havip has no equivalent"},
	"-nodad":        {msg: "havip adds IPv6 VIPs without duplicate address detection already"},
	"nodad":         {msg: "havip adds IPv6 VIPs without duplicate address detection already"},
	"mngtmpaddr":    {msg: "havip has no equivalent"},
	"noprefixroute": {apply: noPrefixRoute},
	"autojoin":      {msg: "havip has no equivalent"},
	"no_track":      {msg: "havip re-adds a VIP someone deleted while it is master"},
}

// globalScope accepts keepalived's default scope, the one havip uses.
func globalScope(_ *instance, _ *vipLine, scope string) string {
	if scope == "global" || scope == "0" {
		return ""
	}
	return "havip adds VIPs with scope global"
}

// broadcastOption accepts the broadcast address havip gives an IPv4 VIP
// with a prefix: the last address of its subnet ("+" in ip(8)).
func broadcastOption(_ *instance, v *vipLine, brd string) string {
	p := v.prefix
	if p.Addr().Is6() || p.Bits() >= 31 {
		return "havip adds this VIP without a broadcast address (only IPv4 subnets up to /30 have one)"
	}
	last := lastAddr(p.Masked())
	if brd == "+" || brd == last.String() {
		return ""
	}
	return fmt.Sprintf("havip gives the VIP its subnet's broadcast address, %s", last)
}

// lastAddr is the last address of an IPv4 subnet.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	v := binary.BigEndian.Uint32(b[:]) | (uint32(1)<<(32-p.Bits()) - 1)
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// noPrefixRoute: havip adds the subnet's route with a VIP that has a
// prefix; a host address has none to leave out.
func noPrefixRoute(_ *instance, v *vipLine, _ string) string {
	if v.prefix.Bits() == v.prefix.Addr().BitLen() {
		return ""
	}
	return fmt.Sprintf("havip adds the subnet's route with a VIP that has a prefix: write it as a host address (%s) to add none", netip.PrefixFrom(v.prefix.Addr(), v.prefix.Addr().BitLen()))
}

// garp holds the gratuitous ARP settings of an instance, or the defaults
// of global_defs.
type garp struct {
	delay, repeat, refresh, refreshRepeat, interval, gnaInterval, min *Node
}

// or returns g's settings, with those it lacks from def.
func (g garp) or(def garp) garp {
	pick := func(a, b *Node) *Node {
		if a != nil {
			return a
		}
		return b
	}
	return garp{pick(g.delay, def.delay), pick(g.repeat, def.repeat), pick(g.refresh, def.refresh),
		pick(g.refreshRepeat, def.refreshRepeat), pick(g.interval, def.interval), pick(g.gnaInterval, def.gnaInterval), pick(g.min, def.min)}
}

// announce maps the gratuitous ARP settings, the instance's or those of
// global_defs, to havip's announce_* keys. keepalived sends a burst of
// garp_master_repeat at once and another garp_master_delay later; havip
// sends announce_count, announce_interval apart.
func (c *converter) announce(in *instance) {
	g := in.garp.or(c.garp)
	at := func(n *Node) string { return in.where + ": " + n.Keyword() }
	if n := g.min; n != nil && n.Arg(1) != "false" && n.Arg(1) != "off" && n.Arg(1) != "no" {
		in.out.AnnounceCount = 1
		c.rep.add(n, Note, at(n), "announce_count = 1: one announcement, no second burst, as keepalived")
	}
	if n := g.repeat; n != nil {
		if v, err := strconv.Atoi(n.Arg(1)); err == nil && v >= 1 {
			in.out.AnnounceCount = min(v, 100)
		} else {
			c.rep.add(n, Problem, at(n), "%q is not a positive number: ignored", n.Arg(1))
		}
	}
	if n := g.delay; n != nil {
		if d, err := seconds(n.Arg(1)); err == nil && d > 0 {
			c.rep.add(n, Changed, at(n), "havip sends no second burst %s later: its burst lasts announce_count × announce_interval, and announce_refresh repeats one announcement while master", d)
		}
	}
	if n := g.refresh; n != nil {
		if d, err := seconds(n.Arg(1)); err == nil && d > 0 {
			in.out.AnnounceRefresh = max(d, time.Second).String()
		}
	}
	if n := g.refreshRepeat; n != nil && n.Arg(1) != "1" {
		c.rep.add(n, Dropped, at(n), "havip sends one announcement per refresh")
	}
	n := g.interval
	if n == nil {
		n = g.gnaInterval
	}
	if n != nil {
		if d, err := seconds(n.Arg(1)); err == nil {
			iv := min(max(d, time.Millisecond), 10*time.Second)
			in.out.AnnounceInterval = iv.String()
			if iv != d {
				c.rep.add(n, Changed, at(n), "havip spaces announcements 1ms..10s apart: announce_interval = %q", iv.String())
			}
		}
	}
}
