package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// healHarness runs the real gateway against the simulator on the fake clock
// and writes down, in order, what reached the modem (reconnects, reboots,
// SMS sent) and the Pi's reboots, each stamped with the time since start.
type healHarness struct {
	*harness
	start    time.Time
	timeline []string
	seen     int
	mu       sync.Mutex
	piAt     []int // the sim's event count at each Pi reboot
}

func (p *healHarness) Reboot(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.piAt = append(p.piAt, len(p.sim.Record().Events))
	return nil
}

func newHealHarness(t *testing.T, mutate func(*GatewayConfig)) *healHarness {
	t.Helper()
	return newHealHarnessOn(t, "mf920v", mutate)
}

func newHealHarnessOn(t *testing.T, personality string, mutate func(*GatewayConfig)) *healHarness {
	t.Helper()
	h := newHarness(t, personality, func(c *GatewayConfig) {
		c.PollInterval = 30 * time.Second
		c.Heal = HealConfig{Enabled: true, StepTimeout: time.Second}
		if mutate != nil {
			mutate(c)
		}
	})
	h.sim.RebootTime = time.Minute
	hh := &healHarness{harness: h, start: h.clk.Now()}
	hh.boot(h.clk.Now().Add(-10 * time.Hour))
	return hh
}

// clockHost is a Pi that booted at a time on the fake clock.
type clockHost struct {
	clk    *fakeClock
	bootAt time.Time
}

func (c clockHost) Uptime() (time.Duration, error) { return c.clk.Now().Sub(c.bootAt), nil }
func (c clockHost) Summary() string                { up, _ := c.Uptime(); return "up " + shortDuration(up) }

// boot starts a fresh gateway, as on a Pi that booted at bootAt.
func (h *healHarness) boot(bootAt time.Time) {
	h.restart()
	h.gw.actions.reboot = h
	h.gw.actions.host = clockHost{h.clk, bootAt}
}

// run polls every poll interval for span, calling world first each time
// with the time since start.
func (h *healHarness) run(span time.Duration, world func(at time.Duration)) {
	end := h.clk.Now().Add(span)
	for h.clk.Now().Before(end) {
		at := h.clk.Now().Sub(h.start)
		if world != nil {
			world(at)
		}
		h.step()
		ev := h.sim.Record().Events
		h.mu.Lock()
		pis := h.piAt
		h.piAt = nil
		h.mu.Unlock()
		if len(pis) > 0 {
			h.boot(h.clk.Now()) // all it remembered is gone
		}
		for i := h.seen; i <= len(ev); i++ {
			for len(pis) > 0 && pis[0] == i {
				h.timeline = append(h.timeline, at.String()+" pi reboot")
				pis = pis[1:]
			}
			if i < len(ev) {
				h.timeline = append(h.timeline, at.String()+" "+ev[i])
			}
		}
		h.seen = len(ev)
		h.clk.Advance(h.cfg.PollInterval)
	}
}

