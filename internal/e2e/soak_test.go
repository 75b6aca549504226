package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// The soak test's limits. They are small so that the test is quick and its memory bound tight;
// the broker treats them exactly as it treats the defaults.
const (
	soakPool        = 16 << 20 // queued.max.request.bytes
	soakMaxRequest  = 8 << 20  // socket.request.max.bytes
	soakFetchMax    = 1 << 20  // fetch.max.bytes
	soakMaxConns    = 60       // max.connections
	soakPerIP       = 15       // max.connections.per.ip
	soakOverrideIP  = "127.0.0.5"
	soakOverride    = 25   // its max.connections.per.ip.overrides entry
	soakQueued      = 4    // queued.max.requests
	soakFetchWaitMs = 2000 // gregor.fetch.wait.max.ms

	soakMemoryFloods  = 24 // 8 MiB produce requests at once: 192 MiB asked of a 16 MiB pool
	soakHugeFetches   = 6  // fetches asking for 2 GB
	soakLongPolls     = 10 // long polls of a day
	soakGoodRecords   = 10000
	soakGoodValueSize = 512
	soakRSSAllowance  = 96 << 20 // runtime, caches, goroutines, GC slack
)

// rssBound is what the broker's resident memory may grow to under attack, over its resident
// memory with the well-behaved workload alone: two pools' worth of request frames (the garbage
// collector frees a released frame only at its next cycle, which GOGC=100 lets wait until the
// heap doubles), each concurrent huge fetch's response twice (read into one buffer, then
// encoded), and a fixed allowance.
const rssBound = 2*soakPool + 2*soakHugeFetches*soakFetchMax + soakRSSAllowance

