package replica

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Gauges is a point-in-time view of the partitions this broker hosts: what Kafka's
// ReplicaManager gauges (PartitionCount, LeaderCount, UnderReplicatedPartitions,
// UnderMinIsrPartitionCount, AtMinIsrPartitionCount) and its IsrShrinks/IsrExpands meters report.
type Gauges struct {
	Partitions      int // hosted partitions, led or followed
	Leaders         int // partitions this broker leads
	UnderReplicated int // led partitions whose ISR is smaller than their replica set
	UnderMinISR     int // led partitions whose ISR is below min.insync.replicas
	AtMinISR        int // led partitions whose ISR is exactly min.insync.replicas
	ISRShrinks      float64
	ISRExpands      float64
}

// Gauges counts the hosted partitions; each partition's lock is taken once, briefly, for its
// own fields only. For a metrics scrape: read-only, never on a request path.
func (m *Manager) Gauges() Gauges {
	g := Gauges{ISRShrinks: counterValue(m.stats.isrShrinks), ISRExpands: counterValue(m.stats.isrExpands)}
	for _, p := range m.snapshotPartitions() {
		p.mu.Lock()
		if p.stopped || p.log == nil {
			p.mu.Unlock()
			continue
		}
		g.Partitions++
		if p.isLeaderLocked() {
			g.Leaders++
			isr := int32(len(p.isr))
			if len(p.isr) < len(p.replicas) {
				g.UnderReplicated++
			}
			if isr < p.minISR {
				g.UnderMinISR++
			} else if isr == p.minISR {
				g.AtMinISR++
			}
		}
		p.mu.Unlock()
	}
	return g
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if c == nil || c.Write(&m) != nil || m.Counter == nil {
		return 0
	}
	return m.Counter.GetValue()
}
