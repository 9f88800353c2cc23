package keepalived

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/havip/havip/config"
)

// DefaultSecretKeyFile is the cluster key the converted configuration
// names unless told otherwise.
const DefaultSecretKeyFile = "/etc/havip/secret.key"

// Options complete what keepalived's configuration does not say.
type Options struct {
	// Name is node.name; empty takes global_defs router_id, then
	// Hostname, then leaves the key out (havip takes the host name).
	Name     string
	Hostname string
	// Cluster is cluster.name; empty derives it from the instances'
	// virtual_router_id, which is the same on every member.
	Cluster string
	// SecretKeyFile is cluster.secret_key_file (DefaultSecretKeyFile when
	// empty).
	SecretKeyFile string
}

// instance is a vrrp_instance being converted.
type instance struct {
	node  *Node
	where string // "vrrp_instance VI_1"
	out   Instance
	// ifNode is the interface line.
	ifNode *Node
	// What the directives said, resolved once the whole block is read.
	advert     time.Duration
	advertNode *Node
	vrid       string
	bind       *Node // unicast_src_ip or mcast_src_ip
	peers      *Node // unicast_peer
	garp       garp
	vips       []*Node // virtual_ipaddress and virtual_ipaddress_excluded
	tracks     []*Node // the lines of track_script blocks
	notify     map[string]*Node
	removed    bool // merged into another or left out
	group      *syncGroup
	prioNode   *Node
	// raise is what the positive weights of tracked interfaces add to
	// the priority (see trackInterface).
	raise int
}

// vrrpScript is a vrrp_script block.
type vrrpScript struct {
	cmd      *command
	interval time.Duration
	timeout  time.Duration
	weight   int
	rise     int
	fall     int
	// user is the script's user line: the user and group to run it as.
	user *Node
}

// converter holds the state of one conversion.
type converter struct {
	o         Options
	res       *Result
	rep       *Report
	routerID  *Node
	garp      garp // global_defs defaults
	scripts   map[string]*vrrpScript
	instances []*instance
	groups    []*syncGroup
	hasAuth   bool
	// scriptUser is global_defs' script_user: who runs the scripts and
	// notify commands that do not say.
	scriptUser *Node
	// hookFrom says where each converted notify command comes from, for
	// the report notifyTables writes.
	hookFrom map[*Hook]hookSource
}

// hookSource is the line a notify command comes from.
type hookSource struct {
	node  *Node
	where string
	// named: the line names the user to run the command as.
	named bool
}

// Convert converts a keepalived configuration into havip's: what could
// not be carried over, and why, is in the result's Report. Every value it
// writes is one havip accepts (Result.Check loads it to make sure).
func Convert(cfg *Config, o Options) *Result {
	if o.SecretKeyFile == "" {
		o.SecretKeyFile = DefaultSecretKeyFile
	}
	res := &Result{Report: append(Report(nil), cfg.Report...)}
	if len(cfg.Files) > 0 {
		res.Source = cfg.Files[0]
	}
	c := &converter{o: o, res: res, rep: &res.Report, scripts: map[string]*vrrpScript{}, hookFrom: map[*Hook]hookSource{}}
	// Definitions first: keepalived resolves names once the whole file is
	// read, so instances may name scripts defined after them.
	for _, n := range cfg.Nodes {
		switch n.Keyword() {
		case "global_defs":
			c.apply(globalDirectives, n.Children, scope{where: "global_defs"})
		case "vrrp_script":
			c.script(n)
		}
	}
	c.apply(topDirectives, cfg.Nodes, scope{})
	for _, g := range c.groups {
		c.groupTracking(g)
	}
	for _, in := range c.instances {
		c.finish(in)
	}
	for _, g := range c.groups {
		c.syncGroup(g)
	}
	c.keep()
	c.defaultUserNote()
	c.notifyTables()
	if len(res.Instances) > 0 {
		c.nodeKeys()
		c.clusterKeys()
	}
	res.Report = res.Report.sorted()
	return res
}

