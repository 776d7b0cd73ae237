package main

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// daemonGatewayConfig is the gateway configuration the daemon makes of
// -allow owner and args (parseDaemonArgs, no -state-dir): tests run with
// the daemon's limits, and set what no flag says afterwards.
func daemonGatewayConfig(t testing.TB, args ...string) GatewayConfig {
	t.Helper()
	cfg, err := parseDaemonFlags(append([]string{"-allow", owner}, args...), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg.gateway
}

// TestNewGatewayRefusesSenselessLimits: a limit the daemon's flags would
// refuse is refused by NewGateway too, not replaced by a default of its
// own; the daemon's own configuration is accepted.
func TestNewGatewayRefusesSenselessLimits(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, tt := range []struct {
		name   string
		mutate func(*GatewayConfig)
		want   string // in the error; "" none
	}{
		{"the daemon's", func(*GatewayConfig) {}, ""},
		{"no rate", func(c *GatewayConfig) { c.Rate = 0 }, "rate 0"},
		{"no poll interval", func(c *GatewayConfig) { c.PollInterval = 0 }, "poll interval 0s"},
		{"no step timeout", func(c *GatewayConfig) { c.StepTimeout = 0 }, "step timeout 0s"},
		{"no max age", func(c *GatewayConfig) { c.MaxAge = 0 }, "max age 0s"},
		{"no alerts", func(c *GatewayConfig) { c.AlertMax = 0 }, "alert max 0"},
		{"negative reboot interval", func(c *GatewayConfig) { c.RebootInterval = -time.Second }, "reboot interval -1s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := daemonGatewayConfig(t)
			tt.mutate(&cfg)
			g, err := NewGateway(cfg, nil, &Actions{log: log}, nil, log)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err %v, want %q", err, tt.want)
			case tt.want == "" && (g.cfg.StepTimeout != cfg.StepTimeout || g.cfg.Rate != cfg.Rate || g.cfg.PollInterval != cfg.PollInterval):
				t.Errorf("the gateway runs with other limits than it was given: %+v", g.cfg)
			}
		})
	}
}

// TestNewGatewayChangesNothingItIsGiven: making a gateway leaves the
// Actions it is given as they were, and reads the state directory without
// changing it (an interrupted write's leftover goes at the first save).
func TestNewGatewayChangesNothingItIsGiven(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	left := filepath.Join(dir, "."+stateFile+".123")
	if err := os.WriteFile(left, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := daemonGatewayConfig(t, "-pin", "4711")
	cfg.StateDir = dir
	actions := &Actions{log: log}
	before := *actions
	g, err := NewGateway(cfg, nil, actions, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	if actions.secret != before.secret || actions.own != nil || actions.healNote != nil {
		t.Errorf("NewGateway wrote into the Actions it was given: secret %v, own set %v, healNote set %v",
			actions.secret, actions.own != nil, actions.healNote != nil)
	}
	if g.actions.secret != secretPIN || g.actions.own == nil || g.actions.healNote == nil {
		t.Error("the gateway's own actions lack its parts")
	}
	if _, err := os.Stat(left); err != nil {
		t.Errorf("NewGateway cleaned the state directory: %v", err)
	}
	g.store.Save(g.st)
	if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the first save left the leftover: %v", err)
	}
}

// gatewayConfigIn is the daemon's gateway configuration with its state in
// dir.
func gatewayConfigIn(t testing.TB, dir string) GatewayConfig {
	t.Helper()
	cfg := daemonGatewayConfig(t)
	cfg.StateDir = dir
	return cfg
}
