package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/BurntSushi/toml"

	"github.com/havip/havip/config"
)

// resolveSocket picks the daemon's socket for subcommand name: --socket
// when given, else the configuration's status.socket (see
// socketFromConfig).
func resolveSocket(name, path, sock string, stderr io.Writer) string {
	if sock != "" {
		return sock
	}
	s, err := socketFromConfig(path)
	if err != nil {
		// The operator may be in the middle of editing the file, and
		// wants to see the running daemon all the same.
		fmt.Fprintf(stderr, "havip %s: %v\nhavip %s: trying the default socket %s (--socket names another)\n", name, err, name, config.DefaultSocket)
		return config.DefaultSocket
	}
	return s
}

// socketFromConfig finds the status socket in a configuration file. It
// is lenient: `havip status` must work while the file has an unrelated
// mistake, or cannot be read by this user (the key in it, say). A
// missing file means the default socket; a file that cannot be read or
// whose syntax is broken is an error.
func socketFromConfig(path string) (string, error) {
	cfg, err := config.LoadWithOptions(path, config.ParseOptions{SkipKeyFile: true})
	if err == nil {
		return cfg.Status.Socket, nil
	}
	var raw struct {
		Status struct {
			Socket string `toml:"socket"`
		} `toml:"status"`
	}
	_, derr := toml.DecodeFile(path, &raw)
	switch {
	case errors.Is(derr, fs.ErrNotExist):
		return config.DefaultSocket, nil
	case derr != nil:
		// The configuration's own error names the line and column.
		return "", err
	case raw.Status.Socket == "":
		return config.DefaultSocket, nil
	}
	return raw.Status.Socket, nil
}
