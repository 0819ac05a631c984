// Package config reads the reconciler's configuration from the environment
// and validates it once, at start.
//
// Every variable is described exactly once, in variables(); Load, Help and
// Config.Redacted all walk that table, so the documentation, the defaults,
// the validation and the log output cannot drift apart.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Config is the validated configuration of the service. Build it with Load.
type Config struct {
	// DatabaseURL is the PostgreSQL connection URL (DATABASE_URL).
	DatabaseURL string
	// RedisURL is the Redis URL used by Asynq (REDIS_URL), as given.
	RedisURL string
	// Redis is RedisURL parsed: by asynq.ParseRedisURI, or for a
	// redis-cluster URL into asynq's cluster option.
	Redis asynq.RedisConnOpt
	// Port is the HTTP port of the web and all modes (PORT).
	Port int
	// AdminToken is the bearer token for /admin (ADMIN_TOKEN); empty means
	// /admin is disabled and answers 503.
	AdminToken string
	// WebhookSecrets are the accepted Stripe webhook signing secrets
	// (STRIPE_WEBHOOK_SECRET, comma-separated); empty means
	// /webhooks/stripe is disabled and answers 503.
	WebhookSecrets []string
	// StripeAPIKey is the Stripe secret or restricted key (STRIPE_API_KEY);
	// empty means the Stripe pull step of reconciliation is skipped.
	StripeAPIKey string
	// StripeLivemode is which mode's Stripe events touch the ledger
	// (STRIPE_LIVEMODE): an event whose livemode differs is stored ignored.
	StripeLivemode bool
	// StripeAPIBase overrides Stripe's API base URL (STRIPE_API_BASE);
	// empty means Stripe's own.
	StripeAPIBase string
	// ReconcileEvery is the interval between reconciliation runs
	// (RECONCILE_EVERY).
	ReconcileEvery time.Duration
	// RelayAfter is how long an outbox entry may wait before the relay
	// picks it up (RELAY_AFTER).
	RelayAfter time.Duration
	// WorkerConcurrency is the number of concurrent Asynq workers for
	// ledger work (WORKER_CONCURRENCY).
	WorkerConcurrency int
	// NotifyConcurrency is the number of notification deliveries a worker
	// process runs at once, on slots of their own (NOTIFY_CONCURRENCY).
	NotifyConcurrency int
	// Retention is how long raw event payloads, finished jobs and finished
	// deliveries are kept (RETENTION); money rows and history are kept for
	// ever.
	Retention time.Duration
	// NotifyAllowPrivate allows notification targets on private networks
	// (NOTIFY_ALLOW_PRIVATE).
	NotifyAllowPrivate bool
	// LogLevel is the minimum level logged (LOG_LEVEL).
	LogLevel zapcore.Level
	// LogFormat is "json" or "console" (LOG_FORMAT).
	LogFormat string
}

// variable describes one environment variable: its default, its help text,
// how to parse it into a Config and how to show it in Redacted.
type variable struct {
	name string
	// def is the value used when the variable is unset or blank. An empty
	// def marks an optional variable: when unset, parse is not called and
	// the field keeps its zero value.
	def string
	// defHelp replaces def in Help when set (for optional variables).
	defHelp string
	help    string
	// parse validates v (trimmed, never empty) and stores it in c. Its error
	// must not name the variable (Load adds that) and must never contain a
	// secret.
	parse func(c *Config, v string) error
	// show renders the field for Redacted, with secrets hidden.
	show func(c Config) string
}

