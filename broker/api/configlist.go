package api

import "strings"

// Helpers for LIST-typed config values ("a,b,c"), used by IncrementalAlterConfigs.

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func joinList(l []string) string { return strings.Join(l, ",") }

// appendList adds the values of add not yet in l, keeping order (Kafka 3.x semantics).
func appendList(l, add []string) []string {
	out := append([]string(nil), l...)
	for _, v := range add {
		if !containsString(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// subtractList removes every value of sub from l.
func subtractList(l, sub []string) []string {
	var out []string
	for _, v := range l {
		if !containsString(sub, v) {
			out = append(out, v)
		}
	}
	return out
}

func containsString(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}
