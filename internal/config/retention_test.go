package config

import (
	"testing"
	"time"
)

// TestRetention: RETENTION takes whole days or a Go duration of at least
// an hour, and refuses anything else at start, in one line naming it.
func TestRetention(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
		shown string
	}{
		{"", 90 * 24 * time.Hour, "90d"},
		{"90d", 90 * 24 * time.Hour, "90d"},
		{"1d", 24 * time.Hour, "1d"},
		{"72h", 72 * time.Hour, "3d"},
		{"36h30m", 36*time.Hour + 30*time.Minute, "36h30m0s"},
		{" 400d ", 400 * 24 * time.Hour, "400d"},
		{"1h", time.Hour, "1h0m0s"},
	} {
		t.Run("'"+tc.value+"' is accepted", func(t *testing.T) {
			c, err := Load(env(map[string]string{"RETENTION": tc.value}))
			if err != nil || c.Retention != tc.want {
				t.Fatalf("Load: %v, %v; want %v", c.Retention, err, tc.want)
			}
			if got := c.Redacted()["RETENTION"]; got != tc.shown {
				t.Errorf("shown as %q, want %q", got, tc.shown)
			}
		})
	}
	for _, tc := range []struct{ value, want string }{
		{"90", `RETENTION: "90" is not a duration (e.g. 90d or 72h)`},
		{"ninety days", `RETENTION: "ninety days" is not a duration (e.g. 90d or 72h)`},
		{"-1d", `RETENTION: "-1d" is not a duration (e.g. 90d or 72h)`},
		{"1.5d", `RETENTION: "1.5d" is not a duration (e.g. 90d or 72h)`},
		{"99999999999d", `RETENTION: "99999999999d" is not a duration (e.g. 90d or 72h)`},
		{"0d", `RETENTION: "0d" is below the minimum of 1h`},
		{"30m", `RETENTION: "30m" is below the minimum of 1h`},
		{"-72h", `RETENTION: "-72h" is below the minimum of 1h`},
	} {
		t.Run(tc.value+" is refused", func(t *testing.T) {
			_, err := Load(env(map[string]string{"RETENTION": tc.value}))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Load: %v, want %q", err, tc.want)
			}
		})
	}
}
