package broker

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/config"
	"github.com/gregor-broker/gregor/zkmeta"
)

// configChangePrefix names the sequential notifications under /config/changes.
const configChangePrefix = "config_change_"

// configLoop is this broker's ZkConfigManager (zk-layout.md §1.9): it child-watches
// /config/changes and, for every notification with a higher sequence number than the last one
// applied, re-reads the entity — for topics/<t>, the replica manager re-resolves the topic's log
// config from /config/topics/<t> (and the topic's throttled-replica lists); for brokers/<id> of
// this broker or brokers/<default>, the dynamic broker configs are re-read (applyBrokerConfigs).
// At startup every existing notification is processed, and the dynamic broker configs are
// read once whatever the notifications say. Other entity types (clients, users, ips: client
// quotas) are not supported yet and only logged. Stopped by Broker.stop.
func (b *Broker) configLoop() {
	defer b.wg.Done()
	last := int64(-1)
	backoff := 100 * time.Millisecond
	brokerConfigsRead := false
	for {
		names, ev, err := b.zk.WatchConfigChanges()
		if err == nil && !brokerConfigsRead {
			if err = b.applyBrokerConfigs(); err == nil {
				brokerConfigsRead = true
			}
		}
		if err == nil {
			last, err = b.applyConfigChanges(names, last)
		}
		if err != nil {
			b.log.WithError(err).Warnf("config-change listener: retrying in %v", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-b.rearmWatch:
				t.Stop()
			case <-b.stop:
				t.Stop()
				return
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		select {
		case <-ev:
		case <-b.rearmWatch:
		case <-b.stop:
			return
		}
	}
}

// applyConfigChanges processes the notifications newer than last, in sequence order, and
// returns the new last sequence number. On an error it returns the last one fully applied.
func (b *Broker) applyConfigChanges(names []string, last int64) (int64, error) {
	type change struct {
		name string
		seq  int64
	}
	var todo []change
	for _, n := range names {
		if !strings.HasPrefix(n, configChangePrefix) {
			continue
		}
		seq, err := strconv.ParseInt(strings.TrimPrefix(n, configChangePrefix), 10, 64)
		if err != nil || seq <= last {
			continue
		}
		todo = append(todo, change{n, seq})
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].seq < todo[j].seq })
	for _, c := range todo {
		entity, err := b.zk.GetConfigChange(c.name)
		if errors.Is(err, zkmeta.ErrNoNode) {
			last = c.seq // purged meanwhile: nothing left to apply
			continue
		}
		if err != nil {
			return last, err
		}
		if topic, ok := strings.CutPrefix(entity, "topics/"); ok {
			b.log.WithField("topic", topic).Info("topic config changed; updating its logs")
			b.replicas.UpdateConfig(topic)
		} else if id, ok := strings.CutPrefix(entity, "brokers/"); ok {
			if id == zkmeta.DefaultConfigEntity || id == strconv.Itoa(int(b.cfg.BrokerID)) {
				if err := b.applyBrokerConfigs(); err != nil {
					return last, err
				}
			}
		} else {
			b.log.WithField("entity", entity).Debug("config change for an entity type without support; ignored")
		}
		last = c.seq
	}
	return last, nil
}

// applyBrokerConfigs reads this broker's dynamic configs (/config/brokers/<id> over
// /config/brokers/<default>) and applies what Gregor updates at runtime: the replication
// throttle rates (Kafka's BrokerConfigHandler).
func (b *Broker) applyBrokerConfigs() error {
	own, err := b.zk.GetBrokerConfig(strconv.Itoa(int(b.cfg.BrokerID)))
	if err != nil {
		return err
	}
	defaults, err := b.zk.GetBrokerConfig(zkmeta.DefaultConfigEntity)
	if err != nil {
		return err
	}
	rates, err := config.EffectiveThrottleRates(own, defaults)
	if err != nil {
		b.log.WithError(err).Warn("dynamic broker config in ZooKeeper is invalid; that throttle is off")
	}
	if l, f := b.replicas.ThrottleRates(); l != rates.Leader || f != rates.Follower {
		b.log.WithFields(logrus.Fields{config.LeaderThrottledRate: rateText(rates.Leader), config.FollowerThrottledRate: rateText(rates.Follower)}).
			Info("replication throttle rates changed")
	}
	b.replicas.SetThrottleRates(rates.Leader, rates.Follower)
	return nil
}

func rateText(r int64) string {
	if r == config.UnlimitedRate {
		return "unlimited"
	}
	return strconv.FormatInt(r, 10) + " B/s"
}
