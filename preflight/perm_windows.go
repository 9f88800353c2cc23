package preflight

// modeBits is false: Windows has no mode bits (a file reads as 0666 or,
// read-only, 0444), so the permission checks would flag every file.
// config.Load checks the access control list of the secret key file
// instead (docs/windows.md).
const modeBits = false
