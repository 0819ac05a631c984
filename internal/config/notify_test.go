package config

import "testing"

// TestNotifyConcurrency: NOTIFY_CONCURRENCY takes 1..1000 and refuses
// anything else at start, in one line naming the variable.
func TestNotifyConcurrency(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"ten", `NOTIFY_CONCURRENCY: "ten" is not a whole number`},
		{"0", `NOTIFY_CONCURRENCY: "0" is out of range 1..1000`},
		{"-4", `NOTIFY_CONCURRENCY: "-4" is out of range 1..1000`},
		{"1001", `NOTIFY_CONCURRENCY: "1001" is out of range 1..1000`},
	} {
		t.Run(tc.value+" is refused", func(t *testing.T) {
			_, err := Load(env(map[string]string{"NOTIFY_CONCURRENCY": tc.value}))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Load: %v, want %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		value string
		want  int
	}{{"1", 1}, {"16", 16}, {" 1000 ", 1000}, {"", 4}} {
		t.Run("'"+tc.value+"' is accepted", func(t *testing.T) {
			c, err := Load(env(map[string]string{"NOTIFY_CONCURRENCY": tc.value}))
			if err != nil || c.NotifyConcurrency != tc.want {
				t.Fatalf("Load: %d, %v; want %d", c.NotifyConcurrency, err, tc.want)
			}
		})
	}
}
