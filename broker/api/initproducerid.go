package api

import (
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/network"
)

// initProducerID serves idempotent producers only, as Kafka's TransactionCoordinator does for a
// null transactional id: every request gets a fresh producer id with epoch 0. Kafka ignores the
// producer id/epoch a v3+ client sends without a transactional id (KIP-360 epoch bumps of
// idempotent producers happen client-side), and so do we: a fresh id is always safe, the
// producer restarts its sequences at 0.
//
// Transactions are not supported: there is no transaction coordinator (and FindCoordinator is
// not served), so a transactional id answers COORDINATOR_NOT_AVAILABLE — what Kafka answers
// while no coordinator can serve the id — and the client reports it.
func (h *Handler) initProducerID(r *network.Request, req *kmsg.InitProducerIDRequest) *kmsg.InitProducerIDResponse {
	resp := kmsg.NewPtrInitProducerIDResponse()
	resp.SetVersion(r.Version)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	id, err := h.o.ProducerIDs.Next()
	if err != nil {
		h.reqLog(r).WithError(err).Warn("cannot allocate a producer id")
		resp.ErrorCode = ErrorCode(err)
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp
}

// ProducerIDs hands out producer ids from blocks of 1000 reserved in ZooKeeper
// (/latest_producer_id_block), as Kafka 2.8's ProducerIdManager: a block at startup (Init),
// the next one when it is used up.
type ProducerIDs struct {
	alloc func() (start, end int64, err error)

	mu   sync.Mutex // guards next, end; held across a block allocation (rare, once per 1000 ids)
	next int64      // next id to hand out
	end  int64      // last id of the current block; next > end = no ids left
}

// NewProducerIDs returns an allocator taking blocks from alloc (zkmeta.AllocateProducerIDBlock
// for this broker). It holds no block until Init or the first Next.
func NewProducerIDs(alloc func() (start, end int64, err error)) *ProducerIDs {
	return &ProducerIDs{alloc: alloc, next: 0, end: -1}
}

// Init reserves the first block, as a Kafka 2.8 broker does at startup.
func (p *ProducerIDs) Init() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.newBlock()
}

// Next returns an unused producer id.
func (p *ProducerIDs) Next() (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next > p.end {
		if err := p.newBlock(); err != nil {
			return -1, err
		}
	}
	id := p.next
	p.next++
	return id, nil
}

func (p *ProducerIDs) newBlock() error {
	start, end, err := p.alloc()
	if err != nil {
		return fmt.Errorf("allocate producer id block: %w", err)
	}
	if end < start {
		return fmt.Errorf("allocate producer id block: empty block %d..%d", start, end)
	}
	p.next, p.end = start, end
	return nil
}
