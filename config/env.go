package config

import (
	"errors"
	"strings"
)

// envIgnored are KAFKA_* variables that the common Kafka container images read for the JVM, JMX
// or log4j rather than for server.properties: a compose file or `docker run -e` written for
// those images may set them, and they mean nothing to Gregor.
var envIgnored = map[string]bool{"KAFKA_HEAP_OPTS": true, "KAFKA_OPTS": true, "KAFKA_JMX_OPTS": true,
	"KAFKA_LOG4J_OPTS": true, "KAFKA_JVM_PERFORMANCE_OPTS": true, "KAFKA_GC_LOG_OPTS": true,
	"KAFKA_DEBUG": true, "KAFKA_VERSION": true, "KAFKA_HOME": true,
	"KAFKA_JMX_PORT": true, "KAFKA_JMX_HOSTNAME": true, "KAFKA_LOG4J_ROOT_LOGLEVEL": true,
	"KAFKA_LOG4J_LOGGERS": true, "KAFKA_TOOLS_LOG4J_LOGLEVEL": true}

// envPrefixes are the prefixes of configuration variables: KAFKA_ as the Apache and Confluent
// images use it, KAFKA_CFG_ as the Bitnami image does. The longer one is tried first.
var envPrefixes = []string{"KAFKA_CFG_", "KAFKA_"}

// EnvName is the variable that sets broker config key: "." becomes "_" and "_" becomes "___",
// upper-cased, after KAFKA_ (log.dirs → KAFKA_LOG_DIRS), the common Kafka images' convention.
func EnvName(key string) string {
	v := strings.ReplaceAll(key, "_", "___")
	v = strings.ReplaceAll(v, ".", "_")
	return "KAFKA_" + strings.ToUpper(v)
}

// envKey is the config key a variable name sets, without its prefix ("" when name is not a
// configuration variable).
func envKey(name string) string {
	if envIgnored[name] {
		return ""
	}
	for _, p := range envPrefixes {
		if rest, ok := strings.CutPrefix(name, p); ok && rest != "" {
			key := strings.ToLower(rest)
			key = strings.ReplaceAll(key, "___", "\x00")
			key = strings.ReplaceAll(key, "_", ".")
			return strings.ReplaceAll(key, "\x00", "_")
		}
	}
	return ""
}

// applyEnv applies the KAFKA_* variables of environ over the file's values and returns which
// variable set each key, so that an error about the key can name the variable. A variable that
// names no key, or two variables that set one key to different values, fail.
func applyEnv(values map[string]string, sources map[string]ConfigSource, environ []string) (map[string]string, error) {
	names := map[string]string{}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "KAFKA_") {
			continue
		}
		key := envKey(name)
		if key == "" {
			continue
		}
		if keyIndex[key] == nil {
			return nil, &Error{File: "environment", Key: name, Reason: "does not name a broker config key (" + key + ")" + suggest(key)}
		}
		if prev, dup := names[key]; dup && values[key] != value {
			return nil, &Error{File: "environment", Key: name, Value: value,
				Reason: "sets " + key + " as " + prev + " does, to a different value (" + values[key] + ")"}
		}
		values[key], sources[key], names[key] = value, SourceStaticBroker, name
	}
	return names, nil
}

// blameEnv rewrites an error about a key that a variable set so that it names the variable:
// the file is not where the bad value came from.
func blameEnv(err error, names map[string]string) error {
	var ce *Error
	if err == nil || !errors.As(err, &ce) {
		return err
	}
	if name, ok := names[ce.Key]; ok {
		out := *ce
		out.File, out.Key = "environment", name+" ("+ce.Key+")"
		return &out
	}
	return err
}
