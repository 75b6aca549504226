package replica

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// KIP-227's session id of "none" and the epoch of a full fetch asking for a session.
const (
	noSession           = 0
	sessionInitialEpoch = 0
)

// fetchSession is a fetcher's incremental fetch session with its leader (KIP-227), kept as
// Kafka's FetchSessionHandler keeps it: a full fetch at epoch 0 asks for a session; while the
// leader holds one, each fetch names only the partitions whose fetch position changed and
// forgets those no longer fetched, and the leader answers only partitions with news — an idle
// follower of thousands of partitions sends and receives near-empty fetches. Any failure starts
// over with a full fetch. Owned by the fetcher goroutine.
type fetchSession struct {
	id    int32 // 0: none
	epoch int32 // the epoch of the next fetch: 0 = full
	// sent is each partition as the leader's session holds it: what was last sent for it.
	sent map[klog.TopicPartition]sentPartition
}

// sentPartition is what a fetch said of one partition.
type sentPartition struct {
	offset, logStart              int64
	leaderEpoch, lastFetchedEpoch int32
	maxBytes                      int32
}

func sentOf(p *kmsg.FetchRequestTopicPartition) sentPartition {
	return sentPartition{offset: p.FetchOffset, logStart: p.LogStartOffset, leaderEpoch: p.CurrentLeaderEpoch,
		lastFetchedEpoch: p.LastFetchedEpoch, maxBytes: p.PartitionMaxBytes}
}

// answered takes in a successful answer to req.
func (s *fetchSession) answered(req *kmsg.FetchRequest, r *kmsg.FetchResponse) {
	if req.SessionEpoch == sessionInitialEpoch {
		if r.SessionID == noSession { // the leader keeps none for us: full fetches
			s.reset()
			return
		}
		s.id, s.epoch, s.sent = r.SessionID, 1, map[klog.TopicPartition]sentPartition{}
	} else {
		s.epoch = nextSessionEpoch(s.epoch)
		for _, ft := range req.ForgottenTopics {
			for _, p := range ft.Partitions {
				delete(s.sent, klog.TopicPartition{Topic: ft.Topic, Partition: p})
			}
		}
	}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			s.sent[klog.TopicPartition{Topic: t.Topic, Partition: p.Partition}] = sentOf(&p)
		}
	}
}

func (s *fetchSession) reset() { *s = fetchSession{} }

// nextSessionEpoch follows e, past the largest back to 1 (0 opens a session).
func nextSessionEpoch(e int32) int32 {
	if e == 1<<31-1 {
		return 1
	}
	return e + 1
}

// sessionPartition is one partition a fetch asks for.
type sessionPartition struct {
	tp klog.TopicPartition
	fp kmsg.FetchRequestTopicPartition
}

// fill sets req's session fields and partitions: every partition for a full fetch; for an
// incremental one, the partitions whose fields differ from what the session holds, and the
// session's partitions no longer fetched (moved, delayed, throttled) as forgotten — or the
// leader would go on reading them for this follower.
func (s *fetchSession) fill(req *kmsg.FetchRequest, parts []sessionPartition) {
	full := s.epoch == sessionInitialEpoch
	req.SessionID, req.SessionEpoch = s.id, s.epoch
	byTopic := map[string]int{}
	fetching := make(map[klog.TopicPartition]bool, len(parts))
	for _, sp := range parts {
		fetching[sp.tp] = true
		if got, ok := s.sent[sp.tp]; !full && ok && got == sentOf(&sp.fp) {
			continue // the leader's session has it as it is
		}
		i, ok := byTopic[sp.tp.Topic]
		if !ok {
			t := kmsg.NewFetchRequestTopic()
			t.Topic = sp.tp.Topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[sp.tp.Topic] = i
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, sp.fp)
	}
	if full {
		return
	}
	forgotten := map[string]int{}
	for tp := range s.sent {
		if fetching[tp] {
			continue
		}
		i, ok := forgotten[tp.Topic]
		if !ok {
			ft := kmsg.NewFetchRequestForgottenTopic()
			ft.Topic = tp.Topic
			req.ForgottenTopics = append(req.ForgottenTopics, ft)
			i = len(req.ForgottenTopics) - 1
			forgotten[tp.Topic] = i
		}
		req.ForgottenTopics[i].Partitions = append(req.ForgottenTopics[i].Partitions, tp.Partition)
	}
}
