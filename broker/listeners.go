package broker

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/zkmeta"
)

// advertisedEndpoints is what the registration znode publishes: advertised.listeners (or
// listeners), with a wildcard or empty host replaced by the machine's hostname, as Kafka does,
// and port 0 replaced by the port the listener actually bound (tests listen on port 0).
func (b *Broker) advertisedEndpoints() ([]zkmeta.Endpoint, error) {
	adv := b.cfg.AdvertisedListeners
	if len(adv) == 0 {
		adv = b.cfg.Listeners
	}
	var out []zkmeta.Endpoint
	for _, l := range adv {
		host, port := l.Host, l.Port
		if host == "" || host == "0.0.0.0" || host == "::" {
			h, err := os.Hostname()
			if err != nil {
				return nil, fmt.Errorf("advertised listener %s: no host and no hostname: %w", l.Name, err)
			}
			host = h
		}
		if port == 0 {
			addr, ok := b.server.Addr(l.Name).(*net.TCPAddr)
			if !ok {
				return nil, fmt.Errorf("advertised listener %s has port 0 and no listener of that name is bound", l.Name)
			}
			port = addr.Port
		}
		out = append(out, zkmeta.Endpoint{Listener: l.Name, Host: host, Port: port, SecurityProtocol: b.securityProtocol(l.Name)})
	}
	return out, nil
}

// securityProtocol maps a listener name through listener.security.protocol.map; a listener
// named after a protocol (PLAINTEXT, SSL, ...) defaults to it, anything else to PLAINTEXT.
func (b *Broker) securityProtocol(listener string) string {
	if p, ok := b.cfg.ListenerSecurityProtocolMap[listener]; ok && p != "" {
		return p
	}
	if metadata.SecurityProtocolID(listener) >= 0 {
		return listener
	}
	return "PLAINTEXT"
}

// interBrokerListener is inter.broker.listener.name, else the first listener's name.
func (b *Broker) interBrokerListener() string {
	if b.cfg.InterBrokerListenerName != "" {
		return b.cfg.InterBrokerListenerName
	}
	return b.cfg.Listeners[0].Name
}

// controllerEndpoint is the active controller's id and inter-broker address as the metadata
// cache knows them (UpdateMetadata carries both), for the replica manager's AlterIsr.
func (b *Broker) controllerEndpoint() (int32, string, bool) {
	snap := b.cache.Snapshot()
	if snap.ControllerID < 0 {
		return -1, "", false
	}
	br, ok := snap.Broker(snap.ControllerID)
	if !ok {
		return -1, "", false
	}
	e, ok := br.Endpoint(b.interBrokerListener())
	if !ok {
		return -1, "", false
	}
	return snap.ControllerID, net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port))), true
}

// rackOf is a live broker's broker.rack as the metadata cache knows it ("" if none or unknown).
func (b *Broker) rackOf(id int32) string {
	if br, ok := b.cache.Snapshot().Broker(id); ok && br.Rack != nil {
		return *br.Rack
	}
	return ""
}
