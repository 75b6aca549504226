package api

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/group"
	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/config"
	"github.com/gregor-broker/gregor/controller"
	"github.com/gregor-broker/gregor/zkmeta"
)

func TestErrorCode(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("append to orders-0: %w", err) }
	for _, tc := range []struct {
		name string
		err  error
		want *kerr.Error
	}{
		{"nil", nil, nil},
		{"kerr as is", kerr.NotController, kerr.NotController},
		{"wrapped kerr", wrap(kerr.InvalidPartitions), kerr.InvalidPartitions},
		{"handler error", errorf(kerr.InvalidReplicaAssignment, "dup"), kerr.InvalidReplicaAssignment},
		{"wrapped handler error", wrap(errorf(kerr.PolicyViolation, "no")), kerr.PolicyViolation},

		{"log corrupt", wrap(klog.ErrCorruptMessage), kerr.CorruptMessage},
		{"log too large", klog.ErrMessageTooLarge, kerr.MessageTooLarge},
		{"log batch too large", klog.ErrRecordBatchTooLarge, kerr.RecordListTooLarge},
		{"log invalid record", klog.ErrInvalidRecord, kerr.InvalidRecord},
		{"log message format", klog.ErrUnsupportedForMessageFormat, kerr.UnsupportedForMessageFormat},
		{"log out of range", wrap(klog.ErrOffsetOutOfRange), kerr.OffsetOutOfRange},
		{"log timestamp", klog.ErrInvalidTimestamp, kerr.InvalidTimestamp},
		{"log sequence", klog.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
		{"log producer epoch", klog.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
		{"log duplicate", klog.ErrDuplicateSequence, kerr.DuplicateSequenceNumber},
		{"log unknown producer", klog.ErrUnknownProducerID, kerr.UnknownProducerID},
		{"log closed", klog.ErrLogClosed, kerr.NotLeaderForPartition},
		{"batch error", wrap(&klog.BatchError{Index: 2, Err: klog.ErrCorruptMessage}), kerr.CorruptMessage},

		{"replica not leader", replica.ErrNotLeaderOrFollower, kerr.NotLeaderForPartition},
		{"replica unknown", wrap(replica.ErrUnknownTopicOrPartition), kerr.UnknownTopicOrPartition},
		{"replica not enough", replica.ErrNotEnoughReplicas, kerr.NotEnoughReplicas},
		{"replica timeout", replica.ErrRequestTimedOut, kerr.RequestTimedOut},
		{"replica fenced", replica.ErrFencedLeaderEpoch, kerr.FencedLeaderEpoch},
		{"replica unknown epoch", replica.ErrUnknownLeaderEpoch, kerr.UnknownLeaderEpoch},
		{"replica stale controller", replica.ErrStaleControllerEpoch, kerr.StaleControllerEpoch},
		{"replica storage", replica.ErrKafkaStorage, kerr.KafkaStorageError},
		{"replica shutdown", replica.ErrShutdown, kerr.NotLeaderForPartition},

		{"group InvalidGroupID", wrap(group.ErrInvalidGroupID), kerr.InvalidGroupID},
		{"group CoordinatorNotAvailable", wrap(group.ErrCoordinatorNotAvailable), kerr.CoordinatorNotAvailable},
		{"group NotCoordinator", wrap(group.ErrNotCoordinator), kerr.NotCoordinator},
		{"group CoordinatorLoadInProgress", wrap(group.ErrCoordinatorLoadInProgress), kerr.CoordinatorLoadInProgress},
		{"group InvalidSessionTimeout", wrap(group.ErrInvalidSessionTimeout), kerr.InvalidSessionTimeout},
		{"group UnknownMemberID", wrap(group.ErrUnknownMemberID), kerr.UnknownMemberID},
		{"group MemberIDRequired", wrap(group.ErrMemberIDRequired), kerr.MemberIDRequired},
		{"group IllegalGeneration", wrap(group.ErrIllegalGeneration), kerr.IllegalGeneration},
		{"group RebalanceInProgress", wrap(group.ErrRebalanceInProgress), kerr.RebalanceInProgress},
		{"group InconsistentGroupProtocol", wrap(group.ErrInconsistentGroupProtocol), kerr.InconsistentGroupProtocol},
		{"group FencedInstanceID", wrap(group.ErrFencedInstanceID), kerr.FencedInstanceID},
		{"group GroupMaxSizeReached", wrap(group.ErrGroupMaxSizeReached), kerr.GroupMaxSizeReached},
		{"group GroupIDNotFound", wrap(group.ErrGroupIDNotFound), kerr.GroupIDNotFound},
		{"group NonEmptyGroup", wrap(group.ErrNonEmptyGroup), kerr.NonEmptyGroup},
		{"group GroupSubscribedToTopic", wrap(group.ErrGroupSubscribedToTopic), kerr.GroupSubscribedToTopic},
		{"group OffsetMetadataTooLarge", wrap(group.ErrOffsetMetadataTooLarge), kerr.OffsetMetadataTooLarge},
		{"group InvalidCommitOffsetSize", wrap(group.ErrInvalidCommitOffsetSize), kerr.InvalidCommitOffsetSize},
		{"group UnstableOffsetCommit", wrap(group.ErrUnstableOffsetCommit), kerr.UnstableOffsetCommit},
		{"group RequestTimedOut", wrap(group.ErrRequestTimedOut), kerr.RequestTimedOut},
		{"group UnknownServerError", wrap(group.ErrUnknownServerError), kerr.UnknownServerError},
		{"group error naming a replica cause", fmt.Errorf("%w: %v", group.ErrNotCoordinator, replica.ErrNotLeaderOrFollower), kerr.NotCoordinator},

		{"controller rf", wrap(controller.ErrInvalidReplicationFactor), kerr.InvalidReplicationFactor},
		{"controller partitions", controller.ErrInvalidPartitions, kerr.InvalidPartitions},
		{"controller assignment", controller.ErrInvalidReplicaAssignment, kerr.InvalidReplicaAssignment},

		{"zk topic exists", wrap(zkmeta.ErrTopicExists), kerr.TopicAlreadyExists},
		{"zk no node", zkmeta.ErrNoNode, kerr.UnknownTopicOrPartition},
		{"zk controller moved", zkmeta.ErrControllerMoved, kerr.NotController},

		{"config error", wrap(&config.Error{Key: "retention.ms", Value: "x", Reason: "not a number"}), kerr.InvalidConfig},
		{"deadline", wrap(context.DeadlineExceeded), kerr.RequestTimedOut},
		{"unknown", errors.New("disk on fire"), kerr.UnknownServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := int16(0)
			if tc.want != nil {
				want = tc.want.Code
			}
			if got := ErrorCode(tc.err); got != want {
				t.Fatalf("ErrorCode(%v) = %d (%v), want %d (%v)", tc.err, got, kerr.ErrorForCode(got), want, tc.want)
			}
		})
	}
}

func TestErrorTableSentinelsAreDistinct(t *testing.T) {
	// Two packages exporting the same error value would make the table order decide the
	// code silently; every sentinel must map through its own entry.
	for i, a := range errorTable {
		if a.err == nil {
			t.Fatalf("entry %d (%v): nil sentinel", i, a.code)
		}
		for j, b := range errorTable[:i] {
			if errors.Is(a.err, b.err) && a.code != b.code {
				t.Fatalf("entry %d (%v) is matched by earlier entry %d (%v)", i, a.code, j, b.code)
			}
		}
	}
}

func TestErrorMessage(t *testing.T) {
	if errorMessage(nil) != nil {
		t.Fatal("nil error has a message")
	}
	if m := errorMessage(errorf(kerr.InvalidRequest, "two %s", "topics")); m == nil || *m != "two topics" {
		t.Fatalf("handler message %v", m)
	}
	if m := errorMessage(kerr.NotController); m == nil || *m == "" {
		t.Fatal("kerr error without message")
	}
}