// TestSoakHostileClients runs a real broker with small limits while hostile clients, all at
// once, open connections past max.connections and max.connections.per.ip, send 24 produce
// requests of 8 MiB (192 MiB asked of a 16 MiB request memory pool), fetch asking for 2 GB,
// create topics with 2^31-1 partitions and long-poll for a day. Every hostile request gets
// Kafka's error (or its bounded answer) or a closed connection; the broker's RSS, sampled from
// /proc throughout, stays under rssBound above its RSS with the good workload alone; and a
// well-behaved producer and consumer on their own connections complete the same workload they
// completed alone, record for record. The slowdown factor is logged, not asserted.
func TestSoakHostileClients(t *testing.T) {
	metricsPort := testcluster.FreePort(t)
	c := testcluster.Start(t, testcluster.Options{Brokers: 1,
		// The bound is about the broker users run: a race-detector build keeps shadow memory for
		// every byte it touches (several times the 8 MiB frames), which no bound on the broker's
		// own allocations can account for. Other tests run race-built brokers.
		NoRace: true,
		Config: map[string]string{
			"queued.max.request.bytes":         strconv.Itoa(soakPool),
			"socket.request.max.bytes":         strconv.Itoa(soakMaxRequest),
			"fetch.max.bytes":                  strconv.Itoa(soakFetchMax),
			"max.connections":                  strconv.Itoa(soakMaxConns),
			"max.connections.per.ip":           strconv.Itoa(soakPerIP),
			"max.connections.per.ip.overrides": fmt.Sprintf("%s:%d,127.0.0.6:100", soakOverrideIP, soakOverride),
			"queued.max.requests":              strconv.Itoa(soakQueued),
			"gregor.fetch.wait.max.ms":         strconv.Itoa(soakFetchWaitMs),
			"gregor.metrics.listen":            fmt.Sprintf("127.0.0.1:%d", metricsPort),
		}})
	addr := c.Addr(1)
	pid := c.PID(1)
	if pid == 0 {
		t.Fatal("no broker pid")
	}
	scrape := metricsScraper(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	adm := newAdmin(t, c.Bootstrap())
	createTopic(t, adm, "good", 1, nil)
	createTopic(t, adm, "big", 1, nil)
	createTopic(t, adm, "idle", 1, nil)
	fillTopic(t, c.Bootstrap(), "big", 6<<20)

	// The well-behaved clients, connected before the attack.
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()), kgo.DefaultProduceTopic("good"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	cons, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()), kgo.ConsumeTopics("good"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()

	// Baseline: one warm-up round, then the mean of five.
	runGoodWorkload(t, prod, cons, 0)
	var baseline time.Duration
	for i := int64(1); i <= 5; i++ {
		baseline += runGoodWorkload(t, prod, cons, i*soakGoodRecords) / 5
	}
	rssBefore := vmRSS(t, pid)
	t.Logf("good workload alone: %d records produced and consumed in %v a round; broker RSS %d MiB",
		soakGoodRecords, baseline.Round(time.Millisecond), rssBefore>>20)

	// RSS sampler: the peak over the whole attack.
	var peak atomic.Int64
	samplerCtx, stopSampler := context.WithCancel(context.Background())
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		for samplerCtx.Err() == nil {
			if rss := vmRSS(t, pid); rss > peak.Load() {
				peak.Store(rss)
			}
			select {
			case <-samplerCtx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	// The attack and the second round of the good workload, concurrently.
	var attack sync.WaitGroup
	errs := make(chan error, 100)
	run := func(name string, f func() error) {
		attack.Add(1)
		go func() {
			defer attack.Done()
			if err := f(); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	// Connections past the limits first (they are closed again before the rest, which needs
	// connections of its own), then everything else at once.
	// The good workload runs round after round until the attack is over (at least one round).
	var attackDone atomic.Bool
	type goodResult struct {
		rounds  int
		elapsed time.Duration
	}
	goodDone := make(chan goodResult, 1)
	go func() {
		var r goodResult
		for from := int64(6 * soakGoodRecords); r.rounds == 0 || !attackDone.Load(); from += soakGoodRecords {
			r.elapsed += runGoodWorkload(t, prod, cons, from)
			r.rounds++
			if t.Failed() {
				break
			}
		}
		goodDone <- r
	}()
	run("connection flood", func() error { return connectionFlood(t, addr, scrape) })
	attack.Wait()
	eventually(t, "the flood's connections to close", func() bool {
		// Room for the next phase's hostile connections (24 + 6 + 10) and some for kgo's.
		return scrape(`gregor_network_open_connections{listener="PLAINTEXT"}`) <= soakMaxConns-45
	})
	var heldRSS int64
	run("memory flood", func() (err error) {
		heldRSS, err = memoryFlood(addr, scrape, func() int64 { return vmRSS(t, pid) })
		return err
	})
	run("2 GB fetches", func() error { return hugeFetches(addr) })
	run("2^31-1 partitions", func() error { return hugeCreateTopics(prod) })
	run("day-long polls", func() error { return dayLongPolls(addr) })
	attack.Wait()
	attackDone.Store(true)
	var good goodResult
	select {
	case good = <-goodDone:
	case <-time.After(3 * time.Minute):
		t.Fatal("the good workload did not finish within 3 minutes of the attack")
	}
	stopSampler()
	<-samplerDone
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	growth := peak.Load() - rssBefore
	perRound := good.elapsed / time.Duration(good.rounds)
	t.Logf("under attack: %d rounds of %d records produced and consumed, %v a round (%.2fx the time alone); broker RSS peak %d MiB (+%d MiB, bound +%d MiB)",
		good.rounds, soakGoodRecords, perRound.Round(time.Millisecond), float64(perRound)/float64(baseline),
		peak.Load()>>20, growth>>20, rssBound>>20)
	for _, m := range []string{
		"gregor_network_request_memory_waits_total", "gregor_network_request_queue_waits_total",
		`gregor_network_connections_refused_total{limit="max.connections",listener="PLAINTEXT"}`,
		`gregor_network_connections_refused_total{limit="max.connections.per.ip",listener="PLAINTEXT"}`,
	} {
		t.Logf("metric %s = %v", m, scrape(m))
	}
	t.Logf("broker RSS with every flood request held or waiting: %d MiB (+%d MiB)", heldRSS>>20, (heldRSS-rssBefore)>>20)
	if growth > rssBound {
		t.Errorf("broker RSS grew by %d MiB under attack, above the bound of %d MiB", growth>>20, rssBound>>20)
	}
	if w := scrape("gregor_network_request_memory_waits_total"); w == 0 {
		t.Error("no request ever waited for memory: the flood did not press on the pool")
	}
}

// runGoodWorkload produces soakGoodRecords records with acks=all, then consumes until it has
// seen all of them (offsets from, from+1, ...), checking each value; it returns how long it took.
func runGoodWorkload(t *testing.T, prod, cons *kgo.Client, from int64) time.Duration {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	value := func(i int64) []byte {
		v := bytes.Repeat([]byte{'g'}, soakGoodValueSize)
		copy(v, strconv.FormatInt(i, 10))
		return v
	}
	var failed atomic.Value
	var wg sync.WaitGroup
	for i := from; i < from+soakGoodRecords; i++ {
		wg.Add(1)
		prod.Produce(ctx, &kgo.Record{Value: value(i)}, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				failed.CompareAndSwap(nil, err)
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Errorf("good producer: %v", err)
		return time.Since(start)
	}
	next := from
	for next < from+soakGoodRecords {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Errorf("good consumer: %d of %d records after 3 minutes", next-from, soakGoodRecords)
			return time.Since(start)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Errorf("good consumer: %s-%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != next || !bytes.Equal(r.Value, value(next)) {
				t.Errorf("good consumer: offset %d (value %.12q), want %d", r.Offset, r.Value, next)
			}
			next = r.Offset + 1
		})
	}
	return time.Since(start)
}

// eventually polls cond every 20 ms until it holds, failing after 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fillTopic writes about n bytes to topic in batches of about 100 KiB.
func fillTopic(t *testing.T, bootstrap, topic string, n int) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerBatchMaxBytes(128<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for written := 0; written < n; written += 100 << 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: make([]byte, 100<<10)}).FirstErr(); err != nil {
			t.Fatalf("fill %s: %v", topic, err)
		}
	}
}

// vmRSS reads the resident set size of pid from /proc/<pid>/status, in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Errorf("read broker status: %v", err)
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	t.Errorf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// metricsScraper returns a function reading one series (name with its labels, as Prometheus
// prints it) from the broker's /metrics; 0 when absent.
func metricsScraper(t *testing.T, url string) func(series string) float64 {
	return func(series string) float64 {
		resp, err := http.Get(url)
		if err != nil {
			t.Errorf("scrape %s: %v", url, err)
			return 0
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			name, value, ok := strings.Cut(sc.Text(), " ")
			if ok && name == series {
				v, _ := strconv.ParseFloat(value, 64)
				return v
			}
		}
		return 0
	}
}

// hostileConn is a raw connection from a chosen local address.
type hostileConn struct {
	nc   net.Conn
	br   *bufio.Reader
	corr int32
}

func dialHostile(local, addr string) (*hostileConn, error) {
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &hostileConn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}, nil
}

