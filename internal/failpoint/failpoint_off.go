//go:build !havip_failpoints

package failpoint

// Enabled reports whether this build has failpoints.
const Enabled = false

// Inject returns nil: this build has no failpoints.
func Inject(string) error { return nil }
