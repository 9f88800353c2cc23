// Package config reads, checks and fills in havip's TOML configuration file.
//
// It owns the file's format: the types the rest of havip is configured
// with (Config and its parts), their defaults, and the checks that turn
// every mistake in a file into a message naming the key. config.go
// declares those types; load.go holds Load and Parse, the defaults and
// the helpers the tables share; raw.go the structs the file is decoded
// into. Then each table has a file of its own: node.go for [node],
// cluster.go for [cluster] and [cluster.tuning] (timing.go for the
// timing profiles), instance.go for [[instance]], health.go for an
// instance's health checks and notify commands, status.go for [status]
// and cloud.go for [cloud].
package config
