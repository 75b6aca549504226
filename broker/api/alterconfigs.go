package api

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/network"
	"github.com/gregor-broker/gregor/config"
)

// alterConfigs is the legacy AlterConfigs: a TOPIC resource's overrides are REPLACED by the
// given set (null values dropped, as Kafka does), validated, and written with
// zkmeta.SetTopicConfig, whose /config/changes notification makes every broker (this one
// included) re-read the topic's config. A BROKER resource's dynamic configs are replaced the
// same way (brokerconfigs.go).
func (h *Handler) alterConfigs(r *network.Request, req *kmsg.AlterConfigsRequest) *kmsg.AlterConfigsResponse {
	resp := kmsg.NewPtrAlterConfigsResponse()
	resp.SetVersion(r.Version)
	for _, res := range req.Resources {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		var err error
		switch res.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			next := map[string]string{}
			for _, c := range res.Configs {
				if c.Value != nil {
					next[c.Name] = *c.Value
				}
			}
			err = h.writeTopicConfig(res.ResourceName, next, req.ValidateOnly)
		case kmsg.ConfigResourceTypeBroker:
			next := map[string]string{}
			for _, c := range res.Configs {
				if c.Value != nil {
					next[c.Name] = *c.Value
				}
			}
			err = h.writeBrokerConfig(res.ResourceName, next, req.ValidateOnly)
		default:
			err = unsupportedConfigResource(res.ResourceType)
		}
		rr.ErrorCode, rr.ErrorMessage = ErrorCode(err), errorMessage(err)
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

// incrementalAlterConfigs applies SET / DELETE / APPEND / SUBTRACT to a TOPIC resource's
// current overrides, as Kafka's ZkAdminManager.incrementalAlterConfigs: duplicate keys and
// null values (other than for DELETE) are INVALID_REQUEST; APPEND and SUBTRACT only apply to
// LIST configs (cleanup.policy) and start from the effective value when there is no override.
func (h *Handler) incrementalAlterConfigs(r *network.Request, req *kmsg.IncrementalAlterConfigsRequest) *kmsg.IncrementalAlterConfigsResponse {
	resp := kmsg.NewPtrIncrementalAlterConfigsResponse()
	resp.SetVersion(r.Version)
	for _, res := range req.Resources {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		var err error
		switch res.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			err = h.incrementalTopicConfig(res, req.ValidateOnly)
		case kmsg.ConfigResourceTypeBroker:
			err = h.incrementalBrokerConfig(res, req.ValidateOnly)
		default:
			err = unsupportedConfigResource(res.ResourceType)
		}
		rr.ErrorCode, rr.ErrorMessage = ErrorCode(err), errorMessage(err)
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

func unsupportedConfigResource(t kmsg.ConfigResourceType) error {
	return errorf(kerr.InvalidRequest, "Unsupported resource type: %v", t)
}

func (h *Handler) incrementalTopicConfig(res kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) error {
	seen := map[string]int{}
	for _, c := range res.Configs {
		seen[c.Name]++
	}
	for name, n := range seen {
		if n > 1 {
			return errorf(kerr.InvalidRequest, "Error due to duplicate config keys : %s", name)
		}
	}
	for _, c := range res.Configs {
		if c.Value == nil && c.Op != kmsg.IncrementalAlterConfigOpDelete {
			return errorf(kerr.InvalidRequest, "Null value not supported for : %s", c.Name)
		}
	}
	if err := validateTopicName(res.ResourceName); err != nil {
		return err
	}
	cur, err := h.o.ZK.GetTopicConfig(res.ResourceName)
	if err != nil {
		return fmt.Errorf("read config of topic %s: %w", res.ResourceName, err)
	}
	next := make(map[string]string, len(cur)+len(res.Configs))
	for k, v := range cur {
		next[k] = v
	}
	var effective map[string]config.ConfigEntry // loaded on first APPEND/SUBTRACT
	entry := func(name string) (config.ConfigEntry, bool) {
		if effective == nil {
			effective = map[string]config.ConfigEntry{}
			for _, e := range h.o.Config.DescribeTopic(cur) {
				effective[e.Name] = e
			}
		}
		e, ok := effective[name]
		return e, ok
	}
	for _, c := range res.Configs {
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			next[c.Name] = *c.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(next, c.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			e, ok := entry(c.Name)
			if !ok {
				return errorf(kerr.InvalidConfig, "Unknown topic config name: %s", c.Name)
			}
			if e.Type != config.TypeList {
				return errorf(kerr.InvalidRequest, "Config value %s is not allowed for config key: %s", opName(c.Op), c.Name)
			}
			old, has := next[c.Name]
			if !has && !e.Null {
				old = e.Value
			}
			if c.Op == kmsg.IncrementalAlterConfigOpAppend {
				next[c.Name] = joinList(appendList(splitList(old), splitList(*c.Value)))
			} else {
				next[c.Name] = joinList(subtractList(splitList(old), splitList(*c.Value)))
			}
		default:
			return errorf(kerr.InvalidRequest, "Unknown config operation %d for %s", c.Op, c.Name)
		}
	}
	return h.writeTopicConfig(res.ResourceName, next, validateOnly)
}

func opName(op kmsg.IncrementalAlterConfigOp) string {
	if op == kmsg.IncrementalAlterConfigOpAppend {
		return "append"
	}
	return "subtract"
}

// checkTopicExists is Kafka's check before altering a topic's config (topic znode present).
func (h *Handler) checkTopicExists(topic string) error {
	if err := validateTopicName(topic); err != nil {
		return err
	}
	ok, err := h.o.ZK.TopicExists(topic)
	if err != nil {
		return fmt.Errorf("check topic %s: %w", topic, err)
	}
	if !ok {
		return errorf(kerr.UnknownTopicOrPartition, "Topic %s does not exist", topic)
	}
	return nil
}

// writeTopicConfig validates a topic's complete override set and, unless validateOnly, writes
// it (with its change notification).
func (h *Handler) writeTopicConfig(topic string, overrides map[string]string, validateOnly bool) error {
	if err := h.checkTopicExists(topic); err != nil {
		return err
	}
	if err := config.ValidateTopicConfigs(overrides); err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	if err := h.o.ZK.SetTopicConfig(topic, overrides); err != nil {
		return fmt.Errorf("write config of topic %s: %w", topic, err)
	}
	h.log.WithField("topic", topic).Infof("topic config set to %v", overrides)
	return nil
}
