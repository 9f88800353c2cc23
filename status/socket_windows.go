package status

// restrictSocket leaves the socket as created: Windows has no mode bits
// (os.Chmod only sets the read-only attribute), and connecting to a unix
// socket needs write access to its file, which a file created under
// C:\ProgramData grants to SYSTEM and Administrators only (Users inherit
// read and execute). So `havip status` needs an elevated prompt, as
// reading the socket needs root or the socket's group on Linux. There
// is no group to give it (config refuses status.socket_group).
func restrictSocket(path string, gid int) error { return nil }

// whoMayConnect says who may use the socket, for a user who may not.
func whoMayConnect(socket string) string {
	return "only SYSTEM and Administrators may use it; run havip from an elevated prompt"
}
