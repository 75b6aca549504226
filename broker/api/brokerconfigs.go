package api

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/config"
	"github.com/gregor-broker/gregor/zkmeta"
)

// Dynamic broker configs on a BROKER resource (Kafka's ZkAdminManager.alterBrokerConfigs): the
// resource name is this broker's id or "" for the cluster-wide default; the complete set is
// validated by config.ValidateDynamicBrokerConfigs and written with zkmeta.SetBrokerConfig,
// whose /config/changes notification makes the brokers concerned apply it (broker package).

// brokerEntity maps a BROKER resource name to its /config/brokers entity.
func (h *Handler) brokerEntity(name string) (string, error) {
	if name == "" {
		return zkmeta.DefaultConfigEntity, nil
	}
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return "", errorf(kerr.InvalidRequest, "Broker id must be an integer, but it is: %s", name)
	}
	if int32(id) != h.o.BrokerID {
		return "", errorf(kerr.InvalidRequest, "Unexpected broker id, expected %d, but received %s", h.o.BrokerID, name)
	}
	return name, nil
}

// writeBrokerConfig validates a BROKER resource's complete dynamic config set and, unless
// validateOnly, writes it with its change notification.
func (h *Handler) writeBrokerConfig(name string, cfg map[string]string, validateOnly bool) error {
	entity, err := h.brokerEntity(name)
	if err != nil {
		return err
	}
	if err := validateBrokerConfig(name, cfg); err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	if err := h.o.ZK.SetBrokerConfig(entity, cfg); err != nil {
		return fmt.Errorf("write dynamic config of broker %s: %w", entity, err)
	}
	h.log.WithField("entity", entity).Infof("dynamic broker config set to %v", cfg)
	return nil
}

func validateBrokerConfig(name string, cfg map[string]string) error {
	if err := config.ValidateDynamicBrokerConfigs(cfg); err != nil {
		return errorf(kerr.InvalidRequest, "Invalid config value for resource ConfigResource(type=BROKER, name='%s'): %v", name, err)
	}
	return nil
}

// incrementalBrokerConfig applies SET and DELETE to a BROKER resource's current dynamic
// configs; APPEND and SUBTRACT apply to LIST configs only, and no dynamic broker config Gregor
// has is one.
func (h *Handler) incrementalBrokerConfig(res kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) error {
	seen := map[string]bool{}
	for _, c := range res.Configs {
		if seen[c.Name] {
			return errorf(kerr.InvalidRequest, "Error due to duplicate config keys : %s", c.Name)
		}
		seen[c.Name] = true
		if c.Value == nil && c.Op != kmsg.IncrementalAlterConfigOpDelete {
			return errorf(kerr.InvalidRequest, "Null value not supported for : %s", c.Name)
		}
	}
	entity, err := h.brokerEntity(res.ResourceName)
	if err != nil {
		return err
	}
	next, err := h.o.ZK.GetBrokerConfig(entity)
	if err != nil {
		return fmt.Errorf("read dynamic config of broker %s: %w", entity, err)
	}
	for _, c := range res.Configs {
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			next[c.Name] = *c.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(next, c.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			return errorf(kerr.InvalidRequest, "Config value %s is not allowed for config key: %s", opName(c.Op), c.Name)
		default:
			return errorf(kerr.InvalidRequest, "Unknown config operation %d for %s", c.Op, c.Name)
		}
	}
	return h.writeBrokerConfig(res.ResourceName, next, validateOnly)
}

// describeBroker lists a BROKER resource's configs: this broker's (its name checked as Kafka's
// describeConfigs does) with its dynamic ones, or, for "", the cluster-wide dynamic defaults.
func (h *Handler) describeBroker(name string) ([]config.ConfigEntry, error) {
	perBroker := name != ""
	own := map[string]string{}
	if perBroker {
		if err := h.checkBrokerResource(name); err != nil {
			return nil, err
		}
		var err error
		if own, err = h.o.ZK.GetBrokerConfig(strconv.Itoa(int(h.o.BrokerID))); err != nil {
			return nil, fmt.Errorf("read dynamic config of broker %s: %w", name, err)
		}
	}
	defaults, err := h.o.ZK.GetBrokerConfig(zkmeta.DefaultConfigEntity)
	if err != nil {
		return nil, fmt.Errorf("read dynamic config of broker %s: %w", zkmeta.DefaultConfigEntity, err)
	}
	return h.o.Config.DescribeDynamic(perBroker, own, defaults), nil
}
