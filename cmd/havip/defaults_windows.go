package main

// defaultKeyFile is where `havip init` writes the cluster key. The file
// takes the access control list of its directory: lock the directory
// down first (docs/windows.md).
const defaultKeyFile = `C:\ProgramData\havip\secret.key`

// defaultInterface is the interface `havip init` puts in the starting
// configuration: the alias Windows gives the first Ethernet adapter.
const defaultInterface = "Ethernet"
