// Package fake is a strict stand-in for the cloud APIs havip binds VIPs
// through (Huawei Cloud's API gateway and VPC ports API, the ECS/Nova
// metadata service, Keystone and Neutron), for tests that must never
// reach a real cloud. It answers as the services document, errors
// included, and shares no code with the client it tests: its signature
// check is written from Huawei Cloud's published algorithm.
package fake