// apply handles each line with its directive in table; a keyword the
// table does not have is reported as having no equivalent, but for the
// families of VRRP and LVS settings of global_defs.
func (c *converter) apply(table map[string]directive, lines []*Node, s scope) {
	for _, n := range lines {
		h, ok := table[n.Keyword()]
		switch {
		case ok:
		case s.where == "global_defs" && strings.HasPrefix(n.Keyword(), "vrrp_"):
			h = say(Note, vrrpOnly)
		case s.where == "global_defs" && strings.HasPrefix(n.Keyword(), "lvs_"):
			h = say(Dropped, lvsMsg)
		default:
			h = say(Dropped, "havip has no equivalent")
		}
		h(c, n, s)
	}
}

// vrrpInstance converts one vrrp_instance.
func (c *converter) vrrpInstance(n *Node) {
	in := &instance{
		node:   n,
		where:  "vrrp_instance " + n.Arg(1),
		notify: map[string]*Node{},
		out:    Instance{Priority: 100, Preempt: true, From: fmt.Sprintf("vrrp_instance %s (%s)", n.Arg(1), n.Pos)},
	}
	name, ok := safeName(n.Arg(1), config.MaxInstanceNameLen)
	if !ok {
		c.rep.add(n, Changed, in.where, "the name is not a valid havip instance name (1 to %d characters of A-Z, a-z, 0-9, '_', '.', '-'): the instance is called %q", config.MaxInstanceNameLen, name)
	}
	in.out.Name = name
	c.apply(instanceDirectives, n.Children, scope{where: in.where, in: in})
	c.instances = append(c.instances, in)
}

// finish resolves what needs the whole vrrp_instance block: the VIPs
// (their dev is compared with the interface), the track scripts (their
// weights may raise the priority) and the notify commands.
func (c *converter) finish(in *instance) {
	if in.out.Interface == "" {
		c.rep.add(in.node, Problem, in.where, "no interface: keepalived refuses the instance; it is left out")
		in.removed = true
		return
	}
	if msg := interfaceProblem(in.out.Interface); msg != "" {
		c.rep.add(in.ifNode, Problem, in.where+": interface", "%s: the instance is left out", msg)
		in.removed = true
		return
	}
	for _, n := range in.vips {
		for _, l := range n.Children {
			c.vip(l, in, in.where+": "+n.Keyword())
		}
	}
	c.trackScripts(in)
	c.notifyCommands(in)
	c.announce(in)
}

// vip converts one line of virtual_ipaddress: the address with its
// prefix length, and its options, each of which vipOptions maps.
func (c *converter) vip(l *Node, in *instance, where string) {
	addr, bits, err := parseAddrPrefix(l.Keyword())
	if err != nil {
		c.rep.add(l, Problem, where, "%q is not an IP address: left out", l.Keyword())
		return
	}
	where += " " + addr.String()
	v := &vipLine{prefix: netip.PrefixFrom(addr, bits)}
	if _, err := config.ParseVIP(vipText(v.prefix)); err != nil {
		// A prefix havip refuses (the subnet's network or broadcast
		// address) leaves the host address, when havip takes that.
		host := netip.PrefixFrom(addr, addr.BitLen())
		if _, herr := config.ParseVIP(vipText(host)); herr != nil || bits == addr.BitLen() {
			c.rep.add(l, Problem, where, "%v: left out", err)
			return
		}
		c.rep.add(l, Problem, where, "%v: havip adds the host address %s instead", err, host)
		v.prefix = host
	}
	v.out.Address = vipText(v.prefix)
	opts := l.Words[1:]
	for i := 0; i < len(opts); i++ {
		o, known := vipOptions[opts[i]]
		val := ""
		if o.arg && i+1 < len(opts) {
			val = opts[i+1]
		}
		switch {
		case !known:
			c.rep.add(l, Dropped, where+": "+opts[i], "havip has no equivalent")
		case o.apply != nil:
			if msg := o.apply(in, v, val); msg != "" {
				c.rep.add(l, Dropped, where+": "+strings.TrimSpace(opts[i]+" "+val), "%s", msg)
			}
		default:
			c.rep.add(l, Dropped, where+": "+strings.TrimSpace(opts[i]+" "+val), "%s", o.msg)
		}
		if o.arg {
			i++
		}
	}
	if v.out.Interface != "" {
		if msg := interfaceProblem(v.out.Interface); msg != "" {
			c.rep.add(l, Problem, where+": dev "+v.out.Interface, "%s: the VIP is left out", msg)
			return
		}
	}
	c.vipLabel(l, in, v, where)
	if slices.ContainsFunc(in.out.VIPs, func(o VIPEntry) bool { return vipAddr(o) == addr }) {
		c.rep.add(l, Note, where, "listed twice: kept once")
		return
	}
	in.out.VIPs = append(in.out.VIPs, v.out)
}

