// Package order is the tutorial's e-commerce event and its serializer: an order event encoded as
// JSON behind a one-byte schema version, so consumers can tell formats apart as the schema
// evolves, and a partitioner that keeps each customer's events in one partition (in order) while
// routing priority orders to a dedicated partition.
package order

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	kafka "github.com/segmentio/kafka-go"
)

// Event is one order event of the shop.
type Event struct {
	OrderID    string    `json:"order_id"`
	CustomerID string    `json:"customer_id"`
	Status     string    `json:"status"` // created, paid, shipped, delivered
	AmountCent int64     `json:"amount_cent"`
	Priority   bool      `json:"priority"`
	At         time.Time `json:"at"`
}

// SchemaV1 is the first byte of every value this serializer writes.
const SchemaV1 byte = 1

// ErrUnknownSchema reports a value written with a schema version this code does not know.
var ErrUnknownSchema = errors.New("unknown order schema version")

// Marshal serializes an event: the schema byte, then JSON.
func Marshal(e Event) ([]byte, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("marshal order %s: %w", e.OrderID, err)
	}
	return append([]byte{SchemaV1}, body...), nil
}

// Unmarshal reads what Marshal wrote.
func Unmarshal(b []byte) (Event, error) {
	var e Event
	if len(b) == 0 {
		return e, fmt.Errorf("%w: empty value", ErrUnknownSchema)
	}
	if b[0] != SchemaV1 {
		return e, fmt.Errorf("%w: %d", ErrUnknownSchema, b[0])
	}
	if err := json.Unmarshal(b[1:], &e); err != nil {
		return e, fmt.Errorf("unmarshal order: %w", err)
	}
	return e, nil
}

// Message turns an event into a Kafka message keyed by customer id.
func Message(e Event) (kafka.Message, error) {
	v, err := Marshal(e)
	if err != nil {
		return kafka.Message{}, err
	}
	m := kafka.Message{Key: []byte(e.CustomerID), Value: v, Time: e.At}
	if e.Priority {
		m.Headers = []kafka.Header{{Key: "priority", Value: []byte("true")}}
	}
	return m, nil
}

// Partitioner is a kafka-go Balancer: priority orders go to the last partition, reserved for
// them so a dedicated consumer can serve them first; every other order goes to a partition
// chosen by a hash of its key (the customer id) over the remaining partitions.
type Partitioner struct{}

func (Partitioner) Balance(m kafka.Message, partitions ...int) int {
	if len(partitions) == 1 {
		return partitions[0]
	}
	for _, h := range m.Headers {
		if h.Key == "priority" && string(h.Value) == "true" {
			return partitions[len(partitions)-1]
		}
	}
	f := fnv.New32a()
	f.Write(m.Key)
	return partitions[int(f.Sum32()%uint32(len(partitions)-1))]
}
