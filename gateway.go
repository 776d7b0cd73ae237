package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// health is what the status LED shows.
type health int

const (
	healthStarting    health = iota
	healthOK                 // modem reachable, logged in, data connected
	healthNoData             // modem reachable, no mobile data or no signal
	healthUnreachable        // modem does not answer
	healthLogin              // login refused or held
	healthBusy               // a command is being executed
	healthHealing            // the line is down and smsgate is healing it
)

func (h health) String() string {
	return [...]string{"starting", "ok", "no-data", "modem-unreachable", "login-refused", "busy", "healing"}[h]
}

// indicator shows the gateway's health; the LED is one.
type indicator interface {
	Show(health)
}

// GatewayConfig is the policy of the gateway.
type GatewayConfig struct {
	Allow        []phoneKey
	CountryCode  string
	PIN          string
	TOTP         *totp         // -totp: a one-time code instead of the PIN
	Rate         int           // commands per number per hour
	MaxAge       time.Duration // older commands are not executed
	MarkRead     bool          // mark commands read instead of deleting them
	KeepInbox    bool          // never delete strangers' messages to make room
	PollInterval time.Duration
	// FullEvery forces a full inbox read every so many polls, in case the
	// unread counters missed a change.
	FullEvery int
	// RebootInterval is the least time between two reboots, counted from
	// boot too: a Pi that just booted is not rebooted again.
	RebootInterval time.Duration
	// StepTimeout bounds one poll iteration, so that a modem that never
	// answers cannot stall the loop (and trip the watchdog).
	StepTimeout time.Duration
	// Heal is the self-healing policy; CheckHosts are probed at most once a
	// minute (DNS and TCP) while data is up.
	Heal       HealConfig
	CheckHosts []string
	// AlertTo are the numbers alerts go to; nil means the first -allow
	// number, an empty slice nobody. AlertMax bounds alerts per 24 hours.
	AlertTo  []string
	AlertMax int
}

const (
	pinFailLimit  = 5
	pinFailWindow = time.Hour
	pinLockout    = time.Hour
	inboxReserve  = 10 // free slots kept for incoming commands
	// incompleteEvery is how often (in polls) a long SMS missing parts is
	// looked at again when nothing else changed.
	incompleteEvery = 6
	fullNoticeGap   = 24 * time.Hour
	// strangerFlood messages from strangers within an hour make an alert,
	// at most once per fullNoticeGap.
	strangerFlood  = 20
	plausibleEpoch = 2024
)

// Gateway polls the modem and turns SMS into actions.
type Gateway struct {
	cfg     GatewayConfig
	allow   map[phoneKey]bool
	modem   gatewayModem
	actions *Actions
	led     indicator
	log     *slog.Logger
	now     func() time.Time

	lastBeat atomic.Int64 // unix nanoseconds of the last completed iteration

	// The rest belongs to the loop goroutine.
	shown      health // the last state logged: bursts come and go without a line
	lastUnread string
	polls      int
	// decided holds the messages already decided that are still in the
	// inbox (those left for the owner), by id, with a fingerprint: the
	// modem's database may give a deleted message's id to a new one, so an
	// id alone does not say "seen". Bounded by the inbox.
	decided map[int64]string
	// waiting holds messages still to be decided: true for a command whose
	// removal the modem refused (tried again next poll), false for an
	// incomplete message (looked at every few polls: some firmware never
	// completes one).
	waiting     map[int64]bool
	executed    map[phoneKey][]time.Time
	pinFails    map[phoneKey][]time.Time
	lockedUntil map[phoneKey]time.Time
	lastReboot  time.Time
	lastNotice  time.Time

	heal   *Healer
	alerts *Alerts
	checks hostChecks
	// strangers are the times of recent messages from strangers (at most
	// strangerFlood), for the flood alert.
	strangers    []time.Time
	lastFlood    time.Time
	loginAlerted bool
	canSend      bool // the last poll saw the SIM ready and registered
}

