package broker

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/zktest"
)

// tailBuffer keeps the last bytes written to it: a fuzzing broker logs for hours.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 64<<10 {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-32<<10:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// seedFrames are one well-formed request (header and body, no size prefix) per served API, at
// old and new versions, several of them hostile: the starting points of FuzzHandleRequest.
func seedFrames() [][]byte {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz"))
	var out [][]byte
	add := func(req kmsg.Request, versions ...int16) {
		for _, v := range versions {
			req.SetVersion(v)
			out = append(out, f.AppendRequest(nil, req, 7)[4:])
		}
	}
	batch := testBatch(time.Now().UnixMilli(), 2, 0, nil)

	produce := kmsg.NewPtrProduceRequest()
	produce.Acks, produce.TimeoutMillis = -1, 1000
	produce.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: batch}}}}
	add(produce, 3, 7, 9)
	dup := kmsg.NewPtrProduceRequest()
	dup.Acks, dup.TimeoutMillis = 1, math.MaxInt32
	dup.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 1, Records: batch}, {Partition: 1, Records: batch}}}}
	add(dup, 8)
	acks0 := kmsg.NewPtrProduceRequest()
	acks0.Acks = 0
	acks0.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 1, Records: batch}}}}
	add(acks0, 9)

	fetch := kmsg.NewPtrFetchRequest()
	fetch.ReplicaID, fetch.MaxWaitMillis, fetch.MinBytes, fetch.MaxBytes = -1, 86_400_000, 1, math.MaxInt32
	fetch.SessionEpoch = -1
	fetch.Topics = []kmsg.FetchRequestTopic{{Topic: "t", Partitions: []kmsg.FetchRequestTopicPartition{
		{Partition: 0, FetchOffset: 0, PartitionMaxBytes: math.MaxInt32, CurrentLeaderEpoch: -1},
		{Partition: 1, FetchOffset: 1 << 40, PartitionMaxBytes: 1 << 20, CurrentLeaderEpoch: -1}}}}
	add(fetch, 4, 11, 12)

	lo := kmsg.NewPtrListOffsetsRequest()
	lo.ReplicaID = -1
	lo.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "t", Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Partition: 0, Timestamp: -1, CurrentLeaderEpoch: -1}, {Partition: 1, Timestamp: 1000}}}}
	add(lo, 1, 7)

	md := kmsg.NewPtrMetadataRequest()
	name := "t"
	md.Topics = []kmsg.MetadataRequestTopic{{Topic: &name}}
	add(md, 0, 9, 12)
	add(kmsg.NewPtrMetadataRequest(), 1)

	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.TimeoutMillis = math.MaxInt32
	ct.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "fz", NumPartitions: 2, ReplicationFactor: 1},
		{Topic: "huge", NumPartitions: math.MaxInt32, ReplicationFactor: 1}}
	add(ct, 0, 5, 7)

	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.TimeoutMillis = 100
	dt.TopicNames = []string{"fz"}
	add(dt, 0, 4)

	dr := kmsg.NewPtrDeleteRecordsRequest()
	dr.Topics = []kmsg.DeleteRecordsRequestTopic{{Topic: "t", Partitions: []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 0, Offset: 1}}}}
	add(dr, 0, 2)

	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.ProducerID, ip.ProducerEpoch = -1, -1
	add(ip, 0, 4)

	dc := kmsg.NewPtrDescribeConfigsRequest()
	dc.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "t"}, {ResourceType: kmsg.ConfigResourceTypeBroker, ResourceName: "1"}}
	add(dc, 0, 4)

	ac := kmsg.NewPtrAlterConfigsRequest()
	v := "60000"
	ac.Resources = []kmsg.AlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "t", Configs: []kmsg.AlterConfigsRequestResourceConfig{{Name: "message.timestamp.difference.max.ms", Value: &v}}}}
	ac.ValidateOnly = true
	add(ac, 0, 2)

	iac := kmsg.NewPtrIncrementalAlterConfigsRequest()
	iac.Resources = []kmsg.IncrementalAlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "t", Configs: []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "retention.ms", Op: 0, Value: &v}}}}
	iac.ValidateOnly = true
	add(iac, 0, 1)

	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.TimeoutMillis = math.MaxInt32
	cp.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: "t", Count: math.MaxInt32}}
	cp.ValidateOnly = true
	add(cp, 0, 3)

	add(kmsg.NewPtrDescribeClusterRequest(), 0)

	lai := kmsg.NewPtrLeaderAndISRRequest()
	lai.ControllerID, lai.ControllerEpoch, lai.BrokerEpoch = 1, 0, 0
	add(lai, 0, 5, 7)
	um := kmsg.NewPtrUpdateMetadataRequest()
	um.ControllerID, um.ControllerEpoch, um.BrokerEpoch = 1, 0, 0
	add(um, 0, 7, 8)
	sr := kmsg.NewPtrStopReplicaRequest()
	sr.ControllerID, sr.ControllerEpoch, sr.BrokerEpoch = 1, 0, 0
	add(sr, 0, 3, 4)

	av := kmsg.NewPtrApiVersionsRequest()
	av.ClientSoftwareName, av.ClientSoftwareVersion = "fuzz", "1"
	add(av, 0, 3)
	return out
}

// sentinelCorrelation is the ApiVersions request sent after each fuzzed frame; a correlation id
// different from the fuzzed one's.
func sentinelCorrelation(fuzzCorr int32) int32 { return fuzzCorr ^ 0x5a5a5a5a }

