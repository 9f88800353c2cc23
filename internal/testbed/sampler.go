package testbed

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Sample is one reading of which nodes held a VIP.
type Sample struct {
	At      time.Time
	Holders []int
}

// Overlap is a run of consecutive samples in which two or more nodes held
// the VIP at once.
type Overlap struct {
	// First and Last are the times of the first and last sample of the
	// run; Holders is the largest holder set seen in it.
	First, Last time.Time
	Holders     []int
	// Before and After are the times of the samples on either side of the
	// run (zero when there was none): the overlap lasted at least
	// Last-First and at most After-Before.
	Before, After time.Time
}

// Min is the shortest the overlap can have lasted.
func (o Overlap) Min() time.Duration { return o.Last.Sub(o.First) }

// Max is the longest the overlap can have lasted; 0 when a side is open.
func (o Overlap) Max() time.Duration {
	if o.Before.IsZero() || o.After.IsZero() {
		return 0
	}
	return o.After.Sub(o.Before)
}

func (o Overlap) String() string {
	return fmt.Sprintf("nodes %v at %s, %v..%v", o.Holders, o.First.Format("15:04:05.000"),
		o.Min().Round(time.Millisecond), o.Max().Round(time.Millisecond))
}

// Sampler reads the holders of one VIP in its own goroutine, one sample
// every period (or as fast as the probe allows when that is slower), and
// keeps every change of holders and every overlap.
type Sampler struct {
	vip    netip.Addr
	probe  *HolderProbe
	period time.Duration
	stop   chan struct{}
	done   chan struct{}

	mu       sync.Mutex
	count    int
	first    time.Time
	last     Sample
	prevAt   time.Time
	maxGap   time.Duration
	changes  []Sample
	overlaps []Overlap
	open     *Overlap
	err      error
}

// SampleHolders starts a Sampler of vip over every node of n. Stop it.
func (n *Net) SampleHolders(vip netip.Addr, period time.Duration) (*Sampler, error) {
	p, err := n.OpenHolderProbe()
	if err != nil {
		return nil, err
	}
	s := &Sampler{vip: vip, probe: p, period: period, stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s, nil
}

func (s *Sampler) run() {
	defer close(s.done)
	defer s.probe.Close()
	t := time.NewTicker(s.period)
	defer t.Stop()
	for {
		holders, err := s.probe.Holders(s.vip)
		s.record(time.Now(), holders, err)
		if err != nil {
			return
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

func (s *Sampler) record(at time.Time, holders []int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.err = err
		return
	}
	if s.count == 0 {
		s.first = at
	} else if gap := at.Sub(s.prevAt); gap > s.maxGap {
		s.maxGap = gap
	}
	if s.count == 0 || !slices.Equal(holders, s.last.Holders) {
		s.changes = append(s.changes, Sample{At: at, Holders: holders})
	}
	if len(holders) >= 2 {
		if s.open == nil {
			s.open = &Overlap{First: at, Before: s.prevAt}
		}
		s.open.Last = at
		if len(holders) > len(s.open.Holders) {
			s.open.Holders = holders
		}
	} else if s.open != nil {
		s.open.After = at
		s.overlaps = append(s.overlaps, *s.open)
		s.open = nil
	}
	s.count++
	s.prevAt = at
	s.last = Sample{At: at, Holders: holders}
}

// Stop ends the sampling and returns what it saw.
func (s *Sampler) Stop() SamplerReport {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	return s.Report()
}

// Report returns what the sampler saw so far.
func (s *Sampler) Report() SamplerReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := SamplerReport{
		Samples:  s.count,
		MaxGap:   s.maxGap,
		Changes:  slices.Clone(s.changes),
		Overlaps: slices.Clone(s.overlaps),
		Last:     s.last,
		Err:      s.err,
	}
	if s.open != nil {
		r.Overlaps = append(r.Overlaps, *s.open)
	}
	if s.count > 1 {
		r.Period = s.prevAt.Sub(s.first) / time.Duration(s.count-1)
	}
	return r
}

// SamplerReport is what a Sampler saw.
type SamplerReport struct {
	// Samples is how many were taken; Period is their mean spacing and
	// MaxGap the longest one.
	Samples int
	Period  time.Duration
	MaxGap  time.Duration
	// Changes lists the first sample and every sample whose holders
	// differ from the one before.
	Changes []Sample
	// Overlaps lists the runs of samples with two or more holders.
	Overlaps []Overlap
	Last     Sample
	// Err is the error that stopped the sampling early, if any.
	Err error
}

// Timeline renders Changes relative to start, one per line.
func (r SamplerReport) Timeline(start time.Time) string {
	var b strings.Builder
	for _, c := range r.Changes {
		fmt.Fprintf(&b, "%+8v %v\n", c.At.Sub(start).Round(time.Millisecond), c.Holders)
	}
	return b.String()
}

// Span is a run of samples with the same holders: from the first of them
// to the first sample that differed, or to the last sample taken for the
// last run.
type Span struct {
	From, To time.Time
	Holders  []int
}

// Spans cuts the sampled time into runs of the same holders, in order.
func (r SamplerReport) Spans() []Span {
	spans := make([]Span, len(r.Changes))
	for i, c := range r.Changes {
		spans[i] = Span{From: c.At, To: r.Last.At, Holders: c.Holders}
		if i+1 < len(r.Changes) {
			spans[i].To = r.Changes[i+1].At
		}
	}
	return spans
}

// FirstWhere returns the time of the first sample at or after since whose
// holders satisfy ok: since itself when the holders sampled last before
// it already did. ok is false when no sample did.
func (r SamplerReport) FirstWhere(since time.Time, ok func(holders []int) bool) (time.Time, bool) {
	spans := r.Spans()
	for i, s := range spans {
		// The last run includes the last sample.
		if s.To.Before(since) || s.To.Equal(since) && i < len(spans)-1 {
			continue
		}
		if ok(s.Holders) {
			if s.From.Before(since) {
				return since, true
			}
			return s.From, true
		}
	}
	return time.Time{}, false
}

// TimeWhere is how long, within [from, to), the holders satisfied ok,
// each run counted from its first sample to the first sample that
// differed.
func (r SamplerReport) TimeWhere(from, to time.Time, ok func(holders []int) bool) time.Duration {
	var d time.Duration
	for _, s := range r.Spans() {
		if !ok(s.Holders) {
			continue
		}
		a, b := s.From, s.To
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		if b.After(a) {
			d += b.Sub(a)
		}
	}
	return d
}
