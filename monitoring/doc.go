// Package monitoring holds no code: it is the Prometheus scrape config and alerts
// (prometheus.yml, alerts.yml) and the Grafana dashboard and provisioning (grafana/) that the
// compose file's "monitoring" profile mounts. Its test checks them against docs/metrics.md and
// docker-compose.yml, so that a renamed metric or port cannot leave a dashboard panel empty.
package monitoring
