package zkmeta

import (
	"bufio"
	"net"
	"time"

	"github.com/go-zookeeper/zk"
)

// readBufferSize holds many pipelined replies: a failover's state reads arrive 64 at a time, each
// around 150 bytes.
const readBufferSize = 64 << 10

// bufferedConn gives go-zookeeper's receive loop a buffered reader. It reads every reply as two
// unbuffered reads (length, then body), so a controller reading 10 000 states made 20 000 read
// system calls; buffered, a burst of replies costs one. Writes pass straight through: each
// request must leave when go-zookeeper writes it.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// buffered wraps a dialer's connections in bufferedConn; nil dials TCP as go-zookeeper does.
func buffered(d zk.Dialer) zk.Dialer {
	if d == nil {
		d = net.DialTimeout
	}
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		conn, err := d(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return &bufferedConn{Conn: conn, r: bufio.NewReaderSize(conn, readBufferSize)}, nil
	}
}
