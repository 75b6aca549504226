package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/group"
	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/config"
	"github.com/gregor-broker/gregor/controller"
	"github.com/gregor-broker/gregor/zkmeta"
)

// Error is a Kafka error raised by a handler itself (request validation), with the message the
// client sees in the response's error message field where the API has one.
type Error struct {
	Code    *kerr.Error
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.Message
	}
	return e.Code.Message + ": " + e.Message
}

// Unwrap lets errors.Is(err, kerr.X) match.
func (e *Error) Unwrap() error { return e.Code }

// errorf builds an *Error.
func errorf(code *kerr.Error, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// errorTable maps sentinel errors of the other packages to Kafka errors, checked in order with
// errors.Is, so wrapped errors (BatchError, fmt.Errorf("...: %w")) map like their cause.
var errorTable = []struct {
	err  error
	code *kerr.Error
}{
	// broker/log
	{klog.ErrCorruptMessage, kerr.CorruptMessage},
	// A batch above max.message.bytes is Kafka's RecordTooLargeException (MESSAGE_TOO_LARGE);
	// RECORD_LIST_TOO_LARGE is Kafka's RecordBatchTooLargeException (batch above segment size).
	{klog.ErrMessageTooLarge, kerr.MessageTooLarge},
	{klog.ErrRecordBatchTooLarge, kerr.RecordListTooLarge},
	{klog.ErrInvalidRecord, kerr.InvalidRecord},
	{klog.ErrUnsupportedForMessageFormat, kerr.UnsupportedForMessageFormat},
	{klog.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},
	{klog.ErrInvalidTimestamp, kerr.InvalidTimestamp},
	{klog.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
	{klog.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
	{klog.ErrDuplicateSequence, kerr.DuplicateSequenceNumber},
	{klog.ErrUnknownProducerID, kerr.UnknownProducerID},
	// A closed log is a partition being deleted or moved away: the client must look up the
	// leader again, as after NOT_LEADER_OR_FOLLOWER.
	{klog.ErrLogClosed, kerr.NotLeaderForPartition},

	// broker/replica
	{replica.ErrNotLeaderOrFollower, kerr.NotLeaderForPartition},
	{replica.ErrUnknownTopicOrPartition, kerr.UnknownTopicOrPartition},
	{replica.ErrNotEnoughReplicasAfterAppend, kerr.NotEnoughReplicasAfterAppend},
	{replica.ErrNotEnoughReplicas, kerr.NotEnoughReplicas},
	{replica.ErrRequestTimedOut, kerr.RequestTimedOut},
	{replica.ErrFencedLeaderEpoch, kerr.FencedLeaderEpoch},
	{replica.ErrUnknownLeaderEpoch, kerr.UnknownLeaderEpoch},
	{replica.ErrStaleControllerEpoch, kerr.StaleControllerEpoch},
	{replica.ErrKafkaStorage, kerr.KafkaStorageError},
	// A broker shutting down no longer serves the partition: the client finds the new leader.
	{replica.ErrShutdown, kerr.NotLeaderForPartition},

	// broker/group (its write failures arrive already mapped, as Kafka's GroupMetadataManager
	// maps them: NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, INVALID_COMMIT_OFFSET_SIZE ...)
	{group.ErrInvalidGroupID, kerr.InvalidGroupID},
	{group.ErrCoordinatorNotAvailable, kerr.CoordinatorNotAvailable},
	{group.ErrNotCoordinator, kerr.NotCoordinator},
	{group.ErrCoordinatorLoadInProgress, kerr.CoordinatorLoadInProgress},
	{group.ErrInvalidSessionTimeout, kerr.InvalidSessionTimeout},
	{group.ErrUnknownMemberID, kerr.UnknownMemberID},
	{group.ErrMemberIDRequired, kerr.MemberIDRequired},
	{group.ErrIllegalGeneration, kerr.IllegalGeneration},
	{group.ErrRebalanceInProgress, kerr.RebalanceInProgress},
	{group.ErrInconsistentGroupProtocol, kerr.InconsistentGroupProtocol},
	{group.ErrFencedInstanceID, kerr.FencedInstanceID},
	{group.ErrGroupMaxSizeReached, kerr.GroupMaxSizeReached},
	{group.ErrGroupIDNotFound, kerr.GroupIDNotFound},
	{group.ErrNonEmptyGroup, kerr.NonEmptyGroup},
	{group.ErrGroupSubscribedToTopic, kerr.GroupSubscribedToTopic},
	{group.ErrOffsetMetadataTooLarge, kerr.OffsetMetadataTooLarge},
	{group.ErrInvalidCommitOffsetSize, kerr.InvalidCommitOffsetSize},
	{group.ErrUnstableOffsetCommit, kerr.UnstableOffsetCommit},
	{group.ErrRequestTimedOut, kerr.RequestTimedOut},
	{group.ErrUnknownServerError, kerr.UnknownServerError},

	// controller (replica assignment)
	{controller.ErrInvalidReplicationFactor, kerr.InvalidReplicationFactor},
	{controller.ErrInvalidPartitions, kerr.InvalidPartitions},
	{controller.ErrInvalidReplicaAssignment, kerr.InvalidReplicaAssignment},

	// zkmeta
	{zkmeta.ErrTopicExists, kerr.TopicAlreadyExists},
	{zkmeta.ErrNoNode, kerr.UnknownTopicOrPartition},
	{zkmeta.ErrControllerMoved, kerr.NotController},

	// The request's own deadline or the connection going away.
	{context.DeadlineExceeded, kerr.RequestTimedOut},
	{context.Canceled, kerr.RequestTimedOut},
}

// ErrorCode is the Kafka error code for err: 0 for nil, the code of a *kerr.Error or *Error,
// the table above for sentinels, INVALID_CONFIG for a config validation error, and
// UNKNOWN_SERVER_ERROR for anything else.
func ErrorCode(err error) int16 {
	return kafkaError(err).Code
}

// kafkaError is ErrorCode's lookup returning the kerr value (nil error → code 0 entry).
func kafkaError(err error) *kerr.Error {
	if err == nil {
		return noError
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	var ce *config.Error
	if errors.As(err, &ce) {
		return kerr.InvalidConfig
	}
	return kerr.UnknownServerError
}

// noError stands for success in kafkaError's result.
var noError = &kerr.Error{Message: "NONE", Code: 0}

// errorMessage is the message for a response's ErrorMessage field: nil on success, the handler's
// message for an *Error, else the error's text.
func errorMessage(err error) *string {
	if err == nil {
		return nil
	}
	var ae *Error
	if errors.As(err, &ae) {
		if ae.Message == "" {
			return nil
		}
		m := ae.Message
		return &m
	}
	m := err.Error()
	return &m
}
