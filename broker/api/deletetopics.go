package api

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/network"
)

// deleteTopics runs on the controller broker, as Kafka's: mark each topic in
// /admin/delete_topics (already marked counts as success), then wait — on the metadata cache,
// bounded by the request timeout — until the controller's UpdateMetadata (leader -2) has
// removed every topic; topics still present then answer REQUEST_TIMED_OUT.
func (h *Handler) deleteTopics(ctx context.Context, r *network.Request, req *kmsg.DeleteTopicsRequest) *kmsg.DeleteTopicsResponse {
	resp := kmsg.NewPtrDeleteTopicsResponse()
	resp.SetVersion(r.Version)

	// Normalize v0–v5 names and v6 name-or-id entries, each requested topic answered once.
	type entry struct {
		name *string
		id   [16]byte
	}
	var entries []entry
	seenName, seenID := map[string]bool{}, map[[16]byte]bool{}
	bothSet := false
	if r.Version < 6 {
		for _, n := range req.TopicNames {
			if !seenName[n] {
				seenName[n] = true
				n := n
				entries = append(entries, entry{name: &n})
			}
		}
	} else {
		for _, t := range req.Topics {
			hasID := t.TopicID != ([16]byte{})
			if t.Topic != nil && hasID {
				bothSet = true
			}
			switch {
			case t.Topic != nil && !seenName[*t.Topic]:
				seenName[*t.Topic] = true
				n := *t.Topic
				entries = append(entries, entry{name: &n, id: t.TopicID})
			case t.Topic == nil && !seenID[t.TopicID]:
				seenID[t.TopicID] = true
				entries = append(entries, entry{id: t.TopicID})
			}
		}
	}
	resp.Topics = make([]kmsg.DeleteTopicsResponseTopic, len(entries))
	for i, e := range entries {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.TopicID = e.name, e.id
		resp.Topics[i] = rt
	}
	setErr := func(i int, err error) {
		resp.Topics[i].ErrorCode = ErrorCode(err)
		resp.Topics[i].ErrorMessage = errorMessage(err)
	}
	setAll := func(err error) *kmsg.DeleteTopicsResponse {
		for i := range resp.Topics {
			setErr(i, err)
		}
		return resp
	}
	switch {
	case !h.o.Controller.IsActive():
		return setAll(kerr.NotController)
	case !h.o.Config.DeleteTopicEnable:
		if r.Version < 3 {
			return setAll(kerr.InvalidRequest)
		}
		return setAll(kerr.TopicDeletionDisabled)
	case bothSet:
		return setAll(errorf(kerr.InvalidRequest, "Topic name and topic ID can not both be specified."))
	}

	snap := h.snapshot(ctx)
	var pending []int
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		if rt.Topic == nil {
			t, ok := snap.TopicByID(rt.TopicID)
			if !ok {
				setErr(i, kerr.UnknownTopicID)
				continue
			}
			name := t.Name
			rt.Topic = &name
		}
		t, ok := snap.Topic(*rt.Topic)
		if !ok {
			setErr(i, kerr.UnknownTopicOrPartition)
			continue
		}
		if r.Version >= 6 && rt.TopicID == ([16]byte{}) {
			rt.TopicID = t.ID
		}
		if err := h.o.ZK.MarkTopicForDeletion(*rt.Topic); err != nil {
			setErr(i, fmt.Errorf("mark topic %s for deletion: %w", *rt.Topic, err))
			continue
		}
		h.log.WithField("topic", *rt.Topic).Info("topic marked for deletion")
		pending = append(pending, i)
	}
	if len(pending) == 0 {
		return resp
	}
	gone := func(s *metadata.Snapshot) bool {
		for _, i := range pending {
			if _, ok := s.Topic(*resp.Topics[i].Topic); ok {
				return false
			}
		}
		return true
	}
	final := h.waitMetadata(ctx, req.TimeoutMillis, gone)
	for _, i := range pending {
		if _, ok := final.Topic(*resp.Topics[i].Topic); ok {
			setErr(i, kerr.RequestTimedOut)
		}
	}
	return resp
}
