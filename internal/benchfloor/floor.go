// Package benchfloor is the floor that scripts/bench.sh measures the broker against: a minimal
// Kafka server that answers the benchmark's client workload (ApiVersions, Metadata, InitProducerId,
// Produce, ListOffsets, Fetch) with framing only. Produce appends each partition's record bytes to
// a file with one write (stamping only the base offset, so consumers see offsets); Fetch sends
// the requested byte range of that file with sendfile. Nothing is validated, replicated, indexed
// on disk or made durable, and there are no metrics: whatever the broker spends above this is
// its own cost.
//
// It owns its listener, its connections and the files in its data directory, nothing else, and
// imports no Gregor package (kmsg does the message framing).
package benchfloor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Server is the floor. Create it with New, then Serve; Close stops it.
type Server struct {
	dir        string
	partitions int32
	host       string
	port       int32
	ln         net.Listener
	maxWait    time.Duration // the longest a fetch waits for data, whatever it asks

	mu     sync.Mutex // guards parts, nextPID, conns, closed
	parts  map[string][]*partition
	pid    int64
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// partition is one topic-partition's file and the in-memory position of every appended chunk.
type partition struct {
	mu    sync.Mutex // guards the fields below
	f     *os.File
	path  string
	size  int64
	next  int64   // next offset
	bases []int64 // base offset of each appended chunk
	poss  []int64 // file position of each chunk
	topic *notifier
}

// notifier wakes the long polls of a topic when any of its partitions is appended to.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

func (n *notifier) wake() {
	n.mu.Lock()
	close(n.ch)
	n.ch = make(chan struct{})
	n.mu.Unlock()
}

// New listens on addr and keeps its files in dir; every topic has partitions partitions.
func New(addr, dir string, partitions int32) (*Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	return &Server{dir: dir, partitions: partitions, host: host, port: int32(p), ln: ln, maxWait: 30 * time.Second,
		parts: map[string][]*partition{}, conns: map[net.Conn]struct{}{}}, nil
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve accepts connections until Close.
func (s *Server) Serve() error {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// Close stops accepting, closes every connection and waits for their goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ps := range s.parts {
		for _, p := range ps {
			p.f.Close()
		}
	}
	return err
}

func (s *Server) topic(name string) ([]*partition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ps, ok := s.parts[name]; ok {
		return ps, nil
	}
	ps := make([]*partition, s.partitions)
	nt := &notifier{ch: make(chan struct{})}
	for i := range ps {
		path := filepath.Join(s.dir, fmt.Sprintf("%s-%d.log", name, i))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		ps[i] = &partition{f: f, path: path, topic: nt}
	}
	s.parts[name] = ps
	return ps, nil
}

func (s *Server) part(topic string, p int32) *partition {
	ps, err := s.topic(topic)
	if err != nil || p < 0 || int(p) >= len(ps) {
		return nil
	}
	return ps[p]
}

// conn is one client connection; requests are answered one after another, in order.
type conn struct {
	s     *Server
	c     net.Conn
	out   []byte
	files map[*partition]*os.File // this connection's own descriptors, so seeks do not race
}

func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	cn := &conn{s: s, c: c, files: map[*partition]*os.File{}}
	defer func() {
		c.Close()
		for _, f := range cn.files {
			f.Close()
		}
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	var size [4]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(size[:]))
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		if err := cn.handle(buf); err != nil {
			return
		}
	}
}

