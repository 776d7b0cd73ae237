package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

const to = "sent " + owner + ": smsgate "

// The healing rules, as docs/reference.md states them, with the daemon's
// defaults: each test below checks a timeline against these, with the
// tolerance of a poll (healBubble.late), not against the poll where the
// code happens to act.
const (
	healAfter  = 10 * time.Minute // -heal-after
	healMax    = 3                // -heal-max
	healStable = 2 * time.Minute  // up this long ends an outage
	// Each step gets time to work before the next.
	settleReconnect = time.Minute
	settleReboot    = 3 * time.Minute
	maxBackoff      = 8 * time.Hour
)

// mid puts a change between two polls of 30 s.
const mid = 15 * time.Second

// alertAt checks that exactly one alert says text, made at a time in
// [lo, hi] (its HH:MM), and returns when it was sent.
func (h *healBubble) alertAt(text string, lo, hi time.Duration) healEvent {
	h.t.Helper()
	var found []healEvent
	for m := (lo - reqSlack).Truncate(time.Minute); m <= hi; m += time.Minute {
		found = append(found, h.alerts("smsgate "+h.clock(m)+": "+text)...)
	}
	if len(found) != 1 {
		h.t.Errorf("%d alerts %q made within [%s, %s], want 1", len(found), text, lo, hi)
		return healEvent{at: -1}
	}
	return found[0]
}

// checkHealedByReconnect: data went down at down, healing reconnected once
// -heal-after after a poll saw it down (within a poll of down), and the
// line was back once it had been seen up for healStable.
func checkHealedByReconnect(h *healBubble, down time.Duration) {
	h.t.Helper()
	late := h.late()
	rc := h.count("disconnect", 1)[0]
	h.count("connect", 1)
	h.within("the reconnect", rc, down+healAfter, down+late+healAfter+late)
	h.alertAt("mobile data down since "+h.clock(down)+"; healing", rc, rc)
	h.alertAt("healing: reconnect (1/3 in 24h)", rc, rc)
	back := h.alerts("back after")
	if len(back) != 1 || !strings.HasSuffix(back[0].what, "(mobile data down since "+h.clock(down)+"); fixed by reconnect") {
		h.t.Fatalf("back alerts %v", back)
	}
	// Seen up by the next poll, and healStable later by the first poll.
	h.within("the back alert", back[0].at, rc+healStable, rc+late+healStable+late)
}

func TestHealDataDownBackByReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHealBubble(t, "mf920v")
		h.sim.SetLink("ppp_disconnected", "4")
		h.run(20*time.Minute + mid)
		checkHealedByReconnect(h, 0)
		note := h.gw.heal.Recent()
		if !strings.HasPrefix(note, "healed ") || !strings.Contains(note, " by reconnect after ") {
			t.Errorf("status note %q", note)
		}
		// status tells it.
		id := h.send(owner, "status")
		h.step()
		if r := h.replies(); h.decision(id) != "executed" || !strings.HasSuffix(r[len(r)-1], "| "+note) {
			t.Errorf("status reply %q, want it to end with %q", r[len(r)-1], note)
		}
	})
}

// TestHealEveryPersonality: every firmware's way of saying "data up"
// (ppp_connected, ipv6_connected, ipv4_ipv6_connected) is up, before the
// outage and after the reconnect.
func TestHealEveryPersonality(t *testing.T) {
	for name := range simPersonalities {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHealBubble(t, name)
				down := 15*time.Minute + mid
				h.run(down+15*time.Minute, change{down, func() { h.sim.SetLink("ppp_disconnected", "4") }})
				checkHealedByReconnect(h, down)
			})
		})
	}
}

