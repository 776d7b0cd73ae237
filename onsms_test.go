//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hookScript writes a program that appends its environment, then "---",
// to the file given as its argument, after sleeping sleep seconds.
func hookScript(t *testing.T, sleep string) (*program, string) {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "hook")
	out := filepath.Join(dir, "out")
	body := "#!/bin/sh\nsleep " + sleep + "\nenv >> \"$1\"\necho --- >> \"$1\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := parseOnSMS(script+" "+out, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return p, out
}

// waitRuns waits until the hook ran n times and returns its records.
func waitRuns(t *testing.T, out string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		runs := strings.Split(string(b), "---\n")
		runs = runs[:len(runs)-1]
		if len(runs) >= n || time.Now().After(deadline) {
			return runs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func envOf(run string) map[string]string {
	env := map[string]string{}
	for _, l := range strings.Split(run, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			env[k] = v
		}
	}
	return env
}

func TestOnSMSOncePerMessageWithoutSecrets(t *testing.T) {
	t.Setenv("SMSGATE_PASSWORD", "modem-secret")
	t.Setenv("SMSGATE_PIN", "4711")
	p, out := hookScript(t, "0")
	h := ownerHarness(t, OwnerConfig{OnSMS: p}, func(c *GatewayConfig) { c.PIN = "4711" })
	defer h.gw.own.close()
	h.sim.Deliver(owner, "4711 ping", h.clk.Now())
	h.sim.Deliver(owner, "9999 reboot", h.clk.Now())
	h.sim.Deliver("+33612345678", "hello\nthere", h.clk.Now())
	h.step()
	h.step()
	h.step()
	waitRuns(t, out, 3)
	time.Sleep(300 * time.Millisecond) // real time (the hook is a child process): a window for a run too many
	runs := waitRuns(t, out, 0)
	if len(runs) != 3 {
		t.Fatalf("the hook ran %d times for 3 messages", len(runs))
	}
	want := map[string][2]string{"executed": {"1", "**** ping"}, "rejected": {"1", "**** reboot"}, "ignored": {"0", "hello\nthere"}}
	for _, r := range runs {
		if strings.Contains(r, "4711") || strings.Contains(r, "modem-secret") || strings.Contains(r, "SMSGATE_") {
			t.Errorf("a secret reached the hook:\n%s", r)
		}
		env := envOf(r)
		w, ok := want[env["SMS_DECISION"]]
		if !ok {
			t.Errorf("SMS_DECISION %q", env["SMS_DECISION"])
			continue
		}
		if env["SMS_ALLOWED"] != w[0] || !strings.HasPrefix(w[1], env["SMS_TEXT"]) || env["SMS_FROM"] == "" ||
			!strings.HasPrefix(env["SMS_DATE"], "2026-03-14T") {
			t.Errorf("%s: env %v", env["SMS_DECISION"], env)
		}
	}
}

func TestOnSMSNeverBlocksTheLoop(t *testing.T) {
	p, out := hookScript(t, "30") // killed by its 5 s timeout, or by close
	h := ownerHarness(t, OwnerConfig{OnSMS: p}, nil)
	for i := range 40 {
		h.sim.Deliver("+33612345678", "flood "+string(rune('a'+i%26)), h.clk.Now())
	}
	start := time.Now()
	h.step()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a poll with a slow hook took %s", d)
	}
	if !strings.Contains(h.logs.String(), "on-sms: queue full") {
		t.Error("the overflow was not logged")
	}
	start = time.Now()
	h.gw.own.close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closing waited %s for the slow hook", d)
	}
	if b, err := os.ReadFile(out); err == nil {
		t.Errorf("a killed hook wrote %q", b)
	}
	// A gateway that stops still decides nothing twice, and a closed
	// runner takes nothing more.
	h.gw.own.hook.enqueue(onSMSJob{from: "x"})
}

func TestOnSMSDryRunRunsNothing(t *testing.T) {
	p, out := hookScript(t, "0")
	h := ownerHarness(t, OwnerConfig{OnSMS: p, DryRun: true}, nil)
	h.sim.Deliver(owner, "ping", h.clk.Now())
	h.step()
	time.Sleep(200 * time.Millisecond) // real time (the hook would be a child process): a window for a run
	h.gw.own.close()
	if _, err := os.Stat(out); err == nil {
		t.Error("a dry run ran the hook")
	}
}

func TestParseOnSMS(t *testing.T) {
	plain := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ flag, err string }{
		{"", ""}, {"relative/prog", "absolute"}, {"/nonexistent/prog", "no such file"}, {plain, "not executable"},
	} {
		_, err := parseOnSMS(c.flag, time.Second)
		if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("parseOnSMS(%q): %v, want %q", c.flag, err, c.err)
		}
	}
	if _, err := parseOnSMS("/bin/true", 0); err == nil {
		t.Error("no timeout accepted")
	}
}
