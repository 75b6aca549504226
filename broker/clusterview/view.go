package clusterview

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/topicstats"
)

//go:embed page.html
var pageHTML string

// initialMarker in page.html is replaced by the first snapshot, so the page shows data on load.
const initialMarker = "/*INITIAL*/null"

// Options configure a View.
type Options struct {
	BrokerID  int32
	ClusterID string
	// Metadata is this broker's metadata cache.
	Metadata func() *metadata.Snapshot
	// Bootstrap is the address this broker's own inter-broker listener is reached at from
	// itself (its bound port on loopback); the admin client starts there.
	Bootstrap func() string
	// Traffic is this broker's client traffic, for the rates.
	Traffic *topicstats.Stats
	// GroupTimeout bounds the group requests of one page refresh or scrape (default 3 s).
	GroupTimeout time.Duration
	Logger       logrus.FieldLogger
	Now          func() time.Time
}

// View serves the cluster page. Create it with New, stop it with Close.
type View struct {
	o Options

	mu     sync.Mutex // guards everything below; never held across network I/O
	client *kgo.Client
	closed bool
	seen   map[int32]Broker // brokers seen live, with their last endpoint and rack
	prev   sample
}

// sample is the traffic counters at one moment, for rates.
type sample struct {
	at     time.Time
	total  topicstats.Counts
	topics map[string]topicstats.Counts
}

// New returns a view; the admin client is created on first use.
func New(o Options) *View {
	if o.GroupTimeout <= 0 {
		o.GroupTimeout = 3 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = logrus.StandardLogger()
	}
	v := &View{o: o, seen: map[int32]Broker{}}
	v.prev = v.sampleNow()
	return v
}

// Close stops the admin client; later calls answer without groups.
func (v *View) Close() {
	v.mu.Lock()
	c := v.client
	v.client, v.closed = nil, true
	v.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

var errClosed = errors.New("cluster view closed")

func (v *View) admin() (*kadm.Client, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, errClosed
	}
	if v.client == nil {
		c, err := kgo.NewClient(
			kgo.SeedBrokers(v.o.Bootstrap()),
			kgo.ClientID("gregor-cluster-view"),
			kgo.MetadataMinAge(time.Second),
			kgo.RequestRetries(2),
			kgo.RetryTimeout(v.o.GroupTimeout),
		)
		if err != nil {
			return nil, err
		}
		v.client = c
	}
	return kadm.NewClient(v.client), nil
}

// Lag is the lag of the given groups, computed as kadm does (committed offsets against the
// partitions' end offsets), within the group timeout.
func (v *View) Lag(ctx context.Context, groups ...string) (kadm.DescribedGroupLags, error) {
	adm, err := v.admin()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, v.o.GroupTimeout)
	defer cancel()
	return adm.Lag(ctx, groups...)
}

// Broker is one row of the brokers table.
type Broker struct {
	ID         int32  `json:"id"`
	Host       string `json:"host"`
	Port       int32  `json:"port"`
	Rack       string `json:"rack"`
	Alive      bool   `json:"alive"`
	Controller bool   `json:"controller"`
}

// Partition is one row of the partitions table.
type Partition struct {
	Topic           string  `json:"topic"`
	Partition       int32   `json:"partition"`
	Leader          int32   `json:"leader"`
	Replicas        []int32 `json:"replicas"`
	ISR             []int32 `json:"isr"`
	UnderReplicated bool    `json:"underReplicated"`
	Offline         bool    `json:"offline"`
}

// Topic is a topic and its partitions.
type Topic struct {
	Name            string      `json:"name"`
	Internal        bool        `json:"internal"`
	UnderReplicated int         `json:"underReplicated"`
	Offline         int         `json:"offline"`
	Partitions      []Partition `json:"partitions"`
}

// Member is one member of a group.
type Member struct {
	ID         string `json:"id"`
	InstanceID string `json:"instanceId,omitempty"`
	ClientID   string `json:"clientId"`
	Host       string `json:"host"`
	Assigned   string `json:"assigned"`
}

