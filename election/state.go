package election

// State is the role of this node for one instance.
type State uint32

const (
	// StateInit is the state before the first decision.
	StateInit State = iota
	// StateBackup means another node holds, or may hold, the VIPs.
	StateBackup
	// StateMaster means this node holds the VIPs.
	StateMaster
	// StateFault means this node cannot hold the VIPs (interface down,
	// failed health check, a holder error).
	StateFault
)

func (s State) String() string {
	switch s {
	case StateInit:
		return "INIT"
	case StateBackup:
		return "BACKUP"
	case StateMaster:
		return "MASTER"
	case StateFault:
		return "FAULT"
	default:
		return "UNKNOWN"
	}
}

// MemberState is the liveness of a member as memberlist reports it.
type MemberState string

const (
	MemberAlive   MemberState = "alive"
	MemberSuspect MemberState = "suspect"
	MemberDead    MemberState = "dead"
	MemberLeft    MemberState = "left"
)

// member reports whether a member in this state still counts as part of
// the cluster (for quorum and the election): alive or merely suspected.
func (s MemberState) member() bool { return s == MemberAlive || s == MemberSuspect }