// NewGateway checks the configuration and returns a gateway.
func NewGateway(cfg GatewayConfig, modem gatewayModem, actions *Actions, led indicator, log *slog.Logger) (*Gateway, error) {
	if len(cfg.Allow) == 0 {
		return nil, errors.New("no -allow numbers: smsgate would obey nobody; give the owner's number")
	}
	allow := map[phoneKey]bool{}
	for _, k := range cfg.Allow {
		if !k.international() {
			return nil, fmt.Errorf("-allow %q: give it in international form (+216...) or set -country-code", strings.TrimLeft(string(k), "#@"))
		}
		allow[k] = true
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 10
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 5 * time.Second
	}
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = 3 * time.Minute
	}
	if cfg.FullEvery <= 0 {
		cfg.FullEvery = 60
	}
	g := &Gateway{
		cfg: cfg, allow: allow, modem: modem, actions: actions, led: led, log: log, now: time.Now,
		decided: map[int64]string{}, waiting: map[int64]bool{}, executed: map[phoneKey][]time.Time{}, pinFails: map[phoneKey][]time.Time{},
		lockedUntil: map[phoneKey]time.Time{},
	}
	actions.secret = cfg.secret()
	if cfg.AlertTo == nil {
		cfg.AlertTo = []string{string(cfg.Allow[0])}
		g.cfg.AlertTo = cfg.AlertTo
	}
	g.alerts = NewAlerts(cfg.AlertTo, cfg.AlertMax, log)
	g.heal = NewHealer(cfg.Heal, gatewayHeal{g}, g.alert, actions.uptime, log)
	g.checks = hostChecks{hosts: cfg.CheckHosts, every: time.Minute, timeout: 5 * time.Second}
	actions.healNote = g.heal.Recent
	// Alive from the start: the supervisor must not see a stall before the
	// first poll has had its chance.
	g.lastBeat.Store(g.now().UnixNano())
	return g, nil
}

// LastBeat is when the loop last completed an iteration.
func (g *Gateway) LastBeat() time.Time { return time.Unix(0, g.lastBeat.Load()) }

func (g *Gateway) setHealth(h health) {
	if g.heal != nil && g.heal.Active() && (h == healthOK || h == healthNoData || h == healthUnreachable) {
		h = healthHealing
	}
	if h != healthBusy && h != g.shown {
		g.shown = h
		g.log.Info("state", "state", h.String(), "led", ledDescriptions[h])
	}
	if g.led != nil {
		g.led.Show(h)
	}
}

