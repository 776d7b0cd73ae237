package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readmeUnit is the systemd unit README.md gives for Raspberry Pi OS: the
// ini block that starts with its path.
func readmeUnit(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	const head = "```ini\n# /etc/systemd/system/smsgate.service\n"
	_, rest, ok := strings.Cut(string(b), head)
	if !ok {
		t.Fatalf("README.md has no %q block", head)
	}
	unit, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("README.md's unit block does not end")
	}
	return unit
}

// TestReadmeSystemdUnit checks the unit README.md gives, as written there:
// smsgate accepts its flags, and `systemd-analyze verify` has nothing to
// say about it (verify exits 0 on unknown keys and bad values, so any
// output is a failure).
func TestReadmeSystemdUnit(t *testing.T) {
	unit := readmeUnit(t)
	var execStart []string
	for _, line := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			execStart = strings.Fields(v)
		}
	}
	if len(execStart) < 2 || execStart[0] != "/usr/local/bin/smsgate" {
		t.Fatalf("ExecStart %q: want /usr/local/bin/smsgate and flags", execStart)
	}
	if _, err := parseDaemonFlags(execStart[1:], func(string) string { return "" }); err != nil {
		t.Errorf("smsgate refuses the unit's flags: %v", err)
	}
	if !strings.Contains(unit, "RestartPreventExitStatus=125") {
		t.Error("the unit would restart smsgate on a configuration error (exit 125)")
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		msg := "SKIPPED: systemd-analyze verify of README's unit: apt-get install systemd"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// verify insists that ExecStart's program exists: a stand-in takes the
	// installed binary's place, and nothing else of the unit changes.
	dir := t.TempDir()
	bin := filepath.Join(dir, "smsgate")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "smsgate.service")
	if err := os.WriteFile(path, []byte(strings.Replace(unit, "/usr/local/bin/smsgate", bin, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(analyze, "verify", "--man=no", path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || out.Len() > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out.String())
	}
}

// TestReadmeGokrazyConfig: smsgate accepts the flags README.md's gokrazy
// config.json gives it.
func TestReadmeGokrazyConfig(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```json\n\"PackageConfig\": {")
	if !ok {
		t.Fatal("README.md has no gokrazy PackageConfig block")
	}
	block, _, _ := strings.Cut(rest, "```")
	var cfg map[string]struct {
		CommandLineFlags []string
		Environment      []string
	}
	if err := json.Unmarshal([]byte("{"+block), &cfg); err != nil {
		t.Fatalf("README's PackageConfig is not JSON: %v", err)
	}
	pkg, ok := cfg["smsgate"]
	if !ok || len(pkg.CommandLineFlags) == 0 {
		t.Fatalf("no smsgate flags in %q", block)
	}
	env := map[string]string{}
	for _, e := range pkg.Environment {
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
	}
	if _, err := parseDaemonFlags(pkg.CommandLineFlags, func(k string) string { return env[k] }); err != nil {
		t.Errorf("smsgate refuses README's gokrazy flags: %v", err)
	}
}
