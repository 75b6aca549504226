package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gregor-broker/gregor/clients"
	"github.com/gregor-broker/gregor/controller"
)

func init() {
	register("reassign", "move partition replicas: --generate, --execute, --verify, --cancel, --list (like kafka-reassign-partitions.sh)", runReassign)
	register("kafka-reassign-partitions.sh", "Kafka's kafka-reassign-partitions.sh (gregor reassign)", func(args []string) error {
		return runReassignAs("kafka-reassign-partitions.sh", args)
	})
}

// reassignJSON is kafka-reassign-partitions' file format.
type reassignJSON struct {
	Version    int                 `json:"version"`
	Partitions []reassignPartition `json:"partitions"`
}

type reassignPartition struct {
	Topic     string   `json:"topic"`
	Partition int      `json:"partition"`
	Replicas  []int    `json:"replicas"`
	LogDirs   []string `json:"log_dirs,omitempty"`
}

// topicsJSON is --topics-to-move-json-file's format.
type topicsJSON struct {
	Version int `json:"version"`
	Topics  []struct {
		Topic string `json:"topic"`
	} `json:"topics"`
}

func runReassign(args []string) error { return runReassignAs("gregor reassign", args) }

func runReassignAs(name string, args []string) error {
	fs := newFlags(name, name+" -b host:port --generate|--execute|--verify|--cancel|--list [flags]")
	bootstrap := bootstrapFlag(fs)
	generate := fs.Bool("generate", false, "propose an assignment of --topics-to-move-json-file over --broker-list")
	execute := fs.Bool("execute", false, "start the moves of --reassignment-json-file")
	verify := fs.Bool("verify", false, "report whether the moves of --reassignment-json-file are done")
	cancel := fs.Bool("cancel", false, "cancel the moves of --reassignment-json-file")
	list := fs.Bool("list", false, "list the moves in progress")
	topicsFile := fs.String("topics-to-move-json-file", "", `{"version":1,"topics":[{"topic":"t"}]}`)
	brokerList := fs.String("broker-list", "", "broker ids to spread the replicas over (--generate)")
	wait := fs.Bool("wait", false, "--execute: wait until every move is done, printing progress on stderr (Gregor's)")
	waitTimeout := fs.Duration("wait-timeout", 30*time.Minute, "--wait: give up after this long")
	planFile := fs.String("reassignment-json-file", "", `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2]}]}`)
	throttle := fs.Int64("throttle", -1, "replication throttle in B/s for the moves (--execute), removed by --verify once they are done")
	preserve := fs.Bool("preserve-throttles", false, "--verify leaves the throttles in place")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	brokers := splitBrokers(*bootstrap)
	ctx, stop := context.WithTimeout(context.Background(), 60*time.Second)
	defer stop()
	switch {
	case *generate:
		return reassignGenerate(ctx, brokers, *topicsFile, *brokerList)
	case *execute, *verify, *cancel:
		plan, err := readPlan(*planFile)
		if err != nil {
			return err
		}
		switch {
		case *execute:
			if err := reassignExecute(ctx, brokers, plan, *throttle); err != nil || !*wait {
				return err
			}
			return reassignWait(brokers, plan, *waitTimeout, time.Second, os.Stderr)
		case *verify:
			return reassignVerify(ctx, brokers, plan, !*preserve)
		default:
			return reassignCancel(ctx, brokers, plan)
		}
	case *list:
		moving, err := clients.ListReassignments(ctx, brokers)
		if err != nil {
			return err
		}
		if len(moving) == 0 {
			fmt.Println("No partition reassignments found.")
		}
		for _, m := range moving {
			fmt.Printf("%s-%d: replicas: %s. adding: %s. removing: %s.\n", m.Topic, m.Partition,
				idList(m.Replicas), idList(m.Adding), idList(m.Removing))
		}
		return nil
	}
	return usagef("one of --generate, --execute, --verify, --cancel or --list is required")
}

func readPlan(path string) (reassignJSON, error) {
	var plan reassignJSON
	if path == "" {
		return plan, usagef("--reassignment-json-file is required")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return plan, err
	}
	if err := json.Unmarshal(data, &plan); err != nil {
		return plan, fmt.Errorf("%s: %w", path, err)
	}
	if len(plan.Partitions) == 0 {
		return plan, fmt.Errorf("%s: no partitions", path)
	}
	return plan, nil
}

