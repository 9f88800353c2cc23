package keepalived

import (
	"fmt"
	"slices"
	"strings"
)

// syncGroup is a vrrp_sync_group: instances that change state together.
type syncGroup struct {
	node    *Node
	where   string
	names   []*Node // the lines of its group block
	members []*instance
	notify  map[string]*Node
	tracks  []*Node // its track_interface and track_script blocks
}

// groupDirectives are the lines of a vrrp_sync_group.
var groupDirectives = map[string]directive{
	"group": func(c *converter, n *Node, s scope) {
		// Every word names a member, as many as a line holds.
		for _, l := range n.Children {
			for i := range l.Words {
				s.group.names = append(s.group.names, &Node{Pos: l.Pos, Words: l.Words[i : i+1], seq: l.seq})
			}
		}
	},
	"notify_master": func(c *converter, n *Node, s scope) { s.group.notify["master"] = n },
	"notify_backup": func(c *converter, n *Node, s scope) { s.group.notify["backup"] = n },
	"notify_fault":  func(c *converter, n *Node, s scope) { s.group.notify["fault"] = n },
	"notify_stop":   func(c *converter, n *Node, s scope) { s.group.notify["stop"] = n },
	"notify":        func(c *converter, n *Node, s scope) { s.group.notify["any"] = n },
	"smtp_alert":    say(Dropped, mailMsg),
	"track_interface": func(c *converter, n *Node, s scope) {
		s.group.tracks = append(s.group.tracks, n)
	},
	"track_script": func(c *converter, n *Node, s scope) {
		s.group.tracks = append(s.group.tracks, n)
	},
}

// collectGroup reads a vrrp_sync_group; its members are resolved once
// every instance is read.
func (c *converter) collectGroup(n *Node) {
	g := &syncGroup{node: n, where: "vrrp_sync_group " + n.Arg(1), notify: map[string]*Node{}}
	c.apply(groupDirectives, n.Children, scope{where: g.where, group: g})
	c.groups = append(c.groups, g)
}

// groupTracking finds a group's members and gives each of them the
// group's track_interface and track_script lines.
func (c *converter) groupTracking(g *syncGroup) {
	for _, l := range g.names {
		in := c.instanceNamed(l.Keyword())
		switch {
		case in == nil:
			c.rep.add(l, Problem, g.where, "there is no vrrp_instance %s", l.Keyword())
		case in.group != nil:
			c.rep.add(l, Problem, g.where, "%s is already in %s (keepalived refuses that): left out of this group", in.where, in.group.where)
		default:
			in.group = g
			g.members = append(g.members, in)
		}
	}
	for _, t := range g.tracks {
		for _, in := range g.members {
			instanceDirectives[t.Keyword()](c, t, scope{where: in.where, in: in})
		}
	}
}

func (c *converter) instanceNamed(name string) *instance {
	for _, in := range c.instances {
		if in.node.Arg(1) == name {
			return in
		}
	}
	return nil
}

// syncGroup makes a group's instances move together: merged into one
// havip instance when they share an interface; otherwise each tracks the
// others' interfaces.
func (c *converter) syncGroup(g *syncGroup) {
	var members []*instance
	for _, in := range g.members {
		if !in.removed {
			members = append(members, in)
		}
	}
	if len(members) == 0 {
		return
	}
	iface := members[0].out.Interface
	for _, in := range members[1:] {
		if in.out.Interface != iface {
			c.crossTrack(g, members)
			return
		}
	}
	c.merge(g, members)
}

// merge puts the group's instances, all on one interface, into the
// first one, renamed after the group.
func (c *converter) merge(g *syncGroup, members []*instance) {
	base := members[0]
	out := &base.out
	out.Name, _ = safeName(g.node.Arg(1), 32)
	out.From = fmt.Sprintf("%s (%s): %s", g.where, g.node.Pos, names(members))
	if len(members) > 1 {
		c.rep.add(g.node, Changed, g.where, "%s are merged into one instance %q on %s: havip moves their VIPs together, as the group did", names(members), out.Name, out.Interface)
	}
	for _, in := range members[1:] {
		c.absorb(base, in)
	}
	for _, state := range notifyStates {
		c.groupNotify(g, members, state)
	}
}

