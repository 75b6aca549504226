// Command consumer is the tutorial's consumer: it subscribes to the "orders" topic as a member
// of a consumer group with kafka-go, polls order events, prints them decoded and commits each
// one after it is processed — so a restarted consumer (or another member taking over its
// partitions) continues right after the last order processed. Start several to share the
// partitions; stop one and the others take its partitions over.
//
//	go run ./clients/examples/consumer -brokers 127.0.0.1:9092 -group orders-app
//
// A new group starts at the beginning of each partition; -max stops after that many orders. To seek — read again from the start,
// or from a point in time — stop the group's consumers and move its committed offsets:
//
//	bin/gregor groups reset-offsets --bootstrap-server 127.0.0.1:9092 --group orders-app --topic orders --to-earliest --execute
//
// With -group "" it reads one -partition from the beginning without a group, committing nothing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os/signal"
	"strings"
	"syscall"
	"time"

	kafka "github.com/segmentio/kafka-go"

	"github.com/gregor-broker/gregor/clients/examples/order"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "bootstrap brokers")
	topic := flag.String("topic", "orders", "topic")
	group := flag.String("group", "orders-app", "consumer group (empty: read one partition without a group)")
	partition := flag.Int("partition", 0, "partition to read when -group is empty")
	idle := flag.Duration("idle", 10*time.Second, "stop after this long without a record")
	maxRecords := flag.Int("max", 0, "stop after this many records (0: no limit)")
	flag.Parse()
	// A short long-poll wait lets Close (which leaves the group) return quickly; a short join
	// backoff matters on a fresh cluster, whose first group request creates __consumer_offsets.
	cfg := kafka.ReaderConfig{Brokers: strings.Split(*brokers, ","), Topic: *topic,
		MaxWait: time.Second, JoinGroupBackoff: time.Second}
	if *group != "" {
		cfg.GroupID, cfg.StartOffset = *group, kafka.FirstOffset
	} else {
		cfg.Partition = *partition
	}
	r := kafka.NewReader(cfg)
	defer r.Close() // a group member leaves the group: its partitions move at once
	if *group == "" {
		if err := r.SetOffset(kafka.FirstOffset); err != nil {
			log.Fatal(err)
		}
	}
	stop, cancelSignals := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancelSignals()
	for n := 0; *maxRecords == 0 || n < *maxRecords; n++ {
		ctx, cancel := context.WithTimeout(stop, *idle)
		m, err := r.FetchMessage(ctx) // poll
		cancel()
		var ke kafka.Error
		if errors.As(err, &ke) && ke.Temporary() {
			// The reader retries by itself; a fresh cluster answers COORDINATOR_NOT_AVAILABLE
			// while it creates __consumer_offsets for the first group.
			log.Printf("retrying: %v", err)
			n--
			continue
		}
		if err != nil {
			return // idle or interrupted
		}
		e, err := order.Unmarshal(m.Value)
		if err != nil {
			log.Printf("offset %d: %v", m.Offset, err)
		} else {
			fmt.Printf("partition %d offset %d: customer %s order %s %s %d cents\n", m.Partition, m.Offset, e.CustomerID, e.OrderID, e.Status, e.AmountCent)
		}
		if *group != "" {
			// Commit after processing: at-least-once. The committed offset is the next one to read.
			if err := r.CommitMessages(stop, m); err != nil {
				log.Printf("commit offset %d: %v", m.Offset+1, err)
			}
		}
	}
}
