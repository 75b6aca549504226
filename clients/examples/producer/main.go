// Command producer is the tutorial's producer: it writes order events to the "orders" topic
// with kafka-go, keyed by customer, acks=all, through the custom partitioner.
//
//	go run ./clients/examples/producer -brokers 127.0.0.1:9092 -n 100
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
	n := flag.Int("n", 10, "orders to send")
	flag.Parse()
	w := &kafka.Writer{Addr: kafka.TCP(strings.Split(*brokers, ",")...), Topic: *topic,
		RequiredAcks: kafka.RequireAll, Balancer: order.Partitioner{}, BatchTimeout: 10 * time.Millisecond}
	defer w.Close()
	customers := []string{"alice", "bob", "carol", "dave"}
	var msgs []kafka.Message
	for i := 0; i < *n; i++ {
		m, err := order.Message(order.Event{OrderID: fmt.Sprintf("o-%d", i), CustomerID: customers[i%len(customers)],
			Status: "created", AmountCent: int64(100 + i), Priority: i%10 == 0, At: time.Now()})
		if err != nil {
			log.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		log.Fatalf("write: %v", err)
	}
	fmt.Printf("sent %d orders to %s\n", *n, *topic)
}