func (h *hostileConn) send(req kmsg.Request, version int16) error {
	h.corr++
	req.SetVersion(version)
	_ = h.nc.SetWriteDeadline(time.Now().Add(time.Minute))
	_, err := h.nc.Write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("hostile")).AppendRequest(nil, req, h.corr))
	return err
}

// recv reads the response to req (sent at version) and decodes it; closed reports that the
// broker closed the connection instead.
func (h *hostileConn) recv(req kmsg.Request, timeout time.Duration) (resp kmsg.Response, closed bool, err error) {
	_ = h.nc.SetReadDeadline(time.Now().Add(timeout))
	var size [4]byte
	if _, err := io.ReadFull(h.br, size[:]); err != nil {
		if isClosed(err) {
			return nil, true, nil
		}
		return nil, false, err
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(h.br, buf); err != nil {
		return nil, false, err
	}
	if corr := int32(binary.BigEndian.Uint32(buf)); corr != h.corr {
		return nil, false, fmt.Errorf("correlation id %d, want %d", corr, h.corr)
	}
	resp = req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	body := buf[4:]
	if resp.IsFlexible() && req.Key() != 18 {
		body = body[1:]
	}
	return resp, false, resp.ReadFrom(body)
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// probe sends ApiVersions and reports whether the connection was served (true) or closed.
func (h *hostileConn) probe() (bool, error) {
	req := kmsg.NewPtrApiVersionsRequest()
	if err := h.send(req, 0); err != nil {
		if isClosed(err) {
			return false, nil
		}
		return false, err
	}
	_, closed, err := h.recv(req, 30*time.Second)
	return !closed, err
}

// connectionFlood opens connections from three addresses: 20 from one (max.connections.per.ip
// lets 15 in), 25 from the overridden address (all in), then 30 from a third until
// max.connections refuses the rest (127.0.0.6 has an override of 100, so only max.connections
// binds there). Every connection past a limit is closed by the broker
// without an answer; every other one is served.
func connectionFlood(t *testing.T, addr string, scrape func(string) float64) error {
	perIPBefore := scrape(`gregor_network_connections_refused_total{limit="max.connections.per.ip",listener="PLAINTEXT"}`)
	maxBefore := scrape(`gregor_network_connections_refused_total{limit="max.connections",listener="PLAINTEXT"}`)
	var open []*hostileConn
	defer func() {
		for _, h := range open {
			h.nc.Close()
		}
	}()
	flood := func(local string, n int) (served, refused int, err error) {
		for i := 0; i < n; i++ {
			h, err := dialHostile(local, addr)
			if err != nil {
				return served, refused, err
			}
			ok, err := h.probe()
			if err != nil {
				h.nc.Close()
				return served, refused, fmt.Errorf("connection %d from %s: %w", i, local, err)
			}
			if ok {
				served++
				open = append(open, h)
			} else {
				refused++
				h.nc.Close()
			}
		}
		return served, refused, nil
	}
	served2, refused2, err := flood("127.0.0.2", 20)
	if err != nil {
		return err
	}
	if served2 != soakPerIP || refused2 != 20-soakPerIP {
		return fmt.Errorf("from 127.0.0.2: %d served, %d refused; want %d and %d (max.connections.per.ip)", served2, refused2, soakPerIP, 20-soakPerIP)
	}
	served5, refused5, err := flood(soakOverrideIP, soakOverride)
	if err != nil {
		return err
	}
	if served5 != soakOverride || refused5 != 0 {
		return fmt.Errorf("from %s: %d served, %d refused; want all %d (its override)", soakOverrideIP, served5, refused5, soakOverride)
	}
	served6, refused6, err := flood("127.0.0.6", 30)
	if err != nil {
		return err
	}
	if refused6 == 0 {
		return fmt.Errorf("from 127.0.0.6: all 30 served, with %d other connections open: max.connections %d not enforced", len(open)-served6, soakMaxConns)
	}
	if open := scrape(`gregor_network_open_connections{listener="PLAINTEXT"}`); open > soakMaxConns {
		return fmt.Errorf("%v connections open, above max.connections %d", open, soakMaxConns)
	}
	perIP := scrape(`gregor_network_connections_refused_total{limit="max.connections.per.ip",listener="PLAINTEXT"}`) - perIPBefore
	maxed := scrape(`gregor_network_connections_refused_total{limit="max.connections",listener="PLAINTEXT"}`) - maxBefore
	if perIP != float64(refused2) || maxed != float64(refused6) {
		return fmt.Errorf("refusal metrics: %v per-IP, %v max.connections; want %d and %d", perIP, maxed, refused2, refused6)
	}
	t.Logf("connection flood: 127.0.0.2 %d served / %d refused, %s %d / %d, 127.0.0.6 %d / %d",
		served2, refused2, soakOverrideIP, served5, refused5, served6, refused6)
	return nil
}

// bigBatch is one uncompressed magic-2 batch holding a single record of n bytes, CRC set.
func bigBatch(n int) []byte {
	rec := kmsg.Record{Value: make([]byte, n)}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1)
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{Magic: 2, FirstTimestamp: now, MaxTimestamp: now, ProducerID: -1, ProducerEpoch: -1,
		FirstSequence: -1, NumRecords: 1, Records: rec.AppendTo(nil)}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:12], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:21], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// memoryFlood sends soakMemoryFloods produce requests of almost socket.request.max.bytes at once,
