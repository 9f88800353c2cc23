package keepalived

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/havip/havip/config"
)

// keepalivedFailover is how long a keepalived backup waits for a silent
// master before it takes over (RFC 5798's Master_Down_Interval): three
// advert intervals and a skew of (256 − priority)/256 of one.
func keepalivedFailover(advert time.Duration, priority int) time.Duration {
	return 3*advert + time.Duration(float64(advert)*float64(256-priority)/256)
}

// nearestProfile returns the timing profile whose failure detection is
// nearest to d (as a ratio: 0.5 s is as far from 1 s as 2 s is), and
// that detection time.
func nearestProfile(d time.Duration) (string, time.Duration) {
	best, bestDist, bestTime := "", math.Inf(1), time.Duration(0)
	for _, name := range config.ProfileNames() {
		p, _ := config.Profile(name)
		fd := p.FailureDetection()
		if dist := math.Abs(math.Log(float64(fd) / float64(d))); dist < bestDist {
			best, bestDist, bestTime = name, dist, fd
		}
	}
	return best, bestTime
}

// profileTimes lists every profile with its failure detection time.
func profileTimes() string {
	var parts []string
	for _, name := range config.ProfileNames() {
		p, _ := config.Profile(name)
		parts = append(parts, fmt.Sprintf("%s about %s", name, roundTime(p.FailureDetection())))
	}
	return strings.Join(parts, ", ")
}

func roundTime(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}

// timing sets cluster.timing from the fastest advert_int (keepalived's
// default is 1 s): havip has one timing for the whole cluster.
func (c *converter) timing() {
	var from *instance
	for _, in := range c.kept() {
		if in.advert != 0 && (from == nil || in.advert < from.advert) {
			from = in
		}
	}
	advert, prio, node := time.Second, 100, (*Node)(nil)
	if from != nil {
		advert, prio, node = from.advert, from.out.Priority, from.advertNode
	}
	kd := keepalivedFailover(advert, prio)
	name, fd := nearestProfile(kd)
	c.res.Cluster.Timing = name
	where := "cluster.timing"
	if node != nil {
		where = from.where + ": advert_int"
	}
	c.rep.add(node, Changed, where,
		"advert_int %s: failover in about %s with keepalived (a backup takes over from a silent master after 3 × advert_int and a skew for priority %d); "+
			"cluster.timing = %q, the nearest havip profile: failover in about %s (the profiles: %s). havip has one timing for the cluster: it follows the fastest advert_int",
		advert, roundTime(kd), prio, name, roundTime(fd), profileTimes())
}
