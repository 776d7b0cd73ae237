package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPauseStopsLoginsUntilResume(t *testing.T) {
	h := ownerHarness(t, OwnerConfig{}, nil)
	h.sim.Deliver(owner, "pause 30m", h.clk.Now())
	h.step()
	if r := h.sentTo(owner); len(r) != 1 || !strings.HasPrefix(r[0], "paused until 12:30") {
		t.Fatalf("replies %q", r)
	}
	logins := len(h.sim.Record().Logins)
	// The owner logs in to the web UI: smsgate's session is gone.
	h.sim.ExpireSessions()
	for range 5 {
		h.clk.Advance(time.Minute)
		h.step()
	}
	if n := len(h.sim.Record().Logins); n != logins {
		t.Fatalf("%d logins during the pause", n-logins)
	}
	if h.led.last() != healthLogin {
		t.Errorf("LED %s during the pause", h.led.last())
	}
	if !strings.Contains(h.gw.actions.status(t.Context()), "paused until 12:30") {
		t.Errorf("status does not say so: %q", h.gw.actions.status(t.Context()))
	}
	// A restart keeps the pause.
	h.restart()
	h.step()
	if n := len(h.sim.Record().Logins); n != logins {
		t.Fatalf("a restart logged in during the pause")
	}
	// `smsgate resume` at a shell.
	var out bytes.Buffer
	done := make(chan error)
	go func() {
		done <- runPauseCmd("resume", []string{"-state-dir", h.cfg.StateDir, "-wait", "10s"}, &out, &out)
	}()
	var stepped atomic.Int32
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			h.step()
			if n := len(h.sim.Record().Logins); n == logins {
				t.Errorf("no login after resume (%d steps)", stepped.Load())
			}
			if h.led.last() == healthLogin {
				t.Error("LED still shows the pause")
			}
			if !strings.Contains(out.String(), "resumed") {
				t.Errorf("smsgate resume said %q", out.String())
			}
			return
		case <-time.After(50 * time.Millisecond):
			h.step()
			stepped.Add(1)
		}
	}
}

func TestPauseBoundsAndSMSResume(t *testing.T) {
	h := ownerHarness(t, OwnerConfig{}, nil)
	for _, text := range []string{"pause 3h", "pause soon", "pause 2h"} {
		h.sim.Deliver(owner, text, h.clk.Now())
		h.step()
	}
	r := h.sentTo(owner)
	if len(r) != 3 || !strings.Contains(r[0], "want 1m to 2h") || !strings.Contains(r[1], "want a duration") ||
		!strings.HasPrefix(r[2], "paused until 14:00") {
		t.Fatalf("replies %q", r)
	}
	// While smsgate still has its session, 'resume' by SMS is read.
	h.sim.Deliver(owner, "resume", h.clk.Now())
	h.step()
	if r := h.sentTo(owner); len(r) != 4 || r[3] != "resumed: logging in to the modem again" {
		t.Fatalf("replies %q", r)
	}
	h.sim.ExpireSessions()
	logins := len(h.sim.Record().Logins)
	h.step()
	if len(h.sim.Record().Logins) == logins {
		t.Error("no login after resume")
	}
	// A pause ends by itself.
	h.sim.Deliver(owner, "pause 1m", h.clk.Now())
	h.step()
	h.clk.Advance(2 * time.Minute)
	h.sim.ExpireSessions()
	logins = len(h.sim.Record().Logins)
	h.step()
	if len(h.sim.Record().Logins) == logins || !strings.Contains(h.logs.String(), "pause over") {
		t.Error("the pause did not end by itself")
	}
}

// A refused password stays refused after a pause: the pause's hold gives
// back the one it covered.
func TestPauseKeepsARefusedPasswordHeld(t *testing.T) {
	_, m, _ := startSim(t, "mf920v", "right", "wrong")
	if err := m.EnsureSession(t.Context()); err == nil {
		t.Fatal("a wrong password logged in")
	}
	before := m.loginHold
	release := m.HoldLogins("paused")
	if m.loginHold == before {
		t.Fatal("not held")
	}
	release()
	if m.loginHold != before {
		t.Error("the refused password's hold was lost")
	}
}

