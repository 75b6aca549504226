package monitoring

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var metricName = regexp.MustCompile(`\b(?:kafka|gregor)_[a-z0-9_]+\b`)

// documented is the set of metric names in docs/metrics.md's tables.
func documented(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = true
	}
	if len(out) < 30 {
		t.Fatalf("only %d metrics in docs/metrics.md", len(out))
	}
	return out
}

// checkExpr fails if expr uses a metric name that docs/metrics.md does not list (a summary's
// _sum and _count series count as the summary).
func checkExpr(t *testing.T, where, expr string, docs map[string]bool) {
	t.Helper()
	names := metricName.FindAllString(expr, -1)
	if len(names) == 0 {
		t.Errorf("%s: %q uses no Gregor metric", where, expr)
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimSuffix(n, "_sum"), "_count")
		if !docs[n] && !docs[base] {
			t.Errorf("%s: %s is not in docs/metrics.md (%q)", where, n, expr)
		}
	}
}

func TestDashboardUsesDocumentedMetrics(t *testing.T) {
	docs := documented(t)
	b, err := os.ReadFile("grafana/dashboards/gregor-kafka.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID, Title string
		Panels     []struct {
			Title, Type string
			Datasource  struct{ UID string }
			Targets     []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Fatal("dashboard without uid or title")
	}
	seen := map[string]bool{}
	panels := 0
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		panels++
		if p.Datasource.UID != "prometheus" {
			t.Errorf("panel %q: datasource %q, want the provisioned prometheus", p.Title, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			checkExpr(t, "panel "+p.Title, q.Expr, docs)
			for _, n := range metricName.FindAllString(q.Expr, -1) {
				seen[n] = true
			}
		}
	}
	// The list: each is on the dashboard.
	for _, n := range []string{"kafka_server_brokertopicmetrics_messagesin_total", "kafka_server_brokertopicmetrics_bytesin_total",
		"kafka_server_brokertopicmetrics_bytesout_total", "kafka_server_replicamanager_underreplicatedpartitions",
		"kafka_server_replicamanager_partitioncount", "kafka_server_replicamanager_leadercount",
		"kafka_server_replicamanager_isrshrinks_total", "kafka_server_replicamanager_isrexpands_total",
		"kafka_controller_kafkacontroller_activecontrollercount", "kafka_controller_kafkacontroller_offlinepartitionscount",
		"kafka_network_requestmetrics_requests_total", "kafka_network_requestmetrics_totaltimems",
		"kafka_network_requestchannel_requestqueuesize", "kafka_consumergroup_lag"} {
		if !seen[n] {
			t.Errorf("no panel shows %s", n)
		}
	}
	if panels < 15 {
		t.Errorf("%d panels", panels)
	}
}

func TestPrometheusConfigMatchesCompose(t *testing.T) {
	docs := documented(t)
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus.yml", &prom)
	var compose struct {
		Services map[string]struct {
			Environment map[string]string
			Volumes     []string
			Profiles    []string
		}
	}
	readYAML(t, "../docker-compose.yml", &compose)
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		if sc.JobName != "kafka" {
			t.Errorf("job %q: dashboards expect job kafka", sc.JobName)
		}
		for _, s := range sc.StaticConfigs {
			targets = append(targets, s.Targets...)
		}
	}
	want := []string{}
	for _, svc := range []string{"broker1", "broker2", "broker3"} {
		listen := compose.Services[svc].Environment["KAFKA_GREGOR_METRICS_LISTEN"]
		_, port, ok := strings.Cut(listen, ":")
		if !ok {
			t.Fatalf("%s: KAFKA_GREGOR_METRICS_LISTEN %q", svc, listen)
		}
		want = append(want, svc+":"+port)
	}
	if strings.Join(targets, ",") != strings.Join(want, ",") {
		t.Errorf("scrape targets %v, compose serves metrics at %v", targets, want)
	}
	// Every file Prometheus and Grafana are pointed at is mounted by the compose file.
	mounts := map[string]string{}
	for _, svc := range []string{"prometheus", "grafana"} {
		s := compose.Services[svc]
		if len(s.Profiles) != 1 || s.Profiles[0] != "monitoring" {
			t.Errorf("%s: profiles %v, want [monitoring] (optional)", svc, s.Profiles)
		}
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			mounts[parts[1]] = parts[0]
			if _, err := os.Stat("../" + strings.TrimPrefix(parts[0], "./")); err != nil {
				t.Errorf("%s mounts %s: %v", svc, parts[0], err)
			}
		}
	}
	for _, f := range prom.RuleFiles {
		if mounts[f] == "" {
			t.Errorf("rule file %s is not mounted into prometheus", f)
		}
	}
	var alerts struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	readYAML(t, "alerts.yml", &alerts)
	n := 0
	for _, g := range alerts.Groups {
		for _, r := range g.Rules {
			n++
			checkExpr(t, "alert "+r.Alert, r.Expr, docs)
		}
	}
	if n == 0 {
		t.Error("no alert rules")
	}
	var prov struct {
		Providers []struct {
			Options struct{ Path string }
		}
	}
	readYAML(t, "grafana/provisioning/dashboards/gregor.yml", &prov)
	if len(prov.Providers) != 1 || mounts[prov.Providers[0].Options.Path] != "./monitoring/grafana/dashboards" {
		t.Errorf("dashboard provider path %+v is not where compose mounts the dashboards (%v)", prov.Providers, mounts)
	}
}

func readYAML(t *testing.T, path string, out any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
