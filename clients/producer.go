package clients

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

// ProduceOptions configure Produce.
type ProduceOptions struct {
	Brokers     []string
	Topic       string
	Partition   int               // -1: hash the key (kafka-go's Hash balancer), round-robin without keys
	KeySep      string            // "": whole line is the value; else "key<sep>value"
	Headers     map[string]string // added to every record
	Acks        int               // -1 all, 1 leader, 0 none
	Compression string            // none, gzip, snappy, lz4, zstd
}

// fixedPartition sends every record to one partition.
type fixedPartition int

func (p fixedPartition) Balance(_ kafka.Message, partitions ...int) int { return int(p) }

// Produce sends one record per input line and returns how many were acknowledged.
func Produce(ctx context.Context, o ProduceOptions, in io.Reader) (int, error) {
	w := &kafka.Writer{Addr: kafka.TCP(o.Brokers...), Topic: o.Topic, BatchTimeout: 10 * time.Millisecond,
		RequiredAcks: kafka.RequiredAcks(o.Acks), Balancer: &kafka.Hash{}, AllowAutoTopicCreation: true}
	if o.Partition >= 0 {
		w.Balancer = fixedPartition(o.Partition)
	}
	switch o.Compression {
	case "", "none":
	case "gzip":
		w.Compression = compress.Gzip
	case "snappy":
		w.Compression = compress.Snappy
	case "lz4":
		w.Compression = compress.Lz4
	case "zstd":
		w.Compression = compress.Zstd
	default:
		return 0, fmt.Errorf("unknown compression %q", o.Compression)
	}
	defer w.Close()
	var headers []kafka.Header
	for k, v := range o.Headers {
		headers = append(headers, kafka.Header{Key: k, Value: []byte(v)})
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	sent := 0
	var batch []kafka.Message
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		// A topic auto-created by this very write has no leader for a few milliseconds; kafka-go
		// does not retry that, so retry it here, as the Java producer does.
		err := w.WriteMessages(ctx, batch...)
		for backoff := 50 * time.Millisecond; err != nil && backoff < 5*time.Second &&
			(errors.Is(err, kafka.LeaderNotAvailable) || errors.Is(err, kafka.UnknownTopicOrPartition)); backoff *= 2 {
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return ctx.Err()
			}
			err = w.WriteMessages(ctx, batch...)
		}
		if err != nil {
			return err
		}
		sent += len(batch)
		batch = batch[:0]
		return nil
	}
	for sc.Scan() {
		line := sc.Text()
		m := kafka.Message{Value: []byte(line), Headers: headers}
		if o.KeySep != "" {
			if k, v, ok := strings.Cut(line, o.KeySep); ok {
				m.Key, m.Value = []byte(k), []byte(v)
			}
		}
		batch = append(batch, m)
		if len(batch) == 1000 {
			if err := flush(); err != nil {
				return sent, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return sent, err
	}
	return sent, flush()
}
