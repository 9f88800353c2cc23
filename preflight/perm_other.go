//go:build !windows

package preflight

// modeBits: file modes say who may read and change a file.
const modeBits = true