// FuzzHandleRequest feeds arbitrary frames to a real broker — network server, api.Handler,
// replica manager, a real log in a temporary directory, a real ZooKeeper and controller —
// through a TCP connection, then sends an ApiVersions request on the same connection. The
// broker must answer the fuzzed frame with one well-formed response (its correlation id, a body
// that decodes as that API's response at that version) or close the connection; only an acks=0
// Produce may get no answer. Then the ApiVersions answer must come, proving the connection is
// still in order, or the connection is closed. A panic anywhere in the broker fails the target.
// Waits are capped low (gregor.fetch.wait.max.ms, gregor.request.timeout.max.ms) so a fuzzed
// long poll answers fast; a hang fails after 20 s.
func FuzzHandleRequest(f *testing.F) {
	for _, fr := range seedFrames() {
		f.Add(fr)
	}
	zks := zktest.Start(f)
	cfg := testConfig(f, zks, 1, "/fuzz")
	cfg.AutoCreateTopicsEnable = false // a fuzzed Metadata would otherwise create a topic per input
	cfg.FetchWaitMaxMs = 20
	cfg.RequestTimeoutMaxMs = 2000
	cfg.MaxPartitionsPerTopic, cfg.MaxPartitionsPerRequest = 4, 8
	cfg.SocketRequestMaxBytes = 1 << 20
	cfg.QueuedMaxRequestBytes = 4 << 20
	logs := &tailBuffer{}
	logger := logrus.New()
	logger.SetOutput(logs)
	logger.SetLevel(logrus.WarnLevel)
	b, err := New(cfg, logger)
	if err != nil {
		f.Fatal(err)
	}
	if err := b.Start(ctxT(f, 60*time.Second)); err != nil {
		f.Fatalf("start: %v\n%s", err, logs)
	}
	f.Cleanup(func() { _ = b.Shutdown() })
	addr := b.Addr("PLAINTEXT").String()
	adm := adminOf(newClient(f, addr))
	if r, err := adm.CreateTopic(ctxT(f, 30*time.Second), 2, 1, nil, "t"); err != nil || r.Err != nil {
		f.Fatalf("create topic: %v %v", err, r.Err)
	}

	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) > int(cfg.SocketRequestMaxBytes) {
			return // the network refuses it before reading a byte (tested in broker/network)
		}
		var key, version int16 = -1, -1
		var corr int32 = -1
		if len(frame) >= 8 {
			key, version = int16(binary.BigEndian.Uint16(frame)), int16(binary.BigEndian.Uint16(frame[2:]))
			corr = int32(binary.BigEndian.Uint32(frame[4:]))
		}
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial: %v\n%s", err, logs)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
		sentinel := sentinelCorrelation(corr)
		av := kmsg.NewPtrApiVersionsRequest()
		av.SetVersion(0)
		out := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
		out = append(out, frame...)
		out = append(out, kmsg.NewRequestFormatter().AppendRequest(nil, av, sentinel)...)
		if _, err := nc.Write(out); err != nil && !closedErr(err) {
			t.Fatalf("write: %v", err)
		}
		br := bufio.NewReader(nc)

		gotCorr, body, err := readResponse(br)
		if closedErr(err) {
			return // the broker closed the connection: an allowed answer to anything
		}
		if err != nil {
			t.Fatalf("reading the answer to %s v%d: %v\n%s", kmsg.NameForKey(key), version, err, logs)
		}
		if gotCorr == corr && gotCorr != sentinel {
			if err := checkResponse(key, version, body); err != nil {
				t.Fatalf("ill-formed answer to %s v%d: %v", kmsg.NameForKey(key), version, err)
			}
			if gotCorr, body, err = readResponse(br); closedErr(err) {
				return
			} else if err != nil {
				t.Fatalf("reading the ApiVersions answer: %v\n%s", err, logs)
			}
		} else if key != 0 {
			t.Fatalf("%s v%d (correlation id %d) got no answer, and the connection stayed open (next answer: correlation id %d)",
				kmsg.NameForKey(key), version, corr, gotCorr)
		}
		if gotCorr != sentinel {
			t.Fatalf("answer with correlation id %d, want the ApiVersions request's %d", gotCorr, sentinel)
		}
		if err := checkResponse(18, 0, body); err != nil {
			t.Fatalf("ApiVersions answer: %v", err)
		}
	})
}

func closedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// readResponse reads one response frame: correlation id and the rest.
func readResponse(br *bufio.Reader) (int32, []byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(br, size[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 64<<20 {
		return 0, nil, fmt.Errorf("response size %d", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(br, buf); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(buf)), buf[4:], nil
}

// checkResponse decodes body as the response to key at version: the response header's tag
// buffer for flexible versions (never for ApiVersions), then exactly the body.
func checkResponse(key, version int16, body []byte) error {
	resp := kmsg.ResponseForKey(key)
	if resp == nil {
		return fmt.Errorf("a response to unknown key %d", key)
	}
	resp.SetVersion(version)
	if key == 18 && (version > 3 || version < 0) {
		resp.SetVersion(0) // ApiVersions outside ours is answered at v0
	}
	if resp.IsFlexible() && key != 18 {
		if len(body) == 0 || body[0] != 0 {
			return fmt.Errorf("response header tag buffer missing")
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		return err
	}
	// Decoding does not notice trailing bytes; encoding what was decoded must give the body back
	// (both sides are kmsg), so nothing is missing or extra.
	if again := resp.AppendTo(nil); !bytes.Equal(again, body) {
		return fmt.Errorf("the body (%d bytes) is not exactly one response (%d bytes re-encoded)", len(body), len(again))
	}
	return nil
}
