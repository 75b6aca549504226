package config

import (
	"fmt"
	"strconv"
	"strings"
)

// ConfigSource is Kafka's DescribeConfigs source enum.
type ConfigSource int8

const (
	SourceUnknown              ConfigSource = 0
	SourceDynamicTopic         ConfigSource = 1
	SourceDynamicBroker        ConfigSource = 2
	SourceDynamicDefaultBroker ConfigSource = 3
	SourceStaticBroker         ConfigSource = 4
	SourceDefault              ConfigSource = 5
)

// Kafka's ConfigType enum (DescribeConfigs v3+).
const (
	TypeBoolean  int8 = 1
	TypeString   int8 = 2
	TypeInt      int8 = 3
	TypeShort    int8 = 4
	TypeLong     int8 = 5
	TypeDouble   int8 = 6
	TypeList     int8 = 7
	TypeClass    int8 = 8
	TypePassword int8 = 9
)

// ConfigEntry is one row of DescribeConfigs.
type ConfigEntry struct {
	Name, Value string
	Null        bool
	Source      ConfigSource
	ReadOnly    bool
	Sensitive   bool
	Type        int8
	Doc         string
	Synonyms    []Synonym
}

// Synonym is another name (and source) a config's value can come from.
type Synonym struct {
	Name, Value string
	Source      ConfigSource
}

// Error is a configuration error; its text names the file (when known), the key and the value.
type Error struct {
	File   string
	Key    string
	Value  string
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	b.WriteString(e.Key)
	if e.Value != "" {
		fmt.Fprintf(&b, ": %q", e.Value)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

func parseInt(v string, bits int, min int64) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, bits)
	if err != nil {
		return 0, fmt.Errorf("is not an integer")
	}
	if n < min {
		return 0, fmt.Errorf("must be at least %d", min)
	}
	return n, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("is not true or false")
}

func parseDouble(v string, min, max float64) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return 0, fmt.Errorf("is not a number")
	}
	if f < min || f > max {
		return 0, fmt.Errorf("must be between %g and %g", min, max)
	}
	return f, nil
}

func oneOf(v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
}
