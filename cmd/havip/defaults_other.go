//go:build !windows

package main

// defaultKeyFile is where `havip init` writes the cluster key.
const defaultKeyFile = "/etc/havip/secret.key"

// defaultInterface is the interface `havip init` puts in the starting
// configuration.
const defaultInterface = "eth0"
