// Package nstest gives tests a private network namespace to create links,
// addresses and sockets in, so that privileged tests never touch the
// machine's own network.
package nstest