// PartitionLag is a group's position on one partition.
type PartitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	End       int64  `json:"end"`
	Lag       int64  `json:"lag"`
	Member    string `json:"member,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Group is one consumer group.
type Group struct {
	Group       string         `json:"group"`
	State       string         `json:"state"`
	Coordinator int32          `json:"coordinator"`
	Members     []Member       `json:"members"`
	Lag         []PartitionLag `json:"lag"`
	TotalLag    int64          `json:"totalLag"`
	Error       string         `json:"error,omitempty"`
}

// Rates are per-second rates over the time since the previous refresh.
type Rates struct {
	MessagesIn  float64 `json:"messagesInPerSec"`
	MessagesOut float64 `json:"messagesOutPerSec"`
	BytesIn     float64 `json:"bytesInPerSec"`
	BytesOut    float64 `json:"bytesOutPerSec"`
}

// Traffic is this broker's rates, in all and per topic.
type Traffic struct {
	Seconds float64          `json:"seconds"` // the interval the rates are over
	Total   Rates            `json:"total"`
	Topics  map[string]Rates `json:"topics"`
}

// Cluster is what /api/cluster answers and the page shows.
type Cluster struct {
	Broker      int32     `json:"broker"`
	ClusterID   string    `json:"clusterId"`
	Controller  int32     `json:"controller"`
	Generated   time.Time `json:"generated"`
	Brokers     []Broker  `json:"brokers"`
	Topics      []Topic   `json:"topics"`
	Groups      []Group   `json:"groups"`
	GroupsError string    `json:"groupsError,omitempty"`
	Traffic     Traffic   `json:"traffic"`
}

// Snapshot gathers the page's data: metadata from the cache, groups over the Kafka protocol.
func (v *View) Snapshot(ctx context.Context) Cluster {
	snap := v.o.Metadata()
	c := Cluster{Broker: v.o.BrokerID, ClusterID: v.o.ClusterID, Controller: snap.ControllerID, Generated: v.o.Now().UTC()}
	c.Topics = topics(snap)
	c.Brokers = v.brokers(snap, c.Topics)
	c.Traffic = v.traffic()
	groups, err := v.groups(ctx)
	c.Groups = groups
	if err != nil {
		c.GroupsError = err.Error()
	}
	return c
}

func topics(snap *metadata.Snapshot) []Topic {
	out := make([]Topic, 0, len(snap.TopicNames()))
	for _, name := range snap.TopicNames() {
		t, _ := snap.Topic(name)
		tt := Topic{Name: name, Internal: strings.HasPrefix(name, "__"), Partitions: make([]Partition, 0, len(t.Partitions))}
		for _, p := range t.Partitions {
			offline := p.Leader < 0 || !snap.IsAlive(p.Leader)
			pp := Partition{Topic: name, Partition: p.Partition, Leader: p.Leader,
				Replicas: nonNil(p.Replicas), ISR: nonNil(p.ISR),
				UnderReplicated: len(p.ISR) < len(p.Replicas), Offline: offline}
			if pp.UnderReplicated {
				tt.UnderReplicated++
			}
			if offline {
				tt.Offline++
			}
			tt.Partitions = append(tt.Partitions, pp)
		}
		out = append(out, tt)
	}
	return out
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return append([]int32(nil), s...)
}

// brokers lists the live brokers and the ones known to be down: replicas of some partition, or
// seen live by this view before, that are not live now.
func (v *View) brokers(snap *metadata.Snapshot, ts []Topic) []Broker {
	v.mu.Lock()
	defer v.mu.Unlock()
	rows := map[int32]Broker{}
	for _, b := range snap.Brokers() {
		row := Broker{ID: b.ID, Alive: true, Controller: b.ID == snap.ControllerID}
		if b.Rack != nil {
			row.Rack = *b.Rack
		}
		if len(b.Endpoints) > 0 {
			row.Host, row.Port = b.Endpoints[0].Host, b.Endpoints[0].Port
		}
		v.seen[b.ID] = row
		rows[b.ID] = row
	}
	down := func(id int32) {
		if _, live := rows[id]; live || id < 0 {
			return
		}
		row, ok := v.seen[id]
		if !ok {
			row = Broker{ID: id}
		}
		row.Alive, row.Controller = false, false
		rows[id] = row
	}
	for id := range v.seen {
		down(id)
	}
	for _, t := range ts {
		for _, p := range t.Partitions {
			for _, id := range p.Replicas {
				down(id)
			}
		}
	}
	out := make([]Broker, 0, len(rows))
	for _, r := range rows {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (v *View) sampleNow() sample {
	return sample{at: v.o.Now(), total: v.o.Traffic.Total(), topics: v.o.Traffic.Topics()}
}

// traffic is the rates since the previous sample; the sample moves on once it is a second old,
// so frequent refreshes still average over at least a second.
func (v *View) traffic() Traffic {
	cur := v.sampleNow()
	v.mu.Lock()
	prev := v.prev
	if cur.at.Sub(prev.at) >= time.Second {
		v.prev = cur
	}
	v.mu.Unlock()
	secs := cur.at.Sub(prev.at).Seconds()
	t := Traffic{Seconds: secs, Topics: map[string]Rates{}}
	if secs <= 0 {
		return t
	}
	rate := func(now, before topicstats.Counts) Rates {
		return Rates{
			MessagesIn:  float64(now.MessagesIn-before.MessagesIn) / secs,
			MessagesOut: float64(now.MessagesOut-before.MessagesOut) / secs,
			BytesIn:     float64(now.BytesIn-before.BytesIn) / secs,
			BytesOut:    float64(now.BytesOut-before.BytesOut) / secs,
		}
	}
	t.Total = rate(cur.total, prev.total)
	for name, c := range cur.topics {
		t.Topics[name] = rate(c, prev.topics[name])
	}
	return t
}

// groups lists and describes every group of the cluster, with lag.
func (v *View) groups(ctx context.Context) ([]Group, error) {
	adm, err := v.admin()
	if err != nil {
		return []Group{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, v.o.GroupTimeout)
	defer cancel()
	listed, err := adm.ListGroups(ctx)
	if err != nil && len(listed) == 0 {
		return []Group{}, err
	}
	names := listed.Groups()
	if len(names) == 0 {
		return []Group{}, err
	}
	lags, lerr := adm.Lag(ctx, names...)
	if err == nil {
		err = lerr
	}
	out := make([]Group, 0, len(lags))
	for _, l := range lags.Sorted() {
		g := Group{Group: l.Group, State: l.State, Coordinator: l.Coordinator.NodeID, Members: []Member{}, Lag: []PartitionLag{}}
		if e := l.Error(); e != nil {
			g.Error = e.Error()
		}
		for _, m := range l.Members {
			mm := Member{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost}
			if m.InstanceID != nil {
				mm.InstanceID = *m.InstanceID
			}
			if a, ok := m.Assigned.AsConsumer(); ok {
				var parts []string
				for _, t := range a.Topics {
					for _, p := range t.Partitions {
						parts = append(parts, t.Topic+"-"+strconv.Itoa(int(p)))
					}
				}
				sort.Strings(parts)
				mm.Assigned = strings.Join(parts, ", ")
			}
			g.Members = append(g.Members, mm)
		}
		for _, pl := range l.Lag.Sorted() {
			row := PartitionLag{Topic: pl.Topic, Partition: pl.Partition, Committed: pl.Commit.At, End: pl.End.Offset, Lag: pl.Lag}
			if pl.Member != nil {
				row.Member = pl.Member.ClientID
			}
			if pl.Err != nil {
				row.Error = pl.Err.Error()
			} else if pl.Lag > 0 {
				g.TotalLag += pl.Lag
			}
			g.Lag = append(g.Lag, row)
		}
		out = append(out, g)
	}
	return out, err
}

// ServeHTTP serves the page at / and its data at /api/cluster.
func (v *View) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/", "/cluster":
		data, err := json.Marshal(v.Snapshot(r.Context())) // json escapes <, > and &: safe inside <script>
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(strings.Replace(pageHTML, initialMarker, string(data), 1)))
	case "/api/cluster":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(v.Snapshot(r.Context()))
	default:
		http.NotFound(w, r)
	}
}

// LoopbackAddr is how a broker reaches its own listener bound to addr: a wildcard host becomes
// loopback.
func LoopbackAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	ip := tcp.IP
	switch {
	case ip == nil || (ip.IsUnspecified() && ip.To4() != nil):
		ip = net.IPv4(127, 0, 0, 1)
	case ip.IsUnspecified():
		ip = net.IPv6loopback
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port))
}
