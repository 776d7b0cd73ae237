package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// outbox records what an alert flush sends, and can refuse.
type outbox struct {
	sent   []string
	refuse func(number string) bool
}

func (o *outbox) send(_ context.Context, number, text string) error {
	if o.refuse != nil && o.refuse(number) {
		return fmt.Errorf("send sms to %s: %w: no credit", number, errSendUnconfirmed)
	}
	o.sent = append(o.sent, number+": "+text)
	return nil
}

func TestAlertsWaitAndAreBounded(t *testing.T) {
	clk := newFakeClock()
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()

	t.Run("wait until the modem can send, in order", func(t *testing.T) {
		a := NewAlerts([]string{"+1", "+2"}, 10, log)
		a.Add(clk.Now(), "one")
		a.Add(clk.Now(), "two")
		o := &outbox{refuse: func(string) bool { return true }}
		a.Flush(ctx, clk.Now(), o.send)
		if len(o.sent) != 0 || a.Pending() != 2 {
			t.Fatalf("sent %q, %d pending", o.sent, a.Pending())
		}
		// The second number fails once: only it is tried again, after
		// the back-off.
		at := clk.Now().Add(alertBackoff)
		o.refuse = func(n string) bool { return n == "+2" }
		a.Flush(ctx, at, o.send)
		o.refuse = nil
		a.Flush(ctx, at, o.send) // too soon
		if len(o.sent) != 1 {
			t.Fatalf("tried again before the back-off: sent %q", o.sent)
		}
		a.Flush(ctx, at.Add(2*alertBackoff), o.send)
		want := []string{"+1: smsgate 12:00: one", "+2: smsgate 12:00: one", "+1: smsgate 12:00: two", "+2: smsgate 12:00: two"}
		if fmt.Sprint(o.sent) != fmt.Sprint(want) || a.Pending() != 0 {
			t.Errorf("sent %q, want %q", o.sent, want)
		}
	})

	t.Run("a full queue drops the oldest and says so", func(t *testing.T) {
		a := NewAlerts([]string{"+1"}, 100, log)
		for i := 0; i < alertQueueSize+4; i++ {
			a.Add(clk.Now(), fmt.Sprint("n", i))
		}
		o := &outbox{}
		a.Flush(ctx, clk.Now(), o.send)
		if len(o.sent) != alertQueueSize || o.sent[0] != "+1: (4 alerts suppressed) smsgate 12:00: n4" || o.sent[1] != "+1: smsgate 12:00: n5" {
			t.Errorf("sent %q", o.sent)
		}
	})

	t.Run("at most -alert-max a day; the next says how many were suppressed", func(t *testing.T) {
		a := NewAlerts([]string{"+1"}, 3, log)
		o := &outbox{}
		for i := 0; i < 5; i++ {
			a.Add(clk.Now(), fmt.Sprint("n", i))
			a.Flush(ctx, clk.Now(), o.send)
			clk.Advance(time.Hour)
		}
		clk.Advance(20 * time.Hour) // 24h after the second
		a.Add(clk.Now(), "next day")
		a.Flush(ctx, clk.Now(), o.send)
		want := []string{"+1: smsgate 12:00: n0", "+1: smsgate 13:00: n1", "+1: smsgate 14:00: n2", "+1: (2 alerts suppressed) smsgate 13:00: next day"}
		if fmt.Sprint(o.sent) != fmt.Sprint(want) {
			t.Errorf("sent %q, want %q", o.sent, want)
		}
	})

	t.Run("one SMS each", func(t *testing.T) {
		a := NewAlerts([]string{"+1"}, 10, log)
		a.Add(clk.Now(), strings.Repeat("long reason ", 30))
		o := &outbox{}
		a.Flush(ctx, clk.Now(), o.send)
		if len(o.sent) != 1 || smsParts(strings.TrimPrefix(o.sent[0], "+1: ")) != 1 {
			t.Errorf("sent %q", o.sent)
		}
	})

	t.Run("no numbers: only logged", func(t *testing.T) {
		a := NewAlerts([]string{}, 10, log)
		a.Add(clk.Now(), "x")
		if a.Pending() != 0 {
			t.Error("queued an alert for nobody")
		}
	})
}

