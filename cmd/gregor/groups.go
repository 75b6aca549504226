package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	kafka "github.com/segmentio/kafka-go"

	"github.com/gregor-broker/gregor/clients"
)

func init() {
	register("groups", "list, describe, delete consumer groups, reset or delete their offsets (like kafka-consumer-groups.sh)", runGroups)
}

// missing is kafka-consumer-groups.sh's placeholder for an empty column.
const missing = "-"

type groupsFlags struct {
	bootstrap                       string
	groups, topics                  multiFlag
	allGroups, allTopics            bool
	members, offsets, verbose       bool
	state                           string // describe: "true"; list: "true" or a comma-separated filter
	toEarliest, toLatest, toCurrent bool
	toOffset, shiftBy               string
	toDatetime, byDuration          string
	execute, dryRun                 bool
	timeout                         time.Duration
}

func runGroups(args []string) error {
	return runActions("groups", groupActions, args)
}

var groupActions = map[string]action{
	"list":           {"list the consumer groups", runGroupsAction},
	"describe":       {"offsets and lag, members (--members) or state (--state) of groups", runGroupsAction},
	"delete":         {"delete empty groups", runGroupsAction},
	"reset-offsets":  {"move committed offsets (--to-earliest, --to-latest, --shift-by, ...)", runGroupsAction},
	"delete-offsets": {"delete a group's committed offsets of topics", runGroupsAction},
}

func runGroupsAction(action string, args []string) error {
	var f groupsFlags
	fs := newFlags("groups "+action, "gregor groups "+action+" -b host:port [--group G | --all-groups] [flags]")
	fs.StringVar(&f.bootstrap, "bootstrap-server", defaultBootstrap, "broker address(es), comma-separated")
	fs.StringVar(&f.bootstrap, "b", defaultBootstrap, "short for --bootstrap-server")
	addGroupsFlags(fs, &f)
	if err := parseFlags(fs, stateArgs(args)); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	return doGroups(action, f)
}

// addGroupsFlags defines the flags `gregor groups` and kafka-consumer-groups.sh share.
func addGroupsFlags(fs *flag.FlagSet, f *groupsFlags) {
	fs.Var(&f.groups, "group", "consumer group (repeatable)")
	fs.Var(&f.groups, "g", "short for --group")
	fs.BoolVar(&f.allGroups, "all-groups", false, "apply to all consumer groups")
	fs.Var(&f.topics, "topic", "topic, or topic:0,1,2 for some partitions (repeatable)")
	fs.Var(&f.topics, "t", "short for --topic")
	fs.BoolVar(&f.allTopics, "all-topics", false, "reset-offsets: every topic the group has offsets for")
	fs.BoolVar(&f.members, "members", false, "describe: the members")
	fs.BoolVar(&f.offsets, "offsets", false, "describe: the offsets and lag (the default)")
	fs.BoolVar(&f.verbose, "verbose", false, "describe --members: the assigned partitions too")
	fs.StringVar(&f.state, "state", "", "describe: the state; list: the state of each group, or only groups in these states")
	fs.BoolVar(&f.toEarliest, "to-earliest", false, "reset to the log start offset")
	fs.BoolVar(&f.toLatest, "to-latest", false, "reset to the log end offset")
	fs.BoolVar(&f.toCurrent, "to-current", false, "reset to the committed offset")
	fs.StringVar(&f.toOffset, "to-offset", "", "reset to this offset")
	fs.StringVar(&f.shiftBy, "shift-by", "", "move the committed offset by n (negative: back)")
	fs.StringVar(&f.toDatetime, "to-datetime", "", "reset to the first offset at or after YYYY-MM-DDTHH:mm:SS.sss[Z|+hh:mm]")
	fs.StringVar(&f.byDuration, "by-duration", "", "reset to the first offset at or after now minus this ISO-8601 duration (PnDTnHnMnS)")
	fs.BoolVar(&f.execute, "execute", false, "reset-offsets: do it")
	fs.BoolVar(&f.dryRun, "dry-run", false, "reset-offsets: only show the result (the default)")
	fs.DurationVar(&f.timeout, "timeout", 60*time.Second, "how long the command may take")
}