// variables is the single table of every environment variable the service reads.
func variables() []variable {
	return []variable{
		{
			name: "DATABASE_URL",
			def:  "postgres://localhost:5432/reconciler?sslmode=disable",
			help: "PostgreSQL connection URL (postgres:// or postgresql://)",
			parse: func(c *Config, v string) error {
				if err := checkPostgresURL(v); err != nil {
					return err
				}
				c.DatabaseURL = v
				return nil
			},
			show: func(c Config) string { return redactURL(c.DatabaseURL) },
		},
		{
			name: "REDIS_URL",
			def:  "redis://localhost:6379/0",
			help: "Redis for Asynq (redis://, rediss://, redis-socket://, redis-sentinel://, redis-cluster://)",
			parse: func(c *Config, v string) error {
				opt, err := parseRedisURL(v)
				if err != nil {
					return err
				}
				c.RedisURL, c.Redis = v, opt
				return nil
			},
			show: func(c Config) string { return redactURL(c.RedisURL) },
		},
		{
			name:  "PORT",
			def:   "8080",
			help:  "HTTP port of web/all (1..65535)",
			parse: intVar(func(c *Config) *int { return &c.Port }, 1, 65535),
			show:  func(c Config) string { return strconv.Itoa(c.Port) },
		},
		{
			name:    "ADMIN_TOKEN",
			defHelp: "none: /admin answers 503 until set",
			help:    "the bootstrap admin's bearer token for /admin, operator admin with the role admin; operators get keys of their own (at least 16 characters)",
			parse: func(c *Config, v string) error {
				if n := utf8.RuneCountInString(v); n < 16 {
					return fmt.Errorf("is %d characters long, must be at least 16", n)
				}
				c.AdminToken = v
				return nil
			},
			show: func(c Config) string { return setOrEmpty(c.AdminToken != "") },
		},
		{
			name:    "STRIPE_WEBHOOK_SECRET",
			defHelp: "none: /webhooks/stripe answers 503 until set",
			help:    "whsec_...; a comma-separated list keeps several valid during a rotation",
			parse: func(c *Config, v string) error {
				secrets, err := parseWebhookSecrets(v)
				if err != nil {
					return err
				}
				c.WebhookSecrets = secrets
				return nil
			},
			show: func(c Config) string { return setOrEmpty(len(c.WebhookSecrets) > 0) },
		},
		{
			name:    "STRIPE_API_KEY",
			defHelp: "none: the Stripe pull step of reconciliation is skipped",
			help:    "Stripe secret (sk_...) or restricted (rk_...) key",
			parse: func(c *Config, v string) error {
				if !strings.HasPrefix(v, "sk_") && !strings.HasPrefix(v, "rk_") {
					return errors.New("does not start with sk_ or rk_ (use a secret or restricted key)")
				}
				c.StripeAPIKey = v
				return nil
			},
			show: func(c Config) string { return setOrEmpty(c.StripeAPIKey != "") },
		},
		{
			name: "STRIPE_LIVEMODE",
			def:  "true",
			help: "which mode's Stripe events touch the ledger (true: live, false: test); the other mode's are ignored",
			parse: func(c *Config, v string) error {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("%q is not a boolean (true or false)", v)
				}
				c.StripeLivemode = b
				return nil
			},
			show: func(c Config) string { return strconv.FormatBool(c.StripeLivemode) },
		},
		{
			name:    "STRIPE_API_BASE",
			defHelp: "Stripe's own",
			help:    "another Stripe API base URL (absolute http or https URL)",
			parse: func(c *Config, v string) error {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return fmt.Errorf("%q is not an absolute http or https URL", v)
				}
				c.StripeAPIBase = v
				return nil
			},
			show: func(c Config) string { return redactURL(c.StripeAPIBase) },
		},
		{
			name:  "RECONCILE_EVERY",
			def:   "15m",
			help:  "interval between reconciliation runs (Go duration, at least 1m)",
			parse: durationVar(func(c *Config) *time.Duration { return &c.ReconcileEvery }, time.Minute, "1m", "15m"),
			show:  func(c Config) string { return c.ReconcileEvery.String() },
		},
		{
			name:  "RELAY_AFTER",
			def:   "2m",
			help:  "age at which the relay picks up an outbox entry (Go duration, at least 1s)",
			parse: durationVar(func(c *Config) *time.Duration { return &c.RelayAfter }, time.Second, "1s", "2m"),
			show:  func(c Config) string { return c.RelayAfter.String() },
		},
		{
			name:  "WORKER_CONCURRENCY",
			def:   "10",
			help:  "concurrent Asynq workers for ledger work (1..1000)",
			parse: intVar(func(c *Config) *int { return &c.WorkerConcurrency }, 1, 1000),
			show:  func(c Config) string { return strconv.Itoa(c.WorkerConcurrency) },
		},
		{
			name:  "NOTIFY_CONCURRENCY",
			def:   "4",
			help:  "notification deliveries in flight per worker, apart from ledger work (1..1000)",
			parse: intVar(func(c *Config) *int { return &c.NotifyConcurrency }, 1, 1000),
			show:  func(c Config) string { return strconv.Itoa(c.NotifyConcurrency) },
		},
		{
			name:  "RETENTION",
			def:   "90d",
			help:  "how long raw event payloads, finished jobs and deliveries are kept (e.g. 90d or 72h, at least 1h)",
			parse: retentionVar,
			show:  func(c Config) string { return formatDays(c.Retention) },
		},
		{
			name: "NOTIFY_ALLOW_PRIVATE",
			def:  "false",
			help: "allow notification targets on private networks (true or false)",
			parse: func(c *Config, v string) error {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("%q is not a boolean (true or false)", v)
				}
				c.NotifyAllowPrivate = b
				return nil
			},
			show: func(c Config) string { return strconv.FormatBool(c.NotifyAllowPrivate) },
		},
		{
			name: "LOG_LEVEL",
			def:  "info",
			help: "minimum log level: debug, info, warn or error",
			parse: func(c *Config, v string) error {
				switch strings.ToLower(v) {
				case "debug":
					c.LogLevel = zapcore.DebugLevel
				case "info":
					c.LogLevel = zapcore.InfoLevel
				case "warn":
					c.LogLevel = zapcore.WarnLevel
				case "error":
					c.LogLevel = zapcore.ErrorLevel
				default:
					return fmt.Errorf("%q is not one of debug, info, warn, error", v)
				}
				return nil
			},
			show: func(c Config) string { return c.LogLevel.String() },
		},
		{
			name: "LOG_FORMAT",
			def:  "json",
			help: "log format: json, or console (for development)",
			parse: func(c *Config, v string) error {
				switch f := strings.ToLower(v); f {
				case "json", "console":
					c.LogFormat = f
				default:
					return fmt.Errorf("%q is not json or console", v)
				}
				return nil
			},
			show: func(c Config) string { return c.LogFormat },
		},
	}
}

