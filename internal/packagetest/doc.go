// Package packagetest builds the .deb and .rpm with the packaging module
// and checks what they hold; it has tests only.
package packagetest
