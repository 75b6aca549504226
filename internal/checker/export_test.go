package checker

import "time"

// SetSettleTimeout shortens ReadBack's wait for a test and returns the old value.
func SetSettleTimeout(d time.Duration) time.Duration {
	old := settleTimeout
	settleTimeout = d
	return old
}
