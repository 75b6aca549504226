package group

import (
	"errors"
	"fmt"
	"time"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/replica"
)

// appendLocked writes batch to the group's __consumer_offsets partition after the group's
// previous write has finished, so the log holds a group's records in the order its lock
// produced them (what a reload replays). done runs on the write goroutine, without g.mu, once
// the write is acknowledged with offsets.commit.required.acks or failed. Called with g.mu held;
// never blocks.
func (c *Coordinator) appendLocked(g *Group, batch []byte, done func(replica.ProduceResult)) {
	c.writeMu.Lock()
	if c.writesClosed {
		c.writeMu.Unlock()
		go done(replica.ProduceResult{BaseOffset: -1, Err: replica.ErrShutdown}) // done takes g.mu: not inline
		return
	}
	c.writers.Add(1)
	c.writeMu.Unlock()
	prev := g.lastWrite
	mine := make(chan struct{})
	g.lastWrite = mine
	tp := klog.TopicPartition{Topic: OffsetsTopic, Partition: g.partition}
	go func() { // owned by the coordinator: Shutdown cancels c.ctx and waits on c.writers
		defer c.writers.Done()
		defer close(mine)
		if prev != nil {
			select {
			case <-prev:
			case <-c.ctx.Done():
			}
		}
		done(c.produce(tp, batch))
	}()
}

// produce appends one batch through the replica manager and waits for its acknowledgement.
func (c *Coordinator) produce(tp klog.TopicPartition, batch []byte) replica.ProduceResult {
	if err := c.ctx.Err(); err != nil {
		return replica.ProduceResult{BaseOffset: -1, Err: replica.ErrShutdown}
	}
	timeout := time.Duration(c.o.Config.CommitTimeoutMs) * time.Millisecond
	res, ok := c.o.Replicas.Produce(c.ctx, c.o.Config.CommitRequiredAcks, timeout,
		map[klog.TopicPartition][]byte{tp: batch})[tp]
	if !ok {
		return replica.ProduceResult{BaseOffset: -1, Err: fmt.Errorf("no produce result for %s", tp)}
	}
	if res.Err == nil && c.ctx.Err() != nil {
		// Shut down while waiting: the write may or may not be replicated.
		res.Err = replica.ErrShutdown
	}
	return res
}

// storeError maps a failed group-metadata write to the coordinator's answer, as Kafka's
// GroupMetadataManager.storeGroup does.
func storeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, replica.ErrUnknownTopicOrPartition), errors.Is(err, replica.ErrNotEnoughReplicas),
		errors.Is(err, replica.ErrRequestTimedOut):
		return fmt.Errorf("%w: %v", ErrCoordinatorNotAvailable, err)
	case errors.Is(err, replica.ErrNotLeaderOrFollower), errors.Is(err, replica.ErrKafkaStorage),
		errors.Is(err, replica.ErrShutdown), errors.Is(err, klog.ErrLogClosed):
		return fmt.Errorf("%w: %v", ErrNotCoordinator, err)
	case errors.Is(err, klog.ErrMessageTooLarge), errors.Is(err, klog.ErrRecordBatchTooLarge):
		return fmt.Errorf("%w: %v", ErrUnknownServerError, err)
	}
	return err
}

// commitError maps a failed offset-commit write, as Kafka's storeOffsets does: too large is
// INVALID_COMMIT_OFFSET_SIZE there, and a timeout stays REQUEST_TIMED_OUT.
func commitError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, replica.ErrUnknownTopicOrPartition), errors.Is(err, replica.ErrNotEnoughReplicas):
		return fmt.Errorf("%w: %v", ErrCoordinatorNotAvailable, err)
	case errors.Is(err, replica.ErrNotLeaderOrFollower), errors.Is(err, replica.ErrKafkaStorage),
		errors.Is(err, replica.ErrShutdown), errors.Is(err, klog.ErrLogClosed):
		return fmt.Errorf("%w: %v", ErrNotCoordinator, err)
	case errors.Is(err, klog.ErrMessageTooLarge), errors.Is(err, klog.ErrRecordBatchTooLarge):
		return fmt.Errorf("%w: %v", ErrInvalidCommitOffsetSize, err)
	case errors.Is(err, replica.ErrRequestTimedOut):
		return fmt.Errorf("%w: %v", ErrRequestTimedOut, err)
	}
	return err
}
