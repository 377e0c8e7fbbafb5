package main

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/posixshm/posixshm/internal/openbsdsim"
	"github.com/posixshm/posixshm/posixshm"
)

// TestDailyApplies: daily(8)'s verdict is for OpenBSD's layout only: any
// Dir, and this system's convention on OpenBSD and in the openbsdsim build
// (which is a Dir).
func TestDailyApplies(t *testing.T) {
	if !dailyApplies(posixshm.Dir(t.TempDir())) || !dailyApplies(posixshm.OpenBSD) {
		t.Errorf("dailyApplies(Dir) = false, want true")
	}
	if got, want := dailyApplies(posixshm.System()), runtime.GOOS == "openbsd" || openbsdsim.Enabled; got != want {
		t.Errorf("on %s, dailyApplies(System()) = %v, want %v", runtime.GOOS, got, want)
	}
}

// TestStatReport_JSON: without a verdict, the daily(8) times are left out
// and daily_at_risk is false; with one, all four fields are there.
func TestStatReport_JSON(t *testing.T) {
	for _, applies := range []bool{true, false} {
		var r statReport
		r.setName("/x", false)
		r.setFacts(facts{Path: "/p"}, applies, r.Atime.AddDate(0, 0, 30), owners{})
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, field := range []string{`"daily_removable_at"`, `"daily_days_left"`} {
			if strings.Contains(s, field) != applies {
				t.Errorf("daily_applies %v: %s present = %v\n%s", applies, field, !applies, s)
			}
		}
		if want := `"daily_at_risk":` + map[bool]string{true: "true", false: "false"}[applies]; !strings.Contains(s, want) {
			t.Errorf("daily_applies %v: want %s in\n%s", applies, want, s)
		}
	}
}