// Load reads the configuration from getenv (os.Getenv in main; a map lookup
// in tests) and validates it. Values are trimmed of surrounding white space;
// an unset or blank variable takes its default.
//
// The error names the first invalid variable, in the order Help lists them,
// on one line, e.g. `RELAY_AFTER: "2x" is not a duration (e.g. 2m)`. It never
// contains a secret: ADMIN_TOKEN, STRIPE_WEBHOOK_SECRET, STRIPE_API_KEY and
// the URLs that may carry a password (DATABASE_URL, REDIS_URL) are described,
// not echoed.
func Load(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var c Config
	for _, v := range variables() {
		val := strings.TrimSpace(getenv(v.name))
		if val == "" {
			val = v.def
		}
		if val == "" {
			continue // optional and unset: the feature stays disabled
		}
		if err := v.parse(&c, val); err != nil {
			return Config{}, fmt.Errorf("%s: %w", v.name, err)
		}
	}
	return c, nil
}

// Help returns the text block listing every environment variable with its
// default and meaning, aligned in columns, for `reconciler --help`.
func Help() string {
	var b strings.Builder
	b.WriteString("Environment variables:\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIABLE\tDEFAULT\tMEANING")
	for _, v := range variables() {
		def := v.def
		if v.defHelp != "" {
			def = v.defHelp
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.name, def, v.help)
	}
	_ = tw.Flush() // writes to a strings.Builder cannot fail
	return b.String()
}

// NewLogger builds the zap logger from LogLevel and LogFormat: json uses
// zap.NewProductionConfig, console uses zap.NewDevelopmentConfig, both at
// LogLevel.
func (c Config) NewLogger() (*zap.Logger, error) {
	var zc zap.Config
	switch c.LogFormat {
	case "json":
		zc = zap.NewProductionConfig()
	case "console":
		zc = zap.NewDevelopmentConfig()
	default:
		return nil, fmt.Errorf("config: log format %q is not json or console", c.LogFormat)
	}
	zc.Level = zap.NewAtomicLevelAt(c.LogLevel)
	return zc.Build()
}

// Redacted returns the configuration keyed by variable name, safe to log:
// ADMIN_TOKEN, STRIPE_WEBHOOK_SECRET and STRIPE_API_KEY read "set" or "", and
// passwords in URLs (user info and password query parameters) are masked.
func (c Config) Redacted() map[string]string {
	vars := variables()
	m := make(map[string]string, len(vars))
	for _, v := range vars {
		m[v.name] = v.show(c)
	}
	return m
}
