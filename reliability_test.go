package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Tests for issue 19: nothing lost, nothing twice, nobody locked out.

// TestTOTPCopiesAreDuplicates: the network or the modem may deliver one SMS
// several times (same sender, text and date). Under -totp the copies of an
// accepted message are silent duplicates, never wrong codes: six copies
// must not lock the owner out.
func TestTOTPCopiesAreDuplicates(t *testing.T) {
	key := []byte("12345678901234567890")
	for _, split := range []bool{false, true} {
		h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.TOTP = newTOTP(key) })
		at := h.clk.Now()
		text := code(key, at) + " ping"
		var ids []int64
		for i := 0; i < 7; i++ {
			ids = append(ids, h.sim.Deliver(owner, text, at))
			if split {
				h.step() // each copy in its own pass
			}
		}
		h.step()
		if d := h.decision(ids[0]); d != "executed" {
			t.Fatalf("split=%v: first copy %s", split, d)
		}
		for _, id := range ids[1:] {
			if d := h.decision(id); d != "duplicate" {
				t.Errorf("split=%v: copy %d decided %s, want duplicate: %v", split, id, d, h.smsLines()[id])
			}
		}
		if r := h.replies(); len(r) != 1 {
			t.Errorf("split=%v: replies %q, want only the pong", split, r)
		}
		h.clk.Advance(31 * time.Second)
		next := h.send(owner, code(key, h.clk.Now())+" ping")
		h.step()
		if d := h.decision(next); d != "executed" {
			t.Errorf("split=%v: the owner's next valid code %s after copies: %v", split, d, h.smsLines()[next])
		}
		if strings.Contains(h.logs.String(), "locked out") {
			t.Errorf("split=%v: copies locked the owner out", split)
		}
	}
}

// TestRepliesGoToTheAllowedNumber: a reply goes to the -allow number the
// sender matched, in international form, not to the raw sender string.
func TestRepliesGoToTheAllowedNumber(t *testing.T) {
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.CountryCode = "216" })
	for i, from := range []string{"012345678", "0021612345678", "+216 12345678", "+216-1234-5678"} {
		h.clk.Advance(time.Minute)
		id := h.send(from, "ping")
		h.step()
		if d := h.decision(id); d != "executed" {
			t.Fatalf("%q: %s", from, d)
		}
		sent := h.sim.Record().Sent
		if len(sent) != i+1 || sent[i].Number != owner {
			t.Errorf("reply to %q went to %+v, want %s", from, sent, owner)
		}
	}
}

// dyingSender is the gateway's modem with a Send that goes out and then
// the process "dies" (the goroutine ends) before the modem answers.
type dyingSender struct {
	*Modem
	sends *int
}

func (d dyingSender) Send(ctx context.Context, number, text string) error {
	*d.sends++
	runtime.Goexit()
	return nil
}

// TestAlertMaxCountedBeforeSending: -alert-max 1 and three restarts while
// the modem is sending: one alert goes out, not three. The count is saved
// before the send.
func TestAlertMaxCountedBeforeSending(t *testing.T) {
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = t.TempDir(); c.AlertMax = 1 })
	sends := 0
	for i := 0; i < 3; i++ {
		log := slog.New(slog.NewJSONHandler(h.logs, nil))
		actions := &Actions{modem: h.modem, reboot: h.reboots, host: h.host, log: log}
		gw, err := NewGateway(h.cfg, dyingSender{h.modem, &sends}, actions, h.led, log)
		if err != nil {
			t.Fatal(err)
		}
		gw.now = h.clk.Now
		gw.canSend = true
		gw.alert(h.clk.Now(), "something happened")
		done := make(chan struct{})
		go func() { defer close(done); gw.flushAlerts(context.Background()) }()
		<-done
		h.clk.Advance(time.Second)
	}
	if sends != 1 {
		t.Errorf("-alert-max 1: %d alerts sent across 3 restarts mid-send", sends)
	}
}

