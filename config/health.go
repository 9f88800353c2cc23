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
func buildHealth(r *rawInstance, out *Instance, key func(string) string, c *collector) {
	buildTrackInterfaces(r, out, key, c)
	buildTrackScripts(r, out, key, c)
	buildNotify(r, out, key, c)
}

// buildTrackInterfaces checks an instance's track_interfaces.
func buildTrackInterfaces(r *rawInstance, out *Instance, key func(string) string, c *collector) {
	if c.valid(key("track_interfaces"), r.TrackInterfaces.problem) {
		seen := map[string]int{}
		for j, ifname := range r.TrackInterfaces.val {
			k := key(fmt.Sprintf("track_interfaces[%d]", j))
			switch prev, dup := seen[ifname]; {
			case !validIfName(ifname):
				c.add(k, "%q is not a valid interface name (1 to 15 bytes, no '/', ':', spaces or control characters)", ifname)
			case dup:
				c.add(k, "%q is already listed as track_interfaces[%d]", ifname, prev)
			default:
				seen[ifname] = j
				out.TrackInterfaces = append(out.TrackInterfaces, ifname)
			}
		}
	}
}

// buildTrackScripts checks an instance's [[instance.track_script]] tables.
func buildTrackScripts(r *rawInstance, out *Instance, key func(string) string, c *collector) {
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
		if c.valid(sk("command"), rs.Command.problem) {
			if msg := checkArgv(rs.Command.val, rs.Command.set); msg != "" {
				c.add(sk("command"), "%s", msg)
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
func buildNotify(r *rawInstance, out *Instance, key func(string) string, c *collector) {
	for _, n := range []struct {
		name string
		raw  *optStrings
		val  *[]string
	}{{"master", &r.Notify.Master, &out.Notify.Master}, {"backup", &r.Notify.Backup, &out.Notify.Backup}, {"fault", &r.Notify.Fault, &out.Notify.Fault}} {
		k := key("notify." + n.name)
		if !n.raw.set || !c.valid(k, n.raw.problem) {
			continue
		}
		if msg := checkArgv(n.raw.val, true); msg != "" {
			c.add(k, "%s", msg)
		}
		*n.val = n.raw.val
	}
	if c.valid(key("notify_timeout"), r.NotifyTimeout.problem) {
		if v := r.NotifyTimeout.val; v < 100*time.Millisecond || v > time.Hour {
			c.add(key("notify_timeout"), "must be 100ms..1h, not %s", v)
		}
		out.Notify.Timeout = r.NotifyTimeout.val
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
