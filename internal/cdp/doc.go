// Package cdp drives a headless Chromium for tests of the pages brokers serve: it starts
// Debian's chromium with --headless and a DevTools port, speaks the Chrome DevTools Protocol
// over a WebSocket (RFC 6455, client side, standard library only: websocket.go), and offers the
// few calls the tests need — navigate, evaluate a JavaScript expression, take a screenshot.
//
// It owns the browser process (started by Start, killed by Close, which also removes its
// profile directory) and one reader goroutine per connection that routes replies to callers by
// message id; Close stops it. Conn.mu guards the pending-call map; writes are serialized by
// Conn.wmu. Frames from the browser are bounded (MaxMessageBytes).
package cdp
