package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-broker/gregor/internal/cdp"
	"github.com/gregor-broker/gregor/internal/testcluster"
)

// pageRow is one table row of the cluster page as the DOM has it.
type pageRow struct {
	Data  map[string]string `json:"data"`
	Cells []string          `json:"cells"`
}

// pageDOM is the cluster page's tables, read from the DOM by readPage.
type pageDOM struct {
	Brokers    []pageRow `json:"brokers"`
	Partitions []pageRow `json:"partitions"`
	Groups     []pageRow `json:"groups"`
	Lag        []pageRow `json:"lag"`
	Traffic    []pageRow `json:"traffic"`
	Generated  string    `json:"generated"`
	Error      string    `json:"error"`
}

const readPageJS = `(() => {
  const rows = sel => [...document.querySelectorAll(sel + " tbody tr")].map(tr =>
    ({data: {...tr.dataset}, cells: [...tr.cells].map(td => td.textContent.trim())}));
  return {brokers: rows("#brokers"), partitions: rows("#partitions"), groups: rows("#groups"),
          lag: rows("#lag"), traffic: rows("#traffic"), generated: document.body.dataset.generated || "",
          error: document.getElementById("error").textContent};
})()`

func readPage(t *testing.T, page *cdp.Conn) pageDOM {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d pageDOM
	if err := page.Evaluate(ctx, readPageJS, &d); err != nil {
		t.Fatalf("read the page's DOM: %v", err)
	}
	return d
}

func (d pageDOM) broker(id int32) (pageRow, bool) {
	for _, r := range d.Brokers {
		if r.Data["broker"] == fmt.Sprint(id) {
			return r, true
		}
	}
	return pageRow{}, false
}

func (d pageDOM) rowsOf(rows []pageRow, key, value string) []pageRow {
	var out []pageRow
	for _, r := range rows {
		if r.Data[key] == value {
			out = append(out, r)
		}
	}
	return out
}

// produceRecords writes n records "<prefix>-<i>" to topic, round robin over its partitions, acks=all, failing the test on error.
func produceRecords(t *testing.T, bootstrap, topic, prefix string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Value: []byte(fmt.Sprintf("%s-%d", prefix, i))}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// consumeAndCommit reads n records of topic as group, commits and leaves the group.
func consumeAndCommit(t *testing.T, bootstrap, topic, group string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumerGroup(group), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for got := 0; got < n; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("group %s read %d of %d records of %s", group, got, n, topic)
		}
		got += fs.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("group %s commit: %v", group, err)
	}
}