// currentPlan is the current assignment of the topics, as a reassignment file.
func currentPlan(ctx context.Context, brokers, topics []string) (reassignJSON, error) {
	infos, err := clients.DescribeTopics(ctx, brokers, topics)
	if err != nil {
		return reassignJSON{}, err
	}
	cur := reassignJSON{Version: 1, Partitions: []reassignPartition{}}
	for _, t := range infos {
		for _, p := range t.Partitions {
			cur.Partitions = append(cur.Partitions, reassignPartition{Topic: t.Name, Partition: p.ID, Replicas: p.Replicas, LogDirs: anyDirs(len(p.Replicas))})
		}
	}
	return cur, nil
}

func anyDirs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "any"
	}
	return out
}

func printPlan(p reassignJSON) {
	b, _ := json.Marshal(p)
	fmt.Println(string(b))
}

// reassignGenerate proposes Kafka's assignment of the topics' partitions over the brokers
// (the same round-robin algorithm topic creation uses), keeping each topic's replication factor.
func reassignGenerate(ctx context.Context, brokers []string, topicsFile, brokerList string) error {
	if topicsFile == "" || brokerList == "" {
		return usagef("--generate needs --topics-to-move-json-file and --broker-list")
	}
	data, err := os.ReadFile(topicsFile)
	if err != nil {
		return err
	}
	var tj topicsJSON
	if err := json.Unmarshal(data, &tj); err != nil {
		return fmt.Errorf("%s: %w", topicsFile, err)
	}
	var names []string
	for _, t := range tj.Topics {
		names = append(names, t.Topic)
	}
	var metas []controller.BrokerMeta
	for _, s := range strings.Split(brokerList, ",") {
		id, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return usagef("--broker-list %q: %q is not a broker id", brokerList, s)
		}
		metas = append(metas, controller.BrokerMeta{ID: int32(id)})
	}
	sort.Slice(metas, func(i, j int) bool { return metas[i].ID < metas[j].ID })
	cur, err := currentPlan(ctx, brokers, names)
	if err != nil {
		return err
	}
	rfOf, countOf := map[string]int{}, map[string]int{}
	for _, p := range cur.Partitions {
		rfOf[p.Topic] = len(p.Replicas)
		countOf[p.Topic]++
	}
	proposed := reassignJSON{Version: 1, Partitions: []reassignPartition{}}
	for _, name := range names {
		a, err := controller.AssignReplicas(metas, int32(countOf[name]), int16(rfOf[name]), 0, -1, -1)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for p := 0; p < countOf[name]; p++ {
			var reps []int
			for _, r := range a[int32(p)] {
				reps = append(reps, int(r))
			}
			proposed.Partitions = append(proposed.Partitions, reassignPartition{Topic: name, Partition: p, Replicas: reps, LogDirs: anyDirs(len(reps))})
		}
	}
	fmt.Println("Current partition replica assignment")
	printPlan(cur)
	fmt.Println()
	fmt.Println("Proposed partition reassignment configuration")
	printPlan(proposed)
	return nil
}

func planTopics(plan reassignJSON) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range plan.Partitions {
		if !seen[p.Topic] {
			seen[p.Topic] = true
			out = append(out, p.Topic)
		}
	}
	return out
}

func reassignExecute(ctx context.Context, brokers []string, plan reassignJSON, throttle int64) error {
	cur, err := currentPlan(ctx, brokers, planTopics(plan))
	if err != nil {
		return err
	}
	fmt.Println("Current partition replica assignment")
	printPlan(cur)
	fmt.Println()
	fmt.Println("Save this to use as the --reassignment-json-file option during rollback")
	var moves []clients.PartitionReplicas
	var names []string
	for _, p := range plan.Partitions {
		moves = append(moves, clients.PartitionReplicas{Topic: p.Topic, Partition: p.Partition, Replicas: p.Replicas})
		names = append(names, fmt.Sprintf("%s-%d", p.Topic, p.Partition))
	}
	if throttle >= 0 { // before the moves start, as kafka-reassign-partitions does
		if err := setThrottle(ctx, brokers, cur, plan, throttle); err != nil {
			return err
		}
	}
	if err := clients.Reassign(ctx, brokers, moves); err != nil {
		return err
	}
	fmt.Printf("Successfully started partition reassignments for %s\n", strings.Join(names, ","))
	return nil
}

