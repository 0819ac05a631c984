package config

import (
	"crypto/tls"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap/zapcore"
)

// env returns a getenv backed by a map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoad(t *testing.T) {
	t.Run("an empty environment yields the documented defaults", func(t *testing.T) {
		c, err := Load(env(nil))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		want := Config{
			DatabaseURL:        "postgres://localhost:5432/reconciler?sslmode=disable",
			RedisURL:           "redis://localhost:6379/0",
			Redis:              asynq.RedisClientOpt{Addr: "localhost:6379", DB: 0},
			Port:               8080,
			StripeLivemode:     true,
			ReconcileEvery:     15 * time.Minute,
			RelayAfter:         2 * time.Minute,
			WorkerConcurrency:  10,
			NotifyConcurrency:  4,
			Retention:          90 * 24 * time.Hour,
			NotifyAllowPrivate: false,
			LogLevel:           zapcore.InfoLevel,
			LogFormat:          "json",
		}
		if !reflect.DeepEqual(c, want) {
			t.Errorf("Load(empty) =\n%#v\nwant\n%#v", c, want)
		}
		if c.AdminToken != "" || c.WebhookSecrets != nil || c.StripeAPIKey != "" || c.StripeAPIBase != "" {
			t.Errorf("optional features should be disabled by default: %#v", c)
		}
	})

	t.Run("a nil getenv is treated as an empty environment", func(t *testing.T) {
		if _, err := Load(nil); err != nil {
			t.Fatalf("Load(nil): %v", err)
		}
	})

	t.Run("blank values fall back to the default and values are trimmed", func(t *testing.T) {
		c, err := Load(env(map[string]string{"PORT": "   ", "RELAY_AFTER": " 30s\n", "ADMIN_TOKEN": "\t"}))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if c.Port != 8080 || c.RelayAfter != 30*time.Second || c.AdminToken != "" {
			t.Errorf("got Port=%d RelayAfter=%v AdminToken=%q", c.Port, c.RelayAfter, c.AdminToken)
		}
	})
}