// vipLabel carries a VIP's label over, once its interface is known,
// when havip can give it that label.
func (c *converter) vipLabel(l *Node, in *instance, v *vipLine, where string) {
	if v.label == "" {
		return
	}
	ifname := v.out.Interface
	if ifname == "" {
		ifname = in.out.Interface
	}
	if err := config.CheckLabel(v.label, ifname, v.prefix.Addr()); err != nil {
		c.rep.add(l, Dropped, where+": label "+v.label, "%v: havip adds the VIP without one", err)
		return
	}
	v.out.Label = v.label
}

// vipText writes a VIP as havip's vips key reads it: a host address
// bare, another prefix with its length.
func vipText(p netip.Prefix) string {
	if p.Bits() == p.Addr().BitLen() {
		return p.Addr().String()
	}
	return p.String()
}

// interfaceProblem says why havip cannot use name as an interface name
// (a parameter keepalived left undefined, or a name havip refuses), ""
// when it can.
func interfaceProblem(name string) string {
	if ref := undefinedRef(name); ref != "" {
		return fmt.Sprintf("%q holds %s, a parameter that is not defined", name, ref)
	}
	if err := config.CheckInterfaceName(name); err != nil {
		return err.Error()
	}
	return ""
}

// vipAddr is the address of a converted VIP, without its prefix length.
func vipAddr(v VIPEntry) netip.Addr {
	if p, err := netip.ParsePrefix(v.Address); err == nil {
		return p.Addr()
	}
	a, _ := netip.ParseAddr(v.Address)
	return a
}

// parseAddrPrefix parses "addr" or "addr/bits".
func parseAddrPrefix(s string) (netip.Addr, int, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Addr{}, 0, err
		}
		return p.Addr(), p.Bits(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, 0, err
	}
	return a, a.BitLen(), nil
}

// trackScripts converts the instance's track_script lines with the
// vrrp_script blocks they name. keepalived adds a positive weight to the
// priority while the script succeeds; havip lowers the priority by the
// weight while it fails, so a positive weight also raises the instance's
// priority: the priority is the same either way.
func (c *converter) trackScripts(in *instance) {
	raise := in.raise
	for _, l := range in.tracks {
		where := in.where + ": track_script " + l.Keyword()
		s, ok := c.scripts[l.Keyword()]
		switch {
		case !ok:
			c.rep.add(l, Problem, where, "there is no vrrp_script %s: left out", l.Keyword())
			continue
		case s.cmd == nil:
			continue // reported at the vrrp_script
		}
		w := s.weight
		if l.Arg(1) == "weight" {
			v, err := strconv.Atoi(l.Arg(2))
			if err != nil || v < -253 || v > 253 {
				c.rep.add(l, Problem, where, "weight %q is not -253..253: the script's own weight (%d) is kept", l.Arg(2), w)
			} else {
				w = v
			}
			if l.Arg(3) == "reverse" {
				c.rep.add(l, Dropped, where+": reverse", "havip has no reversed weight: the weight applies while the script fails")
			}
		}
		name, _ := safeName(l.Keyword(), 64)
		ts := TrackScript{Name: name, Command: s.cmd.argv, Interval: s.interval.String(), Timeout: s.timeout.String(), Rise: s.rise, Fall: s.fall}
		ts.User, ts.Group = c.runAs(s.user)
		switch {
		case w < 0:
			ts.Weight = -w
		case w > 0:
			ts.Weight = w
			raise += w
			c.rep.add(l, Changed, where, "weight +%d: keepalived adds it to the priority while the script succeeds, havip subtracts it while the script fails; the instance's priority is raised by it, so the priority is the same either way", w)
		}
		in.out.TrackScripts = append(in.out.TrackScripts, ts)
	}
	if raise == 0 {
		return
	}
	p := in.out.Priority + raise
	if p > 255 {
		c.rep.add(in.prioNode, Changed, in.where+": priority", "priority %d plus the positive weights (%d) is above 255: havip's priority is 255", in.out.Priority, raise)
		p = 255
	}
	in.out.Priority = p
}