func (h *healHarness) check(want []string) {
	h.t.Helper()
	got := h.timeline
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Errorf("timeline:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

const to = "sent " + owner + ": smsgate "

func TestHealDataDownBackByReconnect(t *testing.T) {
	h := newHealHarness(t, nil)
	h.sim.SetLink("ppp_disconnected", "4")
	h.run(20*time.Minute, nil)
	h.check([]string{
		"10m0s disconnect",
		"10m0s connect",
		"10m0s " + to + "12:10: mobile data down since 12:00; healing",
		"10m0s " + to + "12:10: healing: reconnect (1/3 in 24h)",
		"12m30s " + to + "12:12: back after 11m down (mobile data down since 12:00); fixed by reconnect",
	})
	if got := h.gw.heal.Recent(); got != "healed 12:10 by reconnect after 11m down" {
		t.Errorf("status note %q", got)
	}
	// status tells it.
	id := h.send(owner, "status")
	h.step()
	if h.decision(id) != "executed" || !strings.Contains(h.replies()[len(h.replies())-1], "| healed 12:10 by reconnect after 11m down") {
		t.Errorf("status reply %q", h.replies()[len(h.replies())-1])
	}
}

// TestHealEveryPersonality: every firmware's way of saying "data up"
// (ppp_connected, ipv6_connected, ipv4_ipv6_connected) is up, before the
// outage and after the reconnect.
func TestHealEveryPersonality(t *testing.T) {
	for name := range simPersonalities {
		t.Run(name, func(t *testing.T) {
			h := newHealHarnessOn(t, name, nil)
			h.run(15*time.Minute, nil)
			h.check(nil)
			h.sim.SetLink("ppp_disconnected", "4")
			h.run(15*time.Minute, nil)
			h.check([]string{
				"25m0s disconnect",
				"25m0s connect",
				"25m0s " + to + "12:25: mobile data down since 12:15; healing",
				"25m0s " + to + "12:25: healing: reconnect (1/3 in 24h)",
				"27m30s " + to + "12:27: back after 11m down (mobile data down since 12:15); fixed by reconnect",
			})
		})
	}
}

func TestHealModemRebootFixes(t *testing.T) {
	h := newHealHarness(t, nil)
	h.sim.SetLink("ppp_disconnected", "4")
	h.sim.SetStuck("reboot")
	var leds []health
	h.run(20*time.Minute, func(at time.Duration) {
		if at > 0 {
			leds = append(leds, h.led.last())
		}
	})
	h.check([]string{
		"10m0s disconnect",
		"10m0s connect",
		"10m0s " + to + "12:10: mobile data down since 12:00; healing",
		"10m0s " + to + "12:10: healing: reconnect failed (1/3 in 24h)",
		"11m0s modem reboot",
		"12m0s " + to + "12:11: healing: modem reboot (1/3 in 24h)",
		"14m0s " + to + "12:14: back after 12m down (mobile data down since 12:00); fixed by modem reboot",
	})
	// The LED: no data, then healing while it heals, then all fine.
	want := []health{healthNoData, healthHealing, healthOK}
	var got []health
	for _, l := range leds {
		if len(got) == 0 || got[len(got)-1] != l {
			got = append(got, l)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("LED %v, want %v", got, want)
	}
}

func TestHealModemAPIDead(t *testing.T) {
	h := newHealHarness(t, nil)
	h.sim.SetFaults(func(f *SimFaults) { f.Unreachable = true })
	h.run(30*time.Minute, func(at time.Duration) {
		if at == 20*time.Minute {
			h.sim.SetFaults(func(f *SimFaults) { f.Unreachable = false })
		}
	})
	// Nothing reaches a dead API; the alerts wait, and go out in order once
	// it answers again.
	h.check([]string{
		"20m0s " + to + "12:10: modem not answering since 12:00; healing",
		"20m0s " + to + "12:10: healing: reconnect failed (1/3 in 24h)",
		"20m0s " + to + "12:11: healing: modem reboot failed (1/3 in 24h)",
		"22m0s " + to + "12:22: back after 20m down (modem not answering since 12:00); it came back by itself",
	})
}

func TestHealModemRebootingIsNotAnOutage(t *testing.T) {
	h := newHealHarness(t, nil)
	h.sim.RebootTime = 3 * time.Minute
	h.run(30*time.Minute, func(at time.Duration) {
		if at == 5*time.Minute || at == 15*time.Minute {
			h.sim.Reboot()
		}
	})
	h.check(nil)
}

func TestHealFlappingLink(t *testing.T) {
	h := newHealHarness(t, nil)
	// Down 3 minutes, up 1, for 40 minutes: never up long enough to count.
	h.run(50*time.Minute, func(at time.Duration) {
		if at < 40*time.Minute && at%(4*time.Minute) < 3*time.Minute {
			h.sim.SetLink("ppp_disconnected", "4")
		} else {
			h.sim.SetLink("ppp_connected", "4")
		}
	})
	h.check([]string{
		"10m0s disconnect",
		"10m0s connect",
		"10m0s " + to + "12:10: mobile data down since 12:00; healing",
		"10m0s " + to + "12:10: healing: reconnect (1/3 in 24h)",
		// Up at 11m, down again at 12m: the next step.
		"12m0s modem reboot",
		"13m0s " + to + "12:12: healing: modem reboot (1/3 in 24h)",
		// Still flapping at 16m: the round is over; 10 minutes' back-off.
		"26m0s disconnect",
		"26m0s connect",
		"26m0s " + to + "12:26: healing: reconnect (2/3 in 24h)",
		"28m0s modem reboot",
		"29m0s " + to + "12:28: healing: modem reboot (2/3 in 24h)",
		// Up for good from 39m; the next round would have been at 52m.
		"41m0s " + to + "12:41: back after 39m down (mobile data down since 12:00); it came back by itself",
	})
}

// TestHealDeadTowerTwoDays: no network at all for two days. Each step runs
// at most -heal-max times in any 24 hours, the rounds back off, and the
// alerts wait (bounded) until the modem can send again.
func TestHealDeadTowerTwoDays(t *testing.T) {
	h := newHealHarness(t, func(c *GatewayConfig) { c.PollInterval = time.Minute })
	h.sim.SetLink("ppp_disconnected", "0")
	h.sim.SetStuck("never")
	h.run(48*time.Hour, nil)
	// The tower comes back.
	h.sim.SetLink("ppp_connected", "4")
	h.run(5*time.Minute, nil)
	h.check([]string{
		// Day 1: three rounds, at 10m, then 10m and 20m after the end of
		// the last; the fourth round finds every step used up.
		"10m0s disconnect", "10m0s connect", "11m0s modem reboot",
		"24m0s disconnect", "24m0s connect", "25m0s modem reboot",
		"48m0s disconnect", "48m0s connect", "49m0s modem reboot",
		// Rounds at 1h32m, 2h52m, 5h32m, 10h52m and 18h52m do nothing; the
		// back-off stops doubling at 8h. Day 2: three more.
		"26h52m0s disconnect", "26h52m0s connect", "26h53m0s modem reboot",
		"34h56m0s disconnect", "34h56m0s connect", "34h57m0s modem reboot",
		"43h0m0s disconnect", "43h0m0s connect", "43h1m0s modem reboot",
		// The tower is back: the last 8 alerts, and how many were lost.
		// Those that waited more than 12 hours say the day.
		"48h0m0s " + to[:len(to)-len("smsgate ")] + "(5 alerts suppressed) smsgate Mar 14 12:48: healing: reconnect failed (3/3 in 24h)",
		"48h0m0s " + to + "Mar 14 12:49: healing: modem reboot (3/3 in 24h)",
		"48h0m0s " + to + "Mar 15 14:52: healing: reconnect failed (1/3 in 24h)",
		"48h0m0s " + to + "Mar 15 14:53: healing: modem reboot (1/3 in 24h)",
		"48h0m0s " + to + "Mar 15 22:56: healing: reconnect failed (2/3 in 24h)",
		"48h0m0s " + to + "Mar 15 22:57: healing: modem reboot (2/3 in 24h)",
		"48h0m0s " + to + "07:00: healing: reconnect failed (3/3 in 24h)",
		"48h0m0s " + to + "07:01: healing: modem reboot (3/3 in 24h)",
		"48h2m0s " + to + "12:02: back after 2d0h down (no network since Mar 14 12:00); it came back by itself",
	})
	steps := map[string][]time.Duration{}
	for _, e := range h.timeline {
		at, kind, _ := strings.Cut(e, " ")
		if kind == "connect" || kind == "modem reboot" {
			d, _ := time.ParseDuration(at)
			steps[kind] = append(steps[kind], d)
		}
	}
	for kind, ts := range steps {
		for i, a := range ts {
			n := 0
			for _, b := range ts[i:] {
				if b-a < 24*time.Hour {
					n++
				}
			}
			if n > 3 {
				t.Errorf("%d %s within 24h of %s", n, kind, a)
			}
		}
	}
}

// TestHealRebootsPiOnlyWhenAllowed: the Pi's reboot is the last step, only
// with -heal-reboot-pi, only on a Pi up long enough (24h / -heal-max) and
// never within -reboot-interval of the last reboot.
func TestHealRebootsPiOnlyWhenAllowed(t *testing.T) {
	for _, tt := range []struct {
		name     string
		rebootPi bool
		uptime   time.Duration // at start
		stateDir bool
		want     []string
	}{
		{"without -heal-reboot-pi", false, 10 * time.Hour, false, []string{
			"10m0s disconnect", "10m0s connect",
			"10m0s " + to + "12:10: mobile data down since 12:00; healing",
			"10m0s " + to + "12:10: healing: reconnect failed (1/3 in 24h)",
			"11m0s modem reboot",
			"12m0s " + to + "12:11: healing: modem reboot (1/3 in 24h)",
			"24m0s disconnect", "24m0s connect",
			"24m0s " + to + "12:24: healing: reconnect failed (2/3 in 24h)",
			"25m0s modem reboot",
			"26m0s " + to + "12:25: healing: modem reboot (2/3 in 24h)",
		}},
		{"with -heal-reboot-pi", true, 10 * time.Hour, false, []string{
			"10m0s disconnect", "10m0s connect",
			"10m0s " + to + "12:10: mobile data down since 12:00; healing",
			"10m0s " + to + "12:10: healing: reconnect failed (1/3 in 24h)",
			"11m0s modem reboot",
			"12m0s " + to + "12:11: healing: modem reboot (1/3 in 24h)",
			// Said before the reboot: nothing is said after it.
			"14m0s " + to + "12:14: healing: rebooting the Pi (1/3 in 24h)",
			"14m0s pi reboot",
			// The Pi is back, and remembers nothing: down since its first
			// poll. Its Pi step waits until it has been up 8h.
			"24m30s disconnect", "24m30s connect",
			"24m30s " + to + "12:24: mobile data down since 12:14; healing",
			"24m30s " + to + "12:24: healing: reconnect failed (1/3 in 24h)",
			"25m30s modem reboot",
			"26m30s " + to + "12:25: healing: modem reboot (1/3 in 24h)",
		}},
		{"with -heal-reboot-pi and -state-dir", true, 10 * time.Hour, true, []string{
			"10m0s disconnect", "10m0s connect",
			"10m0s " + to + "12:10: mobile data down since 12:00; healing",
			"10m0s " + to + "12:10: healing: reconnect failed (1/3 in 24h)",
			"11m0s modem reboot",
			"12m0s " + to + "12:11: healing: modem reboot (1/3 in 24h)",
			"14m0s " + to + "12:14: healing: rebooting the Pi (1/3 in 24h)",
			"14m0s pi reboot",
			// The count of steps outlived the reboot.
			"24m30s disconnect", "24m30s connect",
			"24m30s " + to + "12:24: mobile data down since 12:14; healing",
			"24m30s " + to + "12:24: healing: reconnect failed (2/3 in 24h)",
			"25m30s modem reboot",
			"26m30s " + to + "12:25: healing: modem reboot (2/3 in 24h)",
		}},
		{"Pi up 3h", true, 3 * time.Hour, false, []string{
			"10m0s disconnect", "10m0s connect",
			"10m0s " + to + "12:10: mobile data down since 12:00; healing",
			"10m0s " + to + "12:10: healing: reconnect failed (1/3 in 24h)",
			"11m0s modem reboot",
			"12m0s " + to + "12:11: healing: modem reboot (1/3 in 24h)",
			"24m0s disconnect", "24m0s connect",
			"24m0s " + to + "12:24: healing: reconnect failed (2/3 in 24h)",
			"25m0s modem reboot",
			"26m0s " + to + "12:25: healing: modem reboot (2/3 in 24h)",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHealHarness(t, func(c *GatewayConfig) {
				c.Heal.RebootPi = tt.rebootPi
				if tt.stateDir {
					c.StateDir = t.TempDir()
				}
			})
			h.boot(h.clk.Now().Add(-tt.uptime))
			h.sim.SetLink("ppp_disconnected", "4")
			h.sim.SetStuck("never")
			h.run(30*time.Minute, nil)
			h.check(tt.want)
		})
	}
}

// TestHealOwnerComesFirst: no step in a poll where the owner's command ran,
// and the owner's modem reboot starts the clock again.
func TestHealOwnerComesFirst(t *testing.T) {
	h := newHealHarness(t, nil)
	h.sim.SetLink("ppp_disconnected", "4")
	h.sim.SetStuck("never")
	h.run(25*time.Minute, func(at time.Duration) {
		switch at {
		case 9 * time.Minute:
			h.send(owner, "modem reboot")
		case 19 * time.Minute:
			h.send(owner, "ping") // in the poll where healing is due
		}
	})
	h.check([]string{
		"9m0s " + to[:len(to)-len("smsgate ")] + "rebooting the modem now; back in about a minute",
		"9m0s modem reboot",
		// 10 minutes after the owner's reboot, but the owner's ping first.
		"19m0s " + to[:len(to)-len("smsgate ")] + "pong, up 10h19m",
		"19m30s disconnect", "19m30s connect",
		"19m30s " + to + "12:19: mobile data down since 12:00; healing",
		"19m30s " + to + "12:19: healing: reconnect failed (1/3 in 24h)",
		"20m30s modem reboot",
		"21m30s " + to + "12:20: healing: modem reboot (1/3 in 24h)",
	})
}

func TestHealOff(t *testing.T) {
	h := newHealHarness(t, func(c *GatewayConfig) { c.Heal.Enabled = false })
	h.sim.SetLink("ppp_disconnected", "4")
	h.run(time.Hour, nil)
	h.check(nil)
	if h.led.last() != healthNoData {
		t.Errorf("LED %v", h.led.last())
	}
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

// TestHealCostsNothingWhileAllIsWell: watching the line adds no request to
// an idle poll.
func TestHealCostsNothingWhileAllIsWell(t *testing.T) {
	h := newHealHarness(t, nil)
	h.step()
	before := h.sim.Record().Requests
	h.run(10*time.Minute, nil)
	if n := h.sim.Record().Requests - before; n != 20 {
		t.Errorf("20 idle polls with healing on made %d requests", n)
	}
}
