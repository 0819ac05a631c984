package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// minRetention is the shortest RETENTION taken: a job or a delivery is
// looked at for a while after it finishes.
const minRetention = time.Hour

// day is the unit of RETENTION's "90d" form.
const day = 24 * time.Hour

// retentionVar parses RETENTION: whole days ("90d") or a Go duration
// ("72h", "36h30m"), at least minRetention.
func retentionVar(c *Config, v string) error {
	d, err := parseDays(v)
	if err != nil {
		return fmt.Errorf("%q is not a duration (e.g. 90d or 72h)", v)
	}
	if d < minRetention {
		return fmt.Errorf("%q is below the minimum of 1h", v)
	}
	c.Retention = d
	return nil
}

// parseDays reads "N d" as N days, and anything else as a Go duration.
func parseDays(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days < 0 || days > int64(time.Duration(1<<63-1)/day) {
			return 0, fmt.Errorf("bad day count %q", n)
		}
		return time.Duration(days) * day, nil
	}
	return time.ParseDuration(v)
}

// formatDays shows d as whole days when it is some, else as a Go duration.
func formatDays(d time.Duration) string {
	if d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}
