package zkmeta

import "errors"

// Sentinel errors, wrapped with the path they concern.
var (
	ErrNoNode            = errors.New("znode does not exist")
	ErrTopicExists       = errors.New("topic already exists")
	ErrBrokerIDInUse     = errors.New("broker id is registered by a live broker")
	ErrControllerMoved   = errors.New("controller epoch moved: this controller is fenced")
	ErrBadVersion        = errors.New("znode version changed")
	ErrNodeExists        = errors.New("znode already exists")
	ErrClusterIDMismatch = errors.New("cluster id mismatch")
)
