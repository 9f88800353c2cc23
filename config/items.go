package config

import (
	"fmt"
	"sort"
	"strings"
)

// Lists whose items are a plain string or, for the settings a string
// cannot say, an inline table: vips and track_interfaces. Each item
// keeps its own problem, so that a message names its index.

// rawVIP is one item of vips: "192.0.2.10/24", or
// { address = "192.0.2.10/24", interface = "eth1", label = "eth1:1" }.
type rawVIP struct {
	Address   string
	Interface string
	Label     string
	// problem says why the item is unusable; "" when it is fine.
	problem string
}

// vipKeys are the keys of a VIP table.
var vipKeys = []string{"address", "interface", "label"}

type optVIPs struct {
	val     []rawVIP
	set     bool
	problem string
}

func (o *optVIPs) UnmarshalTOML(v any) error {
	o.set = true
	list, ok := v.([]any)
	if !ok {
		o.problem = `must be a list of addresses (or tables such as { address = "192.0.2.10/24", interface = "eth1" }), not ` + describe(v)
		return nil
	}
	o.val = make([]rawVIP, len(list))
	for i, e := range list {
		item := &o.val[i]
		switch x := e.(type) {
		case string:
			item.Address = x
		case map[string]any:
			item.problem = tableItem(x, vipKeys, "address", map[string]*string{
				"address": &item.Address, "interface": &item.Interface, "label": &item.Label}, nil)
		default:
			item.problem = "must be an address or a table { address = ..., interface = ..., label = ... }, not " + describe(e)
		}
	}
	return nil
}

// rawTrack is one item of track_interfaces: "eth1", or
// { interface = "eth1", weight = 20 }.
type rawTrack struct {
	Interface string
	Weight    int
	problem   string
}

// trackKeys are the keys of a tracked interface table.
var trackKeys = []string{"interface", "weight"}

type optTracks struct {
	val     []rawTrack
	set     bool
	problem string
}

func (o *optTracks) UnmarshalTOML(v any) error {
	o.set = true
	list, ok := v.([]any)
	if !ok {
		o.problem = `must be a list of interface names (or tables such as { interface = "eth1", weight = 20 }), not ` + describe(v)
		return nil
	}
	o.val = make([]rawTrack, len(list))
	for i, e := range list {
		item := &o.val[i]
		switch x := e.(type) {
		case string:
			item.Interface = x
		case map[string]any:
			item.problem = tableItem(x, trackKeys, "interface", map[string]*string{"interface": &item.Interface},
				map[string]*int{"weight": &item.Weight})
		default:
			item.problem = "must be an interface name or a table { interface = ..., weight = ... }, not " + describe(e)
		}
	}
	return nil
}

// tableItem reads an inline table of a list into strs and ints, by key.
// It returns what is wrong with it: an unknown key, a value of the
// wrong type, or the required key missing; "" when nothing is.
func tableItem(m map[string]any, keys []string, required string, strs map[string]*string, ints map[string]*int) string {
	var problems []string
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := m[k]
		switch s, i := strs[k], ints[k]; {
		case s != nil:
			if str, ok := v.(string); ok {
				*s = str
			} else {
				problems = append(problems, fmt.Sprintf("%s must be a string, not %s", k, describe(v)))
			}
		case i != nil:
			if n, ok := v.(int64); ok && int64(int(n)) == n {
				*i = int(n)
			} else {
				problems = append(problems, fmt.Sprintf("%s must be an integer, not %s", k, describe(v)))
			}
		default:
			problems = append(problems, fmt.Sprintf("unknown key %q%s", k, closest(k, keys)))
		}
	}
	if _, ok := m[required]; !ok {
		problems = append(problems, required+" is required")
	}
	return strings.Join(problems, "; ")
}

// closest proposes the key of keys that key probably meant.
func closest(key string, keys []string) string {
	best, bestDist := "", 3
	for _, k := range keys {
		if d := editDistance(strings.ToLower(key), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return fmt.Sprintf(" (the keys are %s)", strings.Join(keys, ", "))
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}
