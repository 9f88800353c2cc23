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

// Codes of the VPC service in the fake's answers. VPC.0007 is the
// documented project mismatch; the ports module's own codes are not in
// the public error table, so these two stand in for them with the
// documented shape ({"code", "message"}).
const (
	vpcProjectMismatch = "VPC.0007"
	vpcBadRequest      = "VPC.0101"
	vpcPortNotFound    = "VPC.0703"
)

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
