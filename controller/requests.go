package controller

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkmeta"
)

// Request versions Kafka 2.8 (IBP 2.8-IV1) controllers send.
const (
	leaderAndIsrVersion   = 5
	updateMetadataVersion = 7
	stopReplicaVersion    = 3
)

func (c *Controller) send(broker int32, req kmsg.Request, cb func(kmsg.Response, error)) {
	ch := c.st.channels[broker]
	if ch == nil {
		if cb != nil {
			cb(nil, errNoChannel)
		}
		return
	}
	ch.Send(req, cb)
}

type controllerError string

func (e controllerError) Error() string { return string(e) }

const errNoChannel = controllerError("no channel to that broker")

// sortedKeys orders partitions so requests are deterministic (tests, logs).
func sortedKeys(parts []tpKey) []tpKey {
	out := append([]tpKey(nil), parts...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].topic != out[j].topic {
			return out[i].topic < out[j].topic
		}
		return out[i].partition < out[j].partition
	})
	return out
}

// sendLeaderAndIsr tells one broker the leader, ISR and replicas of its partitions.
func (c *Controller) sendLeaderAndIsr(broker int32, parts []tpKey, isNew bool) {
	if len(parts) == 0 {
		return
	}
	req := kmsg.NewPtrLeaderAndISRRequest()
	req.Version = leaderAndIsrVersion
	req.ControllerID, req.ControllerEpoch = c.o.BrokerID, c.st.epoch
	req.BrokerEpoch = c.st.live[broker].Epoch
	byTopic := map[string]int{}
	leaders := map[int32]bool{}
	for _, k := range sortedKeys(parts) {
		t := c.st.topics[k.topic]
		s := t.parts[k.partition]
		if s == nil {
			continue
		}
		i, ok := byTopic[k.topic]
		if !ok {
			ts := kmsg.NewLeaderAndISRRequestTopicState()
			ts.Topic, ts.TopicID = k.topic, t.a.TopicID
			req.TopicStates = append(req.TopicStates, ts)
			i = len(req.TopicStates) - 1
			byTopic[k.topic] = i
		}
		ps := kmsg.NewLeaderAndISRRequestTopicPartition()
		ps.Topic, ps.Partition = k.topic, k.partition
		ps.ControllerEpoch, ps.Leader, ps.LeaderEpoch = s.ControllerEpoch, s.Leader, s.LeaderEpoch
		ps.ISR, ps.ZKVersion = append([]int32(nil), s.ISR...), s.ZkVersion
		ps.Replicas = append([]int32(nil), t.a.Partitions[k.partition]...)
		ps.AddingReplicas = append([]int32{}, t.a.Adding[k.partition]...)
		ps.RemovingReplicas = append([]int32{}, t.a.Removing[k.partition]...)
		ps.IsNew = isNew
		req.TopicStates[i].PartitionStates = append(req.TopicStates[i].PartitionStates, ps)
		if s.Leader >= 0 {
			leaders[s.Leader] = true
		}
	}
	if len(req.TopicStates) == 0 {
		return
	}
	for id := range leaders {
		if b, ok := c.st.live[id]; ok {
			if e, ok := c.endpoint(b); ok {
				ll := kmsg.NewLeaderAndISRRequestLiveLeader()
				ll.BrokerID, ll.Host, ll.Port = id, e.Host, int32(e.Port)
				req.LiveLeaders = append(req.LiveLeaders, ll)
			}
		}
	}
	term, brokerEpoch := c.st, req.BrokerEpoch
	c.send(broker, req, func(resp kmsg.Response, err error) {
		r, ok := resp.(*kmsg.LeaderAndISRResponse)
		if !ok || err != nil {
			return
		}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 && p.ErrorCode != kerr.KafkaStorageError.Code {
					c.log.WithFields(map[string]any{"broker": broker, "partition": p.Partition, "error_code": p.ErrorCode}).Warn("LeaderAndIsr partition error")
				}
			}
		}
		// Replicas in a failed log dir (Kafka's handleLeaderAndIsrResponse): handled on the
		// event goroutine, if the term and the broker's registration are still those asked.
		if offline := storageErrors(req, r); len(offline) > 0 {
			c.enqueue(func() {
				if c.st == term && c.isLive(broker) && c.st.live[broker].Epoch == brokerEpoch {
					c.onReplicasOffline(broker, offline)
				}
			})
		}
	})
}

// sendUpdateMetadata sends the live brokers and the given partitions' state to brokers. The
// request is built once: only the broker epoch differs between the copies, which share the
// partition states read-only.
func (c *Controller) sendUpdateMetadata(brokers []int32, parts []tpKey) {
	if len(brokers) == 0 {
		return
	}
	base := kmsg.NewPtrUpdateMetadataRequest()
	base.Version = updateMetadataVersion
	base.ControllerID, base.ControllerEpoch = c.o.BrokerID, c.st.epoch
	byTopic := map[string]int{}
	for _, k := range sortedKeys(parts) {
		t := c.st.topics[k.topic]
		if t == nil {
			continue
		}
		s := t.parts[k.partition]
		if s == nil {
			continue
		}
		i, ok := byTopic[k.topic]
		if !ok {
			ts := kmsg.NewUpdateMetadataRequestTopicState()
			ts.Topic, ts.TopicID = k.topic, t.a.TopicID
			base.TopicStates = append(base.TopicStates, ts)
			i = len(base.TopicStates) - 1
			byTopic[k.topic] = i
		}
		ps := kmsg.NewUpdateMetadataRequestTopicPartition()
		ps.Topic, ps.Partition = k.topic, k.partition
		ps.ControllerEpoch, ps.Leader, ps.LeaderEpoch = s.ControllerEpoch, s.Leader, s.LeaderEpoch
		ps.ISR, ps.ZKVersion = append([]int32(nil), s.ISR...), s.ZkVersion
		ps.Replicas = append([]int32(nil), t.a.Partitions[k.partition]...)
		for _, r := range ps.Replicas {
			if !c.replicaOnline(r, k.topic, k.partition) {
				ps.OfflineReplicas = append(ps.OfflineReplicas, r)
			}
		}
		base.TopicStates[i].PartitionStates = append(base.TopicStates[i].PartitionStates, ps)
	}
	for _, bid := range c.liveIDs() {
		base.LiveBrokers = append(base.LiveBrokers, liveBroker(c.st.live[bid]))
	}
	for _, id := range brokers {
		req := *base
		req.BrokerEpoch = c.st.live[id].Epoch
		c.send(id, &req, nil)
	}
}

func liveBroker(b zkmeta.BrokerInfo) kmsg.UpdateMetadataRequestLiveBroker {
	lb := kmsg.NewUpdateMetadataRequestLiveBroker()
	lb.ID = b.ID
	if b.Rack != "" {
		rack := b.Rack
		lb.Rack = &rack
	}
	for _, e := range b.Endpoints {
		ep := kmsg.NewUpdateMetadataRequestLiveBrokerEndpoint()
		ep.Host, ep.Port, ep.ListenerName = e.Host, int32(e.Port), e.Listener
		ep.SecurityProtocol = securityProtocolID(e.SecurityProtocol)
		lb.Endpoints = append(lb.Endpoints, ep)
	}
	return lb
}

// securityProtocolID is Kafka's SecurityProtocol id.
func securityProtocolID(name string) int16 {
	switch name {
	case "SSL":
		return 1
	case "SASL_PLAINTEXT":
		return 2
	case "SASL_SSL":
		return 3
	}
	return 0
}
