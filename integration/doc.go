// Package integration runs real havip processes in network namespaces on a
// bridge (internal/testbed) and checks the behaviour DESIGN.md promises
// through the contract only: config keys, command lines, exit codes, the
// status document and the addresses on the interfaces.
//
// Most tests need root and the ip and ping commands; they skip otherwise,
// and with -short. They build ./cmd/havip once per run, or use the binary
// named by the HAVIP_BIN environment variable.
package integration
