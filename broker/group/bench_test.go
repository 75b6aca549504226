package group

import (
	"context"
	"fmt"
	"sync"
	"testing"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// BenchmarkCommitOffsets measures OffsetCommit throughput through the coordinator: each commit
// is a record batch appended to __consumer_offsets through the replica manager (acks=-1, one
// replica) and applied to the cache once acknowledged. Reported: commits/s and, for the
// 50-partition variant, partition offsets/s.
func BenchmarkCommitOffsets(b *testing.B) {
	for _, bc := range []struct {
		name       string
		partitions int
		groups     int // committing concurrently, one goroutine each
	}{
		{"1-partition", 1, 1},
		{"50-partitions", 50, 1},
		{"1-partition-8-groups", 1, 8},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := newHarness(b, testConfig())
			reqs := make([]CommitRequest, bc.groups)
			for g := range reqs {
				reqs[g] = CommitRequest{GroupID: fmt.Sprintf("bench-%d", g), GenerationID: -1}
				for p := 0; p < bc.partitions; p++ {
					reqs[g].Offsets = append(reqs[g].Offsets, CommitOffset{TP: klog.TopicPartition{Topic: "orders", Partition: int32(p)},
						Offset: Offset{LeaderEpoch: -1, ExpireTimestamp: -1}})
				}
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N / bc.groups
			for g := range reqs {
				wg.Add(1)
				go func(req CommitRequest) {
					defer wg.Done()
					for i := 0; i < per; i++ {
						for j := range req.Offsets {
							req.Offsets[j].Offset.Offset = int64(i)
						}
						for _, err := range h.c.CommitOffsets(context.Background(), req) {
							if err != nil {
								b.Error(err)
								return
							}
						}
					}
				}(reqs[g])
			}
			wg.Wait()
			b.StopTimer()
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(per*bc.groups)/secs, "commits/s")
			b.ReportMetric(float64(per*bc.groups*bc.partitions)/secs, "offsets/s")
		})
	}
}

// BenchmarkRebalanceAfterDeparture100 measures, for a stable group of 100 members, the time
// from one member leaving to the group being stable again: the 99 others rejoin (as their
// heartbeats tell them to), the leader's assignment is stored in __consumer_offsets and every
// member has it. Client think time is not included: this is the coordinator's part.
func BenchmarkRebalanceAfterDeparture100(b *testing.B) {
	const members = 100
	cfg := testConfig()
	cfg.InitialRebalanceDelayMs = 0
	h := newHarness(b, cfg)
	names := make([]string, members)
	for i := range names {
		names[i] = fmt.Sprintf("m%03d", i)
	}
	ids, gen := h.stableGroup("big", names...)
	live := make([]string, 0, members)
	for _, n := range names {
		live = append(live, ids[n])
	}
	rebalance := func(memberIDs []string) (map[string]string, int32) {
		chans := make([]<-chan JoinResult, len(memberIDs))
		for i, id := range memberIDs {
			chans[i] = h.join(JoinRequest{GroupID: "big", MemberID: id, ClientID: "c"})
		}
		var leader string
		next := map[string]string{}
		var g int32
		for i, ch := range chans {
			r := recv(b, ch)
			if r.Err != nil {
				b.Fatalf("rejoin: %v", r.Err)
			}
			next[memberIDs[i]] = r.MemberID
			leader, g = r.LeaderID, r.GenerationID
		}
		assign := make(map[string][]byte, len(memberIDs))
		for _, id := range memberIDs {
			assign[id] = []byte(id)
		}
		syncs := make([]<-chan SyncResult, len(memberIDs))
		for i, id := range memberIDs {
			req := SyncRequest{GroupID: "big", MemberID: id, GenerationID: g}
			if id == leader {
				req.Assignments = assign
			}
			syncs[i] = h.sync(req)
		}
		for _, ch := range syncs {
			if r := recv(b, ch); r.Err != nil {
				b.Fatalf("sync: %v", r.Err)
			}
		}
		return next, g
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The departure: the last member leaves; the rest rebalance.
		if _, err := h.c.LeaveGroup("big", []LeaveMember{{MemberID: live[len(live)-1]}}); err != nil {
			b.Fatal(err)
		}
		live = live[:len(live)-1]
		_, gen = rebalance(live)
		b.StopTimer()
		// A new member takes its place (not measured): join, then everyone rebalances.
		newcomer := h.join(JoinRequest{GroupID: "big", ClientID: "new"})
		all := append([]string(nil), live...)
		chans := make([]<-chan JoinResult, len(all))
		for j, id := range all {
			chans[j] = h.join(JoinRequest{GroupID: "big", MemberID: id, ClientID: "c"})
		}
		nr := recv(b, newcomer)
		for _, ch := range chans {
			recv(b, ch)
		}
		all = append(all, nr.MemberID)
		assign := map[string][]byte{}
		for _, id := range all {
			assign[id] = []byte(id)
		}
		var syncs []<-chan SyncResult
		for _, id := range all {
			req := SyncRequest{GroupID: "big", MemberID: id, GenerationID: nr.GenerationID}
			if id == nr.LeaderID {
				req.Assignments = assign
			}
			syncs = append(syncs, h.sync(req))
		}
		for _, ch := range syncs {
			recv(b, ch)
		}
		live = all
		b.StartTimer()
	}
	_ = gen
}