// TestFutureTimesInStateAreBounded: a state file written while the Pi's
// clock was ahead (then corrected) holds times in the future. None makes
// anything wait longer than its rule from now: a lockout at most an hour,
// rate counts at most an hour, the last reboot at most -reboot-interval,
// healing steps and alerts at most a day.
func TestFutureTimesInStateAreBounded(t *testing.T) {
	ahead := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC).Add(48 * time.Hour) // the harness clock starts at 12:00
	var ten []time.Time
	for range 10 {
		ten = append(ten, ahead)
	}
	cases := []struct {
		name  string
		state State
		after time.Duration // the most the rule may hold from now
		text  string
	}{
		{"lockout", State{LockedUntil: map[phoneKey]time.Time{owner: ahead}}, time.Hour + time.Second, "ping"},
		{"rate", State{Executed: map[phoneKey][]time.Time{owner: ten}}, time.Hour + time.Second, "ping"},
		{"last reboot", State{LastReboot: ahead, RebootBy: "command"}, 10*time.Minute + time.Second, "reboot"},
		{"pin fails", State{PINFails: map[phoneKey][]time.Time{owner: ten[:4]}}, time.Hour + time.Second, "0000 ping"},
		// witness: a command "run" ahead made every later one a duplicate,
		// and a pause saved ahead never ended.
		{"ran", State{Ran: []ranCommand{{From: owner, Command: "ping", Before: ahead, Sent: ahead}}}, time.Second, "ping"},
		{"pause", State{Owner: &ownerState{PausedUntil: ahead}}, maxPause + time.Second, "ping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			b, _ := json.Marshal(c.state)
			if err := os.WriteFile(filepath.Join(dir, stateFile), b, 0o600); err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, "mf920v", func(g *GatewayConfig) { g.StateDir = dir; g.PIN = "4711" })
			h.step()
			h.clk.Advance(c.after)
			if c.name == "pin fails" {
				// Four wrong PINs saved ahead are past an hour later: one
				// more wrong PIN now is the first, not the fifth.
				id := h.send(owner, c.text)
				h.step()
				if d := h.decision(id); d != "rejected" || strings.Contains(h.logs.String(), "locked out") {
					t.Fatalf("a wrong PIN an hour after 4 fails saved ahead locked the owner out: %s", h.logs.String())
				}
				c.text = "ping"
			}
			id := h.send(owner, "4711 "+strings.TrimPrefix(c.text, "4711 "))
			h.step()
			if d := h.decision(id); d != "executed" {
				t.Errorf("%s saved 2 days ahead still holds %s later: %s %v", c.name, c.after, d, h.smsLines()[id])
			}
		})
	}
}

// TestFutureAlertsAndHealStepsAreBounded: alerts sent and healing steps
// saved ahead count as now, so -alert-max and -heal-max hold at most a
// day from now.
func TestFutureAlertsAndHealStepsAreBounded(t *testing.T) {
	ahead := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC).Add(72 * time.Hour)
	dir := t.TempDir()
	b, _ := json.Marshal(State{AlertsSent: []time.Time{ahead}, HealSteps: map[string][]time.Time{"reconnect": {ahead}}})
	if err := os.WriteFile(filepath.Join(dir, stateFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, "mf920v", func(g *GatewayConfig) { g.StateDir = dir; g.AlertMax = 1 })
	h.step()
	h.clk.Advance(24*time.Hour + time.Minute)
	h.gw.alert(h.clk.Now(), "the line is back")
	h.step()
	if r := h.replies(); len(r) != 1 || !strings.Contains(r[0], "the line is back") {
		t.Errorf("an alert saved 3 days ahead still holds -alert-max 1 a day later: %q", r)
	}
	if n := len(h.gw.heal.within(stepReconnect, h.clk.Now())); n != 0 {
		t.Errorf("a healing step saved 3 days ahead still counts a day later: %d", n)
	}
}

