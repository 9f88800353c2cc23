package config

import "github.com/havip/havip/internal/proc"

// programProblem: on Windows the program is not checked; the set-up in
// docs/windows.md keeps C:\ProgramData\havip, and the commands kept
// there, to SYSTEM and Administrators.
func programProblem([]string, *proc.Credential) string { return "" }
