package clients

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	kafka "github.com/segmentio/kafka-go"
)

// ConsumeOptions configure Consume.
type ConsumeOptions struct {
	Brokers    []string
	Topic      string
	Partitions []int  // empty: every partition of the topic
	Start      string // "beginning", "end", an offset, or "s@<unix ms>"
	Count      int    // stop after this many records (0: no limit)
	ExitAtEnd  bool   // stop at each partition's end offset as of the start (kcat -e)
	KeySep     string // "": print values; else key<sep>value
	Headers    bool   // print headers too
}

// Consume prints records from the chosen partitions to out and returns how many it printed.
func Consume(ctx context.Context, o ConsumeOptions, out io.Writer) (int, error) {
	if len(o.Brokers) == 0 {
		return 0, errors.New("no broker address")
	}
	parts := o.Partitions
	if len(parts) == 0 {
		conn, err := kafka.DialContext(ctx, "tcp", o.Brokers[0])
		if err != nil {
			return 0, err
		}
		ps, err := conn.ReadPartitions(o.Topic)
		conn.Close()
		if err != nil {
			return 0, fmt.Errorf("partitions of %s: %w", o.Topic, err)
		}
		for _, p := range ps {
			parts = append(parts, p.ID)
		}
		sort.Ints(parts)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex // guards printed and out
	printed := 0
	var wg sync.WaitGroup
	errs := make(chan error, len(parts))
	for _, p := range parts {
		wg.Add(1)
		go func(p int) { // owned by Consume: it waits on wg
			defer wg.Done()
			err := consumePartition(ctx, o, p, func(m kafka.Message) bool {
				mu.Lock()
				defer mu.Unlock()
				if o.Count > 0 && printed >= o.Count {
					cancel()
					return false
				}
				fmt.Fprintln(out, format(o, m))
				printed++
				if o.Count > 0 && printed >= o.Count {
					cancel()
					return false
				}
				return true
			})
			if err != nil && !errors.Is(err, context.Canceled) {
				errs <- err
			}
		}(p)
	}
	wg.Wait()
	close(errs)
	return printed, <-errs
}

func consumePartition(ctx context.Context, o ConsumeOptions, p int, emit func(kafka.Message) bool) error {
	end := int64(-1)
	if o.ExitAtEnd {
		conn, err := kafka.DialLeader(ctx, "tcp", o.Brokers[0], o.Topic, p)
		if err != nil {
			return err
		}
		end, err = conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			return err
		}
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: o.Brokers, Topic: o.Topic, Partition: p, MaxWait: 500 * time.Millisecond})
	defer r.Close()
	var err error
	switch {
	case o.Start == "" || o.Start == "end":
		err = r.SetOffset(kafka.LastOffset)
	case o.Start == "beginning":
		err = r.SetOffset(kafka.FirstOffset)
	case strings.HasPrefix(o.Start, "s@"):
		var ms int64
		if _, err = fmt.Sscanf(o.Start, "s@%d", &ms); err == nil {
			err = r.SetOffsetAt(ctx, time.UnixMilli(ms))
		}
	default:
		var off int64
		if _, err = fmt.Sscanf(o.Start, "%d", &off); err == nil {
			err = r.SetOffset(off)
		}
	}
	if err != nil {
		return fmt.Errorf("start %q: %w", o.Start, err)
	}
	for {
		if end >= 0 && r.Offset() >= end {
			return nil
		}
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return err
		}
		if !emit(m) {
			return nil
		}
		if end >= 0 && m.Offset+1 >= end {
			return nil
		}
	}
}

func format(o ConsumeOptions, m kafka.Message) string {
	var b strings.Builder
	if o.Headers && len(m.Headers) > 0 {
		for i, h := range m.Headers {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s=%s", h.Key, h.Value)
		}
		b.WriteByte('\t')
	}
	if o.KeySep != "" {
		b.Write(m.Key)
		b.WriteString(o.KeySep)
	}
	b.Write(m.Value)
	return b.String()
}
