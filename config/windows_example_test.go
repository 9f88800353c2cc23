package config

import (
	"os"
	"path/filepath"
	"testing"
)

// The Windows example parses under the Windows interface-name rule,
// whatever platform runs the test.
func TestParseWindowsExample(t *testing.T) {
	old := validIfName
	validIfName = validAliasName
	defer func() { validIfName = old }()

	data, err := os.ReadFile(filepath.Join("..", "examples", "windows", "havip.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseWithOptions(data, "havip.toml", ParseOptions{SkipKeyFile: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Instances[0].Interface; got != "Ethernet 2" {
		t.Errorf("interface %q, want %q", got, "Ethernet 2")
	}
	if got, want := cfg.Status.Socket, `C:\ProgramData\havip\havip.sock`; got != want {
		t.Errorf("socket %q, want %q", got, want)
	}
}

func TestInterfaceNameRules(t *testing.T) {
	tests := []struct {
		name         string
		linux, alias bool
	}{
		{"eth0", true, true},
		{"Ethernet 2", false, true},
		{"vEthernet (Default Switch)", false, true},
		{"a-name-of-16-byt", false, true},
		{"", false, false},
		{"bad\tname", false, false},
		{"eth0:1", false, true},
		{string(make([]byte, 257)), false, false},
	}
	for _, tt := range tests {
		if got := validLinuxIfName(tt.name); got != tt.linux {
			t.Errorf("validLinuxIfName(%q) = %t", tt.name, got)
		}
		if got := validAliasName(tt.name); got != tt.alias {
			t.Errorf("validAliasName(%q) = %t", tt.name, got)
		}
	}
}