func TestAnotherUserSaidOnceAndCounted(t *testing.T) {
	h := ownerHarness(t, OwnerConfig{}, nil)
	h.step()
	h.sim.SetOwner(func(o *simOwnerExt) { o.OtherUser = true })
	h.sim.ExpireSessions()
	for range 4 {
		h.step()
	}
	if n := strings.Count(h.logs.String(), "smsgate waits until they leave"); n != 1 {
		t.Errorf("said %d times", n)
	}
	h.sim.SetOwner(func(o *simOwnerExt) { o.OtherUser = false })
	h.clk.Advance(2 * time.Minute)
	h.step()
	h.sim.SetOwner(func(o *simOwnerExt) { o.OtherUser = true })
	h.sim.ExpireSessions()
	h.step()
	h.step()
	if n := strings.Count(h.logs.String(), "smsgate waits until they leave"); n != 2 {
		t.Errorf("said %d times for two spells", n)
	}
	if s := h.gw.actions.status(t.Context()); !strings.Contains(s, "web UI in use 2x") {
		t.Errorf("status %q", s)
	}
	if r := h.sentTo(owner); len(r) != 0 {
		t.Errorf("alerted about the owner's own web UI login: %q", r)
	}
}

func TestPauseRequestFile(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	for _, args := range [][]string{{"3h"}, {}, {"-state-dir", "", "30m"}, {"soon"}} {
		if err := runPauseCmd("pause", append([]string{"-state-dir", dir}, args...), &out, &out); exitCode(err) != exitStatusConfig {
			t.Errorf("pause %q: %v", args, err)
		}
	}
	err := runPauseCmd("pause", []string{"-state-dir", dir, "-wait", "100ms", "30m"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "no running smsgate took the request") {
		t.Errorf("without a daemon: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, pauseRequestFile))
	r, err := parsePauseRequest(b)
	if err != nil || time.Until(r.until) > 30*time.Minute || time.Until(r.until) < 29*time.Minute {
		t.Errorf("request %q: %+v, %v", b, r, err)
	}
}

// FuzzParsePauseRequest: whatever the file holds, a request is read or
// refused, never half-read.
func FuzzParsePauseRequest(f *testing.F) {
	f.Add([]byte("pause 2026-03-14T12:30:00Z\n"))
	f.Add([]byte("resume\n"))
	f.Add([]byte("pause 9999-99-99"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parsePauseRequest(b)
		if err != nil {
			return
		}
		again, err := parsePauseRequest([]byte(r.String()))
		if err != nil || !again.until.Equal(r.until) {
			t.Fatalf("%q read as %v, written %q, read back %v %v", b, r.until, r.String(), again.until, err)
		}
	})
}

// noHoldModem is a modem whose adapter cannot hold its logins.
type noHoldModem struct{ gatewayModem }

// A family that cannot hold its logins is not asked anything while paused.
func TestPauseWithoutLoginHolderLeavesTheModemAlone(t *testing.T) {
	h := ownerHarness(t, OwnerConfig{}, nil)
	actions := &Actions{modem: noHoldModem{h.modem}, reboot: h.reboots, host: h.host, log: h.gw.log}
	gw, err := NewGateway(h.cfg, noHoldModem{h.modem}, actions, h.led, h.gw.log)
	if err != nil {
		t.Fatal(err)
	}
	gw.now = h.clk.Now
	h.gw = gw
	h.sim.Deliver(owner, "pause 10m", h.clk.Now())
	h.step()
	requests := h.sim.Record().Requests
	for range 5 {
		h.clk.Advance(time.Minute)
		h.step()
	}
	if n := h.sim.Record().Requests - requests; n != 0 {
		t.Errorf("%d requests to the modem while paused", n)
	}
	if h.led.last() != healthLogin {
		t.Errorf("LED %s while paused", h.led.last())
	}
	h.clk.Advance(6 * time.Minute)
	h.step()
	if h.sim.Record().Requests == requests {
		t.Error("the modem is still left alone after the pause")
	}
}