// doGroups is `gregor groups <action>` and kafka-consumer-groups.sh --<action>.
func doGroups(action string, f groupsFlags) error {
	brokers := splitBrokers(f.bootstrap)
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	switch action {
	case "list":
		return groupsList(ctx, brokers, f, os.Stdout)
	case "describe":
		ids, err := groupIDs(ctx, brokers, f)
		if err != nil {
			return err
		}
		descs, err := clients.DescribeGroups(ctx, brokers, ids)
		if err != nil {
			return err
		}
		sort.Slice(descs, func(i, j int) bool { return descs[i].GroupID < descs[j].GroupID })
		switch {
		case f.offsets || (!f.members && f.state == ""):
			printGroupOffsets(os.Stdout, os.Stderr, descs)
		case f.members:
			printGroupMembers(os.Stdout, os.Stderr, descs, f.verbose)
		default:
			printGroupStates(os.Stdout, os.Stderr, descs)
		}
		return nil
	case "delete":
		return groupsDelete(ctx, brokers, f, os.Stdout)
	case "reset-offsets":
		return groupsReset(ctx, brokers, f, os.Stdout, os.Stderr)
	case "delete-offsets":
		return groupsDeleteOffsets(ctx, brokers, f, os.Stdout)
	}
	return usagef("unknown action %q: list, describe, delete, reset-offsets or delete-offsets", action)
}

