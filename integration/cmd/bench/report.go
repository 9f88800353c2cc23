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
	"rejoin":      "Restart restoring the majority: the nodes beyond a bare majority cut off, node 1 stopped (node 0 loses quorum and releases), then started again (havip only; keepalived keeps no quorum)",
}

// report writes the results as Markdown; plots maps a section (a
// scenario, "false" or a resources figure) to the file name of its
// picture, written beside the report.
func (b *bench) report(w io.Writer, args string, took time.Duration, load string, plots map[string]string) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	img := func(key string) {
		if f := plots[key]; f != "" {
			p("![%s](%s)", plotTitle(key), f)
			p("")
		}
	}
	p("# havip failover benchmark")
	p("")
	p("Command: `sudo go run ./integration/cmd/bench %s` (%d CPUs, %s, took %v; %s).", args, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"), took.Round(time.Second), load)
	p("Instance k (VIP %s + k) prefers node k mod nodes: priority 150 there, 100 and 50 on the next two nodes, 5 less on each after them; node 0 holds instance 0, whose VIP every round measures, at the start of every round.", vip)
	p("The client pings the VIP every %v from the observer; an echo without a reply within %v is lost; outage = lost × %v, taken as the span from the first lost echo to the first answered one after the last loss.", pingEvery, pingLate, pingEvery)
	p("GARP times are the arrival of the new master's first gratuitous ARP on the observer's eth0 (packet socket).")
	p("")

	for _, sc := range scenarioOrder {
		if scenarioTitle[sc] == "" || !b.scenarios[sc] {
			continue // not a failover scenario, or not run
		}
		p("## %s", scenarioTitle[sc])
		p("")
		img(sc)
		for _, z := range b.sizes {
			p("### %s", z)
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
					ok = max(ok, len(b.failover[fkey{sc, z, s, m}]))
				}
				failed := len(b.failed[fkey{sc, z, s, ""}])
				row += fmt.Sprintf(" %d", ok)
				if failed > 0 {
					row += fmt.Sprintf(" (+%d failed)", failed)
				}
				row += " |"
				for _, m := range b.metrics[sc] {
					sum := summarize(b.failover[fkey{sc, z, s, m}])
					if sum.N == 0 {
						row += " – |"
						continue
					}
					row += fmt.Sprintf(" %s / %s / %s |", fmtDur(sum.Median), fmtDur(sum.P95), fmtDur(sum.Max))
				}
				if b.broken[usageKey{z, s}] != "" {
					row += " " + oneLine(b.broken[usageKey{z, s}])
				}
				p("%s", row)
			}
			p("")
			for _, m := range b.metrics[sc] {
				if !slices.Contains(havipOnly, sc) {
					b.ratios(w, sc, z, m)
				}
			}
			for _, s := range b.setups {
				if errs := b.failed[fkey{sc, z, s, ""}]; len(errs) > 0 {
					p("Failed rounds of %s: %s", s, oneLine(strings.Join(dedupe(errs), "; ")))
					p("")
				}
			}
		}
		for _, m := range b.metrics[sc] {
			b.sizeRatios(w, m, func(z size, s setup) (float64, bool) {
				sum := summarize(b.failover[fkey{sc, z, s, m}])
				return float64(sum.Median), sum.N > 0
			})
		}
	}

	if b.scenarios["false"] {
		p("## False failovers: %v per run with random loss on every port and %d busy loops", b.soak, runtime.NumCPU())
		p("")
		p("Changes of every instance's holder set sampled every 20 ms; per hour = changes × 3600 s / run time.")
		p("")
		img("false")
		head := "| setup |"
		sep := "| --- |"
		for _, z := range b.sizes {
			for _, l := range b.losses {
				head += fmt.Sprintf(" %s, %d%% loss |", z, l)
				sep += " --- |"
			}
		}
		p("%s", head)
		p("%s", sep)
		for _, s := range b.setups {
			row := fmt.Sprintf("| %s |", s)
			for _, z := range b.sizes {
				for _, l := range b.losses {
					r, ok := b.falses[falseKey{z, s, l}]
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
		b.resourcesReport(w, img)
	}
}

// resourcesReport writes the idle measurement: one row per setup and
// size, then each setup's medians against its first size.
func (b *bench) resourcesReport(w io.Writer, img func(string)) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("## Resources: each daemon idle for %v, every setup and size side by side over the same window (utime+stime from /proc/PID/stat, VmRSS from /proc/PID/status, context switches of every thread from /proc/PID/task/*/status, keepalived's VRRP child included; bytes sent by each node's eth0 from its link statistics)", b.idle)
	p("")
	for _, key := range []string{"idle-cpu", "idle-wakeups", "idle-tx"} {
		img(key)
	}
	p("| setup | cluster | CPU %% of one core, median / max | RSS MiB, median / max | context switches/s, median / max | bytes/s sent per node, median / max |")
	p("| --- | --- | --- | --- | --- | --- |")
	for _, s := range b.setups {
		for _, z := range b.sizes {
			u, ok := b.usages[usageKey{z, s}]
			if !ok {
				if e := b.broken[usageKey{z, s}]; e != "" {
					p("| %s | %s | %s | | | |", s, z, oneLine(e))
				}
				continue
			}
			rss := make([]float64, len(u.rss))
			for i, v := range u.rss {
				rss[i] = float64(v) / 1024
			}
			cpu, mem, sw, tx := spread(u.cpu), spread(rss), spread(u.switches), spread(u.txRate)
			p("| %s | %s | %.2f / %.2f | %.1f / %.1f | %.0f / %.0f | %.0f / %.0f |", s, z, cpu[0], cpu[1], mem[0], mem[1], sw[0], sw[1], tx[0], tx[1])
		}
	}
	p("")
	for _, m := range []struct {
		name string
		of   func(usageResult) []float64
	}{
		{"idle CPU", func(u usageResult) []float64 { return u.cpu }},
		{"context switches/s", func(u usageResult) []float64 { return u.switches }},
		{"bytes/s sent per node", func(u usageResult) []float64 { return u.txRate }},
	} {
		b.sizeRatios(w, m.name, func(z size, s setup) (float64, bool) {
			u, ok := b.usages[usageKey{z, s}]
			if !ok || len(m.of(u)) == 0 {
				return 0, false
			}
			return spread(m.of(u))[0], true
		})
	}
}

// spread is the median and the maximum of vs.
func spread(vs []float64) [2]float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	return [2]float64{medianF(s), s[len(s)-1]}
}

