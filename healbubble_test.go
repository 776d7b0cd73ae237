package main

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// clockHost is a Pi that booted at a time on the fake clock.
type clockHost struct {
	clk    *fakeClock
	bootAt time.Time
}

func (c clockHost) Uptime() (time.Duration, error) { return c.clk.Now().Sub(c.bootAt), nil }
func (c clockHost) Summary() string                { up, _ := c.Uptime(); return "up " + shortDuration(up) }

// healEvent is what reached the modem (a reconnect, a reboot, an SMS
// sent) or the Pi's rebooter, at a time since the bubble's start.
type healEvent struct {
	at   time.Duration
	what string
}

func (e healEvent) String() string { return e.at.String() + " " + e.what }

// healBubble runs the daemon's gateway loop (Gateway.Run and its ticker)
// against the piped simulator in a synctest bubble: the loop, the client's
// waits, the healer and the simulator read one clock, and every step takes
// the bubble time its requests and waits take. What reaches the simulator
// is stamped as it arrives. Call newHealBubble inside synctest.Test.
type healBubble struct {
	*harness
	t0    time.Time // the fake date at the start, by the Pi's clock
	start time.Time // the bubble's time at the start

	mu       sync.Mutex
	timeline []healEvent
	seen     int                // simulator events already stamped
	reboot   context.CancelFunc // ends the running smsgate, as init does for a reboot
}

// piBootTime is how long the Pi is gone when healing reboots it.
const piBootTime = time.Minute

// newHealBubble is the daemon's configuration with a 30 s poll (and args),
// on a Pi up 10 hours, the modem gone a minute when it reboots.
func newHealBubble(t *testing.T, personality string, args ...string) *healBubble {
	t.Helper()
	p, ok := simPersonalities[personality]
	if !ok {
		t.Fatalf("no personality %q", personality)
	}
	clk := newBubbleClock()
	h := &healBubble{t0: clk.Now(), start: time.Now()}
	sim := newSim(p, "pw")
	sim.now, sim.URL, sim.RebootTime = clk.Now, pipedURL, time.Minute
	dial := servePiped(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sim.ServeHTTP(w, r)
		h.stamp()
	}))
	modem, err := NewModem(ModemConfig{URL: pipedURL, Password: "pw", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	modem.web.(*webClient).dial = dial
	modem.now = clk.Now
	h.harness = &harness{t: t, sim: sim, modem: modem, clk: clk, reboots: &countingRebooter{}, ir: &recordingIR{},
		led: &recordingLED{}, logs: &lockedBuffer{}, host: fakeHost{uptime: 3 * time.Hour}}
	h.cfg = daemonGatewayConfig(t, append([]string{"-poll", "30s"}, args...)...)
	if counterKnownStuck(sim.p.model) {
		// These log in only with a state dir (login_record.go); the
		// others keep none, as the Pi-reboot tests expect.
		h.cfg.StateDir = t.TempDir()
	}
	h.boot(clk.Now().Add(-10 * time.Hour))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("timeline:\n\t%s", strings.Join(h.lines(), "\n\t"))
		}
	})
	return h
}

// stamp takes down the simulator's new events at the bubble's time: the
// time of the request that caused them, since the bubble's clock stands
// still while a request is served.
func (h *healBubble) stamp() {
	ev := h.sim.Record().Events
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range ev[h.seen:] {
		h.timeline = append(h.timeline, healEvent{time.Since(h.start), e})
	}
	h.seen = len(ev)
}

// Reboot is the Pi's rebooter: init stops smsgate.
func (h *healBubble) Reboot(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.timeline = append(h.timeline, healEvent{time.Since(h.start), "pi reboot"})
	h.reboot()
	return nil
}

// boot makes a fresh gateway, as on a Pi that booted at bootAt: it
// remembers only its -state-dir.
func (h *healBubble) boot(bootAt time.Time) {
	h.restart()
	h.gw.actions.reboot = h
	h.gw.actions.host = clockHost{h.clk, bootAt}
}

// change is something that happens to the line at a time since start.
// Polls start on the ticker's grid (multiples of the poll interval after
// start), so changes are put between two polls, where which comes first
// is not left to the scheduler.
type change struct {
	at time.Duration
	do func()
}

// run runs smsgate until the time until (since start), making the changes
// as their times come. A Pi reboot stops it; it starts again, fresh,
// piBootTime later.
func (h *healBubble) run(until time.Duration, changes ...change) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			bootCtx, reboot := context.WithCancel(ctx)
			h.mu.Lock()
			h.reboot = reboot
			h.mu.Unlock()
			h.gw.Run(bootCtx)
			reboot()
			select {
			case <-ctx.Done():
				return
			case <-time.After(piBootTime):
			}
			h.boot(h.clk.Now())
		}
	}()
	for _, c := range changes {
		time.Sleep(time.Until(h.start.Add(c.at)))
		c.do()
	}
	time.Sleep(time.Until(h.start.Add(until)))
	stop()
	<-done
}

func (h *healBubble) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.timeline {
		out = append(out, e.String())
	}
	return out
}

// times is when each event what happened.
func (h *healBubble) times(what string) []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Duration
	for _, e := range h.timeline {
		if e.what == what {
			out = append(out, e.at)
		}
	}
	return out
}

// alerts are the SMS sent whose text contains part.
func (h *healBubble) alerts(part string) []healEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []healEvent
	for _, e := range h.timeline {
		if strings.HasPrefix(e.what, "sent ") && strings.Contains(e.what, part) {
			out = append(out, e)
		}
	}
	return out
}

// clock is the Pi's time at since start, as alerts write it.
func (h *healBubble) clock(at time.Duration) string { return h.t0.Add(at).Format("15:04") }

// late is how long after a rule's time the step may come: the first poll
// at or after it is within a poll interval.
func (h *healBubble) late() time.Duration { return h.cfg.PollInterval }

// reqSlack: an event is stamped when its request reaches the simulator,
// the healer decided at its poll's time; a poll's requests before and
// around it cost well under a second of bubble time (a look at a kept
// connection, a login, a wait for the link to drop).
const reqSlack = time.Second

// within checks that the event named happened in [lo, hi], give or take
// reqSlack.
func (h *healBubble) within(name string, at, lo, hi time.Duration) {
	h.t.Helper()
	if at < lo-reqSlack || at > hi+reqSlack {
		h.t.Errorf("%s at %s, want within [%s, %s]", name, at, lo, hi)
	}
}

// count checks that what happened n times.
func (h *healBubble) count(what string, n int) []time.Duration {
	h.t.Helper()
	ts := h.times(what)
	if len(ts) != n {
		h.t.Fatalf("%d %q, want %d", len(ts), what, n)
	}
	return ts
}

// atMost checks that no 24 hours hold more than max of ts.
func atMost(t *testing.T, what string, ts []time.Duration, max int) {
	t.Helper()
	for i, a := range ts {
		n := 0
		for _, b := range ts[i:] {
			if b-a < 24*time.Hour {
				n++
			}
		}
		if n > max {
			t.Errorf("%d %s within 24h of %s, want at most %d", n, what, a, max)
		}
	}
}