func TestHealModemRebootFixes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHealBubble(t, "mf920v")
		h.sim.SetLink("ppp_disconnected", "4")
		h.sim.SetStuck("reboot")
		h.run(20*time.Minute + mid)
		late := h.late()
		rc := h.count("disconnect", 1)[0]
		h.within("the reconnect", rc, healAfter, healAfter+late)
		h.alertAt("healing: reconnect failed (1/3 in 24h)", rc, rc)
		rb := h.count("modem reboot", 1)[0]
		h.within("the modem reboot", rb, rc+settleReconnect, rc+settleReconnect+late)
		h.alertAt("healing: modem reboot (1/3 in 24h)", rb, rb)
		// The modem is gone RebootTime, comes back with data up, and
		// the line is back once seen up for healStable.
		back := h.alertAt("back after ", 0, time.Hour)
		if !strings.HasSuffix(back.what, "(mobile data down since 12:00); fixed by modem reboot") {
			t.Errorf("back alert %q", back.what)
		}
		up := rb + h.sim.RebootTime
		h.within("the back alert", back.at, up+healStable, up+late+healStable+late)
		// The LED: no data, then healing while it heals (the modem's
		// reboot included), then all fine.
		var got []health
		for _, l := range h.led.states {
			if l != healthBusy && (len(got) == 0 || got[len(got)-1] != l) {
				got = append(got, l)
			}
		}
		if want := []health{healthNoData, healthHealing, healthOK}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("LED %v, want %v", got, want)
		}
	})
}

func TestHealModemAPIDead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHealBubble(t, "mf920v")
		h.sim.SetFaults(func(f *SimFaults) { f.Unreachable = true })
		alive := 20*time.Minute + mid
		h.run(alive+10*time.Minute, change{alive, func() { h.sim.SetFaults(func(f *SimFaults) { f.Unreachable = false }) }})
		late := h.late()
		// Nothing reaches a dead API; the steps fail and are told once it
		// answers again, in order, each with the time it was taken.
		for _, what := range []string{"connect", "disconnect", "modem reboot"} {
			h.count(what, 0)
		}
		said := []healEvent{
			h.alertAt("modem not answering since 12:00; healing", healAfter, healAfter+late),
			h.alertAt("healing: reconnect failed (1/3 in 24h)", healAfter, healAfter+late),
			h.alertAt("healing: modem reboot failed (1/3 in 24h)", healAfter+settleReconnect, healAfter+late+settleReconnect+late),
		}
		for i, e := range said {
			if e.at < alive || i > 0 && e.at < said[i-1].at {
				t.Errorf("alert %d sent at %s, before the modem answered at %s or before the one before", i, e.at, alive)
			}
		}
		back := h.alertAt("back after ", 0, time.Hour)
		if !strings.HasSuffix(back.what, "(modem not answering since 12:00); it came back by itself") {
			t.Errorf("back alert %q", back.what)
		}
		h.within("the back alert", back.at, alive+healStable, alive+late+healStable+late)
	})
}

// TestHealModemRebootingIsNotAnOutage: a modem that reboots by itself is
// gone 3 minutes, less than -heal-after: no step, no alert.
func TestHealModemRebootingIsNotAnOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHealBubble(t, "mf920v")
		h.sim.RebootTime = 3 * time.Minute
		h.run(30*time.Minute, change{5*time.Minute + mid, h.sim.Reboot}, change{15*time.Minute + mid, h.sim.Reboot})
		if l := h.lines(); len(l) != 0 {
			t.Errorf("healing acted on a modem's own reboot: %q", l)
		}
	})
}