// TestClusterPageInChromium opens broker 1's cluster page in headless Chromium and reads its
// tables from the DOM: three brokers up with their racks and one controller, the topic's
// partitions with leader, replicas and ISR, the groups with members and lag, traffic. Then broker 3
// is killed and the same page — not reloaded, it refreshes itself — marks it down and its
// partitions under-replicated. GREGOR_SCREENSHOT=path saves a screenshot of that (docs/).
func TestClusterPageInChromium(t *testing.T) {
	if _, err := cdp.Binary(); err != nil {
		t.Fatal(err) // a missing dependency fails; scripts/test.sh installs chromium
	}
	c := testcluster.Start(t, testcluster.Options{Brokers: 3,
		Config: map[string]string{
			"offsets.topic.replication.factor": "3",
			"offsets.topic.num.partitions":     "3",
			"group.initial.rebalance.delay.ms": "0",
		},
		PerBroker: map[int32]map[string]string{
			1: {"broker.rack": "rack-a"}, 2: {"broker.rack": "rack-b"}, 3: {"broker.rack": "rack-c"},
		}})
	adm := newAdmin(t, c.Bootstrap())
	createReplicated(t, adm, "orders", 3, 3, nil)
	createReplicated(t, adm, "clicks", 3, 3, nil)
	waitMetadata(t, c, []int32{1, 2, 3}, "orders", 3, 3)
	waitMetadata(t, c, []int32{1, 2, 3}, "clicks", 3, 3)
	// "reports" read 50 orders and left: its lag is the 20 written after.
	produceRecords(t, c.Bootstrap(), "orders", "order", 50)
	consumeAndCommit(t, c.Bootstrap(), "orders", "reports", 50)
	produceRecords(t, c.Bootstrap(), "orders", "late-order", 20)

	// Live traffic for the rates: a producer and a consumer group on "clicks", both bounded and
	// stopped at the end of the test.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	prod, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.Bootstrap(), ",")...), kgo.DefaultProduceTopic("clicks"),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner())) // every broker leads a partition with traffic
	if err != nil {
		t.Fatal(err)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.Bootstrap(), ",")...), kgo.ConsumeTopics("clicks"),
		kgo.ConsumerGroup("clickstream"), kgo.ClientID("clickstream-1"))
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(2)
	go func() { // owned by the test: stops on stop() or after 6000 records
		defer wg.Done()
		defer prod.Close()
		for i := 0; i < 6000 && ctx.Err() == nil; i++ {
			prod.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("click-%d", i))}, nil)
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond): // pacing a load generator, not synchronisation
			}
		}
	}()
	go func() { // owned by the test: stops on stop()
		defer wg.Done()
		defer cons.Close()
		for ctx.Err() == nil {
			cons.PollFetches(ctx)
		}
	}()

	bctx, bcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer bcancel()
	browser, err := cdp.Start(bctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(browser.Close)
	page, err := browser.Page(bctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(page.Close)
	url := strings.TrimSuffix(c.MetricsURL(1), "metrics")
	if err := page.Navigate(bctx, url); err != nil {
		t.Fatalf("%v\nchromium: %s", err, browser.Log())
	}

	var d pageDOM
	eventually(t, "the page to show 3 brokers, the groups and traffic", func() bool {
		d = readPage(t, page)
		if len(d.Brokers) != 3 || len(d.rowsOf(d.Partitions, "topic", "orders")) != 3 {
			return false
		}
		live := d.rowsOf(d.Groups, "group", "clickstream")
		reports := d.rowsOf(d.Groups, "group", "reports")
		in := d.rowsOf(d.Traffic, "topic", "clicks")
		return len(live) == 1 && live[0].Data["members"] == "1" && len(reports) == 1 && reports[0].Data["lag"] == "20" &&
			len(in) == 1 && in[0].Cells[1] != "0"
	})
	controllers := 0
	for i, id := range []int32{1, 2, 3} {
		r, ok := d.broker(id)
		if !ok || r.Data["state"] != "up" || r.Cells[1] != "up" {
			t.Fatalf("broker %d not shown up: %+v", id, d.Brokers)
		}
		if r.Cells[4] != "rack-"+string(rune('a'+i)) {
			t.Errorf("broker %d rack %q", id, r.Cells[4])
		}
		if r.Data["controller"] == "true" {
			controllers++
			if r.Cells[2] != "controller" {
				t.Errorf("controller row of broker %d does not say so: %v", id, r.Cells)
			}
		}
	}
	if controllers != 1 {
		t.Fatalf("%d controllers shown: %+v", controllers, d.Brokers)
	}
	for _, r := range d.rowsOf(d.Partitions, "topic", "orders") {
		if r.Data["state"] != "ok" || len(strings.Split(r.Data["replicas"], ", ")) != 3 || len(strings.Split(r.Data["isr"], ", ")) != 3 ||
			!strings.Contains(r.Data["replicas"], r.Data["leader"]) {
			t.Fatalf("partition row %+v: want 3 replicas, all in sync, led by one of them", r)
		}
	}
	var lag int
	for _, r := range d.rowsOf(d.Lag, "group", "reports") {
		var n int
		fmt.Sscan(r.Data["lag"], &n)
		lag += n
	}
	if lag != 20 {
		t.Fatalf("per-partition lag of reports adds up to %d, want 20: %+v", lag, d.Lag)
	}

	// Kill broker 3: without a reload, the page marks it down and its partitions under-replicated.
	before := d.Generated
	c.Kill(3)
	eventually2 := func(what string, cond func() bool) { // ZooKeeper notices after the 6 s session timeout
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; page: %+v", what, d)
			}
			time.Sleep(100 * time.Millisecond) // polling the page, which polls the broker
		}
	}
	eventually2("broker 3 shown down and orders under-replicated", func() bool {
		d = readPage(t, page)
		r, ok := d.broker(3)
		if !ok || r.Data["state"] != "down" || r.Cells[1] != "down" {
			return false
		}
		under := d.rowsOf(d.Partitions, "state", "under-replicated")
		return len(d.rowsOf(under, "topic", "orders")) == 3
	})
	if d.Generated == before {
		t.Fatal("the page changed without refreshing its data")
	}
	for _, id := range []int32{1, 2} {
		if r, _ := d.broker(id); r.Data["state"] != "up" {
			t.Fatalf("broker %d shown %q after broker 3 died", id, r.Data["state"])
		}
	}
	for _, r := range d.rowsOf(d.Partitions, "topic", "orders") {
		if strings.Contains(r.Data["isr"], "3") || r.Data["leader"] == "3" {
			t.Fatalf("orders partition %+v still has broker 3 in its ISR or as leader", r)
		}
	}

	if path := os.Getenv("GREGOR_SCREENSHOT"); path != "" {
		// Let the rates settle over a couple of refreshes after the failover.
		eventually2("traffic in and out of clicks again", func() bool {
			d = readPage(t, page)
			in := d.rowsOf(d.Traffic, "topic", "clicks")
			return len(in) == 1 && in[0].Cells[1] != "0" && in[0].Cells[2] != "0" && d.Error == ""
		})
		png, err := page.Screenshot(bctx, 1280)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(d.Brokers)
		t.Logf("screenshot %s (%d bytes); brokers %s", path, len(png), raw)
	}
}
