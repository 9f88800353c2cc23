// Package failpoint lets the integration tests make one system call of a
// running daemon fail, to check what the daemon does then: a VIP removal
// that the kernel refuses, for one. Nothing of it is in a normal build.
//
// Built with the tag havip_failpoints (the integration tests build havip
// so), Inject(name) fails while a file called name exists in the
// directory the environment variable HAVIP_FAILPOINTS_DIR names; the
// test arms a failpoint by creating the file and disarms it by removing
// it, while the daemon runs. Without the tag, Inject always returns nil
// and the compiler drops the call.
//
// Failpoints in the code:
//
//	vip.remove   removing an address from an interface (vip.Manager.Remove)
package failpoint

// EnvDir is the environment variable naming the failpoint directory.
const EnvDir = "HAVIP_FAILPOINTS_DIR"