func TestStartAlert(t *testing.T) {
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		uptime time.Duration
		cause  bootCause
		always bool
		text   string
		due    bool
	}{
		{2 * time.Minute, bootCause{watchdogKnown: true, watchdogReset: true}, false, "up; the Pi booted 11:58: watchdog reset", true},
		{2 * time.Minute, bootCause{watchdogKnown: true}, false, "up; the Pi booted 11:58: power or reset, not the watchdog", true},
		{2 * time.Minute, bootCause{}, false, "up; the Pi booted 11:58: cause unknown", true},
		{2 * time.Minute, bootCause{asked: "healing"}, false, "up; the Pi booted 11:58: reboot by healing", true},
		{2 * time.Minute, bootCause{asked: "command"}, false, "up; the Pi booted 11:58: reboot by command", false},
		{2 * time.Minute, bootCause{asked: "command"}, true, "up; the Pi booted 11:58: reboot by command", true},
		{2 * time.Minute, bootCause{watchdogKnown: true, stateKnown: true}, false, "up; the Pi booted 11:58: power cut or reset (not the watchdog, not asked for)", true},
		{2 * time.Minute, bootCause{stateKnown: true}, false, "up; the Pi booted 11:58: not asked for by smsgate", true},
		{3 * time.Hour, bootCause{}, false, "up (restarted; the Pi has been up 3h00m)", false},
		{3 * time.Hour, bootCause{}, true, "up (restarted; the Pi has been up 3h00m)", true},
	} {
		text, due := startAlert(now, tt.uptime, tt.cause, tt.always)
		if text != tt.text || due != tt.due {
			t.Errorf("startAlert(%s, %+v, %v) = %q, %v; want %q, %v", tt.uptime, tt.cause, tt.always, text, due, tt.text, tt.due)
		}
	}
}

func TestWatchdogBootStatus(t *testing.T) {
	sys := t.TempDir()
	for name, v := range map[string]string{"watchdog0": "32\n", "watchdog1": "0\n"} {
		dir := filepath.Join(sys, "class", "watchdog", name)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "bootstatus"), []byte(v), 0o644)
	}
	for _, tt := range []struct {
		dev          string
		reset, known bool
	}{
		{"/dev/watchdog", true, true},
		{"/dev/watchdog0", true, true},
		{"/dev/watchdog1", false, true},
		{"/dev/watchdog2", false, false},
		{"", false, false},
	} {
		if reset, known := watchdogBootStatus(sys, tt.dev); reset != tt.reset || known != tt.known {
			t.Errorf("%q: reset %v known %v", tt.dev, reset, known)
		}
	}
}

