package config

import (
	"fmt"
	"strings"
	"time"
)

// DefaultNotifyTimeout ends a notify command that runs longer.
const DefaultNotifyTimeout = 30 * time.Second

// buildHealth checks an instance's track_interfaces, track_script and
// notify keys.
func buildHealth(r *rawInstance, out *Instance, key func(string) string, opts ParseOptions, c *collector) {
	buildTrackInterfaces(r, out, key, c)
	buildTrackScripts(r, out, key, opts, c)
	buildNotify(r, out, key, opts, c)
}

// buildTrackInterfaces checks an instance's track_interfaces.
func buildTrackInterfaces(r *rawInstance, out *Instance, key func(string) string, c *collector) {
	if !c.valid(key("track_interfaces"), r.TrackInterfaces.problem) {
		return
	}
	seen := map[string]int{}
	for j, t := range r.TrackInterfaces.val {
		k := key(fmt.Sprintf("track_interfaces[%d]", j))
		ifname := t.Interface
		switch prev, dup := seen[ifname]; {
		case t.problem != "":
			c.add(k, "%s", t.problem)
		case !validIfName(ifname):
			c.add(k, "%q is not a valid interface name (%s)", ifname, ifNameRule)
		case dup:
			c.add(k, "%q is already listed as track_interfaces[%d]", ifname, prev)
		case t.Weight < 0 || t.Weight > 254:
			c.add(k, "weight must be 0 (the interface down means FAULT) or 1..254 (it lowers the priority by that much), not %d", t.Weight)
		default:
			seen[ifname] = j
			out.TrackInterfaces = append(out.TrackInterfaces, ifname)
			if t.Weight > 0 {
				if out.TrackWeights == nil {
					out.TrackWeights = map[string]int{}
				}
				out.TrackWeights[ifname] = t.Weight
			}
		}
	}
}

// buildTrackScripts checks an instance's [[instance.track_script]] tables.
func buildTrackScripts(r *rawInstance, out *Instance, key func(string) string, opts ParseOptions, c *collector) {
	names := map[string]int{}
	for j := range r.TrackScripts {
		rs := &r.TrackScripts[j]
		var name any
		if rs.Name.problem == "" {
			name = rs.Name.val
		}
		at := itemKey(key("track_script"), j, name)
		sk := func(k string) string { return joinKey(at, k) }
		var ts TrackScript
		if c.valid(sk("name"), rs.Name.problem) {
			switch {
			case !rs.Name.set:
				c.add(sk("name"), "is required")
			default:
				if msg := checkName(rs.Name.val, maxNameLen); msg != "" {
					c.add(sk("name"), "%q %s", rs.Name.val, msg)
				} else if prev, dup := names[rs.Name.val]; dup {
					c.add(sk("name"), "%q is already the name of track_script[%d]", rs.Name.val, prev)
				} else {
					names[rs.Name.val] = j
				}
			}
			ts.Name = rs.Name.val
		}
		ts.RunAs = buildRunAs(rs.User, rs.Group, sk, opts, c)
		if c.valid(sk("command"), rs.Command.problem) {
			if msg := checkArgv(rs.Command.val, rs.Command.set); msg != "" {
				c.add(sk("command"), "%s", msg)
			} else {
				checkProgram(rs.Command.val, ts.RunAs, sk("command"), opts, c)
			}
			ts.Command = rs.Command.val
		}
		if c.valid(sk("interval"), rs.Interval.problem) {
			if v := rs.Interval.val; v < 10*time.Millisecond || v > time.Hour {
				c.add(sk("interval"), "must be 10ms..1h, not %s", v)
			}
			ts.Interval = rs.Interval.val
		}
		if c.valid(sk("timeout"), rs.Timeout.problem) {
			if v := rs.Timeout.val; v < 10*time.Millisecond || v > time.Hour {
				c.add(sk("timeout"), "must be 10ms..1h, not %s", v)
			}
			ts.Timeout = rs.Timeout.val
		}
		for _, n := range []struct {
			name string
			raw  *optInt
			val  *int
		}{{"rise", &rs.Rise, &ts.Rise}, {"fall", &rs.Fall, &ts.Fall}} {
			if c.valid(sk(n.name), n.raw.problem) {
				if v := n.raw.val; v < 1 || v > 100 {
					c.add(sk(n.name), "must be 1..100, not %d", v)
				}
				*n.val = n.raw.val
			}
		}
		if c.valid(sk("weight"), rs.Weight.problem) {
			if v := rs.Weight.val; v < 0 || v > 254 {
				c.add(sk("weight"), "must be 0 (a failure means FAULT) or 1..254 (a failure lowers the priority by that much), not %d", v)
			}
			ts.Weight = rs.Weight.val
		}
		out.TrackScripts = append(out.TrackScripts, ts)
	}
}