// handle decodes one request frame and writes its response.
func (cn *conn) handle(frame []byte) error {
	if len(frame) < 10 {
		return errors.New("short frame")
	}
	key := int16(binary.BigEndian.Uint16(frame))
	version := int16(binary.BigEndian.Uint16(frame[2:]))
	corr := binary.BigEndian.Uint32(frame[4:])
	idLen := int(int16(binary.BigEndian.Uint16(frame[8:])))
	body := frame[10:]
	if idLen > 0 {
		if idLen > len(body) {
			return errors.New("bad client id")
		}
		body = body[idLen:]
	}
	req := kmsg.RequestForKey(key)
	if req == nil {
		return fmt.Errorf("unknown key %d", key)
	}
	req.SetVersion(version)
	flexible := req.IsFlexible()
	if flexible {
		var err error
		if body, err = skipTags(body); err != nil {
			return err
		}
	}
	if err := readFrom(req, body); err != nil {
		return err
	}
	out := append(cn.out[:0], 0, 0, 0, 0)
	out = binary.BigEndian.AppendUint32(out, corr)
	if flexible && key != 18 {
		out = append(out, 0)
	}
	var resp kmsg.Response
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		resp = cn.apiVersions(r)
	case *kmsg.MetadataRequest:
		resp = cn.metadata(r)
	case *kmsg.InitProducerIDRequest:
		resp = cn.initProducerID(r)
	case *kmsg.ListOffsetsRequest:
		resp = cn.listOffsets(r)
	case *kmsg.ProduceRequest:
		resp = cn.produce(r)
		if resp == nil {
			return nil // acks=0
		}
	case *kmsg.FetchRequest:
		return cn.fetch(r, out)
	default:
		return fmt.Errorf("unserved key %d", key)
	}
	resp.SetVersion(version)
	out = resp.AppendTo(out)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	cn.out = out
	_, err := cn.c.Write(out)
	return err
}

// readFrom decodes a request body, a codec panic on bad input an error (the connection closes).
func readFrom(req kmsg.Request, body []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decode: %v", p)
		}
	}()
	return req.ReadFrom(body)
}

func skipTags(b []byte) ([]byte, error) {
	n, l := binary.Uvarint(b)
	if l <= 0 {
		return nil, errors.New("bad tags")
	}
	b = b[l:]
	for i := uint64(0); i < n; i++ {
		_, l := binary.Uvarint(b)
		if l <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[l:]
		size, l := binary.Uvarint(b)
		if l <= 0 || uint64(len(b)-l) < size {
			return nil, errors.New("bad tag size")
		}
		b = b[l+int(size):]
	}
	return b, nil
}

var served = [][3]int16{{0, 3, 9}, {1, 4, 12}, {2, 1, 7}, {3, 0, 12}, {18, 0, 3}, {22, 0, 4}}

func (cn *conn) apiVersions(r *kmsg.ApiVersionsRequest) kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	for _, k := range served {
		ak := kmsg.NewApiVersionsResponseApiKey()
		ak.ApiKey, ak.MinVersion, ak.MaxVersion = k[0], k[1], k[2]
		resp.ApiKeys = append(resp.ApiKeys, ak)
	}
	return resp
}

