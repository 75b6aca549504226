package zkmeta

import (
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// bulkInFlight is how many reads a bulk read keeps in flight over all its sessions:
// go-zookeeper pipelines concurrent requests on a connection, so reading many znodes costs
// round trips divided by this, not one round trip each (Kafka's KAFKA-5642 made the same move
// to asynchronous ZooKeeper reads).
const bulkInFlight = 64

// GetPartitionStates reads the state znodes of parts, bulkInFlight at a time, spread over the
// main session and the reader sessions (WithReaderSessions). states[i] is nil where parts[i] has
// no state znode or its read failed. A reader session first syncs, so it sees at least what
// the main session had seen when the call began; one whose sync fails is left out.
func (c *Client) GetPartitionStates(parts []PartitionRef) []*PartitionState {
	states := make([]*PartitionState, len(parts))
	if len(parts) == 0 {
		return states
	}
	conns := append([]*zk.Conn{c.conn}, c.syncedReaders()...)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(bulkInFlight, len(parts)); w++ {
		wg.Add(1)
		conn := conns[w%len(conns)]
		go func() { // owned by this call: it waits for them below
			defer wg.Done()
			for i := range next {
				if s, err := c.getPartitionState(conn, parts[i].Topic, parts[i].Partition); err == nil {
					states[i] = &s
				}
			}
		}()
	}
	for i := range parts {
		next <- i
	}
	close(next)
	wg.Wait()
	return states
}

// readerSyncWait bounds a reader session's sync. A reader connected to a server cut off from
// the ensemble would otherwise hold the bulk read until go-zookeeper gives the connection up
// (two thirds of the session timeout); past it, the main session reads alone.
const readerSyncWait = time.Second

// syncedReaders syncs the reader sessions at once and returns those whose sync succeeded within
// readerSyncWait.
func (c *Client) syncedReaders() []*zk.Conn {
	if len(c.readers) == 0 {
		return nil
	}
	done := make(chan *zk.Conn, len(c.readers)) // nil: that sync failed
	for _, r := range c.readers {
		// Ends when go-zookeeper answers the sync or fails it, at the latest when it gives
		// the connection up; nobody waits for a late one.
		go func() {
			if _, err := r.Sync(c.p(brokerTopicsPath)); err != nil {
				r = nil
			}
			done <- r
		}()
	}
	var synced []*zk.Conn
	deadline := time.NewTimer(readerSyncWait)
	defer deadline.Stop()
	for range c.readers {
		select {
		case r := <-done:
			if r != nil {
				synced = append(synced, r)
			}
		case <-deadline.C:
			return synced
		}
	}
	return synced
}
