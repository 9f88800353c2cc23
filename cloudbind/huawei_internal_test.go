package cloudbind

import (
	"context"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/havip/havip/cloudbind/fake"
	"github.com/havip/havip/config"
)

// A listing whose filter holds a space reaches the gateway as the SDK
// sends it (%20) and passes its signature check; "+" would not.
func TestHuaweiQueryWithSpace(t *testing.T) {
	f := fake.New(fake.Config{
		ProjectID: "proj1",
		Keys:      map[string]string{"AK1": "SK1"},
		Ports:     []fake.Port{{ID: "p1", NetworkID: "net1"}},
	})
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	o := Options{}
	o.fill()
	h, err := newHuawei(config.Cloud{Endpoint: srv.URL, ProjectID: "proj1", CallTimeout: time.Second,
		AccessKey: "AK1", SecretKey: "SK1"}, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.listPorts(ctx, url.Values{"name": {"web vip+1"}}); err != nil {
		t.Fatalf("listing with a space in a filter: %v", err)
	}
	c := f.State().Calls[0]
	if c.Query != "limit=200&name=web%20vip%2B1" || c.Status != 200 {
		t.Errorf("sent %q, answered %d", c.Query, c.Status)
	}
}
