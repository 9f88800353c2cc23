// Package fake is a strict stand-in for the cloud APIs havip binds VIPs
// through (Huawei Cloud VPC ports, the metadata service, Keystone and
// Neutron), for tests that must never reach a real cloud.
package fake
