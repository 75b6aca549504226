package zkmeta

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// Fuzz targets for every ZooKeeper payload decoder that FuzzDecodeBroker, FuzzDecodeTopic and
// FuzzDecodePartitionState (znodes_test.go) do not cover. A znode is written by any tool with
// access to ZooKeeper, so each decoder must return an error, never panic, on any bytes; where
// Gregor writes the payload too, what decodes must survive Gregor's encoding unchanged.

func FuzzDecodeConfig(f *testing.F) {
	f.Add(EncodeConfig(map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"}))
	f.Add([]byte(`{"version":1,"config":{}}`))
	f.Add([]byte(`{"version":1,"config":{"a":1}}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := DecodeConfig(b)
		if err != nil {
			return
		}
		for k, v := range cfg {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return // encoding/json replaces invalid UTF-8; such a map cannot round-trip
			}
		}
		back, err := DecodeConfig(EncodeConfig(cfg))
		if err != nil || !reflect.DeepEqual(back, cfg) {
			t.Fatalf("re-encode of %v: %v, %v", cfg, back, err)
		}
	})
}

func FuzzDecodeController(f *testing.F) {
	f.Add(EncodeController(ControllerInfo{BrokerID: 1, Timestamp: 1704032949256}))
	f.Add([]byte(`{"version":2,"brokerid":1,"timestamp":"1704032949256","kraftControllerEpoch":-1}`))
	f.Add([]byte(`{"brokerid":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ci, err := DecodeController(b)
		if err != nil {
			return
		}
		back, err := DecodeController(EncodeController(ci))
		if err != nil || back != ci {
			t.Fatalf("re-encode of %+v: %+v, %v", ci, back, err)
		}
	})
}

func FuzzDecodeClusterID(f *testing.F) {
	f.Add(encodeClusterID("AbCdEfGhIjKlMnOpQrStUv"))
	f.Add([]byte(`{"version":"1","id":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := DecodeClusterID(b)
		if err != nil {
			return
		}
		if id == "" {
			t.Fatal("empty cluster id accepted")
		}
		if !utf8.ValidString(id) {
			return
		}
		if back, err := DecodeClusterID(encodeClusterID(id)); err != nil || back != id {
			t.Fatalf("re-encode of %q: %q, %v", id, back, err)
		}
	})
}

func FuzzDecodeControllerEpoch(f *testing.F) {
	f.Add([]byte("0"))
	f.Add([]byte(" 17\n"))
	f.Add([]byte("2147483648"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeControllerEpoch(b)
		if err != nil {
			return
		}
		if strings.TrimSpace(string(b)) == "" {
			t.Fatalf("empty epoch %q decoded as %d", b, e)
		}
	})
}

func FuzzDecodeConfigChange(f *testing.F) {
	f.Add(encodeConfigChange("topics/orders"))
	f.Add([]byte(`{"version":1,"entity_type":"topics","entity_name":"orders"}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeConfigChange(b)
		if err != nil || p == "" || !utf8.ValidString(p) {
			return
		}
		if back, err := DecodeConfigChange(encodeConfigChange(p)); err != nil || back != p {
			t.Fatalf("re-encode of %q: %q, %v", p, back, err)
		}
	})
}

func FuzzDecodeProducerIDBlockEnd(f *testing.F) {
	f.Add(encodeProducerBlock(1, 0, 999))
	f.Add([]byte(`{"version":1,"broker":1,"block_start":"1000","block_end":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		end, err := DecodeProducerIDBlockEnd(b)
		if err != nil {
			return
		}
		if back, err := DecodeProducerIDBlockEnd(encodeProducerBlock(1, 0, end)); err != nil || back != end {
			t.Fatalf("re-encode of %d: %d, %v", end, back, err)
		}
	})
}

func FuzzParseUUID(f *testing.F) {
	f.Add(UUIDString(NewUUID()))
	f.Add("AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("not-a-uuid")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseUUID(s)
		if err != nil {
			return
		}
		back, err := ParseUUID(UUIDString(id))
		if err != nil || back != id {
			t.Fatalf("round trip of %q: %v %v", s, back, err)
		}
	})
}
