package config

import (
	"fmt"
	"unicode/utf8"
)

// Both rules for interface names are here, so that tests check a Windows
// configuration on Linux too; platform_*.go picks the one in force.

const linuxIfNameRule = "1 to 15 bytes, no '/', ':', spaces or control characters"

// validLinuxIfName follows the kernel's dev_valid_name: shorter than
// IFNAMSIZ (16 bytes), not "." or "..", no '/', ':' or white space;
// control characters are refused too.
func validLinuxIfName(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if r == '/' || r == ':' || r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

const aliasNameRule = "the name ipconfig shows, 1 to 256 characters, no control characters"

// validAliasName accepts a Windows interface alias: at most
// IF_MAX_STRING_SIZE (256) characters, spaces allowed ("Ethernet 2"), no
// control characters.
func validAliasName(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > 256 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// CheckInterfaceName says why name cannot be an interface name of a
// configuration (instance.interface, a VIP's interface, an item of
// track_interfaces), with the rule in force on this platform; nil when
// it can.
func CheckInterfaceName(name string) error {
	if !validIfName(name) {
		return fmt.Errorf("%q is not a valid interface name (%s)", name, ifNameRule)
	}
	return nil
}
