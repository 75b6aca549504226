package network

import (
	"fmt"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Defaults applied by NewServer to zero-valued Options fields (Kafka's defaults, except the
// request memory pool).
const (
	DefaultMaxRequestBytes    = 104857600        // socket.request.max.bytes
	DefaultIdleTimeout        = 10 * time.Minute // connections.max.idle.ms
	DefaultMaxInFlightPerConn = 100
	DefaultQueuedMaxRequests  = 500 // queued.max.requests
	// DefaultQueuedMaxRequestBytes is Gregor's queued.max.request.bytes. Kafka's default, -1,
	// leaves request memory unbounded; Gregor bounds it by default at 256 MiB: two requests of
	// the largest default size (socket.request.max.bytes, 100 MiB) fit at once, and no set of
	// clients can make the broker hold more request bytes than that.
	DefaultQueuedMaxRequestBytes = 256 << 20
)

// NoConnections as MaxConnectionsPerIP is Kafka's max.connections.per.ip=0: addresses without an
// override may not connect at all.
const NoConnections = -1

// apiVersionsKey is ApiVersions' key; the network answers it itself at versions 0..apiVersionsMax.
const (
	apiVersionsKey = 18
	apiVersionsMax = 3
)

// APIRange is one API key with the versions the broker serves, inclusive.
type APIRange struct{ Key, Min, Max int16 }

// ListenerSpec names one listening socket.
type ListenerSpec struct {
	Name string
	Addr string // host:port, port 0 = any
}

// Options configures a Server. Zero values take the defaults above; IdleTimeout < 0 disables
// idle closing; a nil Logger logs to logrus' standard logger; a nil Registerer disables metrics.
type Options struct {
	Listeners          []ListenerSpec
	MaxRequestBytes    int32
	IdleTimeout        time.Duration
	MaxInFlightPerConn int
	// MaxConnections is max.connections (<= 0: unbounded); MaxConnectionsPerIP is
	// max.connections.per.ip (0: unbounded, NoConnections: only overridden addresses);
	// MaxConnectionsPerIPOverrides maps an IP address or host name to its own limit. A
	// connection over a limit is accepted and closed at once, as Kafka does.
	MaxConnections               int
	MaxConnectionsPerIP          int
	MaxConnectionsPerIPOverrides map[string]int
	// ProtectedListener (the inter-broker listener) is exempt from MaxConnections when there are
	// several listeners, as in Kafka (KIP-402).
	ProtectedListener string
	// QueuedMaxRequests is queued.max.requests (0: the default); QueuedMaxRequestBytes is
	// queued.max.request.bytes, the request memory pool (0: the default, < 0: unbounded). See
	// pool.go.
	QueuedMaxRequests     int
	QueuedMaxRequestBytes int64
	// Served lists the API versions handed to the Handler; requests for anything else close the
	// connection. An entry for ApiVersions (18) is ignored: the network always serves it at 0–3.
	Served     []APIRange
	Logger     logrus.FieldLogger
	Registerer prometheus.Registerer
	// Ordered lists request keys whose requests on one connection are handled one after another,
	// in arrival order, while other requests still run concurrently. Default: Produce. A producer
	// pipelines batches with consecutive sequence numbers; if two of its requests were appended
	// in the wrong order the second would be refused (OUT_OF_ORDER_SEQUENCE_NUMBER). Apache Kafka
	// gets the same guarantee by handling one request per connection at a time.
	Ordered []int16
	// Inline, if set, says which requests the reader handles itself instead of handing them to
	// a worker: ones whose handler calls Parked before it waits for an event, if it waits at all
	// (the broker's: Produce). Until it is answered or parks, the connection reads nothing more,
	// as Kafka's network threads mute a connection while its request is handled; in exchange a
	// request, its handling and its response stay on one goroutine with no wake-up between
	// them, and no read of the next request runs beside the handler's disk write. At Parked a
	// new reader takes the connection over, and the old one ends with the request. An inline
	// request of an Ordered key whose predecessor is not done yet is handed to a worker.
	Inline func(key int16, body kmsg.Request) bool
	// Recycled lists request keys whose Handler keeps nothing of the request past Handle's
	// return (no sub-slice of the frame outlives it): their frames come from a pool and go back
	// to it once the handler has returned, instead of becoming garbage. Default: none. The broker
	// names Produce, whose records are written to the log before its handler returns.
	Recycled []int16
}

func (o Options) withDefaults() Options {
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxInFlightPerConn <= 0 {
		o.MaxInFlightPerConn = DefaultMaxInFlightPerConn
	}
	if o.QueuedMaxRequests <= 0 {
		o.QueuedMaxRequests = DefaultQueuedMaxRequests
	}
	if o.QueuedMaxRequestBytes == 0 {
		o.QueuedMaxRequestBytes = DefaultQueuedMaxRequestBytes
	}
	if o.Logger == nil {
		o.Logger = logrus.StandardLogger()
	}
	if o.Ordered == nil {
		o.Ordered = []int16{0} // Produce
	}
	return o
}

func (o Options) validate() error {
	if len(o.Listeners) == 0 {
		return fmt.Errorf("no listeners")
	}
	seen := map[string]bool{}
	for _, l := range o.Listeners {
		if l.Name == "" {
			return fmt.Errorf("listener %q: empty name", l.Addr)
		}
		if seen[l.Name] {
			return fmt.Errorf("listener %q: name used twice", l.Name)
		}
		seen[l.Name] = true
	}
	if o.MaxRequestBytes < 0 {
		return fmt.Errorf("max request bytes %d < 0", o.MaxRequestBytes)
	}
	if o.QueuedMaxRequestBytes > 0 && o.QueuedMaxRequestBytes < int64(o.MaxRequestBytes) {
		// Kafka requires the same: a request of the largest allowed size must fit in the pool.
		return fmt.Errorf("queued.max.request.bytes %d is smaller than socket.request.max.bytes %d", o.QueuedMaxRequestBytes, o.MaxRequestBytes)
	}
	if o.MaxConnectionsPerIP < NoConnections {
		return fmt.Errorf("max.connections.per.ip %d < 0", o.MaxConnectionsPerIP)
	}
	return nil
}

// versionRange is one served key's versions; ok is false for keys not served.
type versionRange struct {
	min, max int16
	ok       bool
}

// versionTable is indexed by API key. It is built once by newVersionTable and read-only after.
type versionTable []versionRange

func (t versionTable) lookup(key int16) (versionRange, bool) {
	if key < 0 || int(key) >= len(t) || !t[key].ok {
		return versionRange{}, false
	}
	return t[key], true
}

// newVersionTable checks the served ranges against what kmsg can decode and returns the table
// plus the ApiVersions key list (sorted by key, ApiVersions itself included).
func newVersionTable(served []APIRange) (versionTable, []kmsg.ApiVersionsResponseApiKey, error) {
	maxKey := int16(apiVersionsKey)
	for _, r := range served {
		if r.Key > maxKey {
			maxKey = r.Key
		}
	}
	t := make(versionTable, int(maxKey)+1)
	t[apiVersionsKey] = versionRange{min: 0, max: apiVersionsMax, ok: true}
	seen := map[int16]bool{}
	for _, r := range served {
		if r.Key == apiVersionsKey {
			continue
		}
		if r.Key < 0 {
			return nil, nil, fmt.Errorf("served API key %d < 0", r.Key)
		}
		req := kmsg.RequestForKey(r.Key)
		if req == nil {
			return nil, nil, fmt.Errorf("served API key %d: unknown to the codec", r.Key)
		}
		if r.Min < 0 || r.Min > r.Max || r.Max > req.MaxVersion() {
			return nil, nil, fmt.Errorf("served %s (key %d): versions %d..%d outside 0..%d",
				kmsg.NameForKey(r.Key), r.Key, r.Min, r.Max, req.MaxVersion())
		}
		if seen[r.Key] {
			return nil, nil, fmt.Errorf("served %s (key %d) listed twice", kmsg.NameForKey(r.Key), r.Key)
		}
		seen[r.Key] = true
		t[r.Key] = versionRange{min: r.Min, max: r.Max, ok: true}
	}
	var keys []kmsg.ApiVersionsResponseApiKey
	for k, r := range t {
		if r.ok {
			keys = append(keys, kmsg.ApiVersionsResponseApiKey{ApiKey: int16(k), MinVersion: r.min, MaxVersion: r.max})
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ApiKey < keys[j].ApiKey })
	return t, keys, nil
}
