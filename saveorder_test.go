package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStateSavedBeforeCommandRuns: while a -cmd program runs, the state
// file already holds what the pass decided (the command ran, the message
// removed, the rate count), so a crash or SIGKILL during the program does
// not make a restarted smsgate run the command again on a modem that
// keeps what it said it deleted.
func TestStateSavedBeforeCommandRuns(t *testing.T) {
	dir := t.TempDir()
	seen := filepath.Join(t.TempDir(), "seen")
	ps, err := parsePrograms([]string{"vpn=" + script(t, "cat "+filepath.Join(dir, stateFile)+" > "+seen+"; echo up")}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir })
	h.sim.SetFaults(func(f *SimFaults) { f.DeleteSilentlyFails = true })
	h.gw.actions.programs = ps
	id := h.send(owner, "vpn")
	h.step()
	if h.decision(id) != "executed" {
		t.Fatal("not executed")
	}
	b, err := os.ReadFile(seen)
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("state file while the program ran: %v: %q", err, b)
	}
	if len(st.Ran) != 1 || st.Ran[0].Command != "vpn" || len(st.Executed) != 1 {
		t.Errorf("state file while the program ran lacks the command: %s", b)
	}
	if _, ok := st.Removed[id]; !ok {
		t.Errorf("state file while the program ran lacks the removal of %d: %s", id, b)
	}
	// As if killed during the program: the saved file is all a restart has.
	os.WriteFile(filepath.Join(dir, stateFile), b, 0o600)
	os.Remove(seen)
	h.restart()
	h.gw.actions.programs = ps
	h.steps(2)
	if _, err := os.Stat(seen); err == nil {
		t.Fatal("the command ran again after a restart")
	}
}

// TestLockoutIgnoredSavedAtOnce: a command that arrives during a PIN
// lockout is ignored for good (README), even when smsgate restarts right
// after ignoring it, within the lazy save interval, and the lockout is
// over by then.
func TestLockoutIgnoredSavedAtOnce(t *testing.T) {
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.PIN = "4711"; c.StateDir = t.TempDir(); c.MaxAge = 3 * time.Hour })
	for i := 0; i < pinFailLimit; i++ {
		h.clk.Advance(time.Second) // attempts, not copies of one SMS
		h.send(owner, "1234 status")
		h.step()
	}
	// The last minute of the lockout; the first message makes a write,
	// so that the second falls within the lazy save interval.
	h.clk.Advance(pinLockout - 50*time.Second)
	first := h.send(owner, "4711 status")
	h.step()
	h.clk.Advance(20 * time.Second)
	id := h.send(owner, "4711 reboot")
	h.step()
	if h.decision(first) != "ignored" || h.decision(id) != "ignored" {
		t.Fatal("not ignored during the lockout")
	}
	h.restart()
	h.clk.Advance(time.Minute)
	h.steps(2)
	if h.reboots.count() != 0 || h.decision(id) != "ignored" {
		t.Fatal("a command ignored during the lockout ran after a restart")
	}
}
