package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"
)

var scenarioTitle = map[string]string{
	"hard":        "Hard failure: node 0's link cut at the bridge (nftables)",
	"crash":       "Crash: kill -9 of node 0's daemon, restarted 100 ms later (its VIP stays on eth0 meanwhile)",
	"graceful":    "Graceful: SIGTERM of node 0's daemon",
	"switchover":  "Switchover: `havip switchover --to node1` on node 0 (havip only; keepalived has no such command)",
	"maintenance": "Maintenance: `havip maintenance on` on node 0 (havip only)",
}

// report writes the results as Markdown.
func (b *bench) report(w io.Writer, args string, took time.Duration) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("# havip failover benchmark")
	p("")
	p("Command: `sudo go run ./integration/cmd/bench %s` (%d CPUs, %s, took %v).", args, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"), took.Round(time.Second))
	p("Nodes have priorities 150, 100, 50; node 0 is the master at the start of every round.")
	p("The client pings the VIP every %v from the observer; an echo without a reply within %v is lost; outage = lost × %v, taken as the span from the first lost echo to the first answered one after the last loss.", pingEvery, pingLate, pingEvery)
	p("GARP times are the arrival of the new master's first gratuitous ARP on the observer's eth0 (packet socket).")
	p("")

	for _, sc := range []string{"hard", "crash", "graceful", "switchover", "maintenance"} {
		if !b.scenarios[sc] {
			continue
		}
		p("## %s", scenarioTitle[sc])
		p("")
		for _, n := range b.nodes {
			p("### %d nodes", n)
			p("")
			head := "| setup | rounds |"
			sep := "| --- | --- |"
			for _, m := range b.metrics[sc] {
				head += " " + m + " median / p95 / max |"
				sep += " --- |"
			}
			p("%s", head)
			p("%s", sep)
			for _, s := range b.setups {
				if s.kind != "havip" && slices.Contains(havipOnly, sc) {
					continue
				}
				row := fmt.Sprintf("| %s |", s)
				ok := 0
				for _, m := range b.metrics[sc] {
					ok = max(ok, len(b.failover[fkey{sc, n, s, m}]))
				}
				failed := len(b.failed[fkey{sc, n, s, ""}])
				row += fmt.Sprintf(" %d", ok)
				if failed > 0 {
					row += fmt.Sprintf(" (+%d failed)", failed)
				}
				row += " |"
				for _, m := range b.metrics[sc] {
					sum := summarize(b.failover[fkey{sc, n, s, m}])
					if sum.N == 0 {
						row += " – |"
						continue
					}
					row += fmt.Sprintf(" %s / %s / %s |", fmtDur(sum.Median), fmtDur(sum.P95), fmtDur(sum.Max))
				}
				if b.broken[usageKey{n, s}] != "" {
					row += " " + oneLine(b.broken[usageKey{n, s}])
				}
				p("%s", row)
			}
			p("")
			for _, m := range b.metrics[sc] {
				if !slices.Contains(havipOnly, sc) {
					b.ratios(w, sc, n, m)
				}
			}
			for _, s := range b.setups {
				if errs := b.failed[fkey{sc, n, s, ""}]; len(errs) > 0 {
					p("Failed rounds of %s: %s", s, oneLine(strings.Join(dedupe(errs), "; ")))
					p("")
				}
			}
		}
	}

	if b.scenarios["false"] {
		p("## False failovers: %v per run with random loss on every port and %d busy loops", b.soak, runtime.NumCPU())
		p("")
		p("Changes of the VIP's holder set sampled every 20 ms; per hour = changes × 3600 s / run time.")
		p("")
		head := "| setup |"
		sep := "| --- |"
		for _, n := range b.nodes {
			for _, l := range b.losses {
				head += fmt.Sprintf(" %d nodes, %d%% loss |", n, l)
				sep += " --- |"
			}
		}
		p("%s", head)
		p("%s", sep)
		for _, s := range b.setups {
			row := fmt.Sprintf("| %s |", s)
			for _, n := range b.nodes {
				for _, l := range b.losses {
					r, ok := b.falses[falseKey{n, s, l}]
					switch {
					case !ok:
						row += " – |"
					case r.err != "":
						row += fmt.Sprintf(" error: %s |", oneLine(r.err))
					default:
						row += fmt.Sprintf(" %d (%.0f/h) |", r.changes, float64(r.changes)*3600/r.d.Seconds())
					}
				}
			}
			p("%s", row)
		}
		p("")
	}

	if b.scenarios["resources"] && b.idle > 0 {
		p("## Resources: each daemon idle for %v, every setup side by side over the same window (utime+stime from /proc/PID/stat, VmRSS from /proc/PID/status, context switches of every thread from /proc/PID/task/*/status, keepalived's VRRP child included)", b.idle)
		p("")
		p("| setup | nodes | CPU %% of one core, median / max | RSS MiB, median / max | context switches/s, median / max |")
		p("| --- | --- | --- | --- | --- |")
		for _, s := range b.setups {
			for _, n := range b.nodes {
				u, ok := b.usages[usageKey{n, s}]
				if !ok {
					continue
				}
				cpu := slices.Clone(u.cpu)
				slices.Sort(cpu)
				rss := slices.Clone(u.rss)
				slices.Sort(rss)
				sw := slices.Clone(u.switches)
				slices.Sort(sw)
				p("| %s | %d | %.2f / %.2f | %.1f / %.1f | %.0f / %.0f |", s, n, medianF(cpu), cpu[len(cpu)-1],
					float64(rss[len(rss)/2])/1024, float64(rss[len(rss)-1])/1024, medianF(sw), sw[len(sw)-1])
			}
		}
		p("")
	}
}

