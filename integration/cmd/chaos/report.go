package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/havip/havip/config"
)

// report is a run's outcome.
type report struct {
	o          options
	tm         config.Timing
	b          bounds
	sched      []fault
	rec        record
	violations []violation
	stats      []instStats
	injected   map[kind]int
	skipped    map[kind]int
	resolved   map[int]string
	// tails are, per violation, each node's last log lines before it
	// (read before the run's directory is removed).
	tails [][]string
}

// around is how far before and after a violation the report shows the
// schedule.
const around = 5 * time.Second

// logLines is how many log lines of each node a violation shows.
const logLines = 4

func (r *report) summary() string {
	verdict := "no invariant violated"
	if n := len(r.violations); n > 0 {
		verdict = fmt.Sprintf("%d violations", n)
	}
	return fmt.Sprintf("chaos: seed %d, %s, %d nodes, %d instances: %d faults injected, %s",
		r.o.seed, r.o.profile, r.o.nodes, r.o.instances, sum(r.injected), verdict)
}

func sum(m map[kind]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func (r *report) write(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("# havip chaos run")
	p("")
	p("`%s`", r.command())
	p("")
	witness := ""
	if r.o.witness {
		witness = fmt.Sprintf(" (node%d a witness)", r.o.nodes-1)
	}
	p("- seed %d; %d nodes%s; %d instances; profile `%s`; %v of faults (mean gap %v, at most %d at once), then %v quiet",
		r.o.seed, r.o.nodes, witness, r.o.instances, r.o.profile, r.o.duration, r.o.gap, r.o.maxActive, r.b.Stable+2*time.Second)
	p("- ran %v; holders sampled every %v; bounds: grace %v, release %v, stable %v, handover gap %v, announce %v",
		r.rec.End.Sub(r.rec.Start).Round(time.Second), samplePeriod, r.b.Grace, r.b.Release, r.b.Stable, r.b.Gap, r.b.Announce)
	p("- **%s**", strings.TrimPrefix(r.summary(), "chaos: "))
	p("")
	p("## Instances")
	p("")
	p("| instance | failovers | two holders or more | of which a frozen, starved or killed holder's | no holder | longest without | in violation |")
	p("|---|---:|---:|---:|---:|---:|---:|")
	for k, st := range r.stats {
		p("| i%d | %d | %v | %v | %v | %v | %v |", k, st.Failovers, ms(st.TwoOrMore), ms(st.Excused), ms(st.None), ms(st.LongestNone), ms(st.ViolationTime))
	}
	p("")
	p("## Faults")
	p("")
	p("| kind | injected | skipped |")
	p("|---|---:|---:|")
	for _, k := range allKinds {
		if r.injected[k]+r.skipped[k] > 0 {
			p("| %s | %d | %d |", k, r.injected[k], r.skipped[k])
		}
	}
	p("")
	if len(r.violations) > 0 {
		p("## Violations")
		p("")
		for j, v := range r.violations {
			r.writeViolation(w, j, v)
		}
	}
	p("## Schedule")
	p("")
	p("```")
	for _, f := range r.sched {
		p("%s", r.faultLine(f))
	}
	p("```")
}

func (r *report) command() string {
	args := []string{"sudo go run ./integration/cmd/chaos", fmt.Sprintf("-nodes %d", r.o.nodes)}
	if r.o.witness {
		args = append(args, "-witness")
	}
	args = append(args, fmt.Sprintf("-instances %d -profile %s -duration %v -seed %d -gap %v -max-active %d",
		r.o.instances, r.o.profile, r.o.duration, r.o.seed, r.o.gap, r.o.maxActive))
	if r.o.kinds != "" {
		args = append(args, "-kinds "+r.o.kinds)
	}
	return strings.Join(args, " ")
}

// faultLine is a fault at its offset, with the node a "holder of" fault
// hit.
func (r *report) faultLine(f fault) string {
	s := fmt.Sprintf("%9s  %s", offset(f.At), f)
	if n, ok := r.resolved[f.ID]; ok {
		s += " → " + n
	}
	return s
}

func offset(d time.Duration) string {
	return fmt.Sprintf("+%.3fs", d.Seconds())
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// readTails reads, for each violation, the last log lines of every node
// before it.
func readTails(vs []violation, logs []string) [][]string {
	out := make([][]string, len(vs))
	for j, v := range vs {
		for i, path := range logs {
			for _, l := range tailBefore(path, v.From, logLines) {
				out[j] = append(out[j], fmt.Sprintf("node%d: %s", i, l))
			}
		}
	}
	return out
}

func (r *report) writeViolation(w io.Writer, j int, v violation) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	at := v.From.Sub(r.rec.Start)
	p("### %s, instance i%d, at %s for %v", v.Rule, v.Inst, offset(at), ms(v.To.Sub(v.From)))
	p("")
	p("Holders %v: %s.", v.Holders, v.Detail)
	p("")
	p("Changes from %s to %s:", offset(at-around), offset(at+around))
	p("")
	p("```")
	for _, c := range r.rec.Changes {
		d := c.At.Sub(r.rec.Start)
		if d >= at-around && d <= at+around {
			p("%9s  %s", offset(d), c.What)
		}
	}
	p("```")
	p("")
	p("Last log lines before it:")
	p("")
	p("```")
	for _, l := range r.tails[j] {
		p("%s", l)
	}
	p("```")
	p("")
}

// tailBefore returns the last n lines of a daemon log stamped at or
// before t (slog's time=... key).
func tailBefore(path string, t time.Time, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return []string{err.Error()}
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		ts, ok := logTime(line)
		if !ok {
			continue
		}
		if ts.After(t) {
			break
		}
		out = append(out, line)
		if len(out) > n {
			out = out[1:]
		}
	}
	return out
}

// logTime reads the time= key at the start of a text log line.
func logTime(line string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(line, "time=")
	if !ok {
		return time.Time{}, false
	}
	stamp, _, _ := strings.Cut(rest, " ")
	t, err := time.Parse(time.RFC3339Nano, stamp)
	return t, err == nil
}
