package network

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiVersionsResponse answers an ApiVersions request (req nil = a version above ours) as Kafka
// 2.8 does:
//   - version outside 0..3: a v0-format response, UNSUPPORTED_VERSION, listing every range we
//     serve (clients read it at v0 and retry with, or directly use, what is listed);
//   - v3 with a client software name or version that breaks KIP-511's pattern: INVALID_REQUEST;
//   - otherwise the served ranges; v3 adds ThrottleMillis 0 and no features (the tagged
//     SupportedFeatures/FinalizedFeatures stay empty, FinalizedFeaturesEpoch -1).
//
// The caller writes it without the response-header tag buffer, whatever the version.
func apiVersionsResponse(version int16, req *kmsg.ApiVersionsRequest, keys []kmsg.ApiVersionsResponseApiKey) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	if req == nil {
		resp.SetVersion(0)
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		resp.ApiKeys = keys
		return resp
	}
	resp.SetVersion(version)
	if version >= 3 && (!validSoftwareToken(req.ClientSoftwareName) || !validSoftwareToken(req.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	resp.ApiKeys = keys
	return resp
}

// validSoftwareToken matches KIP-511's [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
func validSoftwareToken(s string) bool {
	if s == "" {
		return false
	}
	alnum := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	if !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !alnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
