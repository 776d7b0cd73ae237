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
// ini block that starts with its name.
func readmeUnit(t *testing.T) string {
	t.Helper()
	return readmeBlock(t, "```ini\n", "# smsgate.service:")
}

// readmeBlock is the fenced block of README.md that opens with fence and
// whose text starts with first (first included).
func readmeBlock(t *testing.T, fence, first string) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), fence+first)
	if !ok {
		t.Fatalf("README.md has no %q block", fence+first)
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("README.md's %q block does not end", first)
	}
	return first + block
}

// environmentFile reads KEY=value lines as systemd's EnvironmentFile= does
// for the plain forms our files use: # comments, blank lines, a value in
// double quotes or bare.
func environmentFile(text string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		k, v, ok := strings.Cut(line, "=")
		if line == "" || strings.HasPrefix(line, "#") || !ok {
			continue
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		env[strings.TrimSpace(k)] = v
	}
	return env
}

// unitArgs is the unit's ExecStart after the program, with $SMSGATE_FLAGS
// split on white space as systemd splits an unquoted $VAR.
func unitArgs(execStart []string, env map[string]string) []string {
	var args []string
	for _, a := range execStart[1:] {
		if a == "$SMSGATE_FLAGS" || a == "${SMSGATE_FLAGS}" {
			args = append(args, strings.Fields(env["SMSGATE_FLAGS"])...)
			continue
		}
		args = append(args, a)
	}
	return args
}

// TestReadmeSystemdUnit checks the unit README.md gives, as written there:
// it is packaging/smsgate.service, which the .deb installs (one source);
// smsgate accepts its flags with README's /etc/default/smsgate and refuses
// them with the package's as shipped (no -allow yet: exit 125, which the
// unit does not restart); and `systemd-analyze verify` has nothing to say
// about it (verify exits 0 on unknown keys and bad values, so any output
// is a failure).
func TestReadmeSystemdUnit(t *testing.T) {
	unit := readmeUnit(t)
	packaged, err := os.ReadFile(filepath.Join("packaging", "smsgate.service"))
	if err != nil {
		t.Fatal(err)
	}
	if unit != string(packaged) {
		t.Errorf("README's unit differs from packaging/smsgate.service:\n%s\n---\n%s", unit, packaged)
	}
	var execStart []string
	for _, line := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			execStart = strings.Fields(v)
		}
	}
	if len(execStart) < 2 || execStart[0] != "/usr/bin/smsgate" {
		t.Fatalf("ExecStart %q: want /usr/bin/smsgate and flags", execStart)
	}
	if !strings.Contains(unit, "EnvironmentFile=/etc/default/smsgate\n") {
		t.Error("the unit does not read /etc/default/smsgate")
	}
	filled := environmentFile(readmeBlock(t, "```sh\n", "SMSGATE_FLAGS="))
	if !strings.Contains(filled["SMSGATE_FLAGS"], "-allow=") {
		t.Fatalf("README's /etc/default/smsgate has no -allow: %q", filled)
	}
	if _, err := parseDaemonFlags(unitArgs(execStart, filled), func(k string) string { return filled[k] }); err != nil {
		t.Errorf("smsgate refuses the unit's flags with README's /etc/default/smsgate: %v", err)
	}
	shipped, err := os.ReadFile(filepath.Join("packaging", "deb", "default"))
	if err != nil {
		t.Fatal(err)
	}
	env := environmentFile(string(shipped))
	// runDaemon turns a validate error into exit status 125.
	_, err = parseDaemonFlags(unitArgs(execStart, env), func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "no -allow") {
		t.Errorf("the package's /etc/default/smsgate as shipped: %v, want the no -allow error", err)
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
	if err := os.WriteFile(path, []byte(strings.Replace(unit, "ExecStart=/usr/bin/smsgate", "ExecStart="+bin, 1)), 0o644); err != nil {
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
