package config_test

import (
	"fmt"

	"github.com/havip/havip/config"
)

func ExampleParse() {
	conf := `
[node]
name = "lab-a"
bind = "127.0.0.1:7946"

[cluster]
name = "lab"
peers = ["127.0.0.2:7946", "127.0.0.3:7946"]
insecure = true
timing = "fast"

[[instance]]
name = "web"
interface = "lo"
vips = ["192.0.2.10"]
`
	cfg, err := config.Parse([]byte(conf), "lab.toml")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(cfg.Summary())
	// Output:
	// node lab-a: bind 127.0.0.1:7946, advertise 127.0.0.1:7946
	// cluster lab: 3 members (2 peers: 127.0.0.2:7946, 127.0.0.3:7946)
	// encryption: off (cluster.insecure)
	// quorum auto: 2 of 3 members needed to hold a VIP
	// timing fast: heartbeat every 25ms, a member silent for 200ms no longer counts, a dead member is found in about 225ms; memberlist probes every 1s
	// instance web on lo: 192.0.2.10/32, priority 100, preempt
}

func ExampleParse_errors() {
	conf := `
[cluster]
name = "lab"
insecure = true

[[instance]]
name = "db"
interface = "eth0"
vips = ["10.0.0.300"]
prioirty = 150
`
	_, err := config.Parse([]byte(conf), "havip.toml")
	fmt.Println(err)
	// Output:
	// havip.toml: instance[0] "db": unknown key "instance.prioirty" (did you mean "priority"?)
	// havip.toml: instance[0] "db": vips[0]: "10.0.0.300" is not an IP address
}

func ExampleProfile() {
	for _, name := range config.ProfileNames() {
		t, _ := config.Profile(name)
		fmt.Printf("%s: dead member found in about %s\n", name, t.FailureDetection())
	}
	// Output:
	// default: dead member found in about 900ms
	// fast: dead member found in about 225ms
	// instant: dead member found in about 35ms
	// conservative: dead member found in about 6s
}
