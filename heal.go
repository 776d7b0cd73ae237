package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// healStep is one thing healing can do, in the order it tries them: the
// cheapest and least disruptive first.
type healStep int

const (
	stepReconnect healStep = iota
	stepModemReboot
	stepPiReboot
	numHealSteps
)

func (s healStep) String() string {
	return [...]string{"reconnect", "modem reboot", "Pi reboot"}[s]
}

// healDoer carries out healing steps; the gateway is one, tests use others.
type healDoer interface {
	Reconnect(ctx context.Context) error
	RebootModem(ctx context.Context) error
	RebootPi(ctx context.Context) error
	// PiRebootRefused says why the Pi may not reboot now (the reboot
	// interval), or "".
	PiRebootRefused() string
}

// healCapable is a healDoer that knows which steps it cannot take at all
// (a modem family without a reconnect): those are skipped, not failed.
type healCapable interface {
	StepUnsupported(s healStep) string
}

// HealConfig is the healing policy.
type HealConfig struct {
	Enabled bool
	// After is how long data must stay down (or every check fail) before
	// the first step, and the first back-off between rounds.
	After time.Duration
	// Max bounds each step to so many in any 24 hours.
	Max      int
	RebootPi bool
	// Stable is how long the link must stay up to end an outage: a link
	// that flaps is still down.
	Stable time.Duration
	// Settle is how long a step gets to work before the next one.
	Settle [numHealSteps]time.Duration
	// StepTimeout bounds one step.
	StepTimeout time.Duration
	// MaxBackoff caps the doubling back-off between rounds.
	MaxBackoff time.Duration
}

func (c *HealConfig) defaults() {
	if c.After <= 0 {
		c.After = 10 * time.Minute
	}
	if c.Max <= 0 {
		c.Max = 3
	}
	if c.Stable <= 0 {
		// Long enough that a flapping link stays down, short enough to
		// follow a short -heal-after.
		c.Stable = min(2*time.Minute, c.After/5)
	}
	settle := [numHealSteps]time.Duration{time.Minute, 3 * time.Minute, time.Minute}
	for i := range c.Settle {
		if c.Settle[i] <= 0 {
			c.Settle[i] = settle[i]
		}
	}
	if c.StepTimeout <= 0 {
		c.StepTimeout = 45 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 8 * time.Hour
	}
}

// healObs is what one poll saw of the line.
type healObs struct {
	Reachable  bool // the modem's API answered
	SIMReady   bool
	Registered bool // on a network, with signal: SMS can go out
	DataUp     bool
	// ChecksFailed: -check-host is set and every host failed its last
	// check (DNS lookup and TCP connection).
	ChecksFailed bool
}

// trouble says what is wrong, or "" when the line works.
func (o healObs) trouble() string {
	switch {
	case !o.Reachable:
		return "modem not answering"
	case !o.SIMReady:
		return "SIM not ready"
	case !o.Registered:
		return "no network"
	case !o.DataUp:
		return "mobile data down"
	case o.ChecksFailed:
		return "check-host failing"
	}
	return ""
}

// Healer watches the line poll by poll and, when it stays down, takes one
// step at a time, re-checking after each. It does no I/O of its own: steps go
// through a healDoer, words through alert.
type Healer struct {
	cfg    HealConfig
	do     healDoer
	alert  func(at time.Time, text string)
	uptime func() (time.Duration, error)
	log    *slog.Logger

	downSince time.Time // zero: no outage
	why       string    // what was first wrong
	upSince   time.Time // during an outage: since when the line looks up
	healing   bool      // a round started in this outage
	next      healStep  // the next step of the round
	waitUntil time.Time // no step before this: a step settles, or back-off
	rounds    backoff   // between rounds: After, doubling to MaxBackoff
	lastStep  string    // what was done last in this outage
	// fixer is the last step that worked, taken at fixerAt: it fixed the
	// line if the line came back within fixerSettle.
	fixer       string
	fixerAt     time.Time
	fixerSettle time.Duration
	ownerBusy   bool // the owner's command ran in this poll
	taken       [numHealSteps][]time.Time
	// onStep is called as a step is about to run, with the step already
	// counted: the gateway saves the count, so that it outlives a reboot.
	onStep func()
	recent string // what healing last did, for status
}

// NewHealer returns a healer; alert may be nil.
func NewHealer(cfg HealConfig, do healDoer, alert func(time.Time, string), uptime func() (time.Duration, error), log *slog.Logger) *Healer {
	cfg.defaults()
	if alert == nil {
		alert = func(time.Time, string) {}
	}
	return &Healer{cfg: cfg, do: do, alert: alert, uptime: uptime, log: log,
		rounds: backoff{first: cfg.After, max: cfg.MaxBackoff}}
}

// Active reports whether healing is under way: the LED says so.
func (h *Healer) Active() bool { return h.cfg.Enabled && h.healing }

