package group

import "time"

// Clock is the coordinator's source of time and timers. The broker uses the wall clock; the
// package's tests drive a manual clock so that session timeouts and rebalance delays fire when
// a test says so, not when a machine happens to be slow.
type Clock interface {
	Now() time.Time
	// AfterFunc runs f once, on its own goroutine, after d. f must take the locks it needs.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop prevents the call if it has not started; it reports whether it did.
	Stop() bool
}

// WallClock is the real clock.
type WallClock struct{}

// Now is time.Now.
func (WallClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (WallClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
