package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
)

// The parsers and checks of single values that variables() refers to, and
// how a URL with a password is shown safely.

// badURL is the message for a URL that may hold a password and does not
// parse. url.Parse errors quote the input (and so the password), so they are
// dropped.
const badURL = "is not a valid URL (percent-encode special characters in the password)"

func checkPostgresURL(v string) error {
	u, err := url.Parse(v)
	if err != nil {
		return errors.New(badURL)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("scheme %q is not postgres or postgresql", u.Scheme)
	}
	if u.Opaque != "" {
		return errors.New("must start with postgres:// or postgresql://")
	}
	return nil
}

func parseRedisURL(v string) (asynq.RedisConnOpt, error) {
	u, err := url.Parse(v)
	if err != nil {
		return nil, errors.New(badURL)
	}
	switch u.Scheme {
	case "redis", "rediss":
		if u.Opaque != "" || u.Host == "" {
			return nil, fmt.Errorf("has no host (e.g. %s://localhost:6379/0)", u.Scheme)
		}
		if u.Path != "" {
			db := strings.Split(strings.Trim(u.Path, "/"), "/")[0]
			if n, err := strconv.Atoi(db); err != nil || n < 0 {
				return nil, fmt.Errorf("database in the path must be a number (e.g. %s://localhost:6379/0)", u.Scheme)
			}
		}
	case "redis-socket":
		if u.Opaque != "" || u.Path == "" {
			return nil, errors.New("has no socket path (e.g. redis-socket:///run/redis.sock?db=0)")
		}
		if db := u.Query().Get("db"); db != "" {
			if n, err := strconv.Atoi(db); err != nil || n < 0 {
				return nil, errors.New("db must be a number (e.g. redis-socket:///run/redis.sock?db=0)")
			}
		}
	case "redis-sentinel":
		if u.Opaque != "" || u.Host == "" {
			return nil, errors.New("has no sentinel addresses (e.g. redis-sentinel://host1:26379,host2:26379?master=mymaster)")
		}
		if u.Query().Get("master") == "" {
			return nil, errors.New("needs the master name (e.g. redis-sentinel://host1:26379,host2:26379?master=mymaster)")
		}
	case "redis-cluster":
		// asynq.ParseRedisURI knows no cluster URL: its option is built here.
		if u.Opaque != "" || u.Host == "" {
			return nil, errors.New("has no node addresses (e.g. redis-cluster://node1:6379,node2:6379)")
		}
		if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			return nil, errors.New("takes node addresses only: a cluster has one database (e.g. redis-cluster://node1:6379,node2:6379)")
		}
		opt := asynq.RedisClusterClientOpt{Addrs: strings.Split(u.Host, ",")}
		if u.User != nil {
			opt.Username = u.User.Username()
			opt.Password, _ = u.User.Password()
		}
		return opt, nil
	default:
		return nil, fmt.Errorf("scheme %q is not redis, rediss, redis-socket, redis-sentinel or redis-cluster", u.Scheme)
	}
	opt, err := asynq.ParseRedisURI(v)
	if err != nil {
		// Not expected after the checks above; asynq's error may quote the
		// URL, so it is not passed on.
		return nil, errors.New("is not a valid Redis URL")
	}
	return opt, nil
}

func parseWebhookSecrets(v string) ([]string, error) {
	parts := strings.Split(v, ",")
	secrets := make([]string, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		which := ""
		if len(parts) > 1 {
			which = fmt.Sprintf("entry %d of %d ", i+1, len(parts))
		}
		switch {
		case p == "":
			return nil, fmt.Errorf("%sis empty", which)
		case !strings.HasPrefix(p, "whsec_"):
			return nil, fmt.Errorf("%sdoes not start with whsec_", which)
		}
		secrets = append(secrets, p)
	}
	return secrets, nil
}

func intVar(field func(*Config) *int, lo, hi int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		if n < lo || n > hi {
			return fmt.Errorf("%q is out of range %d..%d", v, lo, hi)
		}
		*field(c) = n
		return nil
	}
}

func durationVar(field func(*Config) *time.Duration, min time.Duration, minText, example string) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. %s)", v, example)
		}
		if d < min {
			return fmt.Errorf("%q is below the minimum of %s", v, minText)
		}
		*field(c) = d
		return nil
	}
}

func setOrEmpty(set bool) string {
	if set {
		return "set"
	}
	return ""
}

// redactURL masks the password in raw's user info and in any query parameter
// whose name contains "password" (libpq accepts ?password=). A value that
// does not parse as a hierarchical URL is hidden whole.
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return "(hidden: not a valid URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = "xxxxx"
		} else {
			masked := false
			for k := range q {
				if strings.Contains(strings.ToLower(k), "password") {
					q[k] = []string{"xxxxx"}
					masked = true
				}
			}
			if masked {
				u.RawQuery = q.Encode()
			}
		}
	}
	if u.Fragment != "" {
		u.Fragment, u.RawFragment = "xxxxx", ""
	}
	return u.String()
}