// notifyStates are the keys of an instance's notify commands, in the
// order they are converted: keepalived's notify_master, notify_backup,
// notify_fault, notify_stop, and notify as "any".
var notifyStates = []string{"master", "backup", "fault", "stop", "any"}

// notifyCommands converts notify_master, notify_backup, notify_fault,
// notify_stop and notify, and the user (and group) they run as.
func (c *converter) notifyCommands(in *instance) {
	for _, state := range notifyStates {
		n, ok := in.notify[state]
		if !ok {
			continue
		}
		where := in.where + ": " + n.Keyword()
		cmd, ok := c.command(n, where)
		if !ok {
			continue
		}
		argv := c.hookArgv(n, where, state, cmd)
		user, group := c.notifyUser(n, where, cmd.extra)
		c.setHook(&in.out, state, Hook{Command: argv, User: user, Group: group}, hookSource{n, where, len(cmd.extra) > 0})
		if state == "any" {
			c.rep.add(n, Note, where, "notify.any gets what keepalived's notify script got: INSTANCE, the instance's name, the state (MASTER, BACKUP, FAULT, STOP) and the priority; it runs after the state's own command, as keepalived's did")
		}
	}
}

// hookArgv is the argv of a converted notify command. havip appends the
// instance, the state and the VIPs to notify.master, backup, fault and
// stop, where keepalived passed nothing: a command that takes no
// arguments, or other ones, would fail with them. So these commands
// run through /bin/sh -c with "notify" as $0, and the three arguments
// land in $1, $2 and $3, which the command line does not use.
// notify.any gets keepalived's own arguments and keeps its argv.
func (c *converter) hookArgv(n *Node, where, state string, cmd *command) []string {
	if state == "any" {
		return cmd.argv
	}
	line := cmd.line
	if !cmd.shell {
		line = shellQuote(cmd.argv)
	}
	argv := []string{"/bin/sh", "-c", line, "notify"}
	c.rep.add(n, Changed, where, "runs as %s: havip appends the instance, the state and the VIPs to notify.%s (also in HAVIP_INSTANCE, HAVIP_STATE, HAVIP_VIPS), where keepalived passed no argument; through the shell they are $1, $2 and $3, which the command does not get",
		tomlArgv(argv), state)
	return argv
}

