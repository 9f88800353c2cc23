package election

import (
	"context"
	"errors"
	"time"
)

// joinResult is one configured peer's join: err is nil when memberlist
// exchanged member tables with it.
type joinResult struct {
	peer string
	err  error
}

// joinEach joins every peer at once, each in its own goroutine, and
// sends each result on the returned channel, which holds them all: a
// result nobody waits for any more does not keep its goroutine.
//
// memberlist's Join contacts its peers one after another, so every
// unreachable peer listed before a live one cost a whole tcp_timeout: a
// node restarted while four of its nine peers were cut off took two
// seconds to join the five it could reach with `fast` (and would have
// taken forty with `conservative`), and the majority it completed had
// no holder meanwhile.
func joinEach(join func(peer string) error, peers []string) <-chan joinResult {
	results := make(chan joinResult, len(peers))
	for _, p := range peers {
		go func() {
			results <- joinResult{peer: p, err: join(p)}
		}()
	}
	return results
}

// joinPeers joins the peers at once (see joinEach) and returns when each
// has answered or failed, when straggle has passed since the first one
// answered, or when ctx is done: how many answered by then and, when
// none did, why. The push/pulls with the live peers, started together,
// end within moments of each other; a peer still silent then is down or
// cut off, and waiting out its tcp_timeout would only keep this node out
// of the cluster (with one peer down, a restart that restores the
// majority took a tcp_timeout longer: 1 s with `default`, 10 s with
// `conservative`). The joins still running go on in the background, and
// their member tables merge when they arrive; the election does not rest
// on them (see step: quorum regained, unknown members).
func joinPeers(ctx context.Context, join func(peer string) error, peers []string, straggle time.Duration) (int, error) {
	results := joinEach(join, peers)
	var (
		joined int
		errs   []error
		late   <-chan time.Time
	)
	for range peers {
		select {
		case r := <-results:
			if r.err != nil {
				errs = append(errs, r.err)
				continue
			}
			joined++
			if late == nil {
				t := time.NewTimer(straggle)
				defer t.Stop()
				late = t.C
			}
		case <-late:
			return joined, nil
		case <-ctx.Done():
			if joined > 0 {
				return joined, nil
			}
			return 0, ctx.Err()
		}
	}
	if joined > 0 {
		return joined, nil
	}
	return 0, errors.Join(errs...)
}
