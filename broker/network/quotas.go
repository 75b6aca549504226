package network

import (
	"fmt"
	"net"
	"net/netip"
)

// Reasons a connection is refused or closed by a limit, as the metrics label them: the Kafka
// config that set the limit.
const (
	limitMaxConnections      = "max.connections"
	limitMaxConnectionsPerIP = "max.connections.per.ip"
	limitIdle                = "connections.max.idle.ms"
	limitRequestSize         = "socket.request.max.bytes"
)

// connQuotas is Kafka's ConnectionQuotas for max.connections and max.connections.per.ip (with
// its overrides): counts of open connections, broker-wide and per client address. It is guarded
// by Server.mu (a leaf lock), checked and updated when a connection is accepted and closed.
//
// A connection over a limit is accepted and closed at once, as Kafka does: the client sees the
// connection close, not a hang in connect. Kafka's protected listener (KIP-402) is kept: when
// there are several listeners, connections on the inter-broker listener are not refused for
// max.connections (a flood of clients must not cut brokers off from each other); Kafka would
// also close an older client connection to make room, which Gregor does not do.
type connQuotas struct {
	max       int                // max.connections; <= 0 unbounded
	perIP     int                // max.connections.per.ip; -1 = none allowed, 0 = unbounded
	overrides map[netip.Addr]int // max.connections.per.ip.overrides, resolved
	protected string             // the listener exempt from max.connections ("" = none)
	total     int                // open connections, every listener
	byIP      map[netip.Addr]int // open connections per client address
}

// newConnQuotas resolves the overrides' host names (Kafka resolves them with
// InetAddress.getByName) and returns the quotas.
func newConnQuotas(o Options) (*connQuotas, error) {
	q := &connQuotas{max: o.MaxConnections, perIP: o.MaxConnectionsPerIP,
		overrides: map[netip.Addr]int{}, byIP: map[netip.Addr]int{}}
	if len(o.Listeners) > 1 {
		q.protected = o.ProtectedListener
	}
	for host, n := range o.MaxConnectionsPerIPOverrides {
		if n < 0 {
			return nil, fmt.Errorf("max.connections.per.ip.overrides: %s: negative limit %d", host, n)
		}
		if a, err := netip.ParseAddr(host); err == nil {
			q.overrides[a.Unmap()] = n
			continue
		}
		ips, err := net.LookupIP(host)
		if err != nil {
			return nil, fmt.Errorf("max.connections.per.ip.overrides: cannot resolve %s: %w", host, err)
		}
		for _, ip := range ips {
			if a, ok := netip.AddrFromSlice(ip); ok {
				q.overrides[a.Unmap()] = n
			}
		}
	}
	if q.perIP < 0 && len(q.overrides) == 0 {
		return nil, fmt.Errorf("max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides is set")
	}
	return q, nil
}

// limitFor is the per-address limit of a; ok false = unbounded.
func (q *connQuotas) limitFor(a netip.Addr) (int, bool) {
	if n, ok := q.overrides[a]; ok {
		return n, true
	}
	switch {
	case q.perIP < 0:
		return 0, true
	case q.perIP == 0:
		return 0, false
	}
	return q.perIP, true
}

// admit counts a new connection from a on listener, or returns the limit (its Kafka name) that
// refuses it. Caller holds Server.mu.
func (q *connQuotas) admit(listener string, a netip.Addr) (refusedBy string, limit int) {
	if n, bounded := q.limitFor(a); bounded && q.byIP[a] >= n {
		return limitMaxConnectionsPerIP, n
	}
	if q.max > 0 && q.total >= q.max && listener != q.protected {
		return limitMaxConnections, q.max
	}
	q.total++
	q.byIP[a]++
	return "", 0
}

// release forgets a connection admit counted. Caller holds Server.mu.
func (q *connQuotas) release(a netip.Addr) {
	q.total--
	if q.byIP[a]--; q.byIP[a] <= 0 {
		delete(q.byIP, a)
	}
}

// remoteAddr is the client address of nc, zero if it is not an IP address (unix sockets in tests).
func remoteAddr(nc net.Conn) netip.Addr {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}
