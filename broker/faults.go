package broker

import (
	"encoding/json"
	"net/http"
	"path/filepath"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// The fault-injection seam, for end-to-end tests only (pebble's vfs and kfake's control hooks
// give tests the same reach into a running server). With gregor.test.fault.injection: true the
// log dirs live on a vfs.Faulty and the metrics listener serves /faults:
//
//	GET    /faults                             armed faults and how often each kind fired (JSON)
//	POST   /faults?fault=<kind>&path=<path>    arm a disk failure on path (absolute: a log dir, a
//	                                           partition dir, a file) and everything under it:
//	                                           write-error, short-write, fsync-error, enospc
//	DELETE /faults                             remove every armed fault
//
// Nothing else changes: without the key the broker uses the OS file system and serves no
// /faults. A test restarts the broker to give it a healthy disk again, as an operator would
// after replacing one.

// faultsHandler serves /faults for fs.
func faultsHandler(fs *vfs.Faulty) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
		case http.MethodPost:
			kind, path := vfs.Fault(r.URL.Query().Get("fault")), r.URL.Query().Get("path")
			if !filepath.IsAbs(path) {
				http.Error(w, "path must be absolute", http.StatusBadRequest)
				return
			}
			if err := fs.Inject(kind, path); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		case http.MethodDelete:
			fs.Heal()
		default:
			http.Error(w, "GET, POST or DELETE", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(fs.State())
	})
}