// TestGatewayAlerts: the inbox made room, a stranger flood, a held login and
// the start each make one alert, to the -alert numbers, once the modem can
// send.
func TestGatewayAlerts(t *testing.T) {
	t.Run("stranger flood, once a day", func(t *testing.T) {
		h := newHarness(t, "mf920v", nil)
		h.sim.Capacity = 200
		for i := 0; i < 2*strangerFlood; i++ {
			h.sim.Deliver("+3360000000", fmt.Sprint("spam ", i), h.clk.Now())
			h.clk.Advance(time.Minute)
			h.step()
		}
		want := []string{owner + ": smsgate 12:20: 20 SMS from strangers within an hour; ignored and left in the inbox (see the log)"}
		if fmt.Sprint(h.replies()) != fmt.Sprint(want) {
			t.Errorf("sent %q, want %q", h.replies(), want)
		}
	})
	t.Run("login held, once per hold, sent once the login works", func(t *testing.T) {
		sim, modem, clk := startSim(t, "mf920v", "right", "wrong")
		log := slog.New(slog.DiscardHandler)
		actions := &Actions{modem: modem, reboot: &countingRebooter{}, host: fakeHost{time.Hour}, log: log}
		gw, err := NewGateway(daemonGatewayConfig(t, "-alert", "+15550002222"), modem, actions, nil, log)
		if err != nil {
			t.Fatal(err)
		}
		gw.now = clk.Now
		gw.loginHeld(&LoginError{Reason: "another user is logged in to the modem's web UI", AttemptsLeft: -1, Busy: true})
		for i := 0; i < 5; i++ {
			gw.Step(context.Background())
		}
		if gw.alerts.Pending() != 1 || len(sim.Record().Sent) != 0 {
			t.Fatalf("%d alerts pending, %d sent while the login is held", gw.alerts.Pending(), len(sim.Record().Sent))
		}
		// The owner sets the modem's password to the one smsgate has.
		sim.mu.Lock()
		sim.password = "wrong"
		sim.mu.Unlock()
		for i := 0; i < 30 && len(sim.Record().Sent) == 0; i++ {
			clk.Advance(time.Minute) // until the lock period is over
			gw.Step(context.Background())
		}
		var sent []string
		for _, m := range sim.Record().Sent {
			sent = append(sent, m.Number+": "+m.Text)
		}
		want := []string{"+15550002222: smsgate 12:00: modem login held to save your attempts: wrong password"}
		if fmt.Sprint(sent) != fmt.Sprint(want) {
			t.Errorf("sent %q, want %q", sent, want)
		}
	})
	t.Run("-alert none", func(t *testing.T) {
		h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.AlertTo = []string{} })
		h.gw.StartAlert(bootCause{watchdogKnown: true, watchdogReset: true}, true)
		h.step()
		if len(h.replies()) != 0 {
			t.Errorf("sent %q", h.replies())
		}
	})
	t.Run("a crash loop says nothing", func(t *testing.T) {
		h := newHarness(t, "mf920v", nil)
		for i := 0; i < 10; i++ {
			h.restart()
			h.gw.StartAlert(bootCause{}, true)
			h.step()
			h.clk.Advance(30 * time.Second)
		}
		if len(h.replies()) != 0 {
			t.Errorf("sent %q", h.replies())
		}
	})
	t.Run("-alert-max holds across restarts with -state-dir", func(t *testing.T) {
		h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = t.TempDir(); c.AlertMax = 2 })
		for i := 0; i < 3; i++ {
			h.gw.alert(h.clk.Now(), fmt.Sprint("alert ", i))
			h.step()
			h.restart()
		}
		want := []string{owner + ": smsgate 12:00: alert 0", owner + ": smsgate 12:00: alert 1"}
		if fmt.Sprint(h.replies()) != fmt.Sprint(want) {
			t.Errorf("sent %q, want %q", h.replies(), want)
		}
	})
	t.Run("start, after the modem registers", func(t *testing.T) {
		h := newHarness(t, "mf920v", nil)
		h.sim.SetLink("ppp_disconnected", "0")
		h.gw.StartAlert(bootCause{watchdogKnown: true, watchdogReset: true}, true)
		h.step()
		if len(h.replies()) != 0 {
			t.Fatalf("sent while not registered: %q", h.replies())
		}
		h.sim.SetLink("ppp_connected", "4")
		h.step()
		if len(h.replies()) != 0 {
			t.Fatalf("sent before smsgate ran a minute: %q", h.replies())
		}
		h.clk.Advance(time.Minute)
		h.step()
		want := []string{owner + ": smsgate 12:00: up (restarted; the Pi has been up 3h00m)"}
		if fmt.Sprint(h.replies()) != fmt.Sprint(want) {
			t.Errorf("sent %q, want %q", h.replies(), want)
		}
	})
}

