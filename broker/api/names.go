package api

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// maxTopicNameLength is Kafka's limit: 255 minus room for a partition suffix and a deletion
// suffix in the directory name.
const maxTopicNameLength = 249

// Internal topic names (Kafka's Topic.INTERNAL_TOPICS).
const (
	consumerOffsetsTopic  = "__consumer_offsets"
	transactionStateTopic = "__transaction_state"
)

// adminClientID is the client id Kafka lets write internal topics (AdminUtils.AdminClientId).
const adminClientID = "__admin_client"

func isInternalTopic(name string) bool {
	return name == consumerOffsetsTopic || name == transactionStateTopic
}

// validateTopicName applies Kafka's Topic.validate: 1..249 characters of [a-zA-Z0-9._-], not "."
// or "..". The error is INVALID_TOPIC_EXCEPTION with Kafka's wording.
func validateTopicName(name string) error {
	switch {
	case name == "":
		return errorf(kerr.InvalidTopicException, "Topic name is illegal, it can't be empty")
	case name == "." || name == "..":
		return errorf(kerr.InvalidTopicException, "Topic name cannot be \".\" or \"..\"")
	case len(name) > maxTopicNameLength:
		return errorf(kerr.InvalidTopicException, "Topic name is illegal, it can't be longer than %d characters, topic name: %s",
			maxTopicNameLength, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return errorf(kerr.InvalidTopicException, "Topic name %q is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'", name)
		}
	}
	return nil
}

// hasCollisionChars reports whether name contains '.' or '_', the two characters metric names
// cannot tell apart.
func hasCollisionChars(name string) bool {
	return strings.ContainsAny(name, "._")
}

// topicsCollide reports whether two different names become equal when '.' is read as '_'.
func topicsCollide(a, b string) bool {
	return a != b && strings.ReplaceAll(a, ".", "_") == strings.ReplaceAll(b, ".", "_")
}