// each on its own connection (8 per address, under max.connections.per.ip): far more than the
// pool holds. Each connection first sends all of its frame but the last byte, so a broker
// without a bound would hold every frame at once; only when the broker holds all it will (the
// connections that got memory stalled on their last byte, all the others waiting for memory —
// or, unbounded, every frame stalled) are the last bytes sent. rss reports the broker's resident
// memory at that moment. Each request then gets MESSAGE_TOO_LARGE (its batch is above
// message.max.bytes).
func memoryFlood(addr string, scrape func(string) float64, rss func() int64) (heldRSS int64, err error) {
	batch := bigBatch(soakMaxRequest - 1024)
	var wg sync.WaitGroup
	var stalled atomic.Int32
	release := make(chan struct{})
	errs := make(chan error, soakMemoryFloods)
	for i := 0; i < soakMemoryFloods; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			h, err := dialHostile(fmt.Sprintf("127.0.0.%d", 2+i%3), addr)
			if err != nil {
				errs <- err
				return
			}
			defer h.nc.Close()
			req := produceRequest("good", batch)
			req.TimeoutMillis = math.MaxInt32
			req.SetVersion(7)
			h.corr++
			frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("hostile")).AppendRequest(nil, req, h.corr)
			_ = h.nc.SetWriteDeadline(time.Now().Add(2 * time.Minute))
			if _, err := h.nc.Write(frame[:len(frame)-1]); err != nil {
				errs <- fmt.Errorf("request %d: %w", i, err)
				return
			}
			stalled.Add(1)
			<-release
			if _, err := h.nc.Write(frame[len(frame)-1:]); err != nil {
				errs <- fmt.Errorf("request %d, last byte: %w", i, err)
				return
			}
			resp, closed, err := h.recv(req, 2*time.Minute)
			switch {
			case err != nil:
				errs <- fmt.Errorf("request %d: %w", i, err)
			case closed:
			default:
				if code := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.MessageTooLarge.Code {
					errs <- fmt.Errorf("request %d: %v, want MESSAGE_TOO_LARGE", i, kerr.ErrorForCode(code))
				}
			}
		}(i)
	}
	deadline := time.Now().Add(time.Minute)
	for int(stalled.Load())+int(scrape("gregor_network_request_memory_waiting_requests")) < soakMemoryFloods {
		if time.Now().After(deadline) {
			err = fmt.Errorf("after a minute %d requests stalled on their last byte and %v wait for memory, of %d",
				stalled.Load(), scrape("gregor_network_request_memory_waiting_requests"), soakMemoryFloods)
			break
		}
		time.Sleep(20 * time.Millisecond) // polling the broker's metrics, with a deadline
	}
	heldRSS = rss()
	close(release)
	wg.Wait()
	close(errs)
	return heldRSS, errors.Join(append(drain(errs), err)...)
}