// TestStartAlertKnowsRebootsAskedFor: with -state-dir, a boot that follows
// the owner's reboot command is not announced; one that follows healing's
// reboot, or nobody's, is.
func TestStartAlertKnowsRebootsAskedFor(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir })
	id := h.send(owner, "reboot")
	h.step()
	if h.decision(id) != "executed" || h.reboots.count() != 1 || h.gw.st.RebootBy != "command" {
		t.Fatalf("reboot command: %d reboots, by %q", h.reboots.count(), h.gw.st.RebootBy)
	}
	sent := len(h.replies())
	h.clk.Advance(2 * time.Minute)
	h.host.uptime = time.Minute // booted a minute after the command
	h.restart()
	h.gw.StartAlert(bootCause{watchdogKnown: true}, false)
	h.step()
	h.clk.Advance(time.Minute)
	h.step()
	if len(h.replies()) != sent {
		t.Fatalf("announced a boot the owner asked for: %q", h.replies()[sent:])
	}

	// Healing asked for the next one.
	h.gw.st.LastReboot, h.gw.st.RebootBy = h.clk.Now(), "healing"
	h.gw.store.Save(h.gw.st)
	h.clk.Advance(2 * time.Minute)
	h.restart()
	h.gw.StartAlert(bootCause{watchdogKnown: true}, false)
	h.step()
	h.clk.Advance(time.Minute)
	h.step()
	// And nobody asked for the one after: a power cut a day later.
	h.clk.Advance(24 * time.Hour)
	h.restart()
	h.gw.StartAlert(bootCause{watchdogKnown: true}, false)
	h.step()
	h.clk.Advance(time.Minute)
	h.step()
	want := []string{
		owner + ": smsgate 12:05: up; the Pi booted 12:04: reboot by healing",
		owner + ": smsgate 12:06: up; the Pi booted 12:05: power cut or reset (not the watchdog, not asked for)",
	}
	if got := h.replies()[sent:]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sent %q, want %q", got, want)
	}
}

// An alert the modem never manages to send is tried alertTries times, with
// back-off, then dropped and counted in the next alert's note: a SIM out of
// credit must not cost an SMS every poll.
func TestFailingAlertIsDroppedAfterTries(t *testing.T) {
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.AlertTo = []string{"+15550002222"} })
	h.sim.SetFaults(func(f *SimFaults) { f.SendFails = true })
	h.gw.alert(h.clk.Now(), "first")
	for i := 0; i < 200; i++ { // 200 polls a minute apart
		before := len(h.sim.Record().Sent)
		h.step()
		if n := len(h.sim.Record().Sent) - before; n > 1 {
			t.Fatalf("poll %d: %d sends", i, n)
		}
		h.clk.Advance(time.Minute)
	}
	if n := len(h.sim.Record().Sent); n != alertTries {
		t.Errorf("%d SEND_SMS for one failing alert, want %d", n, alertTries)
	}
	if h.gw.alerts.Pending() != 0 {
		t.Errorf("%d alerts still pending", h.gw.alerts.Pending())
	}
	h.sim.SetFaults(func(f *SimFaults) { f.SendFails = false })
	h.gw.alert(h.clk.Now(), "second")
	h.step()
	sent := h.sim.Record().Sent
	if last := sent[len(sent)-1].Text; !strings.HasPrefix(last, "(1 alerts suppressed) smsgate") || !strings.HasSuffix(last, ": second") {
		t.Errorf("next alert %q does not count the dropped one", last)
	}
}

// TestSysfsBootStatus: the one reading of a bootstatus text that the boot
// alert and doctor share; only the WDIOF_CARDRESET bit means a watchdog reset.
func TestSysfsBootStatus(t *testing.T) {
	for _, tt := range []struct {
		text         string
		reset, known bool
	}{
		{"32\n", true, true},
		{"0x20", true, true},
		{"0x8020", true, true},
		{"0\n", false, true},
		{"0x8000", false, true},
		{"16", false, true},
		{"", false, false},
		{"on", false, false},
	} {
		if reset, known := sysfsBootStatus(tt.text); reset != tt.reset || known != tt.known {
			t.Errorf("%q: reset %v known %v, want %v %v", tt.text, reset, known, tt.reset, tt.known)
		}
	}
}