// ratios prints the havip/keepalived ratio of the medians of one metric:
// one row per havip profile, one column per keepalived advert interval.
func (b *bench) ratios(w io.Writer, sc string, n int, metric string) {
	var hv, ka []setup
	for _, s := range b.setups {
		if s.kind == "havip" {
			hv = append(hv, s)
		} else {
			ka = append(ka, s)
		}
	}
	if len(hv) == 0 || len(ka) == 0 {
		return
	}
	fmt.Fprintf(w, "havip/keepalived, %s medians:\n\n", metric)
	head, sep := "| havip \\ keepalived |", "| --- |"
	for _, k := range ka {
		head += " advert " + k.setting + " |"
		sep += " --- |"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, sep)
	for _, h := range hv {
		row := "| " + h.setting + " |"
		hs := summarize(b.failover[fkey{sc, n, h, metric}])
		for _, k := range ka {
			ks := summarize(b.failover[fkey{sc, n, k, metric}])
			r := ratio(hs.Median, ks.Median)
			if hs.N == 0 || ks.N == 0 || math.IsNaN(r) {
				row += " – |"
				continue
			}
			row += fmt.Sprintf(" %.2f |", r)
		}
		fmt.Fprintln(w, row)
	}
	fmt.Fprintln(w)
}

func medianF(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func dedupe(ss []string) []string {
	seen := map[string]int{}
	var out []string
	for _, s := range ss {
		if seen[s] == 0 {
			out = append(out, s)
		}
		seen[s]++
	}
	for i, s := range out {
		if seen[s] > 1 {
			out[i] = fmt.Sprintf("%s (×%d)", s, seen[s])
		}
	}
	return out
}

// shellJoin joins args into a command line a shell reads back as the same
// args, so the report's command can be pasted: an empty argument (as in
// -adverts "") becomes "", one with anything but safe characters is
// single-quoted.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		switch {
		case a == "":
			out[i] = `""`
		case strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_=.,/:+@%", r))
		}) >= 0:
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		default:
			out[i] = a
		}
	}
	return strings.Join(out, " ")
}