// shellQuote writes argv as a shell command line that runs it: words of
// only safe characters as they are, the others in single quotes.
func shellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		safe := a != ""
		for _, r := range a {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_@%+=:,./-", r)) {
				safe = false
				break
			}
		}
		if safe {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// tomlArgv writes argv as the converted configuration does.
func tomlArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = tomlQuote(a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// notifyUser returns who runs a notify command: the user and group
// after it (extra), or script_user's, as keepalived runs each notify
// command as its own user ("" for root, the daemon's user).
func (c *converter) notifyUser(n *Node, where string, extra []string) (user, group string) {
	if len(extra) > 2 {
		c.rep.add(n, Problem, where, "%q after the command: a user and a group at most", strings.Join(extra, " "))
		extra = extra[:2]
	}
	if len(extra) > 0 && !quotedCommand(n) {
		what := "the user"
		if len(extra) == 2 {
			what = "the user and the group"
		}
		c.rep.add(n, Problem, where, "%q after the command, which is not quoted, is read as %s to run it as, as keepalived reads it: if it is an argument of the command, quote the command line: %s \"%s %s\"",
			strings.Join(extra, " "), what, n.Keyword(), n.Arg(1), strings.Join(extra, " "))
	}
	if len(extra) > 0 {
		return daemonUser(extra[0], strings.Join(extra[1:], ""))
	}
	return c.runAs(c.scriptUser)
}

// setHook sets an instance's notify command for one of notifyStates,
// from the line src. Its User and Group are who runs it until
// notifyTables writes the tables.
func (c *converter) setHook(out *Instance, state string, h Hook, src hookSource) {
	if out.Notify == nil {
		out.Notify = &Notify{}
	}
	f := notifyField(out.Notify, state)
	*f = h
	c.hookFrom[f] = src
}

// notifyTables writes who runs the notify commands of each instance:
// the user of its first command becomes the table's user and group
// (notify.user and notify.group), and a command of another user gets
// that user in a table of its own, as keepalived ran it.
func (c *converter) notifyTables() {
	for _, in := range c.res.Instances {
		n := in.Notify
		if n == nil {
			continue
		}
		first := true
		for _, state := range notifyStates {
			h := notifyField(n, state)
			if h.Command == nil {
				continue
			}
			if first {
				n.User, n.Group, first = h.User, h.Group, false
			}
			if h.User == n.User && h.Group == n.Group {
				h.User, h.Group = "", ""
				continue
			}
			if h.User == "" {
				h.User = "root" // the table's user is another
			}
			src := c.hookFrom[h]
			c.rep.add(src.node, Note, src.where, "runs as %q, the instance's first notify command as %q (notify.user): notify.%s is a table with a user of its own: user = %s%s",
				userText(h.User, h.Group), userText(n.User, n.Group), state, tomlQuote(h.User), groupKey(h.Group))
		}
	}
}

// groupKey writes the group key of a notify command's table, when it
// has a group.
func groupKey(group string) string {
	if group == "" {
		return ""
	}
	return ", group = " + tomlQuote(group)
}

// quotedCommand says whether the command of a notify line is quoted.
func quotedCommand(n *Node) bool {
	rest := strings.TrimLeft(strings.TrimPrefix(n.Line, n.Keyword()), whiteSpace)
	return rest != "" && (rest[0] == '"' || rest[0] == '\'')
}

// userText names who runs a command: "root" for the daemon's user, as
// converted commands that name no user run as root.
func userText(user, group string) string {
	if user == "" {
		user = "root"
	}
	return strings.TrimSpace(user + " " + group)
}

// runAs reads a user line (vrrp_script's user, global_defs'
// script_user): the user and group, or script_user's when line is nil.
func (c *converter) runAs(line *Node) (user, group string) {
	if line == nil {
		line = c.scriptUser
	}
	if line == nil {
		return "", ""
	}
	return daemonUser(line.Arg(1), line.Arg(2))
}

// daemonUser leaves out root, the daemon's own user: a command that
// names no user runs as root.
func daemonUser(user, group string) (string, string) {
	if (user == "root" || user == "0") && (group == "" || group == "root" || group == "0") {
		return "", ""
	}
	return user, group
}

// defaultUserNote says who ran the commands that name no user, when
// global_defs has no script_user.
func (c *converter) defaultUserNote() {
	if c.scriptUser != nil {
		return
	}
	for _, in := range c.res.Instances {
		noUser := false
		if in.Notify != nil {
			for _, state := range notifyStates {
				h := notifyField(in.Notify, state)
				noUser = noUser || h.Command != nil && !c.hookFrom[h].named
			}
		}
		for _, ts := range in.TrackScripts {
			noUser = noUser || ts.User == ""
		}
		if noUser {
			c.rep.add(nil, Note, "global_defs: script_user", "keepalived ran the scripts and notify commands that name no user as keepalived_script when that user exists, else as root; havip runs them as root: give them user = \"keepalived_script\" where they must not run as root")
			return
		}
	}
}

// command converts a script or notify line and reports how; extraMsg
// says what words after the command line mean.
func (c *converter) command(n *Node, where string) (*command, bool) {
	cmd, err := parseCommand(n)
	if err != nil {
		c.rep.add(n, Problem, where, "%v: left out", err)
		return nil, false
	}
	if cmd.shell {
		c.rep.add(n, Changed, where, "%q has shell syntax: havip runs it with /bin/sh -c, as keepalived 1 did (keepalived 2 passed those characters to the program as arguments)", cmd.line)
	}
	return &cmd, true
}

// keep leaves out what havip cannot hold: instances without a VIP, VIPs
// of another instance or of a member, and instances beyond the most a
// configuration may have.
func (c *converter) keep() {
	used := map[netip.Addr]string{}
	members := map[netip.Addr]bool{}
	for _, in := range c.instances {
		if in.bind != nil {
			if a, err := netip.ParseAddr(in.bind.Arg(1)); err == nil {
				members[a] = true
			}
		}
		if in.peers != nil {
			for _, p := range in.peers.Children {
				if a, err := netip.ParseAddr(p.Keyword()); err == nil {
					members[a] = true
				}
			}
		}
	}
	names := map[string]bool{}
	for _, in := range c.instances {
		if in.removed {
			continue
		}
		var vips []VIPEntry
		for _, v := range in.out.VIPs {
			a := vipAddr(v)
			switch {
			case used[a] != "":
				c.rep.add(in.node, Problem, in.where, "VIP %s is also a VIP of %s: left out here", a, used[a])
			case members[a]:
				c.rep.add(in.node, Problem, in.where, "VIP %s is a member's own address (unicast_src_ip or unicast_peer): left out", a)
			default:
				used[a] = in.where
				vips = append(vips, v)
			}
		}
		in.out.VIPs = vips
		switch {
		case len(vips) == 0:
			c.rep.add(in.node, Dropped, in.where, "no VIP havip can hold: the instance is left out")
			in.removed = true
		case len(c.res.Instances) == config.MaxInstances:
			c.rep.add(in.node, Dropped, in.where, "a havip configuration has at most %d instances: left out", config.MaxInstances)
			in.removed = true
		case names[in.out.Name]:
			c.rep.add(in.node, Problem, in.where, "a second instance called %q: left out", in.out.Name)
			in.removed = true
		default:
			names[in.out.Name] = true
			c.res.Instances = append(c.res.Instances, in.out)
		}
	}
}

// sampleRouterID is the router_id of keepalived's samples, which many
// guides copy unchanged to every member.
const sampleRouterID = "LVS_DEVEL"

// nodeKeys sets [node]: the name, and the address keepalived sent from.
func (c *converter) nodeKeys() {
	switch {
	case c.o.Name != "":
		c.res.Node.Name = c.o.Name
	case c.routerID != nil && c.routerID.Arg(1) == sampleRouterID:
		// keepalived's sample value, which the guides that copy it give
		// every member: the host name tells the members apart instead.
		msg := "node.name is left out: havip takes the host name"
		if name, ok := safeName(c.o.Hostname, 64); ok && c.o.Hostname != "" {
			c.res.Node.Name = name
			msg = fmt.Sprintf("node.name is the host name, %q", name)
		}
		c.rep.add(c.routerID, Changed, "global_defs: router_id", "%s is keepalived's sample value, which configurations copied from guides share on every member, and node.name must be different on every member: %s; pass --name to choose another",
			sampleRouterID, msg)
	case c.routerID != nil:
		name, ok := safeName(c.routerID.Arg(1), 64)
		c.res.Node.Name = name
		msg := fmt.Sprintf("node.name is %q: it must be different on every member, and keepalived's router_id need not be (copied configurations often share one): unless every member's router_id differs, pass --name with each member's own name", name)
		if !ok {
			msg = fmt.Sprintf("%q is not a valid havip node name; %s", c.routerID.Arg(1), msg)
		}
		c.rep.add(c.routerID, Changed, "global_defs: router_id", "%s", msg)
	case c.o.Hostname != "":
		if name, ok := safeName(c.o.Hostname, 64); ok {
			c.res.Node.Name = name
		}
	}
	var bind *Node
	for _, in := range c.kept() {
		switch {
		case in.bind == nil:
		case bind == nil:
			bind = in.bind
		case in.bind.Arg(1) != bind.Arg(1):
			c.rep.add(in.bind, Changed, in.where+": "+in.bind.Keyword(), "havip has one address per node: node.bind is %s (from %s)", bind.Arg(1), bind.Pos)
		}
	}
	if bind != nil {
		a, err := netip.ParseAddr(bind.Arg(1))
		switch {
		case err != nil:
			c.rep.add(bind, Problem, bind.Keyword(), "%q is not an IP address: node.bind is left out", bind.Arg(1))
		case config.AddressProblem(a, "a bind address", false) != "":
			c.rep.add(bind, Problem, bind.Keyword(), "%s: node.bind is left out", config.AddressProblem(a, "a bind address", false))
		default:
			c.res.Node.Bind = netip.AddrPortFrom(a, config.DefaultPort).String()
		}
	}
}

// clusterKeys sets [cluster]: the name, the peers, the key and the
// timing.
func (c *converter) clusterKeys() {
	cl := &c.res.Cluster
	cl.SecretKeyFile = c.o.SecretKeyFile
	cl.Peers = []string{}
	var vrids []string
	for _, in := range c.kept() {
		if in.vrid != "" && !slices.Contains(vrids, in.vrid) {
			vrids = append(vrids, in.vrid)
		}
		c.peers(in)
	}
	sort.Strings(vrids)
	switch {
	case c.o.Cluster != "":
		cl.Name = c.o.Cluster
	case len(vrids) > 0:
		cl.Name, _ = safeName("keepalived-vrid-"+strings.Join(vrids, "-"), 64)
	default:
		cl.Name = "keepalived"
	}
	c.rep.add(nil, Note, "cluster.name", "%q: the same on every member (derived from virtual_router_id unless --cluster is given)", cl.Name)
	if !c.hasAuth {
		c.rep.add(nil, Note, "cluster.secret_key_file", "havip encrypts and authenticates its traffic with a key: create it once with `havip init --no-config --secret-key-file %s` and copy it to every member (mode 0600)", cl.SecretKeyFile)
	}
	switch members := len(cl.Peers) + 1; {
	case members == 1:
		c.rep.add(nil, Changed, "cluster.peers", "no unicast_peer: keepalived found the other members by multicast; havip needs their addresses: add each as \"address:%d\" to cluster.peers", config.DefaultPort)
	case members == 2:
		c.rep.add(nil, Note, "cluster.quorum", "two members: quorum is off, as with keepalived (both sides of a network cut hold the VIPs); a third member without instances (a witness) prevents that")
	default:
		c.rep.add(nil, Changed, "cluster.quorum", "%d members: a member holds a VIP only while it hears a majority of them (keepalived's backups took over on their own)", members)
	}
	c.timing()
}

// peers adds an instance's unicast_peer addresses to cluster.peers.
func (c *converter) peers(in *instance) {
	if in.peers == nil {
		return
	}
	for _, p := range in.peers.Children {
		a, err := netip.ParseAddr(p.Keyword())
		if err != nil {
			c.rep.add(p, Problem, in.where+": unicast_peer", "%q is not an IP address: left out", p.Keyword())
			continue
		}
		if msg := config.AddressProblem(a, "a peer address", true); msg != "" {
			c.rep.add(p, Problem, in.where+": unicast_peer", "%s: left out", msg)
			continue
		}
		if own, err := netip.ParseAddrPort(c.res.Node.Bind); err == nil && own.Addr() == a {
			c.rep.add(p, Note, in.where+": unicast_peer "+p.Keyword(), "this member's own address (node.bind): left out of cluster.peers, which lists only the other members")
			continue
		}
		if len(p.Words) > 1 {
			c.rep.add(p, Note, in.where+": unicast_peer "+p.Keyword(), "%s: %s", strings.Join(p.Words[1:], " "), vrrpOnly)
		}
		s := netip.AddrPortFrom(a, config.DefaultPort).String()
		if !slices.Contains(c.res.Cluster.Peers, s) {
			c.res.Cluster.Peers = append(c.res.Cluster.Peers, s)
		}
	}
}

// kept returns the instances that are in the result.
func (c *converter) kept() []*instance {
	var out []*instance
	for _, in := range c.instances {
		if !in.removed {
			out = append(out, in)
		}
	}
	return out
}

// safeName makes s a valid havip name of at most max characters, and
// says whether it already was one.
func safeName(s string, max int) (string, bool) {
	b := []byte(s)
	ok := len(b) >= 1 && len(b) <= max
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '.' || ch == '-') {
			b[i], ok = '_', false
		}
	}
	if len(b) > max {
		b = b[:max]
	}
	if len(b) == 0 {
		b = []byte("vrrp")
	}
	return string(b), ok
}

// seconds parses keepalived's <TIMER>: seconds, with a fraction.
func seconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e6 {
		return 0, fmt.Errorf("%q is not a number of seconds", s)
	}
	return time.Duration(f * float64(time.Second)).Round(time.Microsecond), nil
}
