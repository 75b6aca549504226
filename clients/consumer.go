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
	// Group consumes as a member of this consumer group (kcat -G): the group assigns the
	// partitions, Start only applies where the group has no committed offset, and each record
	// is committed once printed.
	Group string
}

// Consume prints records from the chosen partitions to out and returns how many it printed.
func Consume(ctx context.Context, o ConsumeOptions, out io.Writer) (int, error) {
	if len(o.Brokers) == 0 {
		return 0, errors.New("no broker address")
	}
	if o.Group != "" {
		return consumeGroup(ctx, o, out)
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
	end, first := int64(-1), int64(-1)
	if o.ExitAtEnd {
		conn, err := kafka.DialLeader(ctx, "tcp", o.Brokers[0], o.Topic, p)
		if err != nil {
			return err
		}
		first, end, err = conn.ReadOffsets()
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
		if end >= 0 {
			// A concrete offset, not kafka.LastOffset: the reader reports a symbolic one as its
			// Offset() until it has read something, so an empty partition would never be "at
			// its end".
			err = r.SetOffset(end)
		} else {
			err = r.SetOffset(kafka.LastOffset)
		}
	case o.Start == "beginning":
		if first >= 0 {
			err = r.SetOffset(first)
		} else {
			err = r.SetOffset(kafka.FirstOffset)
		}
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

// consumeGroup reads as a group member: kafka-go's Reader{GroupID}, each record committed
// (CommitMessages) after it is printed, so a restarted consumer resumes after the last record
// it printed. Closing the reader leaves the group.
func consumeGroup(ctx context.Context, o ConsumeOptions, out io.Writer) (int, error) {
	if o.ExitAtEnd || len(o.Partitions) > 0 {
		return 0, errors.New("a group member is assigned its partitions: -e and -p do not apply with a group")
	}
	start := kafka.LastOffset
	switch o.Start {
	case "", "end":
	case "beginning":
		start = kafka.FirstOffset
	default:
		return 0, fmt.Errorf("with a group, -o is beginning or end (where a partition without a committed offset starts), not %q", o.Start)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: o.Brokers, GroupID: o.Group, Topic: o.Topic,
		StartOffset: start, MaxWait: 500 * time.Millisecond, JoinGroupBackoff: time.Second})
	defer r.Close()
	printed := 0
	for o.Count == 0 || printed < o.Count {
		m, err := r.FetchMessage(ctx)
		if retriable(ctx, err) {
			// The reader retries on its own (a fresh cluster answers COORDINATOR_NOT_AVAILABLE
			// while __consumer_offsets is being created); it only tells us about it.
			continue
		}
		if err != nil {
			return printed, err
		}
		fmt.Fprintln(out, format(o, m))
		printed++
		if err := r.CommitMessages(ctx, m); err != nil {
			return printed, fmt.Errorf("commit %s-%d at %d: %w", m.Topic, m.Partition, m.Offset+1, err)
		}
	}
	return printed, nil
}

// retriable reports whether a group reader's error is a temporary Kafka error worth waiting
// out (the reader keeps trying by itself).
func retriable(ctx context.Context, err error) bool {
	var ke kafka.Error
	return err != nil && ctx.Err() == nil && errors.As(err, &ke) && ke.Temporary()
}
