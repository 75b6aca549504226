package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestFormatsAndLevels(t *testing.T) {
	var buf bytes.Buffer
	l, err := New("json", "debug", &buf)
	if err != nil {
		t.Fatal(err)
	}
	l.WithFields(logrus.Fields{"broker": 1, "topic": "orders", "partition": 3}).Debug("appended")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("json format wrote %q: %v", buf.String(), err)
	}
	if line["msg"] != "appended" || line["topic"] != "orders" || line["partition"] != float64(3) || line["level"] != "debug" {
		t.Fatalf("json line %v", line)
	}
	buf.Reset()
	l, _ = New("text", "warn", &buf)
	l.Info("hidden")
	l.WithField("broker", 2).Warn("shown")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "broker=2") {
		t.Fatalf("text output %q", out)
	}
	for _, bad := range [][2]string{{"xml", "info"}, {"text", "loud"}} {
		if _, err := New(bad[0], bad[1], &buf); err == nil {
			t.Fatalf("accepted format %q level %q", bad[0], bad[1])
		}
	}
}
