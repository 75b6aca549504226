package group

// State is a group's state, Kafka's GroupState; String is what DescribeGroups and ListGroups
// report.
type State int8

const (
	// Empty: no members; offsets may remain. Reached by the last member leaving or expiring, or
	// by loading a group whose metadata has no members.
	Empty State = iota
	// PreparingRebalance: waiting for every member to (re)join, bounded by the largest
	// rebalance timeout of the members (or the initial rebalance delay for an empty group).
	PreparingRebalance
	// CompletingRebalance: the generation is chosen; waiting for the leader's assignment.
	CompletingRebalance
	// Stable: every member has its assignment and heartbeats.
	Stable
	// Dead: removed (deleted, expired, or its partition unloaded); nothing more happens to it.
	Dead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "Unknown"
}

// validPrevious lists, per state, the states it may be entered from (Kafka's GroupMetadata).
var validPrevious = [...][]State{
	Empty:               {PreparingRebalance},
	PreparingRebalance:  {Stable, CompletingRebalance, Empty},
	CompletingRebalance: {PreparingRebalance},
	Stable:              {CompletingRebalance},
	Dead:                {Stable, PreparingRebalance, CompletingRebalance, Empty, Dead},
}

// canTransition reports whether from → to is one of Kafka's transitions.
func canTransition(from, to State) bool {
	for _, s := range validPrevious[to] {
		if s == from {
			return true
		}
	}
	return false
}

// ParseState maps a state name to its State; ok is false for unknown names.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}
