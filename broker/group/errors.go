package group

import "errors"

// Sentinel errors of the coordinator; broker/api maps each to Kafka's error code. Wrapped
// errors (fmt.Errorf("...: %w", ErrX)) map like their sentinel.
var (
	ErrInvalidGroupID            = errors.New("invalid group id")
	ErrCoordinatorNotAvailable   = errors.New("the coordinator is not available")
	ErrNotCoordinator            = errors.New("this broker is not the coordinator of the group")
	ErrCoordinatorLoadInProgress = errors.New("the coordinator is loading the group's partition")
	ErrInvalidSessionTimeout     = errors.New("session timeout outside group.min/max.session.timeout.ms")
	ErrUnknownMemberID           = errors.New("unknown member id")
	ErrMemberIDRequired          = errors.New("a member id is required: join again with the one returned")
	ErrIllegalGeneration         = errors.New("generation is not the group's current one")
	ErrRebalanceInProgress       = errors.New("the group is rebalancing")
	ErrInconsistentGroupProtocol = errors.New("protocol type or protocols do not match the group's")
	ErrFencedInstanceID          = errors.New("the static member's instance id is used by a newer member")
	ErrGroupMaxSizeReached       = errors.New("the group has reached group.max.size")
	ErrGroupIDNotFound           = errors.New("the group does not exist")
	ErrNonEmptyGroup             = errors.New("the group has members")
	ErrGroupSubscribedToTopic    = errors.New("the group is subscribed to the topic")
	ErrOffsetMetadataTooLarge    = errors.New("offset metadata is larger than offset.metadata.max.bytes")
	ErrInvalidCommitOffsetSize   = errors.New("the offset commit is too large to store")
	ErrUnstableOffsetCommit      = errors.New("an offset commit for the partition is pending")
	ErrRequestTimedOut           = errors.New("the write to __consumer_offsets timed out")
	ErrUnknownServerError        = errors.New("unexpected coordinator error")
)
