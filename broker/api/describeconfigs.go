package api

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/network"
	"github.com/gregor-broker/gregor/config"
)

// describeConfigs answers TOPIC resources from /config/topics/<t> over the broker's defaults,
// and BROKER resources from this broker's static configuration with the dynamic configs of
// /config/brokers/<id> and /config/brokers/<default> (the cluster-default resource "" lists only
// the latter), as Kafka's ZkAdminManager.describeConfigs.
func (h *Handler) describeConfigs(r *network.Request, req *kmsg.DescribeConfigsRequest) *kmsg.DescribeConfigsResponse {
	resp := kmsg.NewPtrDescribeConfigsResponse()
	resp.SetVersion(r.Version)
	for _, res := range req.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		entries, err := h.describeResource(res)
		if err != nil {
			rr.ErrorCode, rr.ErrorMessage = ErrorCode(err), errorMessage(err)
			rr.Configs = []kmsg.DescribeConfigsResponseResourceConfig{}
			resp.Resources = append(resp.Resources, rr)
			continue
		}
		var want map[string]bool
		if res.ConfigNames != nil {
			want = make(map[string]bool, len(res.ConfigNames))
			for _, n := range res.ConfigNames {
				want[n] = true
			}
		}
		rr.Configs = make([]kmsg.DescribeConfigsResponseResourceConfig, 0, len(entries))
		for _, e := range entries {
			if want != nil && !want[e.Name] {
				continue
			}
			rr.Configs = append(rr.Configs, describeEntry(e, r.Version, req.IncludeSynonyms, req.IncludeDocumentation))
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

func (h *Handler) describeResource(res kmsg.DescribeConfigsRequestResource) ([]config.ConfigEntry, error) {
	switch res.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		if err := validateTopicName(res.ResourceName); err != nil {
			return nil, err
		}
		if _, ok := h.o.Cache.Snapshot().Topic(res.ResourceName); !ok {
			return nil, errorf(kerr.UnknownTopicOrPartition, "Topic %s does not exist", res.ResourceName)
		}
		overrides, err := h.o.ZK.GetTopicConfig(res.ResourceName)
		if err != nil {
			return nil, fmt.Errorf("read config of topic %s: %w", res.ResourceName, err)
		}
		return h.o.Config.DescribeTopic(overrides), nil
	case kmsg.ConfigResourceTypeBroker:
		return h.describeBroker(res.ResourceName)
	}
	return nil, errorf(kerr.InvalidRequest, "Unsupported resource type: %v", res.ResourceType)
}

// checkBrokerResource accepts a BROKER resource naming this broker, as Kafka does.
func (h *Handler) checkBrokerResource(name string) error {
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return errorf(kerr.InvalidRequest, "Broker id must be an integer, but it is: %s", name)
	}
	if int32(id) != h.o.BrokerID {
		return errorf(kerr.InvalidRequest, "Unexpected broker id, expected %d or empty string, but received %s", h.o.BrokerID, name)
	}
	return nil
}

// describeEntry converts one config entry for the response version. v0 reports IsDefault
// instead of a source; synonyms (v1+) and documentation (v3+) only when asked for.
func describeEntry(e config.ConfigEntry, version int16, synonyms, docs bool) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = e.Name
	if !e.Null {
		v := e.Value
		c.Value = &v
	}
	c.ReadOnly = e.ReadOnly
	c.IsSensitive = e.Sensitive
	c.IsDefault = e.Source == config.ConfigSource(kmsg.ConfigSourceDefaultConfig)
	c.Source = kmsg.ConfigSource(e.Source)
	c.ConfigSynonyms = []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{}
	if synonyms && version >= 1 {
		for _, s := range e.Synonyms {
			sy := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			sy.Name, sy.Source = s.Name, kmsg.ConfigSource(s.Source)
			v := s.Value
			sy.Value = &v
			c.ConfigSynonyms = append(c.ConfigSynonyms, sy)
		}
	}
	c.ConfigType = kmsg.ConfigType(e.Type)
	if docs && version >= 3 && e.Doc != "" {
		d := e.Doc
		c.Documentation = &d
	}
	return c
}