func drain(errs <-chan error) []error {
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}

// hugeFetches asks, soakHugeFetches times at once, for 2 GB from the start of a 6 MiB topic: each
// answer holds at most fetch.max.bytes.
func hugeFetches(addr string) error {
	var wg sync.WaitGroup
	errs := make(chan error, soakHugeFetches)
	for i := 0; i < soakHugeFetches; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			h, err := dialHostile("127.0.0.3", addr)
			if err != nil {
				errs <- err
				return
			}
			defer h.nc.Close()
			req := fetchRequest("big", 0, math.MaxInt32, math.MaxInt32, 0)
			if err := h.send(req, 11); err != nil {
				errs <- err
				return
			}
			resp, closed, err := h.recv(req, time.Minute)
			if err != nil || closed {
				errs <- fmt.Errorf("fetch %d: closed %v, %v", i, closed, err)
				return
			}
			p := resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
			if p.ErrorCode != 0 || len(p.RecordBatches) == 0 || len(p.RecordBatches) > soakFetchMax {
				errs <- fmt.Errorf("fetch %d of 2 GB: %v with %d bytes, want at most fetch.max.bytes %d", i, kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches), soakFetchMax)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	return errors.Join(drain(errs)...)
}

func fetchRequest(topic string, offset int64, maxBytes, partMax, waitMs int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.SessionEpoch = -1, waitMs, 1, maxBytes, -1
	req.Topics = []kmsg.FetchRequestTopic{{Topic: topic, Partitions: []kmsg.FetchRequestTopicPartition{
		{Partition: 0, FetchOffset: offset, PartitionMaxBytes: partMax, CurrentLeaderEpoch: -1, LogStartOffset: -1}}}}
	return req
}

