package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/havip/havip/cloudbind/fake"
	"github.com/havip/havip/internal/testbed"
)

// The fake cloud runs in the observer's namespace: the nodes reach it
// over the bridge like a cloud endpoint, and the test never sends a
// packet from the root namespace (it drives the fake through a unix
// socket).

const (
	fakePort    = 8080
	fakeProject = "proj-test"
	fakeAK      = "AKTESTHAVIP"
	vipPortID   = "vip-port-0"
)

var (
	fakeOnce sync.Once
	fakeBin  string
	fakeErr  error
)

// buildFake builds the fakecloud command once per run.
func buildFake(t *testing.T) string {
	t.Helper()
	fakeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		root, err := testbed.ModuleRoot(ctx)
		if err != nil {
			fakeErr = err
			return
		}
		dir, err := os.MkdirTemp(runDir, "fakecloud-")
		if err != nil {
			fakeErr = err
			return
		}
		fakeBin = filepath.Join(dir, "fakecloud")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", fakeBin, "./cloudbind/fake/cmd/fakecloud")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			fakeErr = fmt.Errorf("building fakecloud: %w\n%s", err, out)
		}
	})
	if fakeErr != nil {
		t.Fatal(fakeErr)
	}
	return fakeBin
}

func portID(i int) string { return fmt.Sprintf("port-node%d", i) }

// cloudCluster is a cluster whose nodes bind the VIP through a fake
// Huawei Cloud in the observer's namespace.
type cloudCluster struct {
	*cluster
	ctl      fake.Control
	secret   string
	provider string
}

