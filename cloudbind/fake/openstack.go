package fake

import "net/http"

func (s *Server) keystone(w http.ResponseWriter, r *http.Request) {
	writeErr(w, 501, "FAKE", "keystone not served")
}

func (s *Server) neutron(w http.ResponseWriter, r *http.Request) {
	writeErr(w, 501, "FAKE", "neutron not served")
}