// Run polls until ctx ends.
func (g *Gateway) Run(ctx context.Context) error {
	t := time.NewTicker(g.cfg.PollInterval)
	defer t.Stop()
	for {
		stepCtx, cancel := context.WithTimeout(ctx, g.cfg.StepTimeout)
		g.Step(stepCtx)
		cancel()
		g.lastBeat.Store(g.now().UnixNano())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Step is one poll: a cheap read, and the full inbox when it may have
// changed.
func (g *Gateway) Step(ctx context.Context) {
	st, err := g.modem.Poll(ctx)
	if ctx.Err() != nil {
		return // stopping: the modem is not to blame
	}
	if err != nil {
		var le *LoginError
		if errors.As(err, &le) {
			g.setHealth(healthLogin)
			g.loginHeld(le)
		} else {
			// Healing can do nothing about a held login: only a modem
			// that does not answer is watched.
			g.canSend = false
			g.heal.Observe(ctx, g.now(), healObs{})
			g.setHealth(healthUnreachable)
		}
		g.log.Debug("poll failed", "err", err)
		return
	}
	g.loginAlerted = false
	link := healthNoData
	if st.Connected {
		link = healthOK
	}
	g.setHealth(link)
	// After the messages: an owner's command comes first.
	defer g.tend(ctx, st)
	g.polls++
	full := g.polls == 1 || st.Unread != g.lastUnread || g.polls%g.cfg.FullEvery == 0 ||
		(len(g.waiting) > 0 && g.polls%incompleteEvery == 0)
	for _, deferred := range g.waiting {
		full = full || deferred
	}
	if !full {
		return
	}
	msgs, err := g.modem.Inbox(ctx)
	if err != nil {
		g.log.Warn("inbox read failed", "err", err)
		return
	}
	// After a pass that removed messages the counters may come back to the
	// same value with a new message in; the next poll reads the list again.
	if g.handle(ctx, msgs) {
		g.lastUnread = ""
		g.setHealth(link) // the bursts of the commands run are over
	} else {
		g.lastUnread = st.Unread
	}
	if !g.cfg.KeepInbox {
		g.makeRoom(ctx, msgs)
	}
}

// decision is what happened to one SMS, logged as one line.
type decision struct {
	verdict string // executed, failed, rejected, ignored, stale, duplicate, incomplete, deferred
	command string
	reason  string
}

// handle decides on every message not decided before, oldest first, and
// reports whether it touched the inbox.
func (g *Gateway) handle(ctx context.Context, msgs []SMS) (touched bool) {
	present := map[int64]bool{}
	batch := map[string]bool{} // commands executed in this batch
	for _, m := range msgs {
		present[m.ID] = true
		fp := fingerprint(m)
		if g.decided[m.ID] == fp {
			continue
		}
		delete(g.decided, m.ID) // an id the modem gave to a new message
		if !m.Complete {
			if _, seen := g.waiting[m.ID]; !seen {
				g.logSMS(m, decision{verdict: "incomplete", reason: "parts missing; left untouched until complete"})
			}
			g.waiting[m.ID] = false
			continue
		}
		d := g.decide(ctx, m, batch)
		touched = touched || d.verdict != "ignored"
		if d.verdict == "deferred" {
			g.waiting[m.ID] = true
			continue
		}
		delete(g.waiting, m.ID)
		g.decided[m.ID] = fp
	}
	for id := range g.waiting {
		if !present[id] {
			delete(g.waiting, id)
		}
	}
	for id := range g.decided {
		if !present[id] {
			delete(g.decided, id)
		}
	}
	return touched
}

// fingerprint tells a message from a later one under the same id.
func fingerprint(m SMS) string {
	return m.RawDate + "|" + m.From + "|" + strconv.Itoa(len(m.Text))
}

func (g *Gateway) logSMS(m SMS, d decision) {
	attrs := []any{"id", m.ID, "from", m.From, "decision", d.verdict, "command", d.command, "reason", d.reason}
	if d.verdict == "ignored" || d.verdict == "incomplete" {
		// Left for the owner: keep the whole text in the log.
		attrs = append(attrs, "text", m.Text, "date", m.RawDate)
	}
	if m.Problem != "" {
		attrs = append(attrs, "problem", m.Problem)
	}
	g.log.Info("sms", attrs...)
}

// decide handles one complete message and logs exactly one line for it.
func (g *Gateway) decide(ctx context.Context, m SMS, batch map[string]bool) decision {
	d, reply, after := g.judge(ctx, m, batch)
	g.logSMS(m, d)
	if reply != "" {
		if err := g.modem.Send(ctx, m.From, fitOneSMS(reply)); err != nil {
			g.log.Warn("reply failed", "id", m.ID, "to", m.From, "err", err)
		}
	}
	if after != nil {
		if err := after(); err != nil {
			g.log.Error("action failed after reply", "id", m.ID, "command", d.command, "err", err)
		}
	}
	return d
}

// judge applies the policy to one message and, when it is an order to
// follow, removes it from the modem and runs it.
func (g *Gateway) judge(ctx context.Context, m SMS, batch map[string]bool) (decision, string, func() error) {
	now := g.now()
	from := normalizeNumber(m.From, g.cfg.CountryCode)
	if !g.allow[from] {
		g.stranger(now)
		return decision{verdict: "ignored", reason: "sender not in -allow; left in the inbox"}, "", nil
	}
	if g.cfg.MarkRead && m.Read {
		return decision{verdict: "ignored", reason: "already read (-mark-read)"}, "", nil
	}
	if until := g.lockedUntil[from]; now.Before(until) {
		return decision{verdict: "ignored", reason: "sender locked out after wrong PINs until " + until.Format(time.RFC3339)}, "", nil
	}
	text := m.Text
	if g.cfg.secret() != secretNone {
		rest, err := g.checkSecret(m, now)
		if err != nil {
			fails := append(recent(g.pinFails[from], now, pinFailWindow), now)
			g.pinFails[from] = fails
			reply := fmt.Sprintf("%s (%d more and this number is ignored for 1h)", err, pinFailLimit-len(fails))
			reason := err.Error()
			if len(fails) >= pinFailLimit {
				g.lockedUntil[from] = now.Add(pinLockout)
				delete(g.pinFails, from)
				reply, reason = "", err.Error()+"; number ignored for 1h"
				g.log.Warn("sender locked out after wrong PINs", "from", m.From, "until", now.Add(pinLockout).Format(time.RFC3339))
			}
			return g.consume(ctx, m, decision{verdict: "rejected", reason: reason}, reply)
		}
		text = rest
	}
	cmd, ok := g.actions.parse(text)
	if !ok {
		return g.consume(ctx, m, decision{verdict: "rejected", reason: "unknown command"}, "unknown command; send 'help'")
	}
	d := decision{command: cmd.String()}
	if age, ok := g.age(m, now); ok && g.cfg.MaxAge > 0 && age > g.cfg.MaxAge {
		d.verdict, d.reason = "stale", fmt.Sprintf("sent %s ago, -max-age %s", age.Round(time.Minute), g.cfg.MaxAge)
		return g.consume(ctx, m, d, fmt.Sprintf("not executed: '%s' is %s old (max %s)", cmd.Name, shortDuration(age), shortDuration(g.cfg.MaxAge)))
	}
	if batch[cmd.String()] {
		d.verdict, d.reason = "duplicate", "same command already executed in this batch"
		return g.consume(ctx, m, d, "")
	}
	if n := len(recent(g.executed[from], now, time.Hour)); n >= g.cfg.Rate {
		d.verdict, d.reason = "rejected", fmt.Sprintf("rate limit: %d commands in the last hour", n)
		return g.consume(ctx, m, d, "")
	}
	if cmd.RebootLimited() {
		if why := g.rebootTooSoon(now); why != "" {
			d.verdict, d.reason = "rejected", why
			return g.consume(ctx, m, d, "reboot refused: "+why)
		}
	}
	// Off the modem before anything runs, so that no restart can find the
	// command again.
	if err := g.remove(ctx, m); err != nil {
		d.verdict, d.reason = "deferred", "modem did not confirm removal: "+err.Error()
		return d, "", nil
	}
	batch[cmd.String()] = true
	g.executed[from] = append(recent(g.executed[from], now, time.Hour), now)
	if cmd.RebootLimited() {
		g.lastReboot = now
	}
	g.setHealth(healthBusy)
	g.heal.OwnerCommand(cmd.Name, now)
	reply, after, err := g.actions.Run(ctx, cmd)
	d.verdict, d.reason = "executed", "authorised"
	if g.cfg.secret() != secretNone {
		d.reason = "authorised, " + g.cfg.secret().String() + " ok"
	}
	if err != nil {
		d.verdict, d.reason = "failed", err.Error()
	}
	return d, reply, after
}

// consume removes a message addressed to smsgate that will not run, and
// answers it; if the modem will not remove it, it is looked at again later.
func (g *Gateway) consume(ctx context.Context, m SMS, d decision, reply string) (decision, string, func() error) {
	if err := g.remove(ctx, m); err != nil {
		d.reason += "; removal deferred: " + err.Error()
		d.verdict = "deferred"
		return d, "", nil
	}
	return d, reply, nil
}

func (g *Gateway) remove(ctx context.Context, m SMS) error {
	if g.cfg.MarkRead {
		return g.modem.MarkRead(ctx, m.ID)
	}
	return g.modem.Delete(ctx, m.ID)
}

// age is how old m is, when both the Pi's clock and the SMS date can be
// trusted.
func (g *Gateway) age(m SMS, now time.Time) (time.Duration, bool) {
	if now.Year() < plausibleEpoch || m.Time.IsZero() || m.Time.Year() < plausibleEpoch || m.Time.After(now.Add(24*time.Hour)) {
		return 0, false
	}
	return max(now.Sub(m.Time), 0), true
}

func (g *Gateway) rebootTooSoon(now time.Time) string {
	if !g.lastReboot.IsZero() && now.Sub(g.lastReboot) < g.cfg.RebootInterval {
		return fmt.Sprintf("last reboot %s ago (at most one per %s)", shortDuration(now.Sub(g.lastReboot)), shortDuration(g.cfg.RebootInterval))
	}
	// A dry run reboots nothing, so the time since boot does not matter.
	if up, err := g.actions.host.Uptime(); err == nil && up < g.cfg.RebootInterval && !g.actions.dryRun {
		return fmt.Sprintf("the Pi booted %s ago (at most one reboot per %s)", shortDuration(up), shortDuration(g.cfg.RebootInterval))
	}
	return ""
}

// recent keeps the times within window of now.
func recent(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	out := ts[:0]
	for _, t := range ts {
		if now.Sub(t) < window {
			out = append(out, t)
		}
	}
	return out
}

// makeRoom deletes the oldest messages left for the owner when the modem's
// memory is nearly full: a full inbox stops commands from arriving.
func (g *Gateway) makeRoom(ctx context.Context, msgs []SMS) {
	c, err := g.modem.Capacity(ctx)
	if err != nil || c.Total <= 0 || c.Used < c.Total-inboxReserve {
		return
	}
	need := c.Used - (c.Total - 2*inboxReserve)
	var victims []SMS
	for _, m := range msgs {
		if len(victims) == need {
			break
		}
		// Only what was decided and left for the owner: never a command
		// still waiting.
		if _, decided := g.decided[m.ID]; decided && m.Store == "device" {
			victims = append(victims, m)
		}
	}
	if len(victims) == 0 {
		return
	}
	ids := make([]int64, len(victims))
	for i, m := range victims {
		ids[i] = m.ID
		g.log.Info("inbox full: deleting", "id", m.ID, "from", m.From, "date", m.RawDate, "text", m.Text)
	}
	if err := g.modem.Delete(ctx, ids...); err != nil {
		g.log.Warn("inbox full and the modem refused to delete", "err", err)
		return
	}
	g.log.Warn("inbox was full", "deleted", len(ids), "total", c.Total, "used", c.Used)
	if now := g.now(); g.lastNotice.IsZero() || now.Sub(g.lastNotice) > fullNoticeGap {
		g.lastNotice = now
		g.alert(now, fmt.Sprintf("modem inbox was full; deleted %d oldest messages (kept in the log)", len(ids)))
	}
}

// StartAlert queues the "smsgate up" alert when it is due.
func (g *Gateway) StartAlert(cause bootCause, always bool) {
	up, err := g.actions.uptime()
	if err != nil {
		g.log.Warn("uptime unknown; no start alert", "err", err)
		return
	}
	now := g.now()
	if text, due := startAlert(now, up, cause, always); due {
		g.alert(now, text)
	}
}

// alert queues an alert to the -alert numbers.
func (g *Gateway) alert(at time.Time, text string) { g.alerts.Add(at, text) }

// tend runs after each poll that reached the modem: the health checks,
// healing, and the alerts waiting for a modem that can send.
func (g *Gateway) tend(ctx context.Context, st PollState) {
	if ctx.Err() != nil {
		return
	}
	now := g.now()
	o := healObs{Reachable: true, SIMReady: st.SIMReady, Registered: st.Registered, DataUp: st.DataUp}
	g.canSend = st.SIMReady && st.Registered
	if o.DataUp {
		o.ChecksFailed = g.checks.AllFailed(ctx, now)
	}
	g.heal.Observe(ctx, now, o)
	if g.heal.Active() {
		g.setHealth(healthHealing)
	}
	g.flushAlerts(ctx)
}

func (g *Gateway) flushAlerts(ctx context.Context) {
	if g.canSend && g.alerts.Pending() > 0 {
		g.alerts.Flush(ctx, g.now(), func(ctx context.Context, number, text string) error {
			return g.modem.Send(ctx, number, text)
		})
	}
}

// loginHeld alerts once per hold of the modem login.
func (g *Gateway) loginHeld(le *LoginError) {
	if g.loginAlerted {
		return
	}
	g.loginAlerted = true
	g.alert(g.now(), "modem login held to save your attempts: "+le.Reason)
}

// stranger counts a message from a stranger and alerts on a flood.
func (g *Gateway) stranger(now time.Time) {
	g.strangers = append(recent(g.strangers, now, time.Hour), now)
	if len(g.strangers) < strangerFlood {
		return
	}
	g.strangers = g.strangers[len(g.strangers)-strangerFlood+1:]
	if g.lastFlood.IsZero() || now.Sub(g.lastFlood) > fullNoticeGap {
		g.lastFlood = now
		g.alert(now, fmt.Sprintf("%d SMS from strangers within an hour; ignored and left in the inbox (see the log)", strangerFlood))
	}
}

// gatewayHeal takes healing steps through the gateway's modem and rebooter.
type gatewayHeal struct{ g *Gateway }

func (h gatewayHeal) Reconnect(ctx context.Context) error {
	h.g.actions.logAction("modem reconnect", "healing", false)
	_, err := h.g.modem.Reconnect(ctx)
	return err
}

func (h gatewayHeal) RebootModem(ctx context.Context) error {
	h.g.actions.logAction("modem reboot", "healing", false)
	return h.g.modem.Reboot(ctx)
}

func (h gatewayHeal) RebootPi(ctx context.Context) error {
	now := h.g.now()
	if why := h.g.rebootTooSoon(now); why != "" {
		return fmt.Errorf("%w: %s", errHealRefused, why)
	}
	h.g.lastReboot = now
	h.g.flushAlerts(ctx) // nothing is said after a reboot
	a := h.g.actions
	a.logAction("reboot", "healing", a.dryRun)
	if a.dryRun {
		return nil
	}
	return a.reboot.Reboot(ctx)
}
