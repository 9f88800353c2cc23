// Package cloudbind makes a cloud forward a VIP's traffic to the server
// that holds it, through the provider's API.
package cloudbind