// buildNotify checks an instance's [instance.notify] table and its
// notify_timeout.
func buildNotify(r *rawInstance, out *Instance, key func(string) string, opts ParseOptions, c *collector) {
	n := &r.Notify
	out.Notify.RunAs = buildRunAs(n.User, n.Group, func(k string) string { return key("notify." + k) }, opts, c)
	for _, h := range []struct {
		name, state string
		raw         *optHook
		val         *[]string
	}{
		{"master", "MASTER", &n.Master, &out.Notify.Master}, {"backup", "BACKUP", &n.Backup, &out.Notify.Backup},
		{"fault", "FAULT", &n.Fault, &out.Notify.Fault}, {"stop", "STOP", &n.Stop, &out.Notify.Stop},
		{"any", AnyHook, &n.Any, &out.Notify.Any},
	} {
		k := key("notify." + h.name)
		if !h.raw.set || !c.valid(k, h.raw.problem) {
			continue
		}
		runAs, cmdKey := out.Notify.RunAs, k
		if h.raw.table {
			sub := func(s string) string { return key("notify." + h.name + "." + s) }
			cmdKey = sub("command")
			if own := buildRunAs(h.raw.user, h.raw.group, sub, opts, c); !own.IsZero() {
				runAs = own
				if out.Notify.HookRunAs == nil {
					out.Notify.HookRunAs = map[string]RunAs{}
				}
				out.Notify.HookRunAs[h.state] = own
			}
		}
		cmd := &h.raw.command
		if !c.valid(cmdKey, cmd.problem) {
			continue
		}
		if msg := checkArgv(cmd.val, cmd.set); msg != "" {
			c.add(cmdKey, "%s", msg)
		} else {
			checkProgram(cmd.val, runAs, cmdKey, opts, c)
		}
		*h.val = cmd.val
	}
	if c.valid(key("notify_timeout"), r.NotifyTimeout.problem) {
		if v := r.NotifyTimeout.val; v < 100*time.Millisecond || v > time.Hour {
			c.add(key("notify_timeout"), "must be 100ms..1h, not %s", v)
		}
		out.Notify.Timeout = r.NotifyTimeout.val
	}
}

// buildRunAs checks the user and group a track script, the notify
// commands or one of them run as; key names their keys. Unless opts
// says to leave this host alone, both must exist here.
func buildRunAs(user, group optString, key func(string) string, opts ParseOptions, c *collector) RunAs {
	okUser := c.valid(key("user"), user.problem)
	okGroup := c.valid(key("group"), group.problem)
	if !okUser || !okGroup {
		return RunAs{}
	}
	r := RunAs{User: user.val, Group: group.val}
	switch {
	case user.set && r.User == "":
		c.add(key("user"), "must not be empty (leave it out to run as the daemon's user)")
	case r.IsZero():
	case !runAsSupported:
		c.add(key("user"), "is not supported on Windows: commands run as the service's account")
	case r.User == "":
		c.add(key("group"), "needs user: the group a command runs as goes with the user it runs as")
	case group.set && r.Group == "":
		c.add(key("group"), "must not be empty (leave it out for the user's own group)")
	case !opts.SkipKeyFile:
		if _, err := r.Credential(); err != nil {
			c.add(key("user"), "%v", err)
		}
	}
	return r
}

// checkProgram refuses a command (argv) whose program someone else than
// root, the daemon's user or the command's own user can change (see
// programProblem). Like the other checks of this host's files, it is
// left out when opts says so.
func checkProgram(argv []string, r RunAs, key string, opts ParseOptions, c *collector) {
	if opts.SkipKeyFile {
		return
	}
	cred, err := r.Credential()
	if err != nil {
		return // reported with the user
	}
	if msg := programProblem(argv, cred); msg != "" {
		c.add(key, "%s", msg)
	}
}

// checkArgv says why a command (an argv run without a shell) is unusable,
// or "".
func checkArgv(argv []string, set bool) string {
	switch {
	case !set:
		return `is required: the program and its arguments, as a list (["/usr/bin/curl", "-fsS", "http://127.0.0.1/"])`
	case len(argv) == 0:
		return "must name a program: the list is empty"
	case strings.TrimSpace(argv[0]) == "":
		return "must name a program: the first item is empty"
	case len(argv) == 1 && strings.ContainsAny(strings.TrimSpace(argv[0]), " \t"):
		return fmt.Sprintf("%q is run as one program name, without a shell; give the program and each argument as separate items", argv[0])
	}
	return ""
}
