// Package config reads, checks and fills in havip's TOML configuration file.
package config