func TestLoadGoodValues(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{
			name: "a postgresql URL with a password is accepted as given",
			env:  map[string]string{"DATABASE_URL": "postgresql://app:pw@db.internal:5432/rec?sslmode=require"},
			check: func(t *testing.T, c Config) {
				if c.DatabaseURL != "postgresql://app:pw@db.internal:5432/rec?sslmode=require" {
					t.Errorf("DatabaseURL = %q", c.DatabaseURL)
				}
			},
		},
		{
			name: "a postgres URL without a host (unix socket) is accepted",
			env:  map[string]string{"DATABASE_URL": "postgres:///rec?host=/var/run/postgresql"},
			check: func(t *testing.T, c Config) {
				if c.DatabaseURL != "postgres:///rec?host=/var/run/postgresql" {
					t.Errorf("DatabaseURL = %q", c.DatabaseURL)
				}
			},
		},
		{
			name: "a rediss URL gets TLS, the password and the database",
			env:  map[string]string{"REDIS_URL": "rediss://:pw@cache:6380/3"},
			check: func(t *testing.T, c Config) {
				want := asynq.RedisClientOpt{Addr: "cache:6380", Password: "pw", DB: 3, TLSConfig: &tls.Config{ServerName: "cache"}}
				if !reflect.DeepEqual(c.Redis, want) {
					t.Errorf("Redis = %#v, want %#v", c.Redis, want)
				}
				if c.RedisURL != "rediss://:pw@cache:6380/3" {
					t.Errorf("RedisURL = %q", c.RedisURL)
				}
			},
		},
		{
			name: "a redis URL without a path uses database 0",
			env:  map[string]string{"REDIS_URL": "redis://cache:6379"},
			check: func(t *testing.T, c Config) {
				if want := (asynq.RedisClientOpt{Addr: "cache:6379"}); !reflect.DeepEqual(c.Redis, want) {
					t.Errorf("Redis = %#v, want %#v", c.Redis, want)
				}
			},
		},
		{
			name: "a redis-socket URL connects over a unix socket",
			env:  map[string]string{"REDIS_URL": "redis-socket:///run/redis.sock?db=2"},
			check: func(t *testing.T, c Config) {
				want := asynq.RedisClientOpt{Network: "unix", Addr: "/run/redis.sock", DB: 2}
				if !reflect.DeepEqual(c.Redis, want) {
					t.Errorf("Redis = %#v, want %#v", c.Redis, want)
				}
			},
		},
		{
			name: "a redis-sentinel URL lists the sentinels and the master",
			env:  map[string]string{"REDIS_URL": "redis-sentinel://s1:26379,s2:26379?master=mymaster"},
			check: func(t *testing.T, c Config) {
				want := asynq.RedisFailoverClientOpt{MasterName: "mymaster", SentinelAddrs: []string{"s1:26379", "s2:26379"}}
				if !reflect.DeepEqual(c.Redis, want) {
					t.Errorf("Redis = %#v, want %#v", c.Redis, want)
				}
			},
		},
		{
			name: "a redis-cluster URL lists the nodes, and its credentials",
			env:  map[string]string{"REDIS_URL": "redis-cluster://ops:s3cret@n1:6379,n2:6380"},
			check: func(t *testing.T, c Config) {
				want := asynq.RedisClusterClientOpt{Addrs: []string{"n1:6379", "n2:6380"}, Username: "ops", Password: "s3cret"}
				if !reflect.DeepEqual(c.Redis, want) {
					t.Errorf("Redis = %#v, want %#v", c.Redis, want)
				}
			},
		},
		{
			name:  "the lowest port is accepted",
			env:   map[string]string{"PORT": "1"},
			check: func(t *testing.T, c Config) { wantEq(t, c.Port, 1) },
		},
		{
			name:  "the highest port is accepted",
			env:   map[string]string{"PORT": "65535"},
			check: func(t *testing.T, c Config) { wantEq(t, c.Port, 65535) },
		},
		{
			name:  "an admin token of exactly 16 characters is accepted",
			env:   map[string]string{"ADMIN_TOKEN": "0123456789abcdef"},
			check: func(t *testing.T, c Config) { wantEq(t, c.AdminToken, "0123456789abcdef") },
		},
		{
			name: "a single webhook secret is accepted",
			env:  map[string]string{"STRIPE_WEBHOOK_SECRET": "whsec_one"},
			check: func(t *testing.T, c Config) {
				wantEq(t, strings.Join(c.WebhookSecrets, "|"), "whsec_one")
			},
		},
		{
			name: "several webhook secrets are split on commas and trimmed",
			env:  map[string]string{"STRIPE_WEBHOOK_SECRET": "whsec_new , whsec_old"},
			check: func(t *testing.T, c Config) {
				wantEq(t, strings.Join(c.WebhookSecrets, "|"), "whsec_new|whsec_old")
			},
		},
		{
			name:  "a secret Stripe key is accepted",
			env:   map[string]string{"STRIPE_API_KEY": "sk_test_abc"},
			check: func(t *testing.T, c Config) { wantEq(t, c.StripeAPIKey, "sk_test_abc") },
		},
		{
			name:  "a restricted Stripe key is accepted",
			env:   map[string]string{"STRIPE_API_KEY": "rk_live_abc"},
			check: func(t *testing.T, c Config) { wantEq(t, c.StripeAPIKey, "rk_live_abc") },
		},
		{
			name:  "an http Stripe API base (a local mock) is accepted",
			env:   map[string]string{"STRIPE_API_BASE": "http://localhost:12111"},
			check: func(t *testing.T, c Config) { wantEq(t, c.StripeAPIBase, "http://localhost:12111") },
		},
		{
			name:  "a reconcile interval of exactly one minute is accepted",
			env:   map[string]string{"RECONCILE_EVERY": "1m"},
			check: func(t *testing.T, c Config) { wantEq(t, c.ReconcileEvery, time.Minute) },
		},
		{
			name:  "a relay delay of exactly one second is accepted",
			env:   map[string]string{"RELAY_AFTER": "1s"},
			check: func(t *testing.T, c Config) { wantEq(t, c.RelayAfter, time.Second) },
		},
		{
			name:  "the largest worker concurrency is accepted",
			env:   map[string]string{"WORKER_CONCURRENCY": "1000"},
			check: func(t *testing.T, c Config) { wantEq(t, c.WorkerConcurrency, 1000) },
		},
		{
			name:  "test mode is STRIPE_LIVEMODE=false",
			env:   map[string]string{"STRIPE_LIVEMODE": "false"},
			check: func(t *testing.T, c Config) { wantEq(t, c.StripeLivemode, false) },
		},
		{
			name:  "STRIPE_LIVEMODE accepts strconv booleans",
			env:   map[string]string{"STRIPE_LIVEMODE": "TRUE"},
			check: func(t *testing.T, c Config) { wantEq(t, c.StripeLivemode, true) },
		},
		{
			name:  "notify-allow-private accepts strconv booleans",
			env:   map[string]string{"NOTIFY_ALLOW_PRIVATE": "1"},
			check: func(t *testing.T, c Config) { wantEq(t, c.NotifyAllowPrivate, true) },
		},
		{
			name:  "the log level is case-insensitive",
			env:   map[string]string{"LOG_LEVEL": "DEBUG"},
			check: func(t *testing.T, c Config) { wantEq(t, c.LogLevel, zapcore.DebugLevel) },
		},
		{
			name:  "the warn log level is accepted",
			env:   map[string]string{"LOG_LEVEL": "warn"},
			check: func(t *testing.T, c Config) { wantEq(t, c.LogLevel, zapcore.WarnLevel) },
		},
		{
			name:  "the error log level is accepted",
			env:   map[string]string{"LOG_LEVEL": "error"},
			check: func(t *testing.T, c Config) { wantEq(t, c.LogLevel, zapcore.ErrorLevel) },
		},
		{
			name:  "the console log format is accepted",
			env:   map[string]string{"LOG_FORMAT": "console"},
			check: func(t *testing.T, c Config) { wantEq(t, c.LogFormat, "console") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func wantEq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestLoadBadValues(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"a database URL that does not parse is rejected without echoing it",
			map[string]string{"DATABASE_URL": "postgres://app:Zq9/Xw@db/rec"},
			"DATABASE_URL: is not a valid URL (percent-encode special characters in the password)"},
		{"a database URL with another scheme is rejected",
			map[string]string{"DATABASE_URL": "mysql://app:pw@db/rec"},
			`DATABASE_URL: scheme "mysql" is not postgres or postgresql`},
		{"a database URL without a scheme is rejected",
			map[string]string{"DATABASE_URL": "localhost:5432/rec"},
			`DATABASE_URL: scheme "localhost" is not postgres or postgresql`},
		{"a database URL without // is rejected",
			map[string]string{"DATABASE_URL": "postgres:app:pw@db"},
			"DATABASE_URL: must start with postgres:// or postgresql://"},
		{"a redis URL that does not parse is rejected without echoing it",
			map[string]string{"REDIS_URL": "redis://:Zq9/Xw@cache:6379/0"},
			"REDIS_URL: is not a valid URL (percent-encode special characters in the password)"},
		{"a redis URL with an unsupported scheme is rejected",
			map[string]string{"REDIS_URL": "http://cache:6379"},
			`REDIS_URL: scheme "http" is not redis, rediss, redis-socket, redis-sentinel or redis-cluster`},
		{"a redis URL without a host is rejected",
			map[string]string{"REDIS_URL": "redis:///0"},
			"REDIS_URL: has no host (e.g. redis://localhost:6379/0)"},
		{"a redis URL whose database is not a number is rejected",
			map[string]string{"REDIS_URL": "rediss://cache:6379/cache"},
			"REDIS_URL: database in the path must be a number (e.g. rediss://localhost:6379/0)"},
		{"a redis URL with an empty database path is rejected",
			map[string]string{"REDIS_URL": "redis://cache:6379/"},
			"REDIS_URL: database in the path must be a number (e.g. redis://localhost:6379/0)"},
		{"a redis-socket URL without a path is rejected",
			map[string]string{"REDIS_URL": "redis-socket://"},
			"REDIS_URL: has no socket path (e.g. redis-socket:///run/redis.sock?db=0)"},
		{"a redis-socket URL whose db is not a number is rejected",
			map[string]string{"REDIS_URL": "redis-socket:///run/redis.sock?db=x"},
			"REDIS_URL: db must be a number (e.g. redis-socket:///run/redis.sock?db=0)"},
		{"a redis-sentinel URL without sentinels is rejected",
			map[string]string{"REDIS_URL": "redis-sentinel:///?master=m"},
			"REDIS_URL: has no sentinel addresses (e.g. redis-sentinel://host1:26379,host2:26379?master=mymaster)"},
		{"a redis-cluster URL without nodes is rejected",
			map[string]string{"REDIS_URL": "redis-cluster://"},
			"REDIS_URL: has no node addresses (e.g. redis-cluster://node1:6379,node2:6379)"},
		{"a redis-cluster URL with a database is rejected",
			map[string]string{"REDIS_URL": "redis-cluster://n1:6379/2"},
			"REDIS_URL: takes node addresses only: a cluster has one database (e.g. redis-cluster://node1:6379,node2:6379)"},
		{"a redis-sentinel URL without a master is rejected",
			map[string]string{"REDIS_URL": "redis-sentinel://s1:26379"},
			"REDIS_URL: needs the master name (e.g. redis-sentinel://host1:26379,host2:26379?master=mymaster)"},
		{"a port that is not a number is rejected",
			map[string]string{"PORT": "http"},
			`PORT: "http" is not a whole number`},
		{"port zero is rejected",
			map[string]string{"PORT": "0"},
			`PORT: "0" is out of range 1..65535`},
		{"a port above 65535 is rejected",
			map[string]string{"PORT": "65536"},
			`PORT: "65536" is out of range 1..65535`},
		{"an admin token shorter than 16 characters is rejected",
			map[string]string{"ADMIN_TOKEN": "short"},
			"ADMIN_TOKEN: is 5 characters long, must be at least 16"},
		{"a webhook secret without the whsec_ prefix is rejected",
			map[string]string{"STRIPE_WEBHOOK_SECRET": "sk_test_oops"},
			"STRIPE_WEBHOOK_SECRET: does not start with whsec_"},
		{"a bad entry in a webhook secret list is named by position",
			map[string]string{"STRIPE_WEBHOOK_SECRET": "whsec_new,oops"},
			"STRIPE_WEBHOOK_SECRET: entry 2 of 2 does not start with whsec_"},
		{"an empty entry in a webhook secret list is rejected",
			map[string]string{"STRIPE_WEBHOOK_SECRET": "whsec_new, ,whsec_old"},
			"STRIPE_WEBHOOK_SECRET: entry 2 of 3 is empty"},
		{"a publishable Stripe key is rejected",
			map[string]string{"STRIPE_API_KEY": "pk_test_abc"},
			"STRIPE_API_KEY: does not start with sk_ or rk_ (use a secret or restricted key)"},
		{"a relative Stripe API base is rejected",
			map[string]string{"STRIPE_API_BASE": "api.stripe.com"},
			`STRIPE_API_BASE: "api.stripe.com" is not an absolute http or https URL`},
		{"a Stripe API base with another scheme is rejected",
			map[string]string{"STRIPE_API_BASE": "ftp://mock"},
			`STRIPE_API_BASE: "ftp://mock" is not an absolute http or https URL`},
		{"a reconcile interval that is not a duration is rejected",
			map[string]string{"RECONCILE_EVERY": "15"},
			`RECONCILE_EVERY: "15" is not a duration (e.g. 15m)`},
		{"a reconcile interval under a minute is rejected",
			map[string]string{"RECONCILE_EVERY": "59s"},
			`RECONCILE_EVERY: "59s" is below the minimum of 1m`},
		{"a relay delay that is not a duration is rejected",
			map[string]string{"RELAY_AFTER": "2x"},
			`RELAY_AFTER: "2x" is not a duration (e.g. 2m)`},
		{"a relay delay under a second is rejected",
			map[string]string{"RELAY_AFTER": "500ms"},
			`RELAY_AFTER: "500ms" is below the minimum of 1s`},
		{"a negative relay delay is rejected",
			map[string]string{"RELAY_AFTER": "-2m"},
			`RELAY_AFTER: "-2m" is below the minimum of 1s`},
		{"a worker concurrency that is not a number is rejected",
			map[string]string{"WORKER_CONCURRENCY": "ten"},
			`WORKER_CONCURRENCY: "ten" is not a whole number`},
		{"zero workers are rejected",
			map[string]string{"WORKER_CONCURRENCY": "0"},
			`WORKER_CONCURRENCY: "0" is out of range 1..1000`},
		{"more than 1000 workers are rejected",
			map[string]string{"WORKER_CONCURRENCY": "1001"},
			`WORKER_CONCURRENCY: "1001" is out of range 1..1000`},
		{"STRIPE_LIVEMODE must be a boolean",
			map[string]string{"STRIPE_LIVEMODE": "live"},
			`STRIPE_LIVEMODE: "live" is not a boolean (true or false)`},
		{"notify-allow-private rejects words strconv does not know",
			map[string]string{"NOTIFY_ALLOW_PRIVATE": "yes"},
			`NOTIFY_ALLOW_PRIVATE: "yes" is not a boolean (true or false)`},
		{"an unknown log level is rejected",
			map[string]string{"LOG_LEVEL": "verbose"},
			`LOG_LEVEL: "verbose" is not one of debug, info, warn, error`},
		{"zap levels beyond error are rejected",
			map[string]string{"LOG_LEVEL": "fatal"},
			`LOG_LEVEL: "fatal" is not one of debug, info, warn, error`},
		{"an unknown log format is rejected",
			map[string]string{"LOG_FORMAT": "text"},
			`LOG_FORMAT: "text" is not json or console`},
		{"a value with a newline still gives a one-line error",
			map[string]string{"PORT": "80\n80"},
			`PORT: "80\n80" is not a whole number`},
		{"the first bad variable in table order is reported",
			map[string]string{"LOG_FORMAT": "text", "PORT": "0"},
			`PORT: "0" is out of range 1..65535`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env))
			if err == nil {
				t.Fatalf("Load succeeded with %v: %#v", tt.env, c)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error =\n%s\nwant\n%s", got, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
			if !reflect.DeepEqual(c, Config{}) {
				t.Errorf("Load returned a partial Config with its error: %#v", c)
			}
		})
	}
}