// stateArgs lets --state take an optional value, as in kafka-consumer-groups.sh: "--state"
// alone, "--state Stable,Empty" or "--state=Stable".
func stateArgs(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--state" || a == "-state" {
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				out = append(out, "--state="+args[i+1])
				i++
			} else {
				out = append(out, "--state=true")
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

func groupIDs(ctx context.Context, brokers []string, f groupsFlags) ([]string, error) {
	if f.allGroups {
		ls, err := clients.ListGroups(ctx, brokers)
		if err != nil {
			return nil, err
		}
		ids := make([]string, 0, len(ls))
		for _, l := range ls {
			ids = append(ids, l.GroupID)
		}
		return ids, nil
	}
	if len(f.groups) == 0 {
		return nil, usagef("--group or --all-groups is required")
	}
	return f.groups, nil
}

var groupStates = []string{"PreparingRebalance", "CompletingRebalance", "Stable", "Dead", "Empty"}

func groupsList(ctx context.Context, brokers []string, f groupsFlags, w io.Writer) error {
	ls, err := clients.ListGroups(ctx, brokers)
	if err != nil {
		return err
	}
	if f.state == "" {
		for _, l := range ls {
			fmt.Fprintln(w, l.GroupID)
		}
		return nil
	}
	want := map[string]bool{}
	if f.state != "true" {
		for _, s := range strings.Split(f.state, ",") {
			s = strings.TrimSpace(s)
			ok := false
			for _, known := range groupStates {
				if strings.EqualFold(s, known) {
					want[known], ok = true, true
				}
			}
			if !ok {
				return fmt.Errorf("Invalid state list '%s'. Valid states are: %s", f.state, strings.Join(groupStates, ", "))
			}
		}
	}
	ids := make([]string, 0, len(ls))
	for _, l := range ls {
		ids = append(ids, l.GroupID)
	}
	descs, err := clients.DescribeGroups(ctx, brokers, ids)
	if err != nil {
		return err
	}
	var rows [][2]string
	width := 15
	for _, d := range descs {
		if len(want) > 0 && !want[d.State] {
			continue
		}
		rows = append(rows, [2]string{d.GroupID, d.State})
		width = max(width, len(d.GroupID))
	}
	fmt.Fprintf(w, "%-*s %s\n", width, "GROUP", "STATE")
	for _, r := range rows {
		fmt.Fprintf(w, "%-*s %s\n", width, r[0], r[1])
	}
	return nil
}

// shouldPrintGroup is kafka-consumer-groups.sh's shouldPrintMemberState: the state notices,
// and whether there is anything to print.
func shouldPrintGroup(w, errw io.Writer, d clients.GroupDescription, rows int) bool {
	switch d.State {
	case "Dead":
		fmt.Fprintf(w, "\nError: Consumer group '%s' does not exist.\n", d.GroupID)
	case "Empty":
		fmt.Fprintf(errw, "\nConsumer group '%s' has no active members.\n", d.GroupID)
	case "PreparingRebalance", "CompletingRebalance":
		fmt.Fprintf(errw, "\nWarning: Consumer group '%s' is rebalancing.\n", d.GroupID)
	}
	return d.State != "Dead" && rows > 0
}

// offsetRow is one line of describe's offsets table.
type offsetRow struct {
	group, topic, partition, current, end, lag, consumer, host, client string
}

// groupOffsetRows are describe's rows: members with an assignment (largest first), each
// partition with its committed offset, log end and lag; then committed partitions no member is
// assigned, without consumer.
func groupOffsetRows(d clients.GroupDescription) []offsetRow {
	num := func(v int64, ok bool) string {
		if !ok {
			return missing
		}
		return strconv.FormatInt(v, 10)
	}
	row := func(tp clients.TopicPartition, consumer, host, client string) offsetRow {
		cur, hasCur := d.Committed[tp]
		end, hasEnd := d.LogEnd[tp]
		return offsetRow{group: d.GroupID, topic: tp.Topic, partition: strconv.Itoa(tp.Partition),
			current: num(cur, hasCur), end: num(end, hasEnd), lag: num(end-cur, hasCur && hasEnd && cur != -1),
			consumer: consumer, host: host, client: client}
	}
	members := make([]clients.GroupMember, 0, len(d.Members))
	for _, m := range d.Members {
		if len(m.Assignment) > 0 {
			members = append(members, m)
		}
	}
	sort.SliceStable(members, func(i, j int) bool { return len(members[i].Assignment) > len(members[j].Assignment) })
	var rows []offsetRow
	assigned := map[clients.TopicPartition]bool{}
	for _, m := range members {
		tps := append([]clients.TopicPartition(nil), m.Assignment...)
		sort.SliceStable(tps, func(i, j int) bool { return tps[i].Partition < tps[j].Partition })
		for _, tp := range tps {
			assigned[tp] = true
			rows = append(rows, row(tp, m.MemberID, m.Host, m.ClientID))
		}
	}
	var rest []clients.TopicPartition
	for tp := range d.Committed {
		if !assigned[tp] {
			rest = append(rest, tp)
		}
	}
	sort.Slice(rest, func(i, j int) bool {
		if rest[i].Topic != rest[j].Topic {
			return rest[i].Topic < rest[j].Topic
		}
		return rest[i].Partition < rest[j].Partition
	})
	for _, tp := range rest {
		rows = append(rows, row(tp, missing, missing, missing))
	}
	return rows
}

// printGroupOffsets is describe (--offsets): GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET
// LAG CONSUMER-ID HOST CLIENT-ID, columns as wide as kafka-consumer-groups.sh makes them.
func printGroupOffsets(w, errw io.Writer, descs []clients.GroupDescription) {
	for _, d := range descs {
		rows := groupOffsetRows(d)
		if !shouldPrintGroup(w, errw, d, len(rows)) {
			continue
		}
		g, t, c, h := 15, 15, 15, 15
		for _, r := range rows {
			g, t, c, h = max(g, len(r.group)), max(t, len(r.topic)), max(c, len(r.consumer)), max(h, len(r.host))
		}
		line := func(r offsetRow) {
			fmt.Fprintf(w, "%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %s\n", g, r.group, t, r.topic, r.partition,
				r.current, r.end, r.lag, c, r.consumer, h, r.host, r.client)
		}
		fmt.Fprintln(w)
		line(offsetRow{"GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"})
		for _, r := range rows {
			line(r)
		}
	}
}

// printGroupMembers is describe --members [--verbose].
func printGroupMembers(w, errw io.Writer, descs []clients.GroupDescription, verbose bool) {
	for _, d := range descs {
		if !shouldPrintGroup(w, errw, d, len(d.Members)) {
			continue
		}
		g, c, inst, h, cl := 15, 15, 17, 15, 15
		withInstance := false
		for _, m := range d.Members {
			g, c, inst = max(g, len(d.GroupID)), max(c, len(m.MemberID)), max(inst, len(m.InstanceID))
			h, cl = max(h, len(m.Host)), max(cl, len(m.ClientID))
			withInstance = withInstance || m.InstanceID != ""
		}
		line := func(group, consumer, instance, host, client, parts, assignment string) {
			if withInstance {
				fmt.Fprintf(w, "%-*s %-*s %-*s %-*s %-*s %-15s ", g, group, c, consumer, inst, instance, h, host, cl, client, parts)
			} else {
				fmt.Fprintf(w, "%-*s %-*s %-*s %-*s %-15s ", g, group, c, consumer, h, host, cl, client, parts)
			}
			if verbose {
				fmt.Fprint(w, assignment)
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
		line("GROUP", "CONSUMER-ID", "GROUP-INSTANCE-ID", "HOST", "CLIENT-ID", "#PARTITIONS", "ASSIGNMENT")
		for _, m := range d.Members {
			line(d.GroupID, m.MemberID, m.InstanceID, m.Host, m.ClientID, strconv.Itoa(len(m.Assignment)), formatAssignment(m.Assignment))
		}
	}
}

// formatAssignment is "topic(0,1,2), other(3)", topics sorted, or "-".
func formatAssignment(tps []clients.TopicPartition) string {
	if len(tps) == 0 {
		return missing
	}
	byTopic := map[string][]int{}
	for _, tp := range tps {
		byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
	}
	var parts []string
	for t, ps := range byTopic {
		sort.Ints(ps)
		s := make([]string, len(ps))
		for i, p := range ps {
			s[i] = strconv.Itoa(p)
		}
		parts = append(parts, t+"("+strings.Join(s, ",")+")")
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// printGroupStates is describe --state.
func printGroupStates(w, errw io.Writer, descs []clients.GroupDescription) {
	for _, d := range descs {
		if !shouldPrintGroup(w, errw, d, 1) {
			continue
		}
		coord := fmt.Sprintf("%s:%d (%d)", d.Coordinator.Host, d.Coordinator.Port, d.Coordinator.ID)
		cw := max(25, len(coord))
		fmt.Fprintf(w, "\n%-*s %-25s %-20s %-15s %s", cw, "GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS")
		fmt.Fprintf(w, "\n%-*s %-25s %-20s %-15s %d\n", cw, d.GroupID, coord, d.Protocol, d.State, len(d.Members))
	}
}

// javaException names a Kafka error as the Java admin client's exception prints.
func javaException(err error) string {
	var ke kafka.Error
	if errors.As(err, &ke) {
		names := map[kafka.Error]string{
			kafka.NonEmptyGroup:                "GroupNotEmptyException",
			kafka.GroupIdNotFound:              "GroupIdNotFoundException",
			kafka.InvalidGroupId:               "InvalidGroupIdException",
			kafka.GroupCoordinatorNotAvailable: "CoordinatorNotAvailableException",
			kafka.NotCoordinatorForGroup:       "NotCoordinatorException",
			kafka.GroupAuthorizationFailed:     "GroupAuthorizationException",
		}
		if n, ok := names[ke]; ok {
			return "org.apache.kafka.common.errors." + n + ": " + ke.Description()
		}
	}
	return err.Error()
}

func groupsDelete(ctx context.Context, brokers []string, f groupsFlags, w io.Writer) error {
	ids, err := groupIDs(ctx, brokers, f)
	if err != nil {
		return err
	}
	res, err := clients.DeleteGroups(ctx, brokers, ids)
	if err != nil {
		return err
	}
	var ok, failed []string
	for _, id := range ids {
		if res[id] == nil {
			ok = append(ok, id)
		} else {
			failed = append(failed, id)
		}
	}
	quoted := func(ids []string) string { return "'" + strings.Join(ids, "', '") + "'" }
	if len(failed) == 0 {
		fmt.Fprintf(w, "Deletion of requested consumer groups (%s) was successful.\n", quoted(ok))
		return nil
	}
	fmt.Fprintf(w, "\nError: Deletion of some consumer groups failed:\n")
	for _, id := range failed {
		fmt.Fprintf(w, "* Group '%s' could not be deleted due to: %s\n", id, javaException(res[id]))
	}
	if len(ok) > 0 {
		fmt.Fprintf(w, "\nThese consumer groups were deleted successfully: %s\n", quoted(ok))
	}
	return nil
}

// parseTopicPartitions expands --topic values: "t" (every partition) or "t:0,1".
func parseTopicPartitions(ctx context.Context, brokers []string, topics []string) ([]clients.TopicPartition, error) {
	var out []clients.TopicPartition
	for _, t := range topics {
		name, parts, ok := strings.Cut(t, ":")
		if !ok {
			tps, err := clients.TopicPartitions(ctx, brokers, []string{name})
			if err != nil {
				return nil, err
			}
			out = append(out, tps...)
			continue
		}
		for _, p := range strings.Split(parts, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				return nil, usagef("--topic %q: partition %q is not a number", t, p)
			}
			out = append(out, clients.TopicPartition{Topic: name, Partition: n})
		}
	}
	return out, nil
}

func groupsReset(ctx context.Context, brokers []string, f groupsFlags, w, errw io.Writer) error {
	if f.execute && f.dryRun {
		return usagef("%s", "Option --reset-offsets only accepts one of --execute and --dry-run")
	}
	spec, err := resetSpec(f, time.Now())
	if err != nil {
		return err
	}
	if !f.execute && !f.dryRun {
		fmt.Fprintln(errw, "WARN: No action will be performed as the --execute option is missing."+
			"In a future major release, the default behavior of this command will be to prompt the user before "+
			"executing the reset rather than doing a dry run. You should add the --dry-run option explicitly "+
			"if you are scripting this command and want to keep the current default behavior without prompting.")
	}
	if !f.allTopics && len(f.topics) == 0 {
		return usagef("%s", "One of the reset scopes should be defined: --all-topics, --topic.")
	}
	ids, err := groupIDs(ctx, brokers, f)
	if err != nil {
		return err
	}
	descs, err := clients.DescribeGroups(ctx, brokers, ids)
	if err != nil {
		return err
	}
	type planned struct {
		group string
		tp    clients.TopicPartition
		off   int64
	}
	var plan []planned
	for _, d := range descs {
		if d.State != "Empty" && d.State != "Dead" {
			fmt.Fprintf(w, "\nError: Assignments can only be reset if the group '%s' is inactive, but the current state is %s.\n", d.GroupID, d.State)
			continue
		}
		var tps []clients.TopicPartition
		if f.allTopics {
			for tp := range d.Committed {
				tps = append(tps, tp)
			}
		} else if tps, err = parseTopicPartitions(ctx, brokers, f.topics); err != nil {
			return err
		}
		offs, err := clients.PlanReset(ctx, brokers, d.GroupID, tps, spec)
		if err != nil {
			return err
		}
		if f.execute {
			if err := clients.CommitOffsets(ctx, brokers, d.GroupID, offs); err != nil {
				return fmt.Errorf("reset offsets of %s: %w", d.GroupID, err)
			}
		}
		for tp, off := range offs {
			plan = append(plan, planned{d.GroupID, tp, off})
		}
	}
	sort.Slice(plan, func(i, j int) bool {
		a, b := plan[i], plan[j]
		if a.group != b.group {
			return a.group < b.group
		}
		if a.tp.Topic != b.tp.Topic {
			return a.tp.Topic < b.tp.Topic
		}
		return a.tp.Partition < b.tp.Partition
	})
	if len(plan) > 0 {
		fmt.Fprintf(w, "\n%-30s %-30s %-10s %-15s\n", "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")
	}
	for _, p := range plan {
		fmt.Fprintf(w, "%-30s %-30s %-10d %-15d\n", p.group, p.tp.Topic, p.tp.Partition, p.off)
	}
	return nil
}

// resetSpec reads the one reset scenario given.
func resetSpec(f groupsFlags, now time.Time) (clients.ResetSpec, error) {
	var spec clients.ResetSpec
	n := 0
	if f.toEarliest {
		spec.ToEarliest = true
		n++
	}
	if f.toLatest {
		spec.ToLatest = true
		n++
	}
	if f.toCurrent {
		spec.ToCurrent = true
		n++
	}
	num := func(flag, v string) (*int64, error) {
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, usagef("--%s %q is not a number", flag, v)
		}
		return &x, nil
	}
	var err error
	if f.toOffset != "" {
		if spec.ToOffset, err = num("to-offset", f.toOffset); err != nil {
			return spec, err
		}
		n++
	}
	if f.shiftBy != "" {
		if spec.ShiftBy, err = num("shift-by", f.shiftBy); err != nil {
			return spec, err
		}
		n++
	}
	if f.toDatetime != "" {
		t, err := parseKafkaDatetime(f.toDatetime)
		if err != nil {
			return spec, err
		}
		spec.ToDatetime = &t
		n++
	}
	if f.byDuration != "" {
		d, err := parseISODuration(f.byDuration)
		if err != nil {
			return spec, err
		}
		t := now.Add(-d)
		spec.ToDatetime = &t
		n++
	}
	if n != 1 {
		return spec, usagef("%s", "Option --reset-offsets requires exactly one of: --to-datetime, --by-duration, --to-earliest, --to-latest, --shift-by, --to-current, --to-offset")
	}
	return spec, nil
}

// parseKafkaDatetime reads kafka-consumer-groups.sh's --to-datetime: ISO-8601 local date-time
// with milliseconds, UTC unless a zone (Z, +hh:mm, -hh:mm) is given.
func parseKafkaDatetime(s string) (time.Time, error) {
	_, clock, ok := strings.Cut(s, "T")
	if !ok {
		return time.Time{}, fmt.Errorf("Error parsing timestamp. It does not contain a 'T' according to ISO8601 format")
	}
	if !strings.ContainsAny(clock, "+-Z") {
		s += "Z"
	}
	for _, layout := range []string{"2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05.000Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("Error parsing timestamp %q: expected yyyy-MM-dd'T'HH:mm:ss.SSS with an optional zone", s)
}

// parseISODuration reads an ISO-8601 duration such as PT1H30M or P1DT12H (Java's
// Duration.parse: days, hours, minutes, seconds).
func parseISODuration(s string) (time.Duration, error) {
	bad := usagef("--by-duration %q is not an ISO-8601 duration such as PT1H or P1DT12H", s)
	rest, ok := strings.CutPrefix(strings.ToUpper(s), "P")
	if !ok || rest == "" {
		return 0, bad
	}
	var d time.Duration
	inTime := false
	num := ""
	for _, r := range rest {
		switch {
		case r >= '0' && r <= '9' || r == '.':
			num += string(r)
		case r == 'T':
			inTime = true
		default:
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, bad
			}
			num = ""
			unit := map[rune]time.Duration{'D': 24 * time.Hour, 'H': time.Hour, 'M': time.Minute, 'S': time.Second}[r]
			if unit == 0 || (r == 'D') == inTime {
				return 0, bad
			}
			d += time.Duration(v * float64(unit))
		}
	}
	if num != "" {
		return 0, bad
	}
	return d, nil
}

func groupsDeleteOffsets(ctx context.Context, brokers []string, f groupsFlags, w io.Writer) error {
	if len(f.groups) != 1 {
		return usagef("%s", "delete-offsets needs exactly one --group")
	}
	if len(f.topics) == 0 {
		return usagef("%s", "delete-offsets needs --topic")
	}
	group := f.groups[0]
	tps, err := parseTopicPartitions(ctx, brokers, f.topics)
	if err != nil {
		return err
	}
	res, err := clients.DeleteOffsets(ctx, brokers, group, tps)
	if err != nil {
		return err
	}
	var ke kafka.Error
	switch {
	case res.GroupErr == nil:
		fmt.Fprintf(w, "Request succeed for deleting offsets with topic %s group %s\n", strings.Join(f.topics, ", "), group)
	case errors.As(res.GroupErr, &ke) && ke == kafka.InvalidGroupId:
		fmt.Fprintf(w, "\nError: '%s' is not valid.\n", group)
	case errors.As(res.GroupErr, &ke) && ke == kafka.GroupIdNotFound:
		fmt.Fprintf(w, "\nError: '%s' does not exist.\n", group)
	case errors.As(res.GroupErr, &ke) && ke == kafka.NonEmptyGroup:
		fmt.Fprintf(w, "\nError: Deleting offsets of a consumer group '%s' is forbidden if the group is not empty.\n", group)
	default:
		fmt.Fprintf(w, "\nError: Encounter some unknown error: %v\n", res.GroupErr)
	}
	fmt.Fprintf(w, "\n%-30s %-15s %-15s\n", "TOPIC", "PARTITION", "STATUS")
	sort.Slice(tps, func(i, j int) bool {
		return tps[i].Topic+strconv.Itoa(tps[i].Partition) < tps[j].Topic+strconv.Itoa(tps[j].Partition)
	})
	for _, tp := range tps {
		status := "Successful"
		if e, ok := res.Partitions[tp]; ok && e != nil {
			status = "Error: " + e.Error()
		} else if !ok && res.GroupErr != nil {
			status = "Error: " + res.GroupErr.Error()
		}
		fmt.Fprintf(w, "%-30s %-15d %-15s\n", tp.Topic, tp.Partition, status)
	}
	return nil
}
