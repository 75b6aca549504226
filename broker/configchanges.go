package broker

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gregor-broker/gregor/zkmeta"
)

// configChangePrefix names the sequential notifications under /config/changes.
const configChangePrefix = "config_change_"

// configLoop is this broker's ZkConfigManager (zk-layout.md §1.9): it child-watches
// /config/changes and, for every notification with a higher sequence number than the last one
// applied, re-reads the entity — for topics/<t>, the replica manager re-resolves the topic's log
// config from /config/topics/<t>. At startup every existing notification is processed. Other
// entity types (clients, users, ips, brokers: quotas and dynamic broker configs) are not
// supported yet and only logged. Stopped by Broker.stop.
func (b *Broker) configLoop() {
	defer b.wg.Done()
	last := int64(-1)
	backoff := 100 * time.Millisecond
	for {
		names, ev, err := b.zk.WatchConfigChanges()
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
		} else {
			b.log.WithField("entity", entity).Debug("config change for an entity type without support; ignored")
		}
		last = c.seq
	}
	return last, nil
}