func TestSecretsStayHidden(t *testing.T) {
	const secret = "S3CRET-xyzzy-Zq9"
	bad := []struct {
		name string
		env  map[string]string
	}{
		{"a short admin token", map[string]string{"ADMIN_TOKEN": "Zq9!"}},
		{"a mistyped webhook secret", map[string]string{"STRIPE_WEBHOOK_SECRET": secret}},
		{"a mistyped secret in a webhook list", map[string]string{"STRIPE_WEBHOOK_SECRET": "whsec_ok," + secret}},
		{"a mistyped Stripe key", map[string]string{"STRIPE_API_KEY": secret}},
		{"a database password that breaks URL parsing", map[string]string{"DATABASE_URL": "postgres://app:" + secret + "/x@db/rec"}},
		{"a database URL with a wrong scheme", map[string]string{"DATABASE_URL": "mysql://app:" + secret + "@db/rec"}},
		{"a database URL without //", map[string]string{"DATABASE_URL": "postgres:app:" + secret + "@db"}},
		{"a redis password that breaks URL parsing", map[string]string{"REDIS_URL": "redis://:" + secret + "/x@cache:6379/0"}},
		{"a redis URL with a bad database", map[string]string{"REDIS_URL": "redis://:" + secret + "@cache:6379/zero"}},
		{"a redis URL with a wrong scheme", map[string]string{"REDIS_URL": "memcache://:" + secret + "@cache"}},
		{"a redis-sentinel URL without a master", map[string]string{"REDIS_URL": "redis-sentinel://:" + secret + "@s1:26379"}},
	}
	for _, tt := range bad {
		t.Run("the error for "+tt.name+" does not contain the secret", func(t *testing.T) {
			_, err := Load(env(tt.env))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, s := range []string{secret, "Zq9"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains %q", err, s)
				}
			}
		})
	}

	t.Run("Redacted shows secrets as set and masks URL passwords", func(t *testing.T) {
		c, err := Load(env(map[string]string{
			"DATABASE_URL":          "postgres://app:" + secret + "@db:5432/rec?sslmode=require&password=" + secret + "&sslpassword=" + secret,
			"REDIS_URL":             "rediss://:" + secret + "@cache:6380/1",
			"ADMIN_TOKEN":           secret + secret,
			"STRIPE_WEBHOOK_SECRET": "whsec_" + secret + ",whsec_" + secret + "2",
			"STRIPE_API_KEY":        "sk_live_" + secret,
			"STRIPE_API_BASE":       "https://user:" + secret + "@stripe-mock:12111",
		}))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		r := c.Redacted()
		for k, v := range r {
			if strings.Contains(v, secret) {
				t.Errorf("Redacted()[%s] = %q contains the secret", k, v)
			}
		}
		want := map[string]string{
			"DATABASE_URL":          "postgres://app:xxxxx@db:5432/rec?password=xxxxx&sslmode=require&sslpassword=xxxxx",
			"REDIS_URL":             "rediss://:xxxxx@cache:6380/1",
			"PORT":                  "8080",
			"ADMIN_TOKEN":           "set",
			"STRIPE_WEBHOOK_SECRET": "set",
			"STRIPE_API_KEY":        "set",
			"STRIPE_API_BASE":       "https://user:xxxxx@stripe-mock:12111",
			"STRIPE_LIVEMODE":       "true",
			"RECONCILE_EVERY":       "15m0s",
			"RELAY_AFTER":           "2m0s",
			"WORKER_CONCURRENCY":    "10",
			"NOTIFY_CONCURRENCY":    "4",
			"RETENTION":             "90d",
			"NOTIFY_ALLOW_PRIVATE":  "false",
			"LOG_LEVEL":             "info",
			"LOG_FORMAT":            "json",
		}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("Redacted() =\n%v\nwant\n%v", r, want)
		}
	})

	t.Run("Redacted masks a cluster URL's password", func(t *testing.T) {
		c, err := Load(env(map[string]string{"REDIS_URL": "redis-cluster://ops:" + secret + "@n1:6379,n2:6380"}))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if got, want := c.Redacted()["REDIS_URL"], "redis-cluster://ops:xxxxx@n1:6379,n2:6380"; got != want {
			t.Errorf("Redacted()[REDIS_URL] = %q, want %q", got, want)
		}
	})

	t.Run("Redacted leaves unset secrets empty", func(t *testing.T) {
		c, err := Load(env(nil))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		r := c.Redacted()
		for _, k := range []string{"ADMIN_TOKEN", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_KEY", "STRIPE_API_BASE"} {
			if v, ok := r[k]; !ok || v != "" {
				t.Errorf("Redacted()[%s] = %q, %v; want present and empty", k, v, ok)
			}
		}
		if r["DATABASE_URL"] != "postgres://localhost:5432/reconciler?sslmode=disable" {
			t.Errorf("DATABASE_URL without a password should be shown as is, got %q", r["DATABASE_URL"])
		}
	})

	t.Run("Redacted hides a hand-built URL it cannot parse", func(t *testing.T) {
		c := Config{DatabaseURL: "postgres://app:" + secret + "/x@db", RedisURL: "redis:" + secret}
		r := c.Redacted()
		for _, k := range []string{"DATABASE_URL", "REDIS_URL"} {
			if strings.Contains(r[k], secret) {
				t.Errorf("Redacted()[%s] = %q contains the secret", k, r[k])
			}
		}
	})
}

