package election

import (
	"log/slog"

	"github.com/hashicorp/memberlist"
)

// conflictDelegate reports a second member with this node's name.
type conflictDelegate struct{ log *slog.Logger }

func (c *conflictDelegate) NotifyConflict(existing, other *memberlist.Node) {
	c.log.Error("another member uses this node name; node names must be unique",
		"peer", existing.Name, "addr", nodeAddr(existing), "other_addr", nodeAddr(other))
}
