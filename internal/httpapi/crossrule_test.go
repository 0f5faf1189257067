package httpapi_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
)

// TestChallengeCountRuleUnderConcurrency races the two writes the rule
// "ChallengeCount <= active questions" spans: raising ChallengeCount to 4
// and deactivating one of the four questions. Each is allowed alone; they
// must never both land.
func TestChallengeCountRuleUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	questions := func(active int) string {
		var qs []string
		for i := range 4 {
			qs = append(qs, fmt.Sprintf(`{"ChallengeCode":"q%d","ChallengeQuestion":"Question %d?","Active":%v}`, i, i, i < active))
		}
		return `{"Challenge":[` + qs[0] + "," + qs[1] + "," + qs[2] + "," + qs[3] + `]}`
	}
	for round := range 25 {
		e.put(admin, "securitysettings", `{"ChallengeCount":3}`)
		e.put(admin, "challenges", questions(4))
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i, c := range []call{
			{method: "PUT", path: "/api/businesses/" + business + "/securitysettings", body: `{"ChallengeCount":4}`, as: admin},
			{method: "PUT", path: "/api/businesses/" + business + "/challenges", body: questions(3), as: admin},
		} {
			wg.Add(1)
			go func() { defer wg.Done(); statuses[i] = e.do(c).status }()
		}
		wg.Wait()
		var sec struct{ ChallengeCount int }
		json.Unmarshal(e.get(admin, "securitysettings"), &sec)
		var cs struct{ Challenge []struct{ Active bool } }
		json.Unmarshal(e.get(admin, "challenges"), &cs)
		active := 0
		for _, c := range cs.Challenge {
			if c.Active {
				active++
			}
		}
		if sec.ChallengeCount > active {
			t.Fatalf("round %d: statuses %v left ChallengeCount %d with %d active questions", round, statuses, sec.ChallengeCount, active)
		}
		if statuses[0] == 200 && statuses[1] == 200 || statuses[0] != 200 && statuses[1] != 200 {
			t.Fatalf("round %d: statuses %v, want exactly one 200", round, statuses)
		}
	}
}
