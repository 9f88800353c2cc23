package fake

import (
	"encoding/json"
	"net/http"
)

// The error bodies of each service, as their references show them.

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apigwError is the answer of Huawei Cloud's API gateway itself (bad
// signature APIGW.0301, throttled APIGW.0308, …).
func apigwError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error_code": code, "error_msg": msg, "request_id": randHex(32)})
}

// Codes of the VPC service in the fake's answers, from the VPC API
// reference's "Error Codes" table, in its shape ({"code", "message"}):
// VPC.0007 is the project mismatch (400) of every call; VPC.2500
// "Param is invalid." (400) is the ports module's parameter error (the
// table lists it under creating a port; the service gives it for other
// port calls too). The table has no row for a port ID that matches
// nothing: VPC.2204 "Query resource by id fail." (404, "the resource
// does not exist or you lack the permission") is its code for an ID
// that does not resolve elsewhere (private IPs, tags), and stands in
// for it. havip decides on the HTTP status alone, never on these codes.
const (
	vpcProjectMismatch = "VPC.0007"
	vpcBadRequest      = "VPC.2500"
	vpcPortNotFound    = "VPC.2204"
)

// vpcNotFoundMsg is VPC.2204's message in the table.
const vpcNotFoundMsg = "Query resource by id fail."

// vpcError is an error of the VPC service behind the gateway.
func vpcError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"code": code, "message": msg})
}

// neutronError is Neutron's error body; typ is the exception's name
// (PortNotFound, RevisionNumberConstraintFailed, …).
func neutronError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{"NeutronError": map[string]string{"type": typ, "message": msg, "detail": ""}})
}

// keystoneError is Keystone's (and keystonemiddleware's) error body.
func keystoneError(w http.ResponseWriter, status int, title, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "title": title, "message": msg}})
}

// plainError is a text answer, as the metadata service gives.
func plainError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}