// TestEveryFailedAlertSendIsATry: however the modem fails a send it was
// asked for (a {"result":"failure"}, a HiLink error code, an AT +CMS
// ERROR, a send not confirmed: errRefused or errSendUnconfirmed), the
// alert is tried alertTries times, 5 then 10 minutes apart, then dropped;
// only a send that never reached a modem able to take it (a held login, a
// modem not answering or rebooting) is not a try, and waits for the next
// flush (the poll that reaches the modem again). Witness: a {"result":"failure"} was taken for
// "not taken", and the alert went out at every poll for ever.
func TestEveryFailedAlertSendIsATry(t *testing.T) {
	for _, tt := range []struct {
		name    string
		err     error
		counted bool
	}{
		{"zte refused", fmt.Errorf("send sms to +1: SEND_SMS: result %q: %w", "failure", errRefused), true},
		{"unconfirmed", fmt.Errorf("send sms to +1: %w: timeout", errSendUnconfirmed), true},
		{"hilink error code", fmt.Errorf("send sms to +1: %w: %w", errRefused, &hilinkError{Code: 113004}), true},
		{"reported failed", fmt.Errorf("send sms to +1: the modem reports it failed: %w", errRefused), true},
		{"at error", fmt.Errorf("send to +1: %w: %w", errRefused, &atError{Cmd: "AT+CMGS", Kind: "+CMS ERROR", Code: "500"}), true},
		{"send timed out", fmt.Errorf("send sms to +1: SEND_SMS: %w", context.DeadlineExceeded), true},
		{"modem rebooting", fmt.Errorf("send sms to +1: SEND_SMS: %w", io.ErrUnexpectedEOF), false},
		{"modem not reached in time", fmt.Errorf("send sms to +1: %w", &net.OpError{Op: "dial", Net: "tcp", Err: context.DeadlineExceeded}), false},
		{"login held", fmt.Errorf("send sms to +1: %w", &LoginError{Reason: "wrong password", AttemptsLeft: 2}), false},
		{"modem not answering", fmt.Errorf("send sms to +1: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAlerts([]string{"+15550002222"}, 10, slog.New(slog.DiscardHandler))
			t0 := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
			a.Add(t0, "inbox full")
			var tries []time.Duration
			now := t0
			for i := 0; i < 180; i++ { // 3 hours of polls a minute apart
				a.Flush(context.Background(), now, func(context.Context, string, string) error {
					tries = append(tries, now.Sub(t0))
					return tt.err
				})
				now = now.Add(time.Minute)
			}
			if !tt.counted {
				if len(tries) != 180 || a.Pending() != 1 {
					t.Errorf("%d sends, %d pending: a send that reached no modem is tried at each flush and kept", len(tries), a.Pending())
				}
				return
			}
			want := []time.Duration{0, alertBackoff, 3 * alertBackoff}
			if fmt.Sprint(tries) != fmt.Sprint(want) {
				t.Errorf("tried %d times, at %v..., want at %v", len(tries), tries[:min(len(tries), 5)], want)
			}
			if a.Pending() != 0 {
				t.Errorf("%d alerts pending after %d tries", a.Pending(), alertTries)
			}
		})
	}
}

