package api

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestValidateTopicName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		valid bool
	}{
		{"orders", true},
		{"Orders.v2_eu-west", true},
		{"a", true},
		{strings.Repeat("x", 249), true},
		{strings.Repeat("x", 250), false},
		{"", false},
		{".", false},
		{"..", false},
		{"...", true},
		{"has space", false},
		{"slash/name", false},
		{"ümlaut", false},
		{"tab\t", false},
		{"colon:x", false},
		{"__consumer_offsets", true},
	} {
		err := validateTopicName(tc.name)
		if tc.valid && err != nil {
			t.Errorf("%q: unexpected error %v", tc.name, err)
		}
		if !tc.valid {
			if err == nil {
				t.Errorf("%q: accepted", tc.name)
			} else if ErrorCode(err) != kerr.InvalidTopicException.Code {
				t.Errorf("%q: code %d, want INVALID_TOPIC_EXCEPTION", tc.name, ErrorCode(err))
			}
		}
	}
}

func TestTopicCollisions(t *testing.T) {
	for _, tc := range []struct {
		a, b     string
		collide  bool
		hasChars bool
	}{
		{"a.b", "a_b", true, true},
		{"a_b", "a.b", true, true},
		{"a.b", "a.b", false, true}, // the same name is "exists", not a collision
		{"a.b", "a-b", false, true},
		{"ab", "a_b", false, false},
		{"x.y_z", "x_y.z", true, true},
	} {
		if got := topicsCollide(tc.a, tc.b); got != tc.collide {
			t.Errorf("topicsCollide(%q, %q) = %v", tc.a, tc.b, got)
		}
		if got := hasCollisionChars(tc.a); got != tc.hasChars {
			t.Errorf("hasCollisionChars(%q) = %v", tc.a, got)
		}
	}
}

func TestInternalTopics(t *testing.T) {
	if !isInternalTopic("__consumer_offsets") || !isInternalTopic("__transaction_state") || isInternalTopic("__other") {
		t.Fatal("internal topic set wrong")
	}
}
