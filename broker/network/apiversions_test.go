package network

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// wantKeys is what every test server advertises: testServed plus ApiVersions 0..3, by key.
func wantKeys() []kmsg.ApiVersionsResponseApiKey {
	return []kmsg.ApiVersionsResponseApiKey{
		{ApiKey: 0, MinVersion: 3, MaxVersion: 9},
		{ApiKey: 1, MinVersion: 4, MaxVersion: 12},
		{ApiKey: 3, MinVersion: 0, MaxVersion: 12},
		{ApiKey: 18, MinVersion: 0, MaxVersion: 3},
	}
}

func checkKeys(t *testing.T, got []kmsg.ApiVersionsResponseApiKey) {
	t.Helper()
	want := wantKeys()
	if len(got) != len(want) {
		t.Fatalf("advertised %d keys %+v, want %+v", len(got), got, want)
	}
	for i := range want {
		g := got[i]
		if g.ApiKey != want[i].ApiKey || g.MinVersion != want[i].MinVersion || g.MaxVersion != want[i].MaxVersion {
			t.Fatalf("key %d: got %+v, want %+v", i, g, want[i])
		}
	}
}

// TestApiVersionsRoundTrip: v0..v3 are answered at the request's version with every served
// range; the v3 request has a flexible (v2) header, the v3 response none, which c.read checks
// by decoding the body exactly (a stray tag byte would shift every field).
func TestApiVersionsRoundTrip(t *testing.T) {
	srv := startServer(t, Options{}, nil)
	c := dial(t, srv.addr)
	for v := int16(0); v <= 3; v++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName, req.ClientSoftwareVersion = "net-test", "1.0.0"
		resp, err := c.roundTrip(req, v)
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		r := resp.(*kmsg.ApiVersionsResponse)
		if r.ErrorCode != 0 {
			t.Fatalf("v%d: error %v", v, kerr.ErrorForCode(r.ErrorCode))
		}
		checkKeys(t, r.ApiKeys)
		if v == 3 && (r.ThrottleMillis != 0 || len(r.SupportedFeatures) != 0 || len(r.FinalizedFeatures) != 0 || r.FinalizedFeaturesEpoch != -1) {
			t.Fatalf("v3 extras: %+v", r)
		}
	}
	// The v3 request's software name and version were read (logged at debug).
	var sawName bool
	for _, e := range srv.logs.AllEntries() {
		if e.Data["client_software_name"] == "net-test" && e.Data["client_software_version"] == "1.0.0" {
			sawName = true
		}
	}
	if !sawName {
		t.Fatal("no debug line with the v3 client software name and version")
	}
}

// TestApiVersionsTooNew: versions above 3 get a v0-format UNSUPPORTED_VERSION response that
// lists our ranges, and the connection stays open for the client's retry.
func TestApiVersionsTooNew(t *testing.T) {
	srv := startServer(t, Options{}, nil)
	c := dial(t, srv.addr)
	for _, v := range []int16{4, 5, 42, 0x7fff} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName, req.ClientSoftwareVersion = "net-test", "1.0.0"
		corr := c.send(req, v)
		got, body, err := c.readRaw(5 * time.Second)
		if err != nil || got != corr {
			t.Fatalf("v%d: corr %d (want %d), %v", v, got, corr, err)
		}
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.SetVersion(0)
		if err := resp.ReadFrom(body); err != nil {
			t.Fatalf("v%d: not a v0 response: %v (% x)", v, err, body)
		}
		if resp.ErrorCode != kerr.UnsupportedVersion.Code {
			t.Fatalf("v%d: error code %d, want UNSUPPORTED_VERSION", v, resp.ErrorCode)
		}
		checkKeys(t, resp.ApiKeys)
	}
	// The retry at a version we speak works on the same connection.
	resp, err := c.roundTrip(kmsg.NewPtrApiVersionsRequest(), 2)
	if err != nil || resp.(*kmsg.ApiVersionsResponse).ErrorCode != 0 {
		t.Fatalf("retry at v2: %+v, %v", resp, err)
	}
}

// TestApiVersionsInvalidSoftwareName: a v3 request whose client software name breaks KIP-511's
// pattern gets INVALID_REQUEST, as from Kafka.
func TestApiVersionsInvalidSoftwareName(t *testing.T) {
	srv := startServer(t, Options{}, nil)
	c := dial(t, srv.addr)
	for _, tc := range []struct {
		name, version string
		valid         bool
	}{
		{"franz-go", "1.22.3", true},
		{"a", "0", true},
		{"bad name", "1.0", false},
		{"-lead", "1.0", false},
		{"trail.", "1.0", false},
		{"ok", "", false},
	} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName, req.ClientSoftwareVersion = tc.name, tc.version
		resp, err := c.roundTrip(req, 3)
		if err != nil {
			t.Fatalf("%q/%q: %v", tc.name, tc.version, err)
		}
		r := resp.(*kmsg.ApiVersionsResponse)
		if tc.valid && r.ErrorCode != 0 || !tc.valid && r.ErrorCode != kerr.InvalidRequest.Code {
			t.Fatalf("%q/%q: error code %d, valid=%v", tc.name, tc.version, r.ErrorCode, tc.valid)
		}
	}
}

// TestKgoNegotiates: franz-go connects (its first ApiVersions is above ours and gets the v0
// UNSUPPORTED_VERSION answer), negotiates, and issues ApiVersions and Metadata requests.
func TestKgoNegotiates(t *testing.T) {
	handled := make(chan *Request, 16)
	srv := startServer(t, Options{}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		handled <- r
		return r.Body.ResponseKind(), nil
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(srv.addr), kgo.ClientID("kgo-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("ApiVersions through kgo: %v", err)
	}
	if resp.ErrorCode != 0 || resp.Version != 3 {
		t.Fatalf("kgo ApiVersions: error %d at v%d, want 0 at v3", resp.ErrorCode, resp.Version)
	}
	checkKeys(t, resp.ApiKeys)
	var sawDowngrade bool
	for _, e := range srv.logs.AllEntries() {
		if v, _ := e.Data["version"].(int16); v > 3 && e.Data["client_id"] == "kgo-test" {
			sawDowngrade = true
		}
	}
	if !sawDowngrade {
		t.Fatal("kgo never sent an ApiVersions above v3; the UNSUPPORTED_VERSION path was not exercised")
	}

	// A flexible request through the negotiated versions: kgo picks Metadata v12, our max.
	meta := kmsg.NewPtrMetadataRequest()
	if _, err := cl.Request(ctx, meta); err != nil {
		t.Fatalf("Metadata through kgo: %v", err)
	}
	r := waitFor(t, handled, "metadata handler")
	if r.Key != 3 || r.Version != 12 || r.ClientID != "kgo-test" {
		t.Fatalf("handler saw key %d v%d client %q, want Metadata v12 from kgo-test", r.Key, r.Version, r.ClientID)
	}
}
