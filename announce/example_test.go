package announce_test

import (
	"context"
	"log"
	"net"
	"net/netip"
	"time"

	"github.com/havip/havip/announce"
)

// On takeover, a holder announces its VIPs a few times in a row.
func ExampleAnnouncer_Burst() {
	ifi, err := net.InterfaceByName("eth0")
	if err != nil {
		log.Fatal(err)
	}
	a, err := announce.Open(ifi, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()

	vips := []netip.Addr{netip.MustParseAddr("192.0.2.22"), netip.MustParseAddr("2001:db8::22")}
	sent, err := a.Burst(context.Background(), vips, 5, 200*time.Millisecond)
	log.Printf("sent %d announcements (err %v)", sent, err)
}
