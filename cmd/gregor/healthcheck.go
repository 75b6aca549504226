package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/interbroker"
	"github.com/gregor-broker/gregor/config"
)

func init() {
	register("healthcheck", "exit 0 if the broker of a config serves: gregor healthcheck --config /etc/gregor/broker.yaml", runHealthcheck)
}

// runHealthcheck is the container image's HEALTHCHECK: a broker is healthy when it answers
// ApiVersions and a Metadata request on its inter-broker listener and that Metadata lists the
// broker itself with a controller — it is registered in ZooKeeper and has the controller's
// UpdateMetadata. It reads the broker's own config (file and KAFKA_* variables, which a
// `docker exec`ed check inherits) to find the port, so it needs no flags in the image; the
// image has no shell, so the check cannot be a script.
func runHealthcheck(args []string) error {
	fs := newFlags("healthcheck", "gregor healthcheck (--config broker.yaml | -b host:port --broker-id N)")
	path := fs.String("config", "", "the broker's YAML config (with its KAFKA_* variables): which broker and port to check")
	addr := fs.String("bootstrap-server", "", "host:port to check instead of the config's inter-broker listener")
	fs.StringVar(addr, "b", "", "short for --bootstrap-server")
	id := fs.Int("broker-id", -1, "broker id that must be in the Metadata answer (default: the config's broker.id)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	want := int32(*id)
	if *path != "" {
		cfg, err := config.Load(*path, os.Environ())
		if err != nil {
			return err
		}
		if want < 0 {
			want = cfg.BrokerID
		}
		if *addr == "" {
			*addr, err = localAddr(cfg)
			if err != nil {
				return err
			}
		}
	}
	if *addr == "" {
		return usagef("--config or --bootstrap-server is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	msg, err := checkBroker(ctx, *addr, want)
	if err != nil {
		return fmt.Errorf("%s: %w", *addr, err)
	}
	fmt.Println(msg)
	return nil
}

// localAddr is the loopback address of the config's inter-broker listener (a wildcard or empty
// bind host is reached on 127.0.0.1 or ::1).
func localAddr(cfg *config.Broker) (string, error) {
	for _, l := range cfg.Listeners {
		if l.Name != cfg.InterBrokerListenerName {
			continue
		}
		host := l.Host
		switch ip := net.ParseIP(host); {
		case host == "" || (ip != nil && ip.IsUnspecified() && ip.To4() != nil):
			host = "127.0.0.1"
		case ip != nil && ip.IsUnspecified():
			host = "::1"
		}
		return net.JoinHostPort(host, strconv.Itoa(l.Port)), nil
	}
	return "", fmt.Errorf("no listener named %s (inter.broker.listener.name)", cfg.InterBrokerListenerName)
}

// checkBroker asks addr for ApiVersions and Metadata; want >= 0 must be among the live brokers.
func checkBroker(ctx context.Context, addr string, want int32) (string, error) {
	conn := interbroker.NewConn(want, addr, interbroker.Options{ClientID: "gregor-healthcheck", MaxResponseBytes: 16 << 20})
	defer conn.Close()
	av := kmsg.NewPtrApiVersionsRequest()
	av.SetVersion(0)
	r, err := conn.RoundTrip(ctx, av)
	if err != nil {
		return "", fmt.Errorf("ApiVersions: %w", err)
	}
	if code := r.(*kmsg.ApiVersionsResponse).ErrorCode; code != 0 {
		return "", fmt.Errorf("ApiVersions answered error %d", code)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(1)
	md.Topics = []kmsg.MetadataRequestTopic{} // none: brokers and controller only
	r, err = conn.RoundTrip(ctx, md)
	if err != nil {
		return "", fmt.Errorf("Metadata: %w", err)
	}
	resp := r.(*kmsg.MetadataResponse)
	if resp.ControllerID < 0 {
		return "", errors.New("no controller known yet")
	}
	if want >= 0 {
		found := false
		for _, b := range resp.Brokers {
			found = found || b.NodeID == want
		}
		if !found {
			return "", fmt.Errorf("broker %d is not among the live brokers yet", want)
		}
	}
	return fmt.Sprintf("healthy: %d live broker(s), controller %d", len(resp.Brokers), resp.ControllerID), nil
}
