// Command consumer is the tutorial's consumer: it reads order events from one partition of the
// "orders" topic with kafka-go from the beginning and prints them decoded.
//
//	go run ./clients/examples/consumer -brokers 127.0.0.1:9092 -partition 0
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"strings"
	"time"

	kafka "github.com/segmentio/kafka-go"

	"github.com/gregor-broker/gregor/clients/examples/order"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "bootstrap brokers")
	topic := flag.String("topic", "orders", "topic")
	partition := flag.Int("partition", 0, "partition to read")
	idle := flag.Duration("idle", 3*time.Second, "stop after this long without a record")
	flag.Parse()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: strings.Split(*brokers, ","), Topic: *topic, Partition: *partition})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		log.Fatal(err)
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), *idle)
		m, err := r.ReadMessage(ctx)
		cancel()
		if err != nil {
			return // idle: nothing more to read
		}
		e, err := order.Unmarshal(m.Value)
		if err != nil {
			log.Printf("offset %d: %v", m.Offset, err)
			continue
		}
		fmt.Printf("partition %d offset %d: customer %s order %s %s %d cents\n", m.Partition, m.Offset, e.CustomerID, e.OrderID, e.Status, e.AmountCent)
	}
}