func (cn *conn) metadata(r *kmsg.MetadataRequest) kmsg.Response {
	resp := kmsg.NewPtrMetadataResponse()
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = 1, cn.s.host, cn.s.port
	resp.Brokers = append(resp.Brokers, b)
	cid := "floor"
	resp.ClusterID = &cid
	resp.ControllerID = 1
	var names []string
	if r.Topics == nil {
		cn.s.mu.Lock()
		for n := range cn.s.parts {
			names = append(names, n)
		}
		cn.s.mu.Unlock()
		sort.Strings(names)
	}
	for _, t := range r.Topics {
		if t.Topic != nil {
			names = append(names, *t.Topic)
		}
	}
	for _, name := range names {
		if _, err := cn.s.topic(name); err != nil {
			continue
		}
		mt := kmsg.NewMetadataResponseTopic()
		n := name
		mt.Topic = &n
		for p := int32(0); p < cn.s.partitions; p++ {
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition, mp.Leader, mp.Replicas, mp.ISR = p, 1, []int32{1}, []int32{1}
			mt.Partitions = append(mt.Partitions, mp)
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return resp
}

func (cn *conn) initProducerID(r *kmsg.InitProducerIDRequest) kmsg.Response {
	resp := kmsg.NewPtrInitProducerIDResponse()
	cn.s.mu.Lock()
	cn.s.pid++
	resp.ProducerID = cn.s.pid
	cn.s.mu.Unlock()
	return resp
}

func (cn *conn) listOffsets(r *kmsg.ListOffsetsRequest) kmsg.Response {
	resp := kmsg.NewPtrListOffsetsResponse()
	for _, t := range r.Topics {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewListOffsetsResponseTopicPartition()
			rp.Partition = p.Partition
			pt := cn.s.part(t.Topic, p.Partition)
			if pt == nil {
				rp.ErrorCode = 3 // UNKNOWN_TOPIC_OR_PARTITION
			} else {
				pt.mu.Lock()
				rp.Offset = 0
				if p.Timestamp == -1 { // latest
					rp.Offset = pt.next
				}
				pt.mu.Unlock()
				rp.Timestamp = -1
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// produce stamps each batch's base offset and appends each partition's bytes with one write.
func (cn *conn) produce(r *kmsg.ProduceRequest) kmsg.Response {
	resp := kmsg.NewPtrProduceResponse()
	for _, t := range r.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			pt := cn.s.part(t.Topic, p.Partition)
			if pt == nil {
				rp.ErrorCode = 3
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			pt.mu.Lock()
			base := pt.next
			next := base
			for b := p.Records; len(b) >= 27; {
				binary.BigEndian.PutUint64(b, uint64(next))
				next += int64(int32(binary.BigEndian.Uint32(b[23:]))) + 1
				n := int(int32(binary.BigEndian.Uint32(b[8:]))) + 12
				if n <= 12 || n > len(b) {
					break
				}
				b = b[n:]
			}
			if _, err := pt.f.Write(p.Records); err != nil {
				rp.ErrorCode = 56 // KAFKA_STORAGE_ERROR
			} else {
				pt.bases = append(pt.bases, base)
				pt.poss = append(pt.poss, pt.size)
				pt.size += int64(len(p.Records))
				pt.next = next
			}
			pt.mu.Unlock()
			pt.topic.wake()
			rp.BaseOffset = base
			rp.LogAppendTime = -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if r.Acks == 0 {
		return nil
	}
	return resp
}

// section is the byte range of one partition's file a fetch sends.
type section struct {
	p       *partition
	pos, n  int64
	hw      int64
	errCode int16
}

// locate returns the byte range holding offset onwards, up to maxBytes of whole appended chunks
// (at least one).
func (p *partition) locate(offset int64, maxBytes int32) section {
	p.mu.Lock()
	defer p.mu.Unlock()
	sec := section{p: p, hw: p.next}
	if offset >= p.next {
		if offset > p.next {
			sec.errCode = 1 // OFFSET_OUT_OF_RANGE
		}
		return sec
	}
	// The chunk holding offset: the last whose base is <= offset.
	i := sort.Search(len(p.bases), func(i int) bool { return p.bases[i] > offset }) - 1
	if i < 0 {
		i = 0
	}
	sec.pos = p.poss[i]
	end := i + 1 // chunks [i, end) are sent: the first always, the next while they fit
	for end < len(p.poss) {
		chunkEnd := p.size
		if end+1 < len(p.poss) {
			chunkEnd = p.poss[end+1]
		}
		if chunkEnd-sec.pos > int64(maxBytes) {
			break
		}
		end++
	}
	if end < len(p.poss) {
		sec.n = p.poss[end] - sec.pos
	} else {
		sec.n = p.size - sec.pos
	}
	return sec
}

// fetch answers a Fetch request: the response's fixed parts from a small buffer, each
// partition's records with sendfile. A fetch with no data waits (up to MaxWaitMillis) for an
// append to any of its partitions.
func (cn *conn) fetch(r *kmsg.FetchRequest, out []byte) error {
	secs := make([][]section, len(r.Topics))
	wait := min(time.Duration(r.MaxWaitMillis)*time.Millisecond, cn.s.maxWait)
	deadline := time.Now().Add(wait)
	for {
		total := int64(0)
		var woken <-chan struct{} // the first topic's: the benchmark's consumers fetch one topic
		for ti, t := range r.Topics {
			secs[ti] = secs[ti][:0]
			for _, p := range t.Partitions {
				pt := cn.s.part(t.Topic, p.Partition)
				if pt == nil {
					secs[ti] = append(secs[ti], section{errCode: 3, hw: -1})
					continue
				}
				if woken == nil {
					woken = pt.topic.wait() // before locate: an append in between still wakes us
				}
				sec := pt.locate(p.FetchOffset, p.PartitionMaxBytes)
				total += sec.n
				secs[ti] = append(secs[ti], sec)
			}
		}
		left := time.Until(deadline)
		if total > 0 || r.MinBytes <= 0 || left <= 0 || woken == nil {
			break
		}
		t := time.NewTimer(left)
		select {
		case <-woken:
		case <-t.C:
		}
		t.Stop()
	}
	v := r.Version
	flex := v >= 12
	out = binary.BigEndian.AppendUint32(out, 0) // throttle
	if v >= 7 {
		out = binary.BigEndian.AppendUint16(out, 0)
		out = binary.BigEndian.AppendUint32(out, 0)
	}
	out = appendArrayLen(out, len(r.Topics), flex)
	type piece struct {
		at  int // position in out where the section's bytes go
		sec *section
	}
	var pieces []piece
	var fileBytes int64
	for ti, t := range r.Topics {
		out = appendString(out, t.Topic, flex)
		out = appendArrayLen(out, len(t.Partitions), flex)
		for pi, p := range t.Partitions {
			sec := &secs[ti][pi]
			out = binary.BigEndian.AppendUint32(out, uint32(p.Partition))
			out = binary.BigEndian.AppendUint16(out, uint16(sec.errCode))
			out = binary.BigEndian.AppendUint64(out, uint64(sec.hw)) // high watermark
			out = binary.BigEndian.AppendUint64(out, uint64(sec.hw)) // last stable offset
			if v >= 5 {
				out = binary.BigEndian.AppendUint64(out, 0) // log start offset
			}
			out = appendArrayLen(out, 0, flex) // aborted transactions
			if v >= 11 {
				out = binary.BigEndian.AppendUint32(out, 0xffffffff) // preferred read replica
			}
			if flex {
				out = binary.AppendUvarint(out, uint64(sec.n)+1)
			} else {
				out = binary.BigEndian.AppendUint32(out, uint32(sec.n))
			}
			if sec.n > 0 {
				pieces = append(pieces, piece{len(out), sec})
				fileBytes += sec.n
			}
			if flex {
				out = append(out, 0)
			}
		}
		if flex {
			out = append(out, 0)
		}
	}
	if flex {
		out = append(out, 0)
	}
	binary.BigEndian.PutUint32(out, uint32(int64(len(out)-4)+fileBytes))
	cn.out = out
	from := 0
	for _, pc := range pieces {
		if _, err := cn.c.Write(out[from:pc.at]); err != nil {
			return err
		}
		if err := cn.send(pc.sec); err != nil {
			return err
		}
		from = pc.at
	}
	_, err := cn.c.Write(out[from:])
	return err
}

func (cn *conn) send(sec *section) error {
	f, ok := cn.files[sec.p]
	if !ok {
		var err error
		if f, err = os.Open(sec.p.path); err != nil {
			return err
		}
		cn.files[sec.p] = f
	}
	if _, err := f.Seek(sec.pos, io.SeekStart); err != nil {
		return err
	}
	rf, ok := cn.c.(io.ReaderFrom)
	if !ok {
		_, err := io.Copy(cn.c, io.LimitReader(f, sec.n))
		return err
	}
	n, err := rf.ReadFrom(&io.LimitedReader{R: f, N: sec.n})
	if err == nil && n != sec.n {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func appendArrayLen(b []byte, n int, flex bool) []byte {
	if flex {
		return binary.AppendUvarint(b, uint64(n)+1)
	}
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

func appendString(b []byte, s string, flex bool) []byte {
	if flex {
		b = binary.AppendUvarint(b, uint64(len(s))+1)
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	}
	return append(b, s...)
}
