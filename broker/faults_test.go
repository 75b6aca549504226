package broker

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// TestFaultsHandler: the /faults test seam arms a known disk failure on an absolute path,
// reports what is armed and fired, heals, and refuses anything else.
func TestFaultsHandler(t *testing.T) {
	fs := vfs.NewFaulty(vfs.OS)
	srv := httptest.NewServer(faultsHandler(fs))
	defer srv.Close()
	call := func(method string, q url.Values) (int, vfs.FaultState) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"?"+q.Encode(), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st vfs.FaultState
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, st
	}
	dir := t.TempDir()
	if code, st := call(http.MethodPost, url.Values{"fault": {"enospc"}, "path": {dir}}); code != 200 ||
		len(st.Armed) != 1 || st.Armed[0] != (vfs.ArmedFault{Fault: vfs.FaultNoSpace, Path: dir}) {
		t.Fatalf("arm: %d %+v", code, st)
	}
	if code, st := call(http.MethodGet, nil); code != 200 || len(st.Armed) != 1 {
		t.Fatalf("get: %d %+v", code, st)
	}
	for _, q := range []url.Values{{"fault": {"melt"}, "path": {dir}}, {"fault": {"enospc"}, "path": {"relative"}}} {
		if code, _ := call(http.MethodPost, q); code != http.StatusBadRequest {
			t.Fatalf("POST %v: %d, want 400", q, code)
		}
	}
	if code, _ := call(http.MethodPut, nil); code != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", code)
	}
	if code, st := call(http.MethodDelete, nil); code != 200 || len(st.Armed) != 0 {
		t.Fatalf("heal: %d %+v", code, st)
	}
}