// TestHealFlappingLink: down 3 minutes, up 1, for 40 minutes: never up for
// healStable, so one outage with its rounds, and one back alert.
func TestHealFlappingLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHealBubble(t, "mf920v")
		const cycle = 4 * time.Minute
		var flaps []change
		for at := time.Duration(0); at < 40*time.Minute; at += cycle {
			flaps = append(flaps, change{at + mid, func() { h.sim.SetLink("ppp_disconnected", "4") }},
				change{at + 3*time.Minute + mid, func() { h.sim.SetLink("ppp_connected", "4") }})
		}
		upForGood := flaps[len(flaps)-1].at
		h.run(50*time.Minute+mid, flaps...)
		// A step is taken only by a poll that sees the line down: within
		// a cycle of the rule's time, and a poll.
		late := cycle + h.late()
		rc, rb := h.count("disconnect", 2), h.count("modem reboot", 2)
		h.within("the first reconnect", rc[0], mid+healAfter, mid+h.late()+healAfter+late)
		h.within("the first modem reboot", rb[0], rc[0]+settleReconnect, rc[0]+settleReconnect+late)
		// Round two after the first back-off, -heal-after; the third
		// (2 x -heal-after later) would come after the line is back.
		h.within("the second reconnect", rc[1], rb[0]+settleReboot+healAfter, rb[0]+settleReboot+late+healAfter+late)
		h.within("the second modem reboot", rb[1], rc[1]+settleReconnect, rc[1]+settleReconnect+late)
		back := h.alerts("back after")
		if len(back) != 1 || !strings.HasSuffix(back[0].what, "(mobile data down since 12:00); it came back by itself") {
			t.Fatalf("back alerts %v, want one, after the flapping", back)
		}
		h.within("the back alert", back[0].at, upForGood+healStable, upForGood+2*h.late()+healStable)
	})
}

// TestHealDeadTowerTwoDays: no network at all for two days. Each step runs
// at most -heal-max times in any 24 hours, the rounds back off, doubling
// up to 8 hours, and the alerts wait (bounded) until the modem can send.
func TestHealDeadTowerTwoDays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHealBubble(t, "mf920v", "-poll", "1m")
		h.sim.SetLink("ppp_disconnected", "0")
		h.sim.SetStuck("never")
		back := 48*time.Hour + 30*time.Second
		h.run(back+5*time.Minute, change{back, func() { h.sim.SetLink("ppp_connected", "4") }})
		late := h.late()
		// Two days cost healMax of each step a day.
		rc, rb := h.count("disconnect", 2*healMax), h.count("modem reboot", 2*healMax)
		atMost(t, "reconnects", rc, healMax)
		atMost(t, "modem reboots", rb, healMax)
		h.within("the first reconnect", rc[0], healAfter, healAfter+late)
		for i := range rb {
			h.within(fmt.Sprintf("modem reboot %d", i+1), rb[i], rc[i]+settleReconnect, rc[i]+settleReconnect+late)
		}
		// Day one: the back-off after round one is -heal-after, then
		// twice that. The round ends once the reboot has settled.
		for i, wait := range []time.Duration{healAfter, 2 * healAfter} {
			end := rb[i] + settleReboot
			h.within(fmt.Sprintf("round %d", i+2), rc[i+1], end+wait, end+late+wait+late)
		}
		// The next rounds find every step used up; the first is free again
		// 24h after it was taken, and rounds are never more than
		// maxBackoff apart.
		h.within("day two's first reconnect", rc[healMax], rc[0]+24*time.Hour, rc[0]+24*time.Hour+maxBackoff+late)
		for i := healMax; i+1 < len(rc); i++ {
			end := rb[i] + settleReboot
			h.within(fmt.Sprintf("round %d", i+2), rc[i+1], end+maxBackoff, end+late+maxBackoff+late)
		}
		// Nothing could be sent while the tower was gone; then the kept
		// alerts (how many were lost first), and the back alert, which
		// says the day.
		var sent []healEvent
		for _, e := range h.alerts("") {
			if e.at < back {
				t.Fatalf("sent without a tower: %v", e)
			}
			sent = append(sent, e)
		}
		if len(sent) < 2 || !strings.Contains(sent[0].what, " alerts suppressed) smsgate ") {
			t.Fatalf("sent after the tower came back: %v", sent)
		}
		last := sent[len(sent)-1]
		if !strings.HasSuffix(last.what, "(no network since Mar 14 12:00); it came back by itself") {
			t.Errorf("back alert %q", last.what)
		}
		h.within("the back alert", last.at, back+healStable, back+late+healStable+late)
	})
}

