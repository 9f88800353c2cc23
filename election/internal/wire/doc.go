// Package wire owns the bytes on the network between members: memberlist's
// transport (UDP packets and TCP streams on the gossip port), the
// heartbeat frames sent beside them on the same UDP port and their
// sealing, and the lazy socket the kernel steers lazy frames to. The
// election sees all of it through Transport; Network is an in-memory
// stand-in for the network, with faults (cut links, partitions), so tests
// can run whole clusters without sockets.
package wire
