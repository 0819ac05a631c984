package main

import (
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/payrecon/reconciler/internal/config"
)

// TestStartLogsTheConfigurationRedacted holds a process's first line to
// every variable it runs with, and to none of its secrets.
func TestStartLogsTheConfigurationRedacted(t *testing.T) {
	t.Parallel()
	secrets := []string{"hunter2-db-password", "admin-token-0123456789abcdef", "whsec_topsecretvalue", "rk_live_apikeysecret"}
	env := map[string]string{
		"DATABASE_URL":          "postgres://ops:" + secrets[0] + "@db.internal:5432/reconciler?sslmode=disable",
		"ADMIN_TOKEN":           secrets[1],
		"STRIPE_WEBHOOK_SECRET": secrets[2],
		"STRIPE_API_KEY":        secrets[3],
		"RELAY_AFTER":           "3m",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	logConfig(zap.New(core), "web", cfg)

	entries := logs.All()
	if len(entries) != 1 {
		t.Fatalf("%d log entries, want 1", len(entries))
	}
	fields := entries[0].ContextMap()
	if fields["command"] != "web" {
		t.Errorf("command = %v, want web", fields["command"])
	}
	shown, ok := fields["config"].(map[string]any)
	if !ok {
		t.Fatalf("config field is %T, want an object", fields["config"])
	}
	for name, want := range map[string]string{
		"RELAY_AFTER": "3m0s", "PORT": "8080", "ADMIN_TOKEN": "set", "STRIPE_WEBHOOK_SECRET": "set", "STRIPE_API_KEY": "set",
		"DATABASE_URL": "postgres://ops:xxxxx@db.internal:5432/reconciler?sslmode=disable",
	} {
		if shown[name] != want {
			t.Errorf("config[%s] = %v, want %q", name, shown[name], want)
		}
	}
	if want := len(cfg.Redacted()); len(shown) != want {
		t.Errorf("%d variables logged, want %d", len(shown), want)
	}
	line := entries[0].Message
	for k, v := range shown {
		line += " " + k + "=" + v.(string)
	}
	for _, s := range secrets {
		if strings.Contains(line, s) {
			t.Errorf("the start line shows the secret %q", s)
		}
	}
}