// TestHealRebootsPiOnlyWhenAllowed: the Pi's reboot is the last step, only
// with -heal-reboot-pi, only on a Pi up long enough (24h / -heal-max); with
// -state-dir the step counts outlive it.
func TestHealRebootsPiOnlyWhenAllowed(t *testing.T) {
	for _, tt := range []struct {
		name     string
		rebootPi bool
		stateDir bool
		uptime   time.Duration // at start
		pi       bool          // the Pi reboots once
		count    string        // the reconnect after the Pi's reboot
	}{
		{"without -heal-reboot-pi", false, false, 10 * time.Hour, false, ""},
		{"with -heal-reboot-pi", true, false, 10 * time.Hour, true, "1/3"},
		{"with -heal-reboot-pi and -state-dir", true, true, 10 * time.Hour, true, "2/3"},
		{"Pi up 3h", true, false, 3 * time.Hour, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				args := []string{fmt.Sprintf("-heal-reboot-pi=%t", tt.rebootPi)}
				if tt.stateDir {
					args = append(args, "-state-dir", t.TempDir())
				}
				h := newHealBubble(t, "mf920v", args...)
				h.boot(h.clk.Now().Add(-tt.uptime))
				h.sim.SetLink("ppp_disconnected", "4")
				h.sim.SetStuck("never")
				h.run(32*time.Minute + mid)
				late := h.late()
				rc, rb := h.count("disconnect", 2), h.count("modem reboot", 2)
				h.within("the first reconnect", rc[0], healAfter, healAfter+late)
				h.within("the first modem reboot", rb[0], rc[0]+settleReconnect, rc[0]+settleReconnect+late)
				if !tt.pi {
					// The Pi step is skipped: the round ends as the
					// reboot has settled, the next after -heal-after.
					h.count("pi reboot", 0)
					end := rb[0] + settleReboot
					h.within("round 2", rc[1], end+healAfter, end+late+healAfter+late)
					return
				}
				// The Pi once: the fresh smsgate's Pi is up minutes.
				pi := h.count("pi reboot", 1)[0]
				h.within("the Pi reboot", pi, rb[0]+settleReboot, rb[0]+settleReboot+late)
				// Said before: nothing is said after it.
				if said := h.alertAt("healing: rebooting the Pi (1/3 in 24h)", pi, pi); said.at > pi {
					t.Errorf("the Pi's reboot told at %s, after it", said.at)
				}
				// The fresh smsgate sees the line down at its first poll.
				boot := pi + piBootTime
				h.within("the reconnect after the Pi's reboot", rc[1], boot+healAfter, boot+healAfter+late)
				h.alertAt("mobile data down since "+h.clock(boot)+"; healing", rc[1], rc[1])
				h.alertAt("healing: reconnect failed ("+tt.count+" in 24h)", rc[1], rc[1])
			})
		})
	}
}

// TestHealOwnerComesFirst: no step in a poll where the owner's command ran,
// and the owner's modem reboot starts the -heal-after clock again.
func TestHealOwnerComesFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHealBubble(t, "mf920v")
		h.sim.SetLink("ppp_disconnected", "4")
		h.sim.SetStuck("never")
		poll := h.cfg.PollInterval
		ping := func() { h.send(owner, "ping") }
		// Pings in the two polls around -heal-after from the owner's
		// reboot: healing is due in one of them.
		h.run(25*time.Minute+mid,
			change{9*time.Minute + mid, func() { h.send(owner, "modem reboot") }},
			change{19*time.Minute + mid, ping}, change{19*time.Minute + 3*mid, ping})
		owners := h.times("modem reboot")
		if len(owners) == 0 || len(h.alerts("rebooting the modem now")) != 1 {
			t.Fatalf("the owner's reboot did not run")
		}
		rc := h.times("disconnect")
		if len(rc) == 0 {
			t.Fatal("no healing")
		}
		// No more than a poll for each ping's.
		h.within("the first reconnect", rc[0], owners[0]+healAfter, owners[0]+healAfter+h.late()+2*poll)
		pongs := h.alerts(": pong")
		if len(pongs) != 2 {
			t.Fatalf("pongs %v", pongs)
		}
		// A poll starts on the ticker's grid; its requests take far less
		// than a poll. The first reboot is the owner's.
		steps := append(rc, owners[1:]...)
		for _, p := range pongs {
			for _, at := range steps {
				if at/poll == p.at/poll {
					t.Errorf("a step at %s in the poll of the owner's ping (%s)", at, p.at)
				}
			}
		}
	})
}

func TestHealOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHealBubble(t, "mf920v", "-heal=false")
		h.sim.SetLink("ppp_disconnected", "4")
		h.run(time.Hour + mid)
		if l := h.lines(); len(l) != 0 {
			t.Errorf("-heal=false acted: %q", l)
		}
		if h.led.last() != healthNoData {
			t.Errorf("LED %v", h.led.last())
		}
	})
}

// TestHealCostsNothingWhileAllIsWell: watching the line adds no request to
// an idle poll.
func TestHealCostsNothingWhileAllIsWell(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHealBubble(t, "mf920v")
		var before, after int
		h.run(10*time.Minute+2*mid,
			change{mid, func() { before = h.sim.Record().Requests }},
			change{10*time.Minute + mid, func() { after = h.sim.Record().Requests }})
		if n := after - before; n != 20 {
			t.Errorf("20 idle polls with healing on made %d requests", n)
		}
	})
}

// fakeDoer records healing steps; the Pi's reboot may be refused.
type fakeDoer struct {
	did      []string
	refusePi bool
}

func (d *fakeDoer) Reconnect(context.Context) error {
	d.did = append(d.did, "reconnect")
	return nil
}

func (d *fakeDoer) RebootModem(context.Context) error {
	d.did = append(d.did, "modem reboot")
	return nil
}

func (d *fakeDoer) RebootPi(context.Context) error {
	d.did = append(d.did, "Pi reboot")
	return nil
}

func (d *fakeDoer) PiRebootRefused() string {
	if d.refusePi {
		return "last reboot 2m ago"
	}
	return ""
}

// TestHealerRefusedStepIsNotCounted: a Pi reboot the reboot interval
// refuses is neither counted nor announced, and the round goes on.
func TestHealerRefusedStepIsNotCounted(t *testing.T) {
	clk := newFakeClock()
	d := &fakeDoer{refusePi: true}
	var alerts []string
	h := NewHealer(HealConfig{Enabled: true, RebootPi: true}, d,
		func(at time.Time, text string) { alerts = append(alerts, at.Format("15:04")+" "+text) },
		func() (time.Duration, error) { return 10 * time.Hour, nil }, slog.New(slog.DiscardHandler))
	down := healObs{Reachable: true, SIMReady: true, Registered: true}
	for i := 0; i <= 30; i++ {
		h.Observe(context.Background(), clk.Now(), down)
		clk.Advance(time.Minute)
	}
	if want := "[reconnect modem reboot reconnect modem reboot]"; fmt.Sprint(d.did) != want {
		t.Errorf("did %v, want %s", d.did, want)
	}
	if n := len(h.History(clk.Now())["Pi reboot"]); n != 0 {
		t.Errorf("%d refused Pi reboots counted", n)
	}
	want := []string{"12:10 mobile data down since 12:00; healing",
		"12:10 healing: reconnect (1/3 in 24h)", "12:11 healing: modem reboot (1/3 in 24h)",
		"12:24 healing: reconnect (2/3 in 24h)", "12:25 healing: modem reboot (2/3 in 24h)"}
	if fmt.Sprint(alerts) != fmt.Sprint(want) {
		t.Errorf("alerts %q, want %q", alerts, want)
	}
}
