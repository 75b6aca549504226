package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Listener is one `NAME://host:port` entry of listeners or advertised.listeners.
type Listener struct {
	Name string // listener name, e.g. PLAINTEXT or INTERNAL
	Host string // "" binds every interface
	Port int
}

func (l Listener) String() string {
	return l.Name + "://" + net.JoinHostPort(l.Host, strconv.Itoa(l.Port))
}

// Addr is host:port for net.Listen.
func (l Listener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

// ParseListeners parses a comma-separated list such as "PLAINTEXT://0.0.0.0:9092,INTERNAL://:9093".
func ParseListeners(s string) ([]Listener, error) {
	var out []Listener
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, rest, ok := strings.Cut(part, "://")
		if !ok || name == "" {
			return nil, fmt.Errorf("%q is not NAME://host:port", part)
		}
		host, portText, err := net.SplitHostPort(rest)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", part, err)
		}
		port, err := strconv.Atoi(portText)
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("%q: port %q is not in 0..65535", part, portText)
		}
		name = strings.ToUpper(name)
		if seen[name] {
			return nil, fmt.Errorf("listener name %s appears twice", name)
		}
		seen[name] = true
		out = append(out, Listener{Name: name, Host: host, Port: port})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no listener in %q", s)
	}
	return out, nil
}

func formatListeners(ls []Listener) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.String()
	}
	return strings.Join(parts, ",")
}

func parseProtocolMap(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("%q is not LISTENER:PROTOCOL", part)
		}
		v = strings.ToUpper(strings.TrimSpace(v))
		switch v {
		case "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL":
		default:
			return nil, fmt.Errorf("unknown security protocol %q", v)
		}
		out[strings.ToUpper(strings.TrimSpace(k))] = v
	}
	return out, nil
}
