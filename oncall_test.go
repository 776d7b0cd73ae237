//go:build linux && !nosim

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// callHarness is the gateway on the AT simulator with -on-call set.
func callHarness(t *testing.T, onCall string, mutate func(*GatewayConfig)) (*famHarness, atFamily) {
	t.Helper()
	cmd, err := parseOnCall(onCall)
	if err != nil {
		t.Fatal(err)
	}
	h := newFamHarness(t, simFamily{familyAT, startATFamily}, func(c *GatewayConfig) {
		c.Owner.OnCall = cmd
		if mutate != nil {
			mutate(c)
		}
	})
	return h, h.sim.(atFamily)
}

// ring plays a call from number, ringing times times, and waits until the
// adapter read every line of it: a stranger's SMS filed after the rings
// is indicated after them on the same line.
func ring(h *famHarness, a atFamily, number string, times int) {
	for i := 0; i < times; i++ {
		a.sim.Ring(number)
	}
	h.send("+3360000000", "barrier")
}

// endCall makes the next ring another call: the adapter tells calls apart
// by a pause in the rings (10 s), which the test does not wait for.
func endCall(a atFamily) {
	a.m.st.Lock()
	a.m.st.ringAt = time.Now().Add(-time.Minute)
	a.m.st.Unlock()
}

// callLines are the "call" log lines.
func callLines(t *testing.T, h *famHarness) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		var v map[string]any
		if json.Unmarshal([]byte(l), &v) == nil && v["msg"] == "call" {
			out = append(out, v)
		}
	}
	return out
}

func TestOnCallStatusOnceForRepeatedRings(t *testing.T) {
	h, a := callHarness(t, "status", nil)
	ring(h, a, owner, 4)
	h.steps(3)
	r := h.replies()
	if len(r) != 1 || !strings.HasPrefix(r[0], owner+": ") || !strings.Contains(r[0], "| pi up 3h00m") {
		t.Fatalf("replies %q, want one status to %s", r, owner)
	}
	lines := callLines(t, h)
	if len(lines) != 1 || lines[0]["decision"] != "executed" || lines[0]["command"] != "status" {
		t.Fatalf("call log lines %v", lines)
	}
	for _, c := range a.sim.Commands() {
		if strings.HasPrefix(c, "ATA") {
			t.Fatalf("the call was answered (%s)", c)
		}
	}
}

func TestOnCallStrangerIgnored(t *testing.T) {
	h, a := callHarness(t, "reboot", nil)
	ring(h, a, "+21699999999", 2)
	endCall(a)
	ring(h, a, "", 1) // withheld
	h.steps(3)
	if h.reboots.count() != 0 || len(h.replies()) != 0 {
		t.Fatalf("stranger obeyed: %d reboots, replies %q", h.reboots.count(), h.replies())
	}
	lines := callLines(t, h)
	if len(lines) != 2 || lines[0]["decision"] != "ignored" || lines[1]["decision"] != "ignored" {
		t.Fatalf("call log lines %v, want one ignored line per call", lines)
	}
}

// TestOnCallLimits: the reboot interval and the rate apply to calls as to
// SMS, counted together.
func TestOnCallLimits(t *testing.T) {
	t.Run("reboot interval", func(t *testing.T) {
		h, a := callHarness(t, "reboot", nil)
		ring(h, a, owner, 1)
		h.step()
		h.clk.Advance(time.Minute)
		endCall(a)
		ring(h, a, owner, 1)
		h.step()
		if h.reboots.count() != 1 {
			t.Fatalf("%d reboots, want 1", h.reboots.count())
		}
		lines := callLines(t, h)
		if len(lines) != 2 || lines[0]["decision"] != "executed" || lines[1]["decision"] != "rejected" {
			t.Fatalf("call log lines %v", lines)
		}
		if r := strings.Join(h.replies(), "\n"); !strings.Contains(r, "rebooting the Pi now") || !strings.Contains(r, "reboot refused") {
			t.Errorf("replies %q", r)
		}
	})
	t.Run("rate", func(t *testing.T) {
		h, a := callHarness(t, "status", func(c *GatewayConfig) { c.Rate = 2 })
		id := h.send(owner, "ping")
		h.step()
		for i := 0; i < 3; i++ {
			endCall(a)
			ring(h, a, owner, 1)
			h.step()
		}
		if h.decision(id) != "executed" {
			t.Fatal("ping not executed")
		}
		var got []any
		for _, l := range callLines(t, h) {
			got = append(got, l["decision"])
		}
		if len(got) != 3 || got[0] != "executed" || got[1] != "rejected" || got[2] != "rejected" {
			t.Fatalf("calls decided %v, want executed then rejected by -rate 2 (the ping counts)", got)
		}
		if r := h.replies(); len(r) != 3 || !strings.Contains(r[2], "over -rate 2") {
			t.Errorf("replies %q: pong, one status, one rate notice", r)
		}
	})
}

func TestOnCallFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-on-call", "dance"}, `-on-call "dance"`},
		{[]string{"-on-call", "help"}, "-on-call help"},
		{[]string{"-on-call", "reboot", "-pin", "4711"}, "-on-call reboot: commands need a PIN"},
		{[]string{"-on-call", "modem reconnect", "-pin", "4711"}, "-on-call modem reconnect: commands need a PIN"},
	} {
		var out bytes.Buffer
		a := &app{stdout: &out, stderr: &out}
		err := a.run(append([]string{"run", "-allow", owner, "-watchdog", ""}, c.args...))
		if exitCode(err) != exitStatusConfig || !strings.Contains(err.Error()+out.String(), c.want) {
			t.Errorf("%q: exit %d, %v; want 125 and %q", c.args, exitCode(err), err, c.want)
		}
	}
	for _, ok := range []string{"status", "reboot", "Modem Reboot", "ping", ""} {
		if _, err := parseOnCall(ok); err != nil {
			t.Errorf("-on-call %q: %v", ok, err)
		}
	}
	cmd, _ := parseOnCall("status")
	if err := checkOnCallSecret(GatewayConfig{PIN: "4711", Owner: OwnerConfig{OnCall: cmd}}); err != nil {
		t.Errorf("-on-call status with a PIN: %v", err)
	}
}

func TestParseCLIPInternationalWithoutPlus(t *testing.T) {
	for line, want := range map[string]string{
		`+CLIP: "21612345678",145,"",0,"",0`:  "+21612345678",
		`+CLIP: "+21612345678",145,"",0,"",0`: "+21612345678",
		`+CLIP: "012345678",129`:              "012345678",
		`+CLIP: "",128`:                       "",
	} {
		if got := parseCLIP(line); got != want {
			t.Errorf("%s: %q, want %q", line, got, want)
		}
	}
}

// TestOnCallWakesTheLoop: a call starts a pass at once, not at the next
// poll (an hour away here).
func TestOnCallWakesTheLoop(t *testing.T) {
	h, a := callHarness(t, "status", func(c *GatewayConfig) { c.PollInterval = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	born := h.gw.lastBeat.Load() // each completed pass stores a new beat
	go func() { done <- h.gw.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// Real time: the module is on a pseudo-terminal, outside any bubble.
	waitFor(t, "the first pass", func() bool { return h.gw.lastBeat.Load() != born })
	start := time.Now()
	a.sim.Ring(owner)
	for len(a.sim.Sent()) == 0 {
		if time.Since(start) > 3*time.Second {
			t.Fatal("no reply to the call within 3 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("RING to the status reply confirmed: %v", time.Since(start).Round(time.Millisecond))
}