// absorb adds instance in to base.
func (c *converter) absorb(base, in *instance) {
	out := &base.out
	for _, v := range in.out.VIPs {
		if !slices.Contains(out.VIPs, v) {
			out.VIPs = append(out.VIPs, v)
		}
	}
	if in.out.Priority != out.Priority {
		c.rep.add(in.node, Changed, in.where+": priority", "%d differs from %s's %d: the merged instance takes the higher", in.out.Priority, base.where, out.Priority)
		out.Priority = max(out.Priority, in.out.Priority)
	}
	if in.out.Preempt != out.Preempt {
		c.rep.add(in.node, Changed, in.where+": nopreempt", "the instances of the group disagree: the merged instance does not preempt")
		out.Preempt = false
	}
	if in.out.PreemptDelay != out.PreemptDelay && in.out.PreemptDelay != "" {
		c.rep.add(in.node, Changed, in.where+": preempt_delay", "%s differs from %s's: the merged instance keeps %q", in.out.PreemptDelay, base.where, out.PreemptDelay)
	}
	for _, t := range in.out.TrackInterfaces {
		if !tracks(out, t.Interface) {
			out.TrackInterfaces = append(out.TrackInterfaces, t)
		}
	}
	for _, ts := range in.out.TrackScripts {
		i := slices.IndexFunc(out.TrackScripts, func(o TrackScript) bool { return o.Name == ts.Name })
		switch {
		case i < 0:
			out.TrackScripts = append(out.TrackScripts, ts)
		case !slices.Equal(out.TrackScripts[i].Command, ts.Command) || out.TrackScripts[i].Weight != ts.Weight:
			ts.Name, _ = safeName(in.out.Name+"-"+ts.Name, 64)
			out.TrackScripts = append(out.TrackScripts, ts)
		}
	}
	in.removed = true
}

// groupNotify picks the merged instance's command for one state: the
// group's, else the members' when they agree; the others are reported.
func (c *converter) groupNotify(g *syncGroup, members []*instance, state string) {
	base := &members[0].out
	if n, ok := g.notify[state]; ok {
		where := g.where + ": " + n.Keyword()
		if cmd, ok := c.command(n, where); ok {
			argv := c.hookArgv(n, where, state, cmd)
			user, group := c.notifyUser(n, where, cmd.extra)
			c.setHook(base, state, Hook{Command: argv, User: user, Group: group}, hookSource{n, where, len(cmd.extra) > 0})
			if state == "any" {
				c.rep.add(n, Changed, where, "keepalived passed GROUP and the group's name; havip passes INSTANCE and the merged instance's name, %q", base.Name)
			}
		}
	}
	chosen := hookOf(base, state)
	for _, in := range members[1:] {
		h := hookOf(&in.out, state)
		switch {
		case h.Command == nil || h.equal(chosen):
		case chosen.Command == nil:
			c.setHook(base, state, h, c.hookFrom[notifyField(in.out.Notify, state)])
			chosen = h
		default:
			as := ""
			if h.User != chosen.User || h.Group != chosen.Group {
				as = fmt.Sprintf(" as %q", userText(chosen.User, chosen.Group))
			}
			c.rep.add(in.notify[state], Dropped, in.where+": notify_"+state, "the merged instance has one command per state: it runs %s%s", tomlArgv(chosen.Command), as)
		}
	}
}

// hookOf is an instance's notify command for one of notifyStates.
func hookOf(out *Instance, state string) Hook {
	if out.Notify == nil {
		return Hook{}
	}
	return *notifyField(out.Notify, state)
}

// notifyField is the command of a notify table for one of notifyStates.
func notifyField(n *Notify, state string) *Hook {
	return map[string]*Hook{"master": &n.Master, "backup": &n.Backup, "fault": &n.Fault, "stop": &n.Stop, "any": &n.Any}[state]
}

// tracks reports whether an instance tracks the interface ifname.
func tracks(out *Instance, ifname string) bool {
	return slices.ContainsFunc(out.TrackInterfaces, func(t Tracked) bool { return t.Interface == ifname })
}

// crossTrack keeps instances on different interfaces apart (a havip
// instance has one interface) but has each track the others' interfaces,
// so that a link failure takes them all to FAULT as in the group.
func (c *converter) crossTrack(g *syncGroup, members []*instance) {
	for _, in := range members {
		for _, o := range members {
			if o.out.Interface != in.out.Interface && !tracks(&in.out, o.out.Interface) {
				in.out.TrackInterfaces = append(in.out.TrackInterfaces, Tracked{Interface: o.out.Interface})
			}
		}
	}
	c.rep.add(g.node, Changed, g.where, "%s are on different interfaces, which one havip instance cannot hold: they stay separate instances, "+
		"and each tracks the others' interfaces, so a link failure takes all of them to FAULT as in the group; a failing track script takes only its own instance (give each instance the same track_script to change that)", names(members))
	for _, n := range g.notify {
		c.rep.add(n, Dropped, g.where+": "+n.Keyword(), "havip runs notify commands per instance: put the command in the notify table of each instance")
	}
}

func names(ins []*instance) string {
	s := make([]string, len(ins))
	for i, in := range ins {
		s[i] = in.where
	}
	return strings.Join(s, ", ")
}