// TestWrongSecretCopiesAreOneAttempt: copies of one SMS with a wrong code
// or PIN (the network delivered it several times) are one wrong attempt:
// one reply, no lockout (witness: five copies of a typo locked the owner
// out for an hour and sent four "wrong code" SMS).
func TestWrongSecretCopiesAreOneAttempt(t *testing.T) {
	key := []byte("12345678901234567890")
	for name, mutate := range map[string]func(*GatewayConfig){
		"totp": func(c *GatewayConfig) { c.TOTP = newTOTP(key) },
		"pin":  func(c *GatewayConfig) { c.PIN = "4711" },
	} {
		for _, split := range []bool{false, true} {
			h := newHarness(t, "mf920v", mutate)
			at := h.clk.Now()
			var ids []int64
			for i := 0; i < 6; i++ {
				ids = append(ids, h.sim.Deliver(owner, "222222 ping", at))
				if split {
					h.step()
				}
			}
			h.step()
			if d := h.decision(ids[0]); d != "rejected" {
				t.Fatalf("%s split=%v: first copy %s", name, split, d)
			}
			for _, id := range ids[1:] {
				if d := h.decision(id); d != "duplicate" {
					t.Errorf("%s split=%v: copy %d decided %s, want duplicate", name, split, id, d)
				}
			}
			if r := h.replies(); len(r) != 1 {
				t.Errorf("%s split=%v: replies %q, want one", name, split, r)
			}
			if strings.Contains(h.logs.String(), "locked out") {
				t.Errorf("%s split=%v: copies of one typo locked the owner out", name, split)
			}
			h.clk.Advance(31 * time.Second)
			good := map[string]string{"totp": code(key, h.clk.Now()), "pin": "4711"}[name]
			next := h.send(owner, good+" ping")
			h.step()
			if d := h.decision(next); d != "executed" {
				t.Errorf("%s split=%v: the owner's next good message %s", name, split, d)
			}
		}
	}
}

// TestReportCutBySendIsNotRepeated: a report whose send a crash cut may
// have gone out, and is not sent again; one never handed to the modem is
// (witness: one held-back reply went out six times under repeated kills).
func TestReportCutBySendIsNotRepeated(t *testing.T) {
	dir := t.TempDir()
	st := State{Reports: []intent{
		{ID: 1, To: string(owner), Command: "c1", Stage: intentRan, Reply: "after a restart: c1 ran", Sending: true},
		{ID: 2, To: string(owner), Command: "c2", Stage: intentRan, Reply: "after a restart: c2 ran"},
	}}
	b, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(dir, stateFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir })
	h.steps(3)
	r := h.replies()
	if len(r) != 1 || !strings.Contains(r[0], "c2 ran") {
		t.Errorf("reports sent %q, want only c2's", r)
	}
	h.restart()
	h.steps(2)
	if r := h.replies(); len(r) != 1 {
		t.Errorf("after another restart, reports sent %q", r)
	}
}

// TestBoundedTimesAreSavedAtOnce: a time bounded on load is written back
// at once, so that a restart does not grant a far-future lockout or pause
// its rule again from its own now (final witness: the file kept the 2099
// pause, and each restart paused two more hours).
func TestBoundedTimesAreSavedAtOnce(t *testing.T) {
	dir := t.TempDir()
	far := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	b, _ := json.Marshal(State{LockedUntil: map[phoneKey]time.Time{owner: far}, Owner: &ownerState{PausedUntil: far}})
	if err := os.WriteFile(filepath.Join(dir, stateFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, "mf920v", func(g *GatewayConfig) { g.StateDir = dir })
	h.step()
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	now := h.clk.Now()
	if u := st.LockedUntil[owner]; u.After(now.Add(pinLockout)) {
		t.Errorf("saved lockout %s, want at most %s", u, now.Add(pinLockout))
	}
	if st.Owner == nil || st.Owner.PausedUntil.After(now.Add(maxPause)) {
		t.Errorf("saved pause %+v, want at most %s", st.Owner, now.Add(maxPause))
	}
}
