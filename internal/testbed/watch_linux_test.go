package testbed

import (
	"net"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"

	"github.com/havip/havip/internal/nsrun"
)

// sendGARP sends one gratuitous ARP request for VIP4(0) from node i.
func sendGARP(t *testing.T, n *Net, i int) {
	t.Helper()
	err := nsrun.InNamed(n.Nodes[i].NS, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		c, err := arp.Dial(ifi)
		if err != nil {
			return err
		}
		defer c.Close()
		p, err := arp.NewPacket(arp.OperationRequest, ifi.HardwareAddr, VIP4(0), ethernet.Broadcast, VIP4(0))
		if err != nil {
			return err
		}
		return c.WriteTo(p, ethernet.Broadcast)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWatchGARP(t *testing.T) {
	requireNamespaces(t)
	n := newNet(t, Options{Nodes: 2})
	w, err := n.WatchGARP(VIP4(0))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	start := time.Now()
	sendGARP(t, n, 0)
	g, err := w.First(start, -1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if g.Node != 0 {
		t.Errorf("GARP from node %d (%s), want node 0", g.Node, g.MAC)
	}
	if _, err := w.First(start, 0, 200*time.Millisecond); err == nil {
		t.Error("First found a GARP from a node other than 0")
	}
	sendGARP(t, n, 1)
	if g, err := w.First(start, 0, 5*time.Second); err != nil || g.Node != 1 {
		t.Errorf("First(not 0) = %+v, %v; want node 1", g, err)
	}
	if got := len(w.All()); got != 2 {
		t.Errorf("%d GARPs recorded, want 2", got)
	}
}

func TestPinger(t *testing.T) {
	requireNamespaces(t)
	requireNft(t)
	n := newNet(t, Options{Nodes: 1})
	p, err := n.StartPinger(n.Nodes[0].Addr, 10*time.Millisecond, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	time.Sleep(300 * time.Millisecond)
	cut := time.Now()
	if err := n.Isolate(0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := n.Heal(); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	time.Sleep(300 * time.Millisecond)
	p.Stop()
	before := p.Stats(cut.Add(-250*time.Millisecond), cut.Add(-50*time.Millisecond), 50*time.Millisecond)
	if before.Sent < 15 || before.Lost != 0 {
		t.Errorf("before the cut: %+v, want about 20 sent, none lost", before)
	}
	all := p.Stats(cut, healed.Add(250*time.Millisecond), 50*time.Millisecond)
	t.Logf("cut of %v: %+v, outage %v", healed.Sub(cut), all, all.Outage(p.Interval()))
	if o := all.Outage(p.Interval()); o < 200*time.Millisecond || o > 500*time.Millisecond {
		t.Errorf("outage %v for a cut of %v", o, healed.Sub(cut))
	}
	if all.Recovered.IsZero() {
		t.Error("no answered echo after the cut")
	}
}
