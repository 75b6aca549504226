package network

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// unsupportedError is a request for an API key or version the broker does not serve. Kafka
// closes the connection on it (only ApiVersions gets an answer), and so do we.
type unsupportedError struct {
	Key, Version int16
	KnownKey     bool // the key is served, only the version is not
}

func (e *unsupportedError) Error() string {
	if e.KnownKey {
		return fmt.Sprintf("unsupported version %d of %s (key %d)", e.Version, kmsg.NameForKey(e.Key), e.Key)
	}
	return fmt.Sprintf("unsupported API key %d (%s)", e.Key, kmsg.NameForKey(e.Key))
}

// decoded is one frame after header parsing, version gating and body decoding.
type decoded struct {
	hdr  requestHeader
	body kmsg.Request // nil only for an ApiVersions request above the versions we serve
}

// decodeRequest parses frame's header, checks the version against tbl and decodes the body.
// The body's byte fields alias frame. On error the header is returned as far as it was parsed,
// for the log line.
func decodeRequest(tbl versionTable, frame []byte) (d decoded, err error) {
	hdr, rest, err := parseRequestHeader(frame)
	if err != nil {
		return decoded{hdr: hdr}, fmt.Errorf("parse request header: %w", err)
	}
	d.hdr = hdr
	r, ok := tbl.lookup(hdr.Key)
	if !ok {
		return d, &unsupportedError{Key: hdr.Key, Version: hdr.Version}
	}
	if hdr.Version < r.min || hdr.Version > r.max {
		if hdr.Key == apiVersionsKey {
			// Answered with a v0-format UNSUPPORTED_VERSION response; the body (in a format we
			// do not know) is not read, as Kafka does.
			return d, nil
		}
		return d, &unsupportedError{Key: hdr.Key, Version: hdr.Version, KnownKey: true}
	}
	req := kmsg.RequestForKey(hdr.Key) // non-nil: newVersionTable only admits keys kmsg knows
	req.SetVersion(hdr.Version)
	if req.IsFlexible() {
		if rest, err = skipTaggedFields(rest); err != nil {
			return d, fmt.Errorf("request header v2 tagged fields: %w", err)
		}
	}
	if err := safeReadFrom(req, rest); err != nil {
		return d, fmt.Errorf("decode %s v%d body (%d bytes): %w", kmsg.NameForKey(hdr.Key), hdr.Version, len(rest), err)
	}
	d.body = req
	return d, nil
}

// safeReadFrom decodes with kmsg's copying string decoder and turns a codec panic on hostile
// input into an error: one bad client must not take the broker down.
func safeReadFrom(req kmsg.Request, body []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("codec panic: %v", p)
		}
	}()
	return req.ReadFrom(body)
}
