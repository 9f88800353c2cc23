// Package testbed builds throw-away network topologies out of Linux network
// namespaces (a bridge in a "switch" namespace, one namespace per node and
// one observer) and runs havip processes inside them, for the end-to-end
// tests, the local demo and the failover benchmark.
//
// Nothing here touches the caller's own network namespace: every link and
// address is created inside namespaces the package made, in the private
// benchmarking ranges 198.18.0.0/24 and fd00:4856::/64, and Close removes
// them. Building a topology needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and
// the ip command from iproute2; the observer helpers also use ping.
package testbed