// Recent says what healing did lately, for status; "" if nothing.
func (h *Healer) Recent() string {
	if h.healing {
		s := fmt.Sprintf("healing since %s (%s)", h.downSince.Format("15:04"), h.why)
		if h.lastStep != "" {
			s += ", last step " + h.lastStep
		}
		return s
	}
	return h.recent
}

// Restore takes back the steps taken in the last 24 hours, as saved.
func (h *Healer) Restore(steps map[string][]time.Time) {
	for s := stepReconnect; s < numHealSteps; s++ {
		h.taken[s] = append([]time.Time(nil), steps[s.String()]...)
	}
}

// History is the steps taken in the 24 hours before now, to save.
func (h *Healer) History(now time.Time) map[string][]time.Time {
	out := map[string][]time.Time{}
	for s := stepReconnect; s < numHealSteps; s++ {
		if ts := h.within(s, now); len(ts) > 0 {
			out[s.String()] = append([]time.Time(nil), ts...)
		}
	}
	return out
}

// OwnerCommand tells the healer that the owner's command ran in this poll:
// no step is taken in the same poll, and a modem reboot or reconnect by the
// owner starts the healing clock again.
func (h *Healer) OwnerCommand(name string, now time.Time) {
	h.ownerBusy = true
	if name != "modem reboot" && name != "modem reconnect" {
		return
	}
	if !h.downSince.IsZero() {
		h.next = stepReconnect
		h.rounds.Reset()
		h.waitUntil = now.Add(h.cfg.After)
		h.lastStep = "your " + name
		h.fixer, h.fixerAt, h.fixerSettle = h.lastStep, now, h.cfg.Settle[stepModemReboot]
	}
}

// Observe takes one poll's observation and, when healing is due, one step.
func (h *Healer) Observe(ctx context.Context, now time.Time, o healObs) {
	owner := h.ownerBusy
	h.ownerBusy = false
	why := o.trouble()
	if why == "" {
		h.up(now)
		return
	}
	h.upSince = time.Time{}
	if h.downSince.IsZero() {
		h.downSince, h.why = now, why
		h.waitUntil, h.next = now.Add(h.cfg.After), stepReconnect
		h.rounds.Reset()
		h.log.Info("line down", "why", why)
		return
	}
	if !h.cfg.Enabled || owner || now.Before(h.waitUntil) {
		return
	}
	if !h.healing {
		h.healing = true
		h.log.Warn("healing", "why", h.why, "down_since", h.downSince.Format(time.RFC3339))
		h.alert(now, fmt.Sprintf("%s since %s; healing", h.why, h.downSince.Format("15:04")))
	}
	for h.next < numHealSteps {
		s := h.next
		h.next++
		if why := h.refuse(s, now); why != "" {
			h.log.Info("healing step skipped", "step", s.String(), "why", why)
			continue
		}
		h.take(ctx, s, now)
		h.waitUntil = now.Add(h.cfg.Settle[s])
		return
	}
	// The round is over and the line is still down: wait, longer each
	// round, so that a dead tower costs a few steps a day, not a storm.
	h.next = stepReconnect
	h.waitUntil = now.Add(h.rounds.Next())
	h.log.Info("healing round over; line still down", "next_round", h.waitUntil.Format(time.RFC3339))
}

// refuse says why step s may not run now, or "".
func (h *Healer) refuse(s healStep, now time.Time) string {
	if s == stepPiReboot && !h.cfg.RebootPi {
		return "without -heal-reboot-pi"
	}
	if c, ok := h.do.(healCapable); ok {
		if why := c.StepUnsupported(s); why != "" {
			return why
		}
	}
	if n := len(h.within(s, now)); n >= h.cfg.Max {
		return fmt.Sprintf("%d in 24h (-heal-max)", n)
	}
	if s == stepPiReboot {
		// Without -state-dir a reboot wipes the step counts, so the daily
		// bound of Pi reboots is also kept by the Pi's uptime: with
		// -heal-max 3, healing reboots only a Pi that has been up 8 hours.
		up, err := h.uptime()
		if err != nil {
			return "uptime unknown: " + err.Error()
		}
		if least := 24 * time.Hour / time.Duration(h.cfg.Max); up < least {
			return fmt.Sprintf("Pi up %s, less than %s", shortDuration(up), shortDuration(least))
		}
		return h.do.PiRebootRefused()
	}
	return ""
}

func (h *Healer) within(s healStep, now time.Time) []time.Time {
	h.taken[s] = recent(h.taken[s], now, 24*time.Hour)
	return h.taken[s]
}