// TestRefusedAlertOnAFullInbox is the witness's case: a modem that answers
// every SEND_SMS {"result":"failure"}, with RED encryption and another web
// login that took the key, and 3 strangers filling a 3-slot inbox. The
// "inbox was full" alert is one alert, tried 3 times over 15 minutes,
// never at every poll; each failed try registers at most one key.
func TestRefusedAlertOnAFullInbox(t *testing.T) {
	h := newHarness(t, "mc889", nil)
	h.sim.Capacity = 3
	for i := 0; i < 3; i++ {
		h.sim.Deliver(fmt.Sprint("+2169999000", i), fmt.Sprint("spam ", i), h.clk.Now())
	}
	h.sim.SetFaults(func(f *SimFaults) { f.FailActions = map[string]string{"SEND_SMS": "failure"} })
	h.step()
	h.sim.OtherWebLogin()
	keys := len(h.sim.Record().RedKeys)
	sends := func() (n int) {
		for _, p := range h.sim.Record().Posts {
			if p.GoformID == "SEND_SMS" {
				n++
			}
		}
		return n
	}
	for i := 0; i < 30; i++ { // 30 polls a second apart
		h.clk.Advance(time.Second)
		h.step()
	}
	if n := sends(); n > 2 { // one try: the send and its one resend with a new key
		t.Fatalf("%d SEND_SMS in 30 polls a second apart, want one try", n)
	}
	for i := 0; i < 180; i++ { // then 3 hours a minute apart
		h.clk.Advance(time.Minute)
		h.step()
	}
	if n := len(h.logLines("alert")); n != 1 {
		t.Errorf("%d alerts made, want the one inbox-full alert", n)
	}
	failed := len(h.logLines("alert not sent; will try again")) + len(h.logLines("alert dropped: not sent"))
	if failed != alertTries || len(h.logLines("alert dropped: not sent")) != 1 {
		t.Errorf("%d failed tries logged, want %d, the last dropping it", failed, alertTries)
	}
	if n := sends(); n > 2*alertTries {
		t.Errorf("%d SEND_SMS for one alert tried %d times", n, alertTries)
	}
	if n := len(h.sim.Record().RedKeys) - keys; n > alertTries {
		t.Errorf("%d keys registered for %d failed sends, want at most one each", n, alertTries)
	}
	if h.gw.alerts.Pending() != 0 {
		t.Errorf("%d alerts pending", h.gw.alerts.Pending())
	}
}

// refusingFamily is a family's simulator made to refuse every send.
type refusingFamily struct {
	family string
	start  func(t *testing.T, clk *fakeClock) (familySim, modemPort)
	refuse func(fs familySim)
}

// refusingFamilies: the AT module's row is added where its simulator
// builds (linux, refusal_at_test.go).
var refusingFamilies = []refusingFamily{
	{"zte", startZTEFamily, func(fs familySim) {
		fs.(zteFamily).sim.SetFaults(func(f *SimFaults) { f.FailActions = map[string]string{"SEND_SMS": "failure"} })
	}},
	{"ubus", startZTEPersonality("u60pro"), func(fs familySim) {
		fs.(zteFamily).sim.SetFaults(func(f *SimFaults) { f.SendFails = true })
	}},
	{"hilink", startHiLinkFamily, func(fs familySim) {
		fs.(hilinkFamily).sim.Configure(func(s *HiLinkSim) { s.SendFails = true })
	}},
}

// TestEveryFamilysRefusedSendIsATry: each family's Send, on a simulator
// that refuses the send, says so in the one way alerts and forwards count
// as a try (sendTried): ZTE's {"result":"failure"}, ubus's failed send
// status, HiLink's failed send-status, an AT module's +CMS ERROR. Before,
// HiLink's and the AT module's refusals read as "no modem saw it" and were
// sent again at every poll.
func TestEveryFamilysRefusedSendIsATry(t *testing.T) {
	for _, tt := range refusingFamilies {
		t.Run(tt.family, func(t *testing.T) {
			clk := newFakeClock()
			fs, m := tt.start(t, clk)
			tt.refuse(fs)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := m.Send(ctx, "+15550002222", "smsgate 12:00: modem inbox was full")
			if err == nil || !sendTried(err) {
				t.Errorf("refused send: %v, want an error sendTried counts", err)
			}
		})
	}
}