// newCloudCluster starts the fake and writes every node's configuration
// for provider huaweicloud (auth "aksk" or "agency") or openstack (auth
// "appcred", with a floating IP). The Huawei metadata service requires
// tokens (ECS http_tokens = required); Nova's has no token API.
func newCloudCluster(t *testing.T, n int, provider, auth string, vip netip.Addr, prio ...int) *cloudCluster {
	c := newCluster(t, n, false)
	bin := buildFake(t)
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	cc := &cloudCluster{cluster: c, secret: "SK" + hex.EncodeToString(secret), provider: provider}

	cfg := fake.Config{
		ProjectID:      fakeProject,
		Keys:           map[string]string{fakeAK: cc.secret},
		Users:          map[string]string{"ac-test": cc.secret},
		Callers:        map[string]fake.Caller{},
		FloatingIPs:    map[string]string{"fip0": portID(n - 1)},
		MetadataTokens: fake.TokensRequired,
	}
	if provider == "openstack" {
		cfg.MetadataTokens = fake.TokensUnsupported
	}
	var all []string
	for i, h := range c.net.Nodes {
		port := fake.Port{ID: portID(i), NetworkID: "net0", MAC: h.MAC.String(), FixedIPs: []string{h.Addr.String()}}
		if provider == "openstack" {
			// Neutron: every member port allows the VIP to start with.
			port.Pairs = []string{vip.String()}
		}
		cfg.Ports = append(cfg.Ports, port)
		cfg.Callers[h.Addr.String()] = fake.Caller{MAC: h.MAC.String(), PortID: portID(i)}
		all = append(all, h.Addr.String())
	}
	// Huawei: as the console leaves it, bound to every member. OpenStack:
	// the port that reserves the address, bound to nothing.
	vipPort := fake.Port{ID: vipPortID, NetworkID: "net0", DeviceOwner: "neutron:VIP_PORT", FixedIPs: []string{vip.String()}, Pairs: all}
	if provider == "openstack" {
		vipPort.DeviceOwner, vipPort.Pairs = "", nil
	}
	cfg.Ports = append(cfg.Ports, vipPort)
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(c.dir, "fakecloud.json")
	if err := os.WriteFile(confPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(c.dir, "fakecloud.sock")
	logf, err := os.Create(filepath.Join(c.dir, "fakecloud.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	listen := netip.AddrPortFrom(c.net.Observer.Addr, fakePort).String()
	p, err := c.net.Start(c.net.Observer.NS, []string{bin, "--listen", listen, "--config", confPath, "--control", sock}, logf, logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _, _ = p.Stop(stopGrace) })
	cc.ctl = fake.Control{Socket: sock}
	if err := waitFor(func() error { _, err := cc.ctl.State(); return err }); err != nil {
		t.Fatalf("the fake cloud does not answer: %v", err)
	}

	skPath := filepath.Join(c.dir, "cloud.sk")
	if err := os.WriteFile(skPath, []byte(cc.secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "http://" + listen
	extra := fmt.Sprintf("[cloud]\nprovider = %q\nmode = \"exclusive\"\nmetadata_url = %q\n"+
		"reconcile_interval = \"1s\"\ncall_timeout = \"1s\"\n", provider, url)
	switch {
	case provider == "openstack":
		extra += fmt.Sprintf("auth_url = %q\napplication_credential_id = \"ac-test\"\n"+
			"application_credential_secret_file = %q\nfloating_ip_id = \"fip0\"\n", url+"/v3", skPath)
	case auth == "aksk":
		extra += fmt.Sprintf("endpoint = %q\nproject_id = %q\nauth = %q\naccess_key = %q\nsecret_key_file = %q\n",
			url, fakeProject, auth, fakeAK, skPath)
	default:
		extra += fmt.Sprintf("endpoint = %q\nproject_id = %q\nauth = %q\n", url, fakeProject, auth)
	}
	o := c.opts(web(true, prio...))
	o.Extra = extra
	c.configure(o)
	return cc
}

// boundTo says whether the cloud forwards the VIP to node i alone:
// huaweicloud, the VIP port lists only node i's address and node i's
// port has its source/destination check off; openstack, only node i's
// port lists the VIP, and the floating IP is on it.
func (cc *cloudCluster) boundTo(i int) error {
	st, err := cc.ctl.State()
	if err != nil {
		return err
	}
	if cc.provider != "openstack" {
		if got, want := st.Ports[vipPortID].Pairs, []string{cc.net.Nodes[i].Addr.String()}; !slices.Equal(got, want) {
			return fmt.Errorf("VIP port pairs %v, want %v (node %d only)", got, want, i)
		}
		if got := st.Ports[portID(i)].Pairs; !slices.Contains(got, "1.1.1.1/0") {
			return fmt.Errorf("node %d's port pairs %v: source/destination check still on", i, got)
		}
		return nil
	}
	var listing []string
	for id, p := range st.Ports {
		if len(p.Pairs) > 0 {
			listing = append(listing, id)
		}
	}
	slices.Sort(listing)
	if want := []string{portID(i)}; !slices.Equal(listing, want) {
		return fmt.Errorf("ports allowing the VIP: %v, want %v", listing, want)
	}
	if fip := st.FloatingIPs["fip0"]; fip != portID(i) {
		return fmt.Errorf("floating IP on %q, want %q", fip, portID(i))
	}
	return nil
}

// waitBoundTo waits until the cloud forwards the VIP to node i alone and
// returns how long that took.
func (cc *cloudCluster) waitBoundTo(i int) time.Duration {
	cc.t.Helper()
	start := time.Now()
	err := waitFor(func() error { return cc.boundTo(i) })
	if err != nil {
		cc.t.Fatal(err)
	}
	return time.Since(start)
}

// follow waits until node i alone holds vip and the cloud forwards it to
// node i alone, and logs when each happened after start.
func (cc *cloudCluster) follow(event string, vip netip.Addr, i int, start time.Time) {
	cc.t.Helper()
	var held, bound time.Duration
	deadline := start.Add(settle)
	for held == 0 || bound == 0 {
		if time.Now().After(deadline) {
			cc.t.Fatalf("%s: after %v: VIP on node %d: %v, bound to it: %v (%v)", event, settle, i, held > 0, bound > 0, cc.boundTo(i))
		}
		if held == 0 {
			if got, err := cc.net.HoldersOf(vip); err == nil && slices.Equal(got, []int{i}) {
				held = time.Since(start)
			}
		}
		if bound == 0 && cc.boundTo(i) == nil {
			bound = time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	calls := 0
	if st, err := cc.ctl.State(); err == nil {
		for _, c := range st.Calls {
			if c.From == cc.net.Nodes[i].Addr.String() && !c.At.Before(start) && !c.At.After(start.Add(bound)) &&
				!strings.HasPrefix(c.Path, "/openstack/") {
				calls++
			}
		}
	}
	cc.t.Logf("%s: VIP on node %d after %v, cloud bound to it after %v, %d API calls", event, i,
		held.Round(time.Millisecond), bound.Round(time.Millisecond), calls)
}

// checkClean fails the test when a client retried before Retry-After,
// the fake refused a request, or a secret reached a node's log.
func (cc *cloudCluster) checkClean() {
	cc.t.Helper()
	cc.checkCleanRefused(0)
}

// checkCleanRefused is checkClean where the fake was meant to refuse
// some requests.
func (cc *cloudCluster) checkCleanRefused(refused int) {
	cc.t.Helper()
	st, err := cc.ctl.State()
	if err != nil {
		cc.t.Fatal(err)
	}
	if st.Early != 0 {
		cc.t.Errorf("%d requests came before the Retry-After of a 429", st.Early)
		for _, c := range st.Calls {
			cc.t.Logf("%s %s %s %s %d", c.At.Format("15:04:05.000000"), c.From, c.Method, c.Path, c.Status)
		}
	}
	if st.Rejected != refused {
		cc.t.Errorf("the fake cloud refused %d requests (signatures, tokens, fields or filters), want %d", st.Rejected, refused)
	}
	secrets := append([]string{cc.secret}, st.Secrets...)
	for i, d := range cc.nodes {
		data, err := os.ReadFile(d.logPath)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			cc.t.Fatal(err)
		}
		for _, s := range secrets {
			if strings.Contains(string(data), s) {
				cc.t.Errorf("node %d's log contains a secret", i)
			}
		}
		for _, s := range secrets {
			out, _, _ := cc.havip(i, "status", "--json", "--socket", d.socket)
			if strings.Contains(string(out), s) {
				cc.t.Errorf("node %d's status contains a secret", i)
			}
		}
	}
}

// cloudOf returns the cloud object of instance web in node i's status.
func (cc *cloudCluster) cloudOf(i int) (map[string]any, error) {
	out, _, err := cc.havip(i, "status", "--json", "--socket", cc.nodes[i].socket)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Instances []struct {
			Name  string         `json:"name"`
			Cloud map[string]any `json:"cloud"`
		} `json:"instances"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, err
	}
	for _, in := range doc.Instances {
		if in.Name == "web" && in.Cloud != nil {
			return in.Cloud, nil
		}
	}
	return nil, fmt.Errorf("node %d: no cloud object for web in %s", i, out)
}

func TestCloudBindingFollowsMaster(t *testing.T) {
	testBindingFollowsMaster(t, "huaweicloud", "aksk")
}

func TestCloudOpenStackFollowsMaster(t *testing.T) {
	testBindingFollowsMaster(t, "openstack", "appcred")
}

func testBindingFollowsMaster(t *testing.T, provider, auth string) {
	vip := testbed.VIP4(0)
	cc := newCloudCluster(t, 3, provider, auth, vip, 150, 100, 50)
	cc.startAll()

	cc.follow("start", vip, 0, time.Now())
	err := waitFor(func() error {
		cl, err := cc.cloudOf(0)
		if err != nil {
			return err
		}
		if cl["provider"] != provider || cl["mode"] != "exclusive" || cl["result"] != "bound" || cl["agrees"] != true {
			return fmt.Errorf("node 0 cloud status %v", cl)
		}
		// A backup resolved its IDs at start and has not written.
		if cl, err = cc.cloudOf(2); err != nil {
			return err
		}
		if cl["result"] != "ready" || cl["moves"] != 0.0 {
			return fmt.Errorf("node 2 cloud status %v, want ready with no move", cl)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := cc.havip(0, "status", "--socket", cc.nodes[0].socket)
	if err != nil || !strings.Contains(string(out), "cloud web: "+provider+" exclusive, bound, cloud agrees") {
		t.Errorf("status table (err %v):\n%s", err, out)
	}

	// Link cut: the majority side moves the VIP and the binding.
	start := time.Now()
	if err := cc.net.Cut(0); err != nil {
		t.Fatal(err)
	}
	cc.follow("link cut", vip, 1, start)

	// Heal: node 0 preempts and takes the binding back.
	start = time.Now()
	if err := cc.net.Restore(0); err != nil {
		t.Fatal(err)
	}
	cc.follow("heal", vip, 0, start)

	// SIGTERM: node 1 takes over.
	start = time.Now()
	if code := cc.stop(0); code != 0 {
		t.Fatalf("havip on node 0 exited %d after SIGTERM", code)
	}
	cc.follow("SIGTERM", vip, 1, start)
	// And it stays so: the backups never write.
	time.Sleep(3 * time.Second)
	if err := cc.boundTo(1); err != nil {
		t.Error(err)
	}
	cc.checkClean()
}

func TestCloudReassertsChangedBinding(t *testing.T) {
	vip := testbed.VIP4(0)
	cc := newCloudCluster(t, 3, "huaweicloud", "aksk", vip, 150, 100, 50)
	cc.startAll()
	cc.waitHolders(vip, 0)
	cc.waitBoundTo(0)

	// Someone binds the VIP to node 2 behind the master's back.
	if err := cc.ctl.SetPairs(vipPortID, cc.net.Nodes[2].Addr.String()); err != nil {
		t.Fatal(err)
	}
	t.Logf("re-asserted %v after the change (reconcile_interval 1s)", cc.waitBoundTo(0))
	cc.keepHolders(time.Second, vip, 0)
	cl, err := cc.cloudOf(0)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := cl["moves"].(float64); m < 2 {
		t.Errorf("node 0 made %v moves, want at least 2 (bind and re-assert)", cl["moves"])
	}
	// A steady master costs one read per interval, nothing more.
	st1, _ := cc.ctl.State()
	time.Sleep(5 * time.Second)
	st2, _ := cc.ctl.State()
	writes, reads := 0, 0
	for _, c := range st2.Calls[len(st1.Calls):] {
		switch {
		case c.Method == "PUT":
			writes++
		case strings.HasPrefix(c.Path, "/v1/"):
			reads++
		}
	}
	t.Logf("steady master over 5s: %d reads, %d writes", reads, writes)
	if writes != 0 || reads > 7 {
		t.Errorf("steady master over 5s: %d reads, %d writes; want about 5 reads and no write", reads, writes)
	}
	cc.checkClean()
}

func TestCloudThrottledAgency(t *testing.T) {
	vip := testbed.VIP4(0)
	cc := newCloudCluster(t, 3, "huaweicloud", "agency", vip, 150, 100, 50)
	// The first calls of every node are throttled for 3s each.
	if err := cc.ctl.Inject(fake.Fault{Status: 429, RetryAfter: 3 * time.Second, Count: 6}); err != nil {
		t.Fatal(err)
	}
	cc.startAll()
	cc.waitHolders(vip, 0)
	// Throttling never touches the L2 side: clients reach the master
	// while the cloud still makes it wait.
	cc.waitObserverReaches(vip, 0)
	if cc.boundTo(0) == nil {
		t.Error("bound already: the throttling did not happen before the VIP was reachable")
	}
	t.Logf("bound through throttling %v after node 0 held the VIP", cc.waitBoundTo(0))
	st, err := cc.ctl.State()
	if err != nil {
		t.Fatal(err)
	}
	n429 := 0
	for _, c := range st.Calls {
		if c.Status == 429 {
			n429++
		}
	}
	if n429 != 6 {
		t.Errorf("%d throttled answers, want 6", n429)
	}
	if len(st.Secrets) == 0 {
		t.Error("no agency credentials were fetched")
	}
	cc.checkClean()
}

func TestCloudCheckCommand(t *testing.T) {
	vip := testbed.VIP4(0)
	cc := newCloudCluster(t, 2, "huaweicloud", "aksk", vip, 150, 100)
	out, stderr, err := cc.havip(0, "check", "--cloud", "--no-host", "--config", cc.nodes[0].config)
	if err != nil {
		t.Fatalf("havip check --cloud: %v\n%s%s", err, out, stderr)
	}
	for _, want := range []string{
		"cloud: metadata service: tokens required (http_tokens = required); havip gets one and sends it on every read",
		"cloud: instance web: credentials and ports OK; bound to this server: no",
		"cloud: instance web: " + cc.net.Nodes[0].Addr.String() + " (this server): port " + portID(0) + ", source/destination check ON",
		"cloud: instance web: " + cc.net.Nodes[1].Addr.String() + ": port " + portID(1) + ", source/destination check ON",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("havip check --cloud lacks %q:\n%s", want, out)
		}
	}
	// Read-only: nothing changed.
	st, err := cc.ctl.State()
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Ports[vipPortID].Pairs; len(got) != 2 {
		t.Errorf("pairs %v after check, want both members still", got)
	}
	for _, c := range st.Calls {
		if c.Method != "GET" && c.Path != "/meta-data/latest/api/token" {
			t.Errorf("havip check --cloud sent %s %s", c.Method, c.Path)
		}
	}
	// A credential file others can read is refused (--cloud reads it
	// even with --no-host).
	sk := filepath.Join(cc.dir, "cloud.sk")
	if err := os.Chmod(sk, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = cc.havip(0, "check", "--cloud", "--no-host", "--config", cc.nodes[0].config)
	if testbed.ExitCode(err) != 2 || !strings.Contains(string(stderr), "cloud.secret_key_file") {
		t.Errorf("check with a world-readable key: exit %d, stderr %s", testbed.ExitCode(err), stderr)
	}
	if strings.Contains(string(stderr), cc.secret) {
		t.Error("the error shows the secret")
	}
	// The one refusal is check's read without a token, which tells that
	// the service requires them.
	cc.checkCleanRefused(1)
}

func TestCloudOutageKeepsVIP(t *testing.T) {
	vip := testbed.VIP4(0)
	cc := newCloudCluster(t, 3, "huaweicloud", "aksk", vip, 150, 100, 50)
	cc.startAll()
	cc.follow("start", vip, 0, time.Now())

	// The API fails while someone moves the binding away: the master
	// keeps the VIP on the wire, shows the error, and re-asserts once the
	// API is back.
	if err := cc.ctl.Inject(fake.Fault{Status: 503, Count: 12}); err != nil {
		t.Fatal(err)
	}
	if err := cc.ctl.SetPairs(vipPortID, cc.net.Nodes[2].Addr.String()); err != nil {
		t.Fatal(err)
	}
	err := waitFor(func() error {
		cl, err := cc.cloudOf(0)
		if err != nil {
			return err
		}
		if cl["result"] != "error" || !strings.Contains(fmt.Sprint(cl["error"]), "503") {
			return fmt.Errorf("node 0 cloud status %v, want a 503 error", cl)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cc.keepHolders(2*time.Second, vip, 0)
	cc.waitObserverReaches(vip, 0)
	t.Logf("re-asserted %v after the error was seen", cc.waitBoundTo(0))
	cc.checkClean()
}

func TestCloudHangDoesNotBlockHandover(t *testing.T) {
	vip := testbed.VIP4(0)
	cc := newCloudCluster(t, 3, "huaweicloud", "aksk", vip, 150, 100, 50)
	cc.startAll()
	cc.follow("start", vip, 0, time.Now())

	// Every API call now hangs far beyond call_timeout (1s). A SIGTERM'd
	// master still hands over at once and exits promptly.
	if err := cc.ctl.Inject(fake.Fault{Delay: 30 * time.Second, Count: 1000}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // a reconcile call is in flight
	start := time.Now()
	p := cc.running(0)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	cc.waitHolders(vip, 1)
	moved := time.Since(start)
	if _, err := p.Wait(exitWait); err != nil {
		t.Fatalf("node 0 did not exit with the cloud hanging: %v", err)
	}
	exited := time.Since(start)
	t.Logf("cloud hanging: VIP on node 1 after %v, node 0 exited after %v", moved.Round(time.Millisecond), exited.Round(time.Millisecond))
	cc.waitObserverReaches(vip, 1)
}
