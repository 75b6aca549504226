package group

import "encoding/binary"

// consumerProtocolType is the protocol type of Kafka consumers (KafkaConsumer, kafka-go,
// franz-go, librdkafka): their metadata is a ConsumerProtocolSubscription.
const consumerProtocolType = "consumer"

// maxSubscribedTopics bounds what one member's subscription may make the coordinator allocate.
const maxSubscribedTopics = 1 << 16

// subscriptionTopics reads the topic list at the head of a consumer subscription (version int16,
// then an array of strings; later versions only append fields, so any version >= 0 is read the
// same way, as Kafka's ConsumerProtocol does). ok is false for bytes that are not one.
func subscriptionTopics(b []byte) ([]string, bool) {
	if len(b) < 6 || int16(binary.BigEndian.Uint16(b)) < 0 {
		return nil, false
	}
	n := int32(binary.BigEndian.Uint32(b[2:]))
	b = b[6:]
	if n < 0 || n > maxSubscribedTopics || int(n)*2 > len(b) {
		return nil, false
	}
	topics := make([]string, 0, n)
	for i := int32(0); i < n; i++ {
		if len(b) < 2 {
			return nil, false
		}
		l := int16(binary.BigEndian.Uint16(b))
		if l < 0 || int(l)+2 > len(b) {
			return nil, false
		}
		topics = append(topics, string(b[2:2+int(l)]))
		b = b[2+int(l):]
	}
	return topics, true
}
