package election

import (
	"fmt"
	"sync"

	"github.com/hashicorp/memberlist"
)

// aliveDelegate bounds the names memberlist records. With a cluster key
// only a member that has it can introduce one; in insecure mode anyone
// can make names up, and memberlist would keep (and probe) every one:
// past maxMembers names a run takes no new ones.
type aliveDelegate struct {
	mu    sync.Mutex
	names map[string]struct{}
}

func newAliveDelegate(self string) *aliveDelegate {
	return &aliveDelegate{names: map[string]struct{}{self: {}}}
}

func (a *aliveDelegate) NotifyAlive(peer *memberlist.Node) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.names[peer.Name]; ok {
		return nil
	}
	if len(a.names) >= maxMembers {
		return fmt.Errorf("this run already knows %d member names, the most it records", maxMembers)
	}
	a.names[peer.Name] = struct{}{}
	return nil
}