// take runs step s.
func (h *Healer) take(ctx context.Context, s healStep, now time.Time) {
	if s != stepPiReboot {
		// Not the Pi's reboot: the rebooter reads the end of ctx as init
		// stopping smsgate.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.cfg.StepTimeout)
		defer cancel()
	}
	n := len(h.within(s, now)) + 1
	// Counted before it runs: a step that reboots must not be forgotten.
	h.taken[s] = append(h.taken[s], now)
	if h.onStep != nil {
		h.onStep()
	}
	if s == stepPiReboot {
		// Said before: nothing is said after a reboot.
		h.alert(now, fmt.Sprintf("healing: rebooting the Pi (%d/%d in 24h)", n, h.cfg.Max))
	}
	var err error
	switch s {
	case stepReconnect:
		err = h.do.Reconnect(ctx)
	case stepModemReboot:
		err = h.do.RebootModem(ctx)
	case stepPiReboot:
		err = h.do.RebootPi(ctx)
	}
	h.lastStep = s.String()
	h.log.Warn("healing step", "step", s.String(), "n", n, "max", h.cfg.Max, "err", err)
	if err == nil {
		h.fixer, h.fixerAt, h.fixerSettle = s.String(), now, h.cfg.Settle[s]
	}
	if s != stepPiReboot {
		// The error is in the log; the SMS stays short.
		done := ""
		if err != nil {
			done = " failed"
		}
		h.alert(now, fmt.Sprintf("healing: %s%s (%d/%d in 24h)", s, done, n, h.cfg.Max))
	}
}

// up ends an outage once the line has stayed up for cfg.Stable.
func (h *Healer) up(now time.Time) {
	if h.downSince.IsZero() {
		return
	}
	if h.upSince.IsZero() {
		h.upSince = now
	}
	if now.Sub(h.upSince) < h.cfg.Stable {
		return
	}
	down := h.upSince.Sub(h.downSince)
	if h.healing {
		fix := "itself"
		if h.fixer != "" && h.upSince.Sub(h.fixerAt) <= h.fixerSettle {
			fix = h.fixer
		}
		h.recent = fmt.Sprintf("healed %s by %s after %s down", h.upSince.Format("15:04"), fix, shortMinutes(down))
		h.log.Warn("line back", "down", down.Round(time.Second), "fixed_by", fix)
		by := "fixed by " + fix
		if fix == "itself" {
			by = "it came back by itself"
		}
		since := h.downSince.Format("15:04")
		if down > 12*time.Hour {
			since = h.downSince.Format("Jan 2 15:04")
		}
		h.alert(now, fmt.Sprintf("back after %s down (%s since %s); %s", shortMinutes(down), h.why, since, by))
	} else {
		h.log.Info("line back", "down", down.Round(time.Second))
	}
	h.downSince, h.upSince, h.healing, h.lastStep, h.why, h.fixer = time.Time{}, time.Time{}, false, "", "", ""
}

// shortMinutes writes an outage as people say it: 40s, 14m, 2h05m, 2d3h.
func shortMinutes(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	}
	if d < time.Hour {
		return fmt.Sprintf("%dm", int(d.Round(time.Minute)/time.Minute))
	}
	return shortDuration(d)
}

// hostChecks are the -check-host probes: a DNS lookup of the name and a TCP
// connection, each host at most once per interval.
type hostChecks struct {
	hosts   []string
	every   time.Duration
	timeout time.Duration
	last    time.Time
	failed  bool // every host failed the last round
}

// AllFailed runs the checks when they are due and reports whether every
// host failed its last check.
func (c *hostChecks) AllFailed(ctx context.Context, now time.Time) bool {
	if len(c.hosts) == 0 {
		return false
	}
	if !c.last.IsZero() && now.Sub(c.last) < c.every {
		return c.failed
	}
	c.last = now
	c.failed = true
	for _, hp := range c.hosts {
		if probeHost(ctx, hp, c.timeout).Err() == nil {
			c.failed = false
		}
	}
	return c.failed
}

// hostProbe is what probing a -check-host found. Resolving and connecting
// are the two things that fail when the ISP's DNS or the uplink is down;
// both are tried, so that status can say which.
type hostProbe struct {
	hostport          string
	invalid, dns, tcp error
}

// probeHost resolves and connects to hostport, within timeout in all.
func probeHost(ctx context.Context, hostport string, timeout time.Duration) hostProbe {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p := hostProbe{hostport: hostport}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		p.invalid = err
		return p
	}
	_, p.dns = net.DefaultResolver.LookupHost(ctx, host)
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", hostport)
	if err != nil {
		p.tcp = err
		return p
	}
	conn.Close()
	return p
}

// Err is the first step that failed, or nil.
func (p hostProbe) Err() error {
	switch {
	case p.invalid != nil:
		return fmt.Errorf("check %s: %w", p.hostport, p.invalid)
	case p.dns != nil:
		return fmt.Errorf("check %s: dns: %w", p.hostport, p.dns)
	case p.tcp != nil:
		return fmt.Errorf("check %s: tcp: %w", p.hostport, p.tcp)
	}
	return nil
}

// String is the probe for a status reply.
func (p hostProbe) String() string {
	if p.invalid != nil {
		return "check-host invalid"
	}
	return "dns " + okFail(p.dns) + " tcp " + okFail(p.tcp)
}

func okFail(err error) string {
	if err != nil {
		return "FAIL"
	}
	return "ok"
}
