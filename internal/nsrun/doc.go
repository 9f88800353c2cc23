// Package nsrun runs a function with its thread in another network
// namespace, so that the sockets it opens belong to that namespace for
// their whole life.
package nsrun