func TestHelp(t *testing.T) {
	h := Help()
	lines := strings.Split(h, "\n")
	find := func(name string) string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 0 && f[0] == name {
				return l
			}
		}
		return ""
	}
	documented := []struct{ name, def string }{
		{"DATABASE_URL", "postgres://localhost:5432/reconciler?sslmode=disable"},
		{"REDIS_URL", "redis://localhost:6379/0"},
		{"PORT", "8080"},
		{"ADMIN_TOKEN", "none: /admin answers 503 until set"},
		{"STRIPE_WEBHOOK_SECRET", "none: /webhooks/stripe answers 503 until set"},
		{"STRIPE_API_KEY", "none: the Stripe pull step of reconciliation is skipped"},
		{"STRIPE_LIVEMODE", "true"},
		{"STRIPE_API_BASE", "Stripe's own"},
		{"RECONCILE_EVERY", "15m"},
		{"RELAY_AFTER", "2m"},
		{"WORKER_CONCURRENCY", "10"},
		{"NOTIFY_CONCURRENCY", "4"},
		{"RETENTION", "90d"},
		{"NOTIFY_ALLOW_PRIVATE", "false"},
		{"LOG_LEVEL", "info"},
		{"LOG_FORMAT", "json"},
	}
	for _, d := range documented {
		t.Run("Help lists "+d.name+" with its default", func(t *testing.T) {
			l := find(d.name)
			if l == "" {
				t.Fatalf("Help has no line for %s:\n%s", d.name, h)
			}
			if !strings.Contains(l, "  "+d.def+"  ") {
				t.Errorf("line for %s does not show default %q:\n%s", d.name, d.def, l)
			}
		})
	}

	t.Run("Help covers exactly the variables Load reads", func(t *testing.T) {
		vars := variables()
		if len(vars) != len(documented) {
			t.Errorf("table has %d variables, test documents %d", len(vars), len(documented))
		}
		for _, v := range vars {
			if find(v.name) == "" {
				t.Errorf("Help misses %s", v.name)
			}
		}
	})

	t.Run("Help aligns the default and meaning columns", func(t *testing.T) {
		col := func(l, s string) int { return strings.Index(l, s) }
		header := find("VARIABLE")
		if header == "" {
			t.Fatalf("no header line:\n%s", h)
		}
		defCol, helpCol := col(header, "DEFAULT"), col(header, "MEANING")
		for _, v := range variables() {
			l := find(v.name)
			def := v.def
			if v.defHelp != "" {
				def = v.defHelp
			}
			if got := col(l, "  "+def+"  ") + 2; got != defCol {
				t.Errorf("%s: default starts at column %d, header at %d", v.name, got, defCol)
			}
			if got := col(l, v.help); got != helpCol {
				t.Errorf("%s: meaning starts at column %d, header at %d", v.name, got, helpCol)
			}
		}
	})

	t.Run("every default in the table passes its own parser", func(t *testing.T) {
		for _, v := range variables() {
			if v.def == "" {
				continue
			}
			var c Config
			if err := v.parse(&c, v.def); err != nil {
				t.Errorf("%s: default %q: %v", v.name, v.def, err)
			}
		}
	})
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name    string
		format  string
		level   zapcore.Level
		debugOn bool
		infoOn  bool
		wantErr bool
	}{
		{name: "json at info drops debug entries", format: "json", level: zapcore.InfoLevel, infoOn: true},
		{name: "console at debug keeps debug entries", format: "console", level: zapcore.DebugLevel, debugOn: true, infoOn: true},
		{name: "json at error drops info entries", format: "json", level: zapcore.ErrorLevel},
		{name: "an unknown format is an error", format: "text", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, err := Config{LogFormat: tt.format, LogLevel: tt.level}.NewLogger()
			if tt.wantErr {
				if err == nil {
					t.Fatal("NewLogger succeeded")
				}
				return
			}
			if err != nil {
				t.Fatalf("NewLogger: %v", err)
			}
			defer func() { _ = log.Sync() }()
			if got := log.Core().Enabled(zapcore.DebugLevel); got != tt.debugOn {
				t.Errorf("debug enabled = %v, want %v", got, tt.debugOn)
			}
			if got := log.Core().Enabled(zapcore.InfoLevel); got != tt.infoOn {
				t.Errorf("info enabled = %v, want %v", got, tt.infoOn)
			}
		})
	}
}
