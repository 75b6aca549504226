package log

import (
	"errors"
	"fmt"
)

// Sentinel errors. broker/api maps each to its Kafka error code; nothing here knows the codes.
var (
	ErrCorruptMessage              = errors.New("corrupt record batch")
	ErrMessageTooLarge             = errors.New("record batch larger than max.message.bytes")
	ErrRecordBatchTooLarge         = errors.New("record batch set larger than the segment size")
	ErrInvalidRecord               = errors.New("invalid record batch")
	ErrUnsupportedForMessageFormat = errors.New("record batch magic below 2 is not supported")
	ErrOffsetOutOfRange            = errors.New("offset out of range")
	ErrInvalidTimestamp            = errors.New("invalid timestamp")
	ErrLogClosed                   = errors.New("log is closed")
	// ErrStorage: the log's directory is offline after an I/O error (Kafka's
	// KafkaStorageException, KAFKA_STORAGE_ERROR); the error wraps the I/O error that took it
	// offline, or says the directory already was.
	ErrStorage = errors.New("log directory is offline")
)

// errSegmentGone: a segment a reader captured was deleted or replaced before it took its file.
var errSegmentGone = errors.New("segment no longer in the log")

// BatchError names the batch (by its index in the appended set) that failed validation.
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return fmt.Sprintf("batch %d: %v", e.Index, e.Err) }
func (e *BatchError) Unwrap() error { return e.Err }