// reassignVerify prints kafka-reassign-partitions' status lines; it exits non-zero while a move
// is still running, so scripts can wait on it.
func reassignVerify(ctx context.Context, brokers []string, plan reassignJSON, clearThrottles bool) error {
	moving, err := clients.ListReassignments(ctx, brokers)
	if err != nil {
		return err
	}
	inProgress := map[string]bool{}
	for _, m := range moving {
		inProgress[fmt.Sprintf("%s-%d", m.Topic, m.Partition)] = true
	}
	cur, err := currentPlan(ctx, brokers, planTopics(plan))
	if err != nil {
		return err
	}
	current := map[string][]int{}
	for _, p := range cur.Partitions {
		current[fmt.Sprintf("%s-%d", p.Topic, p.Partition)] = p.Replicas
	}
	fmt.Println("Status of partition reassignment:")
	pending := 0
	for _, p := range plan.Partitions {
		name := fmt.Sprintf("%s-%d", p.Topic, p.Partition)
		switch {
		case inProgress[name]:
			pending++
			fmt.Printf("Reassignment of partition %s is still in progress.\n", name)
		case equalInts(current[name], p.Replicas):
			fmt.Printf("Reassignment of partition %s is complete.\n", name)
		default:
			pending++
			fmt.Printf("There is no active reassignment of partition %s, but replica set is %s rather than %s.\n",
				name, idList(current[name]), idList(p.Replicas))
		}
	}
	if pending > 0 {
		return fmt.Errorf("%d of %d reassignment(s) not complete", pending, len(plan.Partitions))
	}
	if clearThrottles {
		ids, err := clients.ClearReassignmentThrottles(ctx, brokers, planTopics(plan))
		if err != nil {
			return err
		}
		fmt.Printf("\nClearing broker-level throttles on brokers %s\n", strings.Trim(idList(ids), "[]"))
		fmt.Printf("Clearing topic-level throttles on topics %s\n", strings.Join(planTopics(plan), ","))
	}
	return nil
}

// setThrottle sets the rates on the brokers the moves involve and the throttled replicas of
// the moving partitions (their current replicas on the leader side, the new ones on the
// follower side).
func setThrottle(ctx context.Context, brokers []string, cur, plan reassignJSON, rate int64) error {
	current := map[string][]int{}
	for _, p := range cur.Partitions {
		current[fmt.Sprintf("%s-%d", p.Topic, p.Partition)] = p.Replicas
	}
	var moves []clients.Move
	for _, p := range plan.Partitions {
		moves = append(moves, clients.Move{Topic: p.Topic, Partition: p.Partition,
			Current: current[fmt.Sprintf("%s-%d", p.Topic, p.Partition)], Target: p.Replicas})
	}
	if _, err := clients.SetReassignmentThrottle(ctx, brokers, moves, rate); err != nil {
		return err
	}
	fmt.Println("Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed.")
	fmt.Printf("The inter-broker throttle limit was set to %d B/s\n", rate)
	return nil
}

func reassignCancel(ctx context.Context, brokers []string, plan reassignJSON) error {
	var moves []clients.PartitionReplicas
	var names []string
	for _, p := range plan.Partitions {
		moves = append(moves, clients.PartitionReplicas{Topic: p.Topic, Partition: p.Partition})
		names = append(names, fmt.Sprintf("%s-%d", p.Topic, p.Partition))
	}
	if err := clients.Reassign(ctx, brokers, moves); err != nil {
		return err
	}
	fmt.Printf("Successfully cancelled partition reassignments for: %s\n", strings.Join(names, ","))
	return nil
}

func idList(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// reassignWait polls the moves of plan until none is in progress, reporting each change of the
// count on progress.
func reassignWait(brokers []string, plan reassignJSON, timeout, every time.Duration, progress io.Writer) error {
	want := map[string]bool{}
	for _, p := range plan.Partitions {
		want[fmt.Sprintf("%s-%d", p.Topic, p.Partition)] = true
	}
	start := time.Now()
	last := -1
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		moving, err := clients.ListReassignments(ctx, brokers)
		cancel()
		if err != nil {
			return err
		}
		left := 0
		for _, m := range moving {
			if want[fmt.Sprintf("%s-%d", m.Topic, m.Partition)] {
				left++
			}
		}
		if left != last {
			fmt.Fprintf(progress, "reassign: %d of %d partitions moved after %.0fs\n", len(want)-left, len(want), time.Since(start).Seconds())
			last = left
		}
		if left == 0 {
			return nil
		}
		if time.Since(start) > timeout {
			return fmt.Errorf("%d of %d moves still in progress after %v", left, len(want), timeout)
		}
		time.Sleep(every)
	}
}
