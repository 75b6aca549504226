// Package clients is the client side of the gregor command line, on segmentio/kafka-go: a
// line-oriented producer and consumer in the spirit of kcat. The tutorial's standalone client
// programs live in clients/examples. It talks to brokers only through the Kafka protocol and
// must not import any broker package.
package clients
