package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gregor-broker/gregor/clients"
)

func TestGroupOffsetsTable(t *testing.T) {
	tp := func(topic string, p int) clients.TopicPartition {
		return clients.TopicPartition{Topic: topic, Partition: p}
	}
	d := clients.GroupDescription{GroupID: "orders-app", State: "Stable",
		Members: []clients.GroupMember{
			{MemberID: "c1-aaaa", ClientID: "c1", Host: "/127.0.0.1", Assignment: []clients.TopicPartition{tp("orders", 2)}},
			{MemberID: "c2-bbbb", ClientID: "c2", Host: "/127.0.0.1", Assignment: []clients.TopicPartition{tp("orders", 1), tp("orders", 0)}},
			{MemberID: "idle", ClientID: "c3", Host: "/127.0.0.1"},
		},
		Committed: map[clients.TopicPartition]int64{tp("orders", 0): 10, tp("orders", 2): 7, tp("old", 0): 3},
		LogEnd:    map[clients.TopicPartition]int64{tp("orders", 0): 15, tp("orders", 1): 4, tp("orders", 2): 7, tp("old", 0): 9},
	}
	var out, errOut bytes.Buffer
	printGroupOffsets(&out, &errOut, []clients.GroupDescription{d})
	want := `
GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID
orders-app      orders          0          10              15              5               c2-bbbb         /127.0.0.1      c2
orders-app      orders          1          -               4               -               c2-bbbb         /127.0.0.1      c2
orders-app      orders          2          7               7               0               c1-aaaa         /127.0.0.1      c1
orders-app      old             0          3               9               6               -               -               -
`
	if out.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	if errOut.Len() != 0 {
		t.Fatalf("stderr for a stable group: %q", errOut.String())
	}
	// An empty group says so on stderr; a dead one is an error and prints no table.
	out.Reset()
	d.State, d.Members = "Empty", nil
	printGroupOffsets(&out, &errOut, []clients.GroupDescription{d, {GroupID: "gone", State: "Dead"}})
	if !strings.Contains(errOut.String(), "Consumer group 'orders-app' has no active members.") ||
		!strings.HasSuffix(out.String(), "\nError: Consumer group 'gone' does not exist.\n") ||
		strings.Count(out.String(), "GROUP ") != 1 {
		t.Fatalf("stdout %q stderr %q", out.String(), errOut.String())
	}
}

func TestGroupMembersAndStateTables(t *testing.T) {
	d := clients.GroupDescription{GroupID: "g", State: "Stable", Protocol: "range",
		Coordinator: clients.Coordinator{ID: 2, Host: "127.0.0.1", Port: 9093},
		Members: []clients.GroupMember{{MemberID: "m-1", InstanceID: "static-1", ClientID: "c", Host: "/10.0.0.1",
			Assignment: []clients.TopicPartition{{Topic: "b", Partition: 1}, {Topic: "a", Partition: 2}, {Topic: "a", Partition: 0}}}}}
	var out, errOut bytes.Buffer
	printGroupMembers(&out, &errOut, []clients.GroupDescription{d}, true)
	want := "\nGROUP           CONSUMER-ID     GROUP-INSTANCE-ID HOST            CLIENT-ID       #PARTITIONS     ASSIGNMENT\n" +
		"g               m-1             static-1          /10.0.0.1       c               3               a(0,2), b(1)\n"
	if out.String() != want {
		t.Fatalf("got:\n%q\nwant:\n%q", out.String(), want)
	}
	out.Reset()
	printGroupStates(&out, &errOut, []clients.GroupDescription{d})
	want = "\nGROUP                     COORDINATOR (ID)          ASSIGNMENT-STRATEGY  STATE           #MEMBERS" +
		"\ng                         127.0.0.1:9093 (2)        range                Stable          1\n"
	if out.String() != want {
		t.Fatalf("got:\n%q\nwant:\n%q", out.String(), want)
	}
}

func TestResetOptions(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		f    groupsFlags
		want string // the scenario set, or "error"
	}{
		{groupsFlags{toEarliest: true}, "earliest"},
		{groupsFlags{toOffset: "42"}, "offset 42"},
		{groupsFlags{shiftBy: "-5"}, "shift -5"},
		{groupsFlags{toDatetime: "2026-02-28T10:00:00.000"}, "time 2026-02-28T10:00:00Z"},
		{groupsFlags{toDatetime: "2026-02-28T10:00:00.000+02:00"}, "time 2026-02-28T08:00:00Z"},
		{groupsFlags{byDuration: "PT1H30M"}, "time 2026-03-01T10:30:00Z"},
		{groupsFlags{byDuration: "P1DT2H"}, "time 2026-02-28T10:00:00Z"},
		{groupsFlags{toEarliest: true, toLatest: true}, "error"},
		{groupsFlags{}, "error"},
		{groupsFlags{toOffset: "x"}, "error"},
		{groupsFlags{toDatetime: "2026-02-28"}, "error"},
		{groupsFlags{byDuration: "1H"}, "error"},
	}
	for _, tt := range tests {
		spec, err := resetSpec(tt.f, now)
		var got string
		switch {
		case err != nil:
			got = "error"
		case spec.ToEarliest:
			got = "earliest"
		case spec.ToOffset != nil:
			got = "offset " + strconv.FormatInt(*spec.ToOffset, 10)
		case spec.ShiftBy != nil:
			got = "shift " + strconv.FormatInt(*spec.ShiftBy, 10)
		case spec.ToDatetime != nil:
			got = "time " + spec.ToDatetime.UTC().Format(time.RFC3339)
		}
		if got != tt.want {
			t.Errorf("%+v: %s, want %s (%v)", tt.f, got, tt.want, err)
		}
	}
	if got := stateArgs([]string{"--state", "--group", "g"}); strings.Join(got, " ") != "--state=true --group g" {
		t.Errorf("stateArgs: %v", got)
	}
	if got := stateArgs([]string{"--state", "Stable,Empty"}); strings.Join(got, " ") != "--state=Stable,Empty" {
		t.Errorf("stateArgs: %v", got)
	}
}
