// Package clients is the client side of the gregor command line, on segmentio/kafka-go (and
// franz-go's kadm where kafka-go loses information, as dead replicas in metadata): a
// line-oriented producer and consumer in the spirit of kcat (the consumer optionally as a group
// member, kcat -G), topic administration, and the consumer-group administration behind
// `gregor groups` (list, describe with offsets and lag, delete, reset and delete offsets). The tutorial's standalone client
// programs live in clients/examples. It talks to brokers only through the Kafka protocol and
// must not import any broker package.
package clients
