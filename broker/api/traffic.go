package api

import "github.com/gregor-broker/gregor/broker/metadata"

// countProduceFailed and countFetchFailed count a failed partition under its topic only when
// the cluster knows the topic: a client naming made-up topics must not create a series (and
// memory) per name. The all-topics count takes every failure.
func (h *Handler) countProduceFailed(snap *metadata.Snapshot, topic string) {
	if _, ok := snap.Topic(topic); ok {
		h.o.Traffic.ProduceFailed(topic)
	} else {
		h.o.Traffic.ProduceFailed("")
	}
}

func (h *Handler) countFetchFailed(snap *metadata.Snapshot, topic string) {
	if _, ok := snap.Topic(topic); ok {
		h.o.Traffic.FetchFailed(topic)
	} else {
		h.o.Traffic.FetchFailed("")
	}
}
