package checker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultReadTimeout bounds ReadAll when ctx carries no deadline of its own.
const DefaultReadTimeout = 60 * time.Second

// ReadAll reads every partition of the topics, from the log start to the high watermark
// current when it is called (ListOffsets through kadm), with a fresh franz-go consumer that
// belongs to no group and commits nothing. Records produced after the call are not included.
// It fails if ctx (or DefaultReadTimeout, when ctx has no deadline) ends before every
// partition has been read to its end, or if the consumer reports an error it cannot retry.
func ReadAll(ctx context.Context, bootstrap string, topics ...string) ([]Record, error) {
	if len(topics) == 0 {
		return nil, errors.New("checker.ReadAll: no topics")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultReadTimeout)
		defer cancel()
	}
	seeds := strings.Split(bootstrap, ",")
	admCl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return nil, fmt.Errorf("checker.ReadAll: admin client: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	starts, err := listOffsets(ctx, adm.ListStartOffsets, topics)
	if err != nil {
		return nil, fmt.Errorf("checker.ReadAll: log start offsets: %w", err)
	}
	ends, err := listOffsets(ctx, adm.ListEndOffsets, topics)
	if err != nil {
		return nil, fmt.Errorf("checker.ReadAll: high watermarks: %w", err)
	}

	// next is the offset the read of each partition has reached; end its goal.
	next, end := map[tpKey]int64{}, map[tpKey]int64{}
	consume := map[string]map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		k := tpKey{o.Topic, o.Partition}
		s, _ := starts.Lookup(o.Topic, o.Partition)
		end[k], next[k] = o.Offset, s.Offset
		if s.Offset < o.Offset {
			if consume[o.Topic] == nil {
				consume[o.Topic] = map[int32]kgo.Offset{}
			}
			consume[o.Topic][o.Partition] = kgo.NewOffset().At(s.Offset)
		}
	})
	var out []Record
	if len(consume) > 0 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(consume),
			kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
		if err != nil {
			return nil, fmt.Errorf("checker.ReadAll: consumer: %w", err)
		}
		defer cl.Close()
		for !caughtUp(next, end) {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return nil, fmt.Errorf("checker.ReadAll: %w before reading every partition to its high watermark: %s", ctx.Err(), progress(next, end))
			}
			for _, fe := range fs.Errors() {
				if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
					continue
				}
				return nil, fmt.Errorf("checker.ReadAll: fetch %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				k := tpKey{r.Topic, r.Partition}
				if r.Offset >= end[k] {
					return // produced after the call
				}
				out = append(out, FromKgo(r))
				if r.Offset+1 > next[k] {
					next[k] = r.Offset + 1
				}
			})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.Offset < b.Offset
	})
	return out, nil
}

// unknownTopicGrace is how long ReadAll waits for a topic it is told to read to appear in
// metadata (just created, metadata still propagating) before calling it missing.
const unknownTopicGrace = 10 * time.Second

// listOffsets retries retriable partition errors (a leader moving) until ctx ends: the
// checker runs right after faults, when leadership may still be settling.
func listOffsets(ctx context.Context, list func(context.Context, ...string) (kadm.ListedOffsets, error), topics []string) (kadm.ListedOffsets, error) {
	unknownUntil := time.Now().Add(unknownTopicGrace)
	for {
		l, err := list(ctx, topics...)
		if err == nil {
			err = l.Error()
		}
		if err == nil {
			for _, t := range topics {
				if len(l[t]) == 0 {
					return nil, fmt.Errorf("topic %s: no partitions listed", t)
				}
			}
			return l, nil
		}
		if !kerr.IsRetriable(err) || ctx.Err() != nil ||
			(errors.Is(err, kerr.UnknownTopicOrPartition) && time.Now().After(unknownUntil)) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond): // retry backoff, not synchronisation
		}
	}
}

func caughtUp(next, end map[tpKey]int64) bool {
	for k, e := range end {
		if next[k] < e {
			return false
		}
	}
	return true
}

func progress(next, end map[tpKey]int64) string {
	var parts []string
	for _, k := range sortedTPs(end) {
		if next[k] < end[k] {
			parts = append(parts, fmt.Sprintf("%s-%d at %d of %d", k.topic, k.partition, next[k], end[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// ReadBack is ReadAll once every partition's high watermark has reached the highest offset h
// saw acknowledged there (waiting at most settleTimeout, within ctx). Right after a leader
// change the new leader's high watermark can lag what the old one acknowledged until its
// followers have fetched in the new epoch (Kafka's too): reading at that moment would report
// acknowledged records as lost that a moment later are there. A record still missing after the
// wait is reported as lost by Check, as it should be.
func ReadBack(ctx context.Context, bootstrap string, h *History, topics ...string) ([]Record, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultReadTimeout)
		defer cancel()
	}
	want := h.ackedEnds(topics)
	if len(want) > 0 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...))
		if err != nil {
			return nil, fmt.Errorf("checker.ReadBack: admin client: %w", err)
		}
		adm := kadm.NewClient(cl)
		settle, cancel := context.WithTimeout(ctx, settleTimeout)
		for {
			ends, err := listOffsets(settle, adm.ListEndOffsets, topics)
			if err == nil && covers(ends, want) {
				break
			}
			select {
			case <-settle.Done():
			case <-time.After(50 * time.Millisecond): // polling the brokers' state, with a deadline
				continue
			}
			break
		}
		cancel()
		cl.Close()
	}
	return ReadAll(ctx, bootstrap, topics...)
}

// settleTimeout bounds ReadBack's wait for high watermarks to cover acknowledged offsets.
var settleTimeout = 30 * time.Second // a var: tests shorten it

func covers(ends kadm.ListedOffsets, want map[tpKey]int64) bool {
	for k, end := range want {
		o, ok := ends.Lookup(k.topic, k.partition)
		if !ok || o.Offset < end {
			return false
		}
	}
	return true
}