// sizeRatios prints, when there are several sizes, each setup's median
// of one metric at every other size against the first size.
func (b *bench) sizeRatios(w io.Writer, metric string, median func(size, setup) (float64, bool)) {
	if len(b.sizes) < 2 {
		return
	}
	base := b.sizes[0]
	fmt.Fprintf(w, "Against %s, %s medians:\n\n", base, metric)
	head, sep := "| setup |", "| --- |"
	for _, z := range b.sizes[1:] {
		head += " " + z.String() + " |"
		sep += " --- |"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, sep)
	for _, s := range b.setups {
		row := "| " + s.String() + " |"
		m0, ok0 := median(base, s)
		if !ok0 {
			continue
		}
		for _, z := range b.sizes[1:] {
			m, ok := median(z, s)
			if !ok || m0 == 0 {
				row += " – |"
				continue
			}
			row += fmt.Sprintf(" %.2f |", m/m0)
		}
		fmt.Fprintln(w, row)
	}
	fmt.Fprintln(w)
}

// ratios prints the havip/keepalived ratio of the medians of one metric:
// one row per havip profile, one column per keepalived advert interval.
func (b *bench) ratios(w io.Writer, sc string, z size, metric string) {
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
		hs := summarize(b.failover[fkey{sc, z, h, metric}])
		for _, k := range ka {
			ks := summarize(b.failover[fkey{sc, z, k, metric}])
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