// hugeCreateTopics asks for a topic of 2^31-1 partitions (INVALID_PARTITIONS) and for three of
// 5000 (POLICY_VIOLATION: over the partitions one request may create).
func hugeCreateTopics(cl *kgo.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = math.MaxInt32
	req.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "huge", NumPartitions: math.MaxInt32, ReplicationFactor: 1}}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if code := resp.Topics[0].ErrorCode; code != kerr.InvalidPartitions.Code {
		return fmt.Errorf("2^31-1 partitions: %v, want INVALID_PARTITIONS", kerr.ErrorForCode(code))
	}
	req.Topics = nil
	for _, name := range []string{"many-a", "many-b", "many-c"} {
		req.Topics = append(req.Topics, kmsg.CreateTopicsRequestTopic{Topic: name, NumPartitions: 5000, ReplicationFactor: 1})
	}
	if resp, err = req.RequestWith(ctx, cl); err != nil {
		return err
	}
	for _, rt := range resp.Topics {
		if rt.ErrorCode != kerr.PolicyViolation.Code {
			return fmt.Errorf("3 x 5000 partitions: %s %v, want POLICY_VIOLATION", rt.Topic, kerr.ErrorForCode(rt.ErrorCode))
		}
	}
	return nil
}

// dayLongPolls parks soakLongPolls fetches with max_wait_ms of a day at the end of an idle topic
// (more than queued.max.requests: a parked poll must not hold the request queue). Each comes back
// empty once gregor.fetch.wait.max.ms has passed; waiting for them has a deadline far past it.
func dayLongPolls(addr string) error {
	var wg sync.WaitGroup
	errs := make(chan error, soakLongPolls)
	for i := 0; i < soakLongPolls; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			h, err := dialHostile("127.0.0.7", addr)
			if err != nil {
				errs <- err
				return
			}
			defer h.nc.Close()
			req := fetchRequest("idle", 0, 1<<20, 1<<20, 86_400_000)
			if err := h.send(req, 11); err != nil {
				errs <- err
				return
			}
			resp, closed, err := h.recv(req, 30*soakFetchWaitMs*time.Millisecond)
			if err != nil || closed {
				errs <- fmt.Errorf("long poll %d: closed %v, %v", i, closed, err)
				return
			}
			if p := resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) != 0 {
				errs <- fmt.Errorf("long poll %d: %v with %d bytes, want an empty answer", i, kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches))
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	return errors.Join(drain(errs)...)
}
