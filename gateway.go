package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
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
	Allow []phoneKey
	// CountryCode lets national numbers match: digits, or "+216" / "00216".
	CountryCode  string
	PIN          string
	TOTP         *totp         // -totp: a one-time code instead of the PIN
	Rate         int           // commands per number per hour
	MaxAge       time.Duration // older commands are not executed
	MarkRead     bool          // mark commands read instead of deleting them
	KeepInbox    bool          // never delete strangers' messages to make room
	PollInterval time.Duration
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
	// StateDir keeps what must outlive a restart (see State); empty keeps
	// it in memory only.
	StateDir string
	// Owner: -forward, -on-sms, USSD, -keepalive, -reply-parts, pause.
	Owner OwnerConfig
}

const (
	pinFailLimit  = 5
	pinFailWindow = time.Hour
	pinLockout    = time.Hour
	inboxReserve  = 10 // free slots kept for incoming commands
	// incompleteEvery is how often (in polls) a long SMS missing parts is
	// looked at again when nothing else changed.
	incompleteEvery = 6
	// fullReadEvery forces a full inbox read every so many polls, in case
	// the unread counters missed a change.
	fullReadEvery = 60
	fullNoticeGap = 24 * time.Hour
	// strangerFlood messages from strangers dated within an hour make an
	// alert, at most once per fullNoticeGap (see floodDates).
	strangerFlood  = 20
	plausibleEpoch = 2024
)

// Gateway polls the modem and turns SMS into actions.
type Gateway struct {
	cfg     GatewayConfig
	allow   map[phoneKey]bool
	modem   modemPort
	actions *Actions
	led     indicator
	log     *slog.Logger
	// now is the Pi's wall clock, which smsgate weighs against the
	// modem's dates. It stays fakeable beside Run's real ticker, which
	// only counts intervals, because tests must set the date itself:
	// decades away, or 1970 as on a Pi before NTP. A test that runs the
	// loop must give it newBubbleClock's Now (the bubble's time plus a
	// fixed offset: one clock with the ticker), or move it with the
	// ticker, never a clock that stands still while the ticker runs.
	now func() time.Time

	// lastBeat is when the last iteration completed, as g.now gave it: from
	// time.Now, with its monotonic reading, so that a step of the wall
	// clock (NTP on a Pi without a clock chip) is not taken for a stall.
	lastBeat atomic.Pointer[time.Time]

	// The rest belongs to the loop goroutine.
	shown      health // the last state logged: bursts come and go without a line
	lastUnread string
	polls      int
	// failing says why the modem cannot be read ("" while it can), so that
	// an outage is logged when it starts or changes and when it ends, not
	// once per poll.
	failing   string
	failSince time.Time

	st    *State // what must outlive a restart
	store *stateStore
	// waiting holds the messages still to be decided, by id: incomplete
	// ones (looked at every few polls: some firmware never completes one)
	// and deferred ones (their removal was refused, or they wait for the
	// next pass; tried every poll). Bounded by the inbox.
	waiting map[int64]*waitingMsg
	// retryAt is when the removal of each kept message (State.Removed) is
	// tried again; it starts afresh on a restart, the tries counted in
	// State do not.
	retryAt map[int64]time.Time
	// room is the last deletion made to make room, so that a modem that
	// keeps what it said it deleted is not asked again at every poll.
	room roomTry
	// piClock: the pass judges by the Pi's clock, not by SMS dates.
	piClock bool
	// removedNow holds the ids this poll asked the modem to remove: the
	// modem may already have given one to a new message, so the list read
	// before is no longer the inbox.
	removedNow map[int64]bool

	heal   *Healer
	alerts *Alerts
	checks hostChecks
	// strangers are the dates of recent SMS from strangers, for the flood
	// alert.
	strangers    floodDates
	lastFlood    time.Time
	loginAlerted bool
	canSend      bool // the last poll saw the SIM ready and registered
	// startText is the start alert, queued once startAlertDelay has passed
	// since startAt.
	startText string
	startAt   time.Time
	// began is when the first poll reached the modem (see started).
	began time.Time
	own   *ownerKit // the owner's features: ownerkit.go
	// intentsSettled: the intents a crash left were finished or reported.
	intentsSettled bool
	// heldIntents: the ids of the intents a crash left that wait, their
	// message listed unreadable (nil before the first listing).
	heldIntents map[int64]bool
	markedByUs  map[int64]string // -mark-read: marked by a pass a crash cut (intent.go)
	// unreadableSince is when the listings began to hold records smsgate
	// cannot read (zero while they hold none): the owner is told once
	// they stayed unreadable for unreadableGrace (unreadable.go).
	unreadableSince time.Time
	unreadAlert     unreadableAlert
	// unreadSaid holds the ids whose unreadable record was logged, each
	// with the fingerprint of the message it turned out to be once read
	// ("" until then): one line however long it stays unreadable, and a
	// new one for a new message under the id (unreadable.go).
	unreadSaid map[int64]string
	crashHook  func(step string) // tests: see crashAt
}

// waitingMsg is a message in the inbox still to be decided.
type waitingMsg struct {
	fp         string
	from       string
	incomplete bool
	// unreadable: smsgate cannot read its sender or text (SMS.Unreadable);
	// it waits like an incomplete one, and is never made room with.
	unreadable bool
	// ran holds the commands (sender|command) executed while this message
	// waited: it was in the inbox before they ran, so the same command in
	// it is a duplicate, whatever its date says.
	ran map[string]bool
}

// checkLimits refuses limits that make no sense. The daemon's flags
// (daemonConfig.validate) decide them; a zero here is a caller's mistake,
// said, not replaced by a default of the gateway's own.
func (c GatewayConfig) checkLimits() error {
	var errs []error
	if c.Rate < 1 {
		errs = append(errs, fmt.Errorf("rate %d: want at least 1 command per hour", c.Rate))
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"max age", c.MaxAge}, {"poll interval", c.PollInterval}, {"step timeout", c.StepTimeout}} {
		if d.d <= 0 {
			errs = append(errs, fmt.Errorf("%s %s: want more than 0", d.name, d.d))
		}
	}
	if c.RebootInterval < 0 {
		errs = append(errs, fmt.Errorf("reboot interval %s: want 0 or more", c.RebootInterval))
	}
	if c.AlertMax < 1 {
		errs = append(errs, fmt.Errorf("alert max %d: want at least 1", c.AlertMax))
	}
	return errors.Join(errs...)
}

// NewGateway checks the configuration and returns a gateway. It trusts
// its caller for the limits' values (the daemon's flags decide them) but
// refuses ones that make no sense.
func NewGateway(cfg GatewayConfig, modem modemPort, actions *Actions, led indicator, log *slog.Logger) (*Gateway, error) {
	if len(cfg.Allow) == 0 {
		return nil, errors.New("no -allow numbers: smsgate would obey nobody; give the owner's number")
	}
	cc, err := parseCountryCode(cfg.CountryCode)
	if err != nil {
		return nil, err
	}
	cfg.CountryCode = cc
	allow := map[phoneKey]bool{}
	for _, k := range cfg.Allow {
		if !k.international() {
			return nil, fmt.Errorf("-allow %q: give it in international form (+216...) or set -country-code", strings.TrimLeft(string(k), "#@"))
		}
		allow[k] = true
	}
	if err := cfg.checkLimits(); err != nil {
		return nil, err
	}
	// The gateway's own copy, which it gives its parts: the Actions the
	// caller made stay as they were made.
	copied := *actions
	actions = &copied
	store, st := openStateStore(cfg.StateDir, log)
	g := &Gateway{
		cfg: cfg, allow: allow, modem: modem, actions: actions, led: led, log: log, now: time.Now,
		st: st, store: store, waiting: map[int64]*waitingMsg{}, retryAt: map[int64]time.Time{},
		removedNow: map[int64]bool{}, unreadSaid: map[int64]string{},
	}
	store.now = func() time.Time { return g.now() }
	actions.secret = cfg.secret()
	if cfg.AlertTo == nil {
		cfg.AlertTo = []string{string(cfg.Allow[0])}
		g.cfg.AlertTo = cfg.AlertTo
	}
	g.alerts = NewAlerts(cfg.AlertTo, cfg.AlertMax, log)
	g.heal = NewHealer(cfg.Heal, gatewayHeal{g}, g.alert, actions.uptime, log)
	g.checks = hostChecks{hosts: cfg.CheckHosts, every: time.Minute, timeout: 5 * time.Second}
	actions.healNote = g.heal.Recent
	g.own = newOwnerKit(g)
	actions.own = g.own
	g.heal.Restore(g.st.HealSteps)
	g.alerts.sent = append([]time.Time(nil), g.st.AlertsSent...)
	g.alerts.onCount = func(sent []time.Time) {
		g.st.AlertsSent = sent
		g.store.Save(g.st)
	}
	if rk, ok := modem.(refusalKeeper); ok && g.st.LoginRefusals.any() {
		if rk.SetRefusals(g.st.LoginRefusals) {
			log.Warn("modem: logins refused before this start still count against the owner's attempts", "refused", g.st.LoginRefusals.Count,
				"hold_until", g.st.LoginRefusals.Until.Format(time.RFC3339))
		} else {
			log.Info("modem: the password changed since logins were refused; counting afresh")
		}
	}
	if ls, ok := modem.(loginSaver); ok {
		ls.SaveBeforeLogin(g.saveBeforeLogin)
	}
	g.heal.onStep = func() {
		g.st.HealSteps = g.heal.History(g.now())
		g.store.Save(g.st)
	}
	// Alive from the start: the supervisor must not see a stall before the
	// first poll has had its chance.
	g.beat()
	return g, nil
}

// LastBeat is when the loop last completed an iteration.
func (g *Gateway) LastBeat() time.Time { return *g.lastBeat.Load() }

func (g *Gateway) beat() {
	t := g.now()
	g.lastBeat.Store(&t)
}

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
	defer g.own.close()
	for {
		stepCtx, cancel := context.WithTimeout(ctx, g.cfg.StepTimeout)
		g.Step(stepCtx)
		cancel()
		g.beat()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-portEvents(g.modem):
		}
	}
}

// Step is one poll: a cheap read, and the full inbox when it may have
// changed.
func (g *Gateway) Step(ctx context.Context) {
	defer g.keepRefusals()
	clear(g.removedNow)
	g.boundTimes(g.now())
	if g.own.pauseStep(ctx) {
		return
	}
	st, err := g.modem.Poll(ctx)
	if ctx.Err() != nil {
		return // stopping: the modem is not to blame
	}
	if err != nil {
		h := healthUnreachable
		var le *LoginError
		if errors.As(err, &le) {
			h = healthLogin
			g.loginHeld(le)
		} else {
			// Healing can do nothing about a held login: only a modem
			// that does not answer is watched.
			g.canSend = false
			g.heal.Observe(ctx, g.now(), healObs{})
		}
		g.setHealth(h)
		g.outage(h.String(), err)
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
	defer g.takeCalls(ctx) // -on-call: oncall.go
	if g.failing != "inbox" {
		g.recovered()
	}
	g.polls++
	full := g.polls == 1 || st.Unread != g.lastUnread || g.polls%fullReadEvery == 0 ||
		(len(g.waiting) > 0 && g.polls%incompleteEvery == 0)
	for _, w := range g.waiting {
		full = full || !w.incomplete
	}
	full = full || g.retryDue(g.now())
	if !full {
		return
	}
	msgs, err := g.modem.Inbox(ctx)
	if err != nil {
		if ctx.Err() == nil {
			g.outage("inbox", err)
			g.lastUnread = "" // read it again next poll
		}
		return
	}
	g.recovered()
	// After a pass that removed messages the counters may come back to the
	// same value with a new message in; the next poll reads the list again.
	if g.handle(ctx, msgs) {
		g.lastUnread = ""
		g.setHealth(link) // the bursts of the commands run are over
	} else {
		g.lastUnread = st.Unread
	}
	if !g.cfg.KeepInbox && g.makeRoom(ctx, msgs) {
		// Room made: new messages may now arrive with the counters back
		// where they were.
		g.lastUnread = ""
	}
	g.store.SaveSoon(g.st)
}

// refusalKeeper is a modem client whose own count of refused logins the
// gateway keeps in State, so that it holds across restarts.
type refusalKeeper interface {
	Refusals() LoginRefusals
	SetRefusals(LoginRefusals) bool
}

// loginSaver is a modem client that says, just before each login it
// posts, what its refusals will be if that login turns out spent: saved
// then, a SIGKILL between the LOGIN and the end of the poll cannot make
// the attempt free to the next start. The client calls it from the
// gateway's own goroutine (the poll), with its lock held: the function
// must not call the client.
type loginSaver interface {
	SaveBeforeLogin(loginRecorder)
}

// saveBeforeLogin writes what a login about to be posted would leave, and
// says whether it is on disk (loginRecorder).
func (g *Gateway) saveBeforeLogin(r LoginRefusals) error {
	was := g.st.LoginRefusals
	g.st.LoginRefusals = r
	err := g.store.SaveDurable(g.st)
	if err != nil {
		// Not posted then: the state must not count it.
		g.st.LoginRefusals = was
	}
	return err
}

// keepRefusals saves the modem client's count of refused logins when it
// changed: at once, since a restart right after a refusal must not forget
// it, and it changes at most a few times per lock period.
func (g *Gateway) keepRefusals() {
	rk, ok := g.modem.(refusalKeeper)
	if !ok {
		return
	}
	if r := rk.Refusals(); !r.same(g.st.LoginRefusals) {
		g.st.LoginRefusals = r
		g.store.Save(g.st)
	}
}

// outage logs that the modem cannot be read, once per kind of failure.
func (g *Gateway) outage(kind string, err error) {
	if g.failing == kind {
		return
	}
	if g.failing == "" {
		g.failSince = g.now()
	}
	g.failing = kind
	g.log.Warn("modem not answering", "state", kind, "err", err)
}

func (g *Gateway) recovered() {
	if g.failing == "" {
		return
	}
	g.log.Warn("modem answering again", "was", g.failing, "after", g.now().Sub(g.failSince).Round(time.Second).String())
	g.failing = ""
}

// decision is what happened to one SMS, logged as one line.
type decision struct {
	verdict string // executed, failed, rejected, ignored, stale, duplicate, incomplete, deferred, gone
	command string
	reason  string
}

// handle decides on every message not decided before, and reports whether
// it touched the inbox.
func (g *Gateway) handle(ctx context.Context, msgs []SMS) (touched bool) {
	now := g.reference(msgs)
	g.st.prune(now)
	g.boundRan()
	if !g.intentsSettled {
		g.intentsSettled = g.finishIntents(msgs)
	}
	present := map[int64]bool{}
	var todo, shared []SMS
	before := map[int64]string{} // shared ids: fingerprints decided before
	var kept bool                // a kept message warned about: saved at once
	unreadable := 0
	for _, m := range msgs {
		present[m.ID] = true
		fp := fingerprint(m)
		if m.Unreadable != "" {
			// First: what is known of its id (decided, removed, waiting)
			// stays as it is until the record can be read again.
			unreadable++
			g.waitUnreadable(m, fp)
			continue
		}
		g.readAgain(m.ID, fp)
		if g.st.Decided[m.ID] == fp {
			continue
		}
		if r, ok := g.st.Removed[m.ID]; ok && r.FP == fp {
			kept = g.kept(m, r) || kept
			continue
		}
		if len(m.Shared) > 0 {
			// What was decided under the id before: those records keep
			// their one line (decideShared).
			before[m.ID] = g.st.Decided[m.ID] + sharedFPSep + g.st.Removed[m.ID].FP
		}
		delete(g.st.Removed, m.ID) // its id given to a new message
		delete(g.retryAt, m.ID)
		delete(g.st.Decided, m.ID) // an id the modem gave to a new message
		if w := g.waiting[m.ID]; w != nil && !w.incomplete && w.fp != fp {
			if len(m.Shared) > 0 && recordFingerprints(fp)[w.fp] {
				// Still listed, another message now beside it under
				// its id: not gone, decided with the others there
				// (never run), its intent settled by that decision.
				g.dropIntent(m.ID)
			} else {
				g.gone(m.ID, w)
			}
			delete(g.waiting, m.ID)
		}
		if len(m.Shared) > 0 {
			// Decided record by record, complete or not: none runs.
			shared = append(shared, m)
			continue
		}
		if !m.Complete {
			if w := g.waiting[m.ID]; w == nil || w.unreadable {
				g.logEach(m, decision{verdict: "incomplete", reason: "parts missing; left untouched until complete"})
				g.waiting[m.ID] = &waitingMsg{fp: fp, from: m.From, incomplete: true, ran: map[string]bool{}}
			} else if w.incomplete {
				// Firmware that lists the parts come so far grows the
				// text as parts arrive: the message is still the one
				// logged, and making room must still know it.
				w.fp = fp
			}
			continue
		}
		todo = append(todo, m)
	}
	g.noteUnreadable(unreadable, msgs)
	for id, w := range g.waiting {
		if !present[id] {
			if !w.incomplete {
				g.gone(id, w)
			}
			delete(g.waiting, id)
		}
	}
	for id := range g.st.Decided {
		if !present[id] {
			delete(g.st.Decided, id)
		}
	}
	for id := range g.unreadSaid {
		if !present[id] {
			delete(g.unreadSaid, id)
		}
	}
	for id := range g.st.Removed {
		if !present[id] {
			delete(g.st.Removed, id)
			delete(g.retryAt, id)
		}
	}
	if len(todo) > 0 {
		touched = g.pass(ctx, todo, now, g.newestOwn(msgs))
	}
	for _, m := range shared {
		g.decideShared(ctx, m, recordFingerprints(before[m.ID]), now, g.newestOwn(msgs))
	}
	retried := g.retryKept(ctx)
	if kept || retried {
		// Warned and tried at most lingerRetries times, even if smsgate
		// restarts in between.
		g.store.Save(g.st)
	}
	return retried || touched
}

const (
	// lingerRetries is how many more times the removal of a message the
	// modem said it deleted, and still lists, is tried; the first after
	// lingerBackoff, each next one four times later (1, 4, 16 minutes).
	lingerRetries = 3
	lingerWarning = "modem keeps a message it said it deleted"
)

// lingerBackoff is the wait before a removal is tried again after n tries
// (a count saved in the state, so wait(n), not Next): 1, 4, 16 minutes.
var lingerBackoff = backoff{first: time.Minute, factor: 4}

// kept notes that a message whose removal the modem confirmed is still
// listed: it stays decided (no new line, never run again), is warned
// about once, and its removal is tried again a few times with back-off.
// It reports whether it warned.
func (g *Gateway) kept(m SMS, r removedSMS) (warned bool) {
	if warned = !r.Kept; warned {
		r.Kept = true
		g.st.Removed[m.ID] = r
		g.log.Warn(lingerWarning, "id", m.ID, "from", m.From,
			"retries", lingerRetries, "then", "left in the inbox until it must make room")
	}
	if _, ok := g.retryAt[m.ID]; !ok && r.Tries < lingerRetries {
		g.retryAt[m.ID] = g.now().Add(lingerBackoff.wait(r.Tries))
	}
	return warned
}

// retryDue says whether the removal of a kept message is due.
func (g *Gateway) retryDue(now time.Time) bool {
	for _, at := range g.retryAt {
		if !now.Before(at) {
			return true
		}
	}
	return false
}

// retryKept tries again, in one request, the removals due, and reports
// whether it posted one. Quiet: the warning was said once per message, and
// the next listing shows whether the modem obeyed.
func (g *Gateway) retryKept(ctx context.Context) bool {
	now := g.now()
	var ids []int64
	for id, at := range g.retryAt {
		if now.Before(at) {
			continue
		}
		delete(g.retryAt, id) // the next listing schedules the next try
		g.removedNow[id] = true
		r := g.st.Removed[id]
		r.Tries++
		g.st.Removed[id] = r
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return false
	}
	slices.Sort(ids)
	if err := g.modem.Delete(ctx, ids...); err != nil {
		g.log.Debug("retried removal failed", "ids", ids, "err", err)
	}
	return true
}

// pass decides on todo in four steps, so that nothing runs before
// everything it consumed is off the modem: plan every decision, remove what
// the plan consumes in as few confirmed requests as the modem allows,
// decide again on what was removed (the state changes only now) and send
// the replies, then run the disruptive action, at most one.
func (g *Gateway) pass(ctx context.Context, todo []SMS, now, newestOwn time.Time) (touched bool) {
	planned, consume := g.plan(todo, now, newestOwn)
	removed, rmErr := g.consume(ctx, todo, planned, consume)
	o := &passOutcome{consume: consume, lastID: -1}
	p := g.newPass(g.st, now, newestOwn, true)
	g.decideRemoved(p, o, todo, planned, removed, rmErr, now)
	g.runDecided(ctx, p, o)
	g.finishPass(ctx, o)
	return len(consume) > 0
}

// passOutcome carries one pass's decisions from step to step.
type passOutcome struct {
	consume []int64      // what the plan took off the modem
	steps   []decidedSMS // decided, in inbox order
	// durable: an allowed sender's message was decided without being
	// consumed (a PIN lockout, -mark-read); judged afresh after a restart
	// it could run, so it is saved at once like what was consumed.
	durable bool
	replies []outgoing
	// last is the disruptive action (a reboot) that runs after the
	// replies, at most one per pass.
	last    func() error
	lastCmd string
	lastID  int64
}

type decidedSMS struct {
	m SMS
	v verdict
}

type outgoing struct {
	m    SMS
	text string
	cmd  string // for -reply-parts
}

// plan judges todo on a copy of the state: what would be consumed.
func (g *Gateway) plan(todo []SMS, now, newestOwn time.Time) ([]verdict, []int64) {
	plan := g.newPass(g.st.clone(), now, newestOwn, false)
	planned := make([]verdict, len(todo))
	var consume []int64
	for i, m := range todo {
		planned[i] = plan.judge(m)
		if planned[i].remove {
			consume = append(consume, m.ID)
		}
	}
	return planned, consume
}

// consume takes what the plan consumes off the modem, its intent saved
// first (write-ahead: a crash from here on leaves a trace, intent.go).
func (g *Gateway) consume(ctx context.Context, todo []SMS, planned []verdict, consume []int64) (map[int64]bool, error) {
	if len(consume) > 0 {
		g.intend(todo, planned)
		g.crashAt("intent saved")
	}
	removed, rmErr := g.removeAll(ctx, consume)
	g.crashAt("removed")
	for _, id := range consume {
		g.removedNow[id] = true // confirmed or not: the modem may have done it
	}
	return removed, rmErr
}

// decideRemoved decides again, on the real state, what the modem removed;
// what it did not confirm waits. The decisions are saved before anything
// runs: a crash, power cut or SIGKILL while a program runs must not leave
// a restarted smsgate to judge a command again (a modem may keep what it
// said it deleted) nor forget the rate count.
func (g *Gateway) decideRemoved(p *pass, o *passOutcome, todo []SMS, planned []verdict, removed map[int64]bool, rmErr error, now time.Time) {
	for i, m := range todo {
		v := planned[i]
		switch {
		case v.remove && !removed[m.ID]:
			v = verdict{decision: decision{verdict: "deferred", command: v.command,
				reason: "modem did not confirm removal: " + errString(rmErr)}}
		case v.remove:
			v = p.judge(m)
			stage := intentDecided
			if !v.run {
				stage = intentRan // nothing to run: settled once saved
			}
			g.intentStage(m.ID, stage, v.decision, "")
		}
		if v.verdict == "deferred" {
			g.deferMsg(m, v.decision)
			continue
		}
		delete(g.waiting, m.ID)
		if v.stranger {
			g.stranger(m, now)
		} else if !v.remove {
			o.durable = true
		}
		if !v.remove || g.cfg.MarkRead {
			g.st.Decided[m.ID] = fingerprint(m) // still in the inbox
		} else {
			// Until a listing no longer shows it: "success" only means
			// the modem accepted the delete.
			g.st.Removed[m.ID] = removedSMS{FP: fingerprint(m)}
		}
		o.steps = append(o.steps, decidedSMS{m, v})
		if !v.run {
			// Said now, saved below with the decision: a crash while a
			// command runs must not take its log line or forward
			// (witness: a stranger's message decided in the same pass as
			// a -cmd was never logged nor forwarded after a SIGKILL).
			g.record(m, v)
		}
	}
	// A pass that decided only strangers' messages changed only what
	// spares a log line.
	if len(o.consume) > 0 || o.durable {
		g.store.Save(g.st)
	} else {
		g.store.SaveSoon(g.st)
	}
	g.crashAt("decided saved")
}

// runDecided runs the commands decided (what runs nothing was logged as
// it was decided), logs each once it ran, and gathers the replies in
// inbox order.
func (g *Gateway) runDecided(ctx context.Context, p *pass, o *passOutcome) {
	var t staleTally
	for _, s := range o.steps {
		v := s.v
		if v.run {
			v = g.runOne(ctx, o, s.m, v)
			g.record(s.m, v)
		}
		o.keepReply(&t, s.m, v)
	}
	if t.n > 1 {
		o.replies[t.first].text += fmt.Sprintf("; %d more old commands not executed either", t.n-1)
	}
	// Whatever waits now was in the inbox before these commands ran.
	for _, w := range g.waiting {
		for k := range p.ran {
			w.ran[k] = true
		}
	}
	// Again before the reboot that would lose it, should running have
	// changed anything (a no-op otherwise).
	if len(o.consume) > 0 {
		g.store.Save(g.st)
	}
	g.crashAt("ran saved")
}

// record logs a decided message, once, and tells the owner's features.
func (g *Gateway) record(m SMS, v verdict) {
	g.logSMS(m, v.decision)
	g.own.decided(m, v)
}

// staleTally: a backlog of old commands (a cold boot, a modem that was
// off) is answered with one SMS, not one per command.
type staleTally struct{ first, n int }

// keepReply keeps m's reply for after the pass.
func (o *passOutcome) keepReply(t *staleTally, m SMS, v verdict) {
	if v.verdict == "stale" {
		if t.n++; t.n > 1 {
			return
		}
		t.first = len(o.replies)
	}
	if v.reply != "" {
		o.replies = append(o.replies, outgoing{m, v.reply, v.cmd.Name})
	}
}

// runOne runs one decided command; a disruptive one is kept for last.
func (g *Gateway) runOne(ctx context.Context, o *passOutcome, m SMS, v verdict) verdict {
	g.setHealth(healthBusy)
	g.heal.OwnerCommand(v.cmd.Name, g.now()) // the healer keeps the Pi's time
	reply, after, err := g.actions.Run(ctx, v.cmd)
	v.reply = reply
	if err != nil {
		v.verdict, v.reason = "failed", err.Error()
	}
	if after != nil {
		o.last, o.lastCmd, o.lastID = after, v.command, m.ID
	}
	g.crashAt("ran")
	if after == nil {
		// Known to have run: a crash from here on sends the reply, never
		// runs it again.
		g.intentStage(m.ID, intentRan, v.decision, v.reply)
		g.store.Save(g.st)
	}
	return v
}

// finishPass sends the replies, settles the intents, then runs the
// disruptive action.
func (g *Gateway) finishPass(ctx context.Context, o *passOutcome) {
	for _, r := range o.replies {
		if err := g.sendReply(ctx, r.m, r.text, r.cmd); err != nil {
			g.log.Warn("reply failed", "id", r.m.ID, "to", g.replyTo(r.m), "err", err)
		}
	}
	g.crashAt("replied")
	if g.settleIntents(o.consume, o.lastID) {
		g.store.Save(g.st)
	}
	g.crashAt("settled")
	if o.last != nil {
		g.setHealth(healthBusy)
		if err := o.last(); err != nil {
			g.log.Error("action failed after reply", "command", o.lastCmd, "err", err)
		}
		g.dropIntent(o.lastID)
		g.store.Save(g.st)
	}
}

// replyTo is where a reply to m goes: the -allow number its sender
// matched, in international form (README: replies always go to the allowed
// number), never the raw sender string, which the network may give in a
// national or spaced form. Only allowed senders are answered.
func (g *Gateway) replyTo(m SMS) string {
	if k := normalizeNumber(m.From, g.cfg.CountryCode); g.allow[k] {
		return string(k)
	}
	return m.From
}

func errString(err error) string {
	if err == nil {
		return "not removed"
	}
	return err.Error()
}

// deferMsg keeps m for a later pass, with one log line however many polls
// it waits.
func (g *Gateway) deferMsg(m SMS, d decision) {
	fp := fingerprint(m)
	if w := g.waiting[m.ID]; w != nil && !w.incomplete && w.fp == fp {
		return
	}
	ran := map[string]bool{}
	if w := g.waiting[m.ID]; w != nil {
		ran = w.ran
	}
	g.waiting[m.ID] = &waitingMsg{fp: fp, from: m.From, ran: ran}
	g.logSMS(m, d)
}

// gone logs a deferred message that left the inbox before it was decided:
// the modem removed it without confirming, so it never runs.
func (g *Gateway) gone(id int64, w *waitingMsg) {
	g.dropIntent(id)
	g.log.Info("sms", "id", id, "from", w.from, "decision", "gone", "command", "",
		"reason", "left the inbox before its removal was confirmed; not run")
}

// removeAll takes the consumed messages off the modem (or marks them
// read) and returns those it confirmed. One request for all; when the
// modem refuses it, one per message, so that one record the modem will
// not remove cannot hold back the others.
func (g *Gateway) removeAll(ctx context.Context, ids []int64) (map[int64]bool, error) {
	removed := map[int64]bool{}
	if len(ids) == 0 {
		return removed, nil
	}
	op := g.modem.Delete
	if g.cfg.MarkRead && g.canMarkRead() {
		op = g.modem.MarkRead
	}
	err := op(ctx, ids...)
	if err == nil {
		for _, id := range ids {
			removed[id] = true
		}
		return removed, nil
	}
	if len(ids) == 1 || !errors.Is(err, errRefused) {
		return removed, err
	}
	for _, id := range ids {
		e := op(ctx, id)
		if e == nil {
			removed[id] = true
			continue
		}
		err = e
		if !errors.Is(e, errRefused) {
			break // the modem is gone, not refusing: try again next poll
		}
	}
	return removed, err
}

// reference is the time to judge by: the Pi's clock when it is
// plausible, otherwise the newest SMS date seen, so that a backlog of old
// commands is still old after a cold boot without network time.
func (g *Gateway) reference(msgs []SMS) time.Time {
	pi := g.now()
	piOK := plausible(pi)
	g.piClock = piOK
	var newest time.Time
	for _, m := range msgs {
		if !plausible(m.Time) || (piOK && m.Time.After(pi.Add(24*time.Hour))) {
			continue
		}
		if g.st.Decided[m.ID] == fingerprint(m) {
			continue // counted when first seen, under the clock of then
		}
		if m.Time.After(newest) {
			newest = m.Time
		}
	}
	// While the Pi's clock is right, a date ahead of it is wrong or
	// forged: remembered, it would make every command "stale" after the
	// next cold boot without network time.
	if piOK && newest.After(pi) {
		newest = pi
	}
	if piOK && g.st.NewestSMS.After(pi) {
		g.st.NewestSMS = pi // remembered from a wrong clock, or an older smsgate
	}
	if newest.After(g.st.NewestSMS) {
		g.st.NewestSMS = newest
	}
	if piOK || g.st.NewestSMS.IsZero() {
		return pi
	}
	return g.st.NewestSMS
}

// pass is one pass's view while deciding: the state decided against and
// the commands already run in this pass.
type pass struct {
	g   *Gateway
	st  *State
	now time.Time
	// newestOwn is the newest plausible date of an allowed sender's SMS in
	// the inbox: what the commands run in this pass are dated by (see
	// watermark).
	newestOwn  time.Time
	ran        map[string]bool
	disruptive bool
	live       bool // false while planning: say nothing
}

func (g *Gateway) newPass(st *State, now, newestOwn time.Time, live bool) *pass {
	return &pass{g: g, st: st, now: now, newestOwn: newestOwn, ran: map[string]bool{}, live: live}
}

// watermark dates a command that runs now from SMS m: a copy from the same
// sender dated no later than it was already in the inbox, or older than
// something that was, when it ran. Only the allowed senders' SMS date it:
// they come through the same network, in the same zone convention, while a
// stranger's date can be anything, and one far in the future would make
// every later command of the owner a "duplicate". It is also no later than
// the command's own date or the Pi's clock, whichever is later, so that a
// spoofed allowed number that fails the PIN cannot push it forward either.
// sent is m's own date, zero when implausible.
func (p *pass) watermark(m SMS) (before, sent time.Time) {
	if plausible(m.Time) {
		sent = m.Time
	}
	before = p.newestOwn
	if before.IsZero() {
		before = p.now
	}
	if b := ranBound(sent, p.g.now()); before.After(b) {
		before = b
	}
	return before, sent
}

// ranBound is the latest watermark a command sent at sent (zero if
// unknown) may have when the Pi's clock reads pi; zero when neither can be
// trusted. An SMS date may run ahead of the Pi (an SMSC's clock, a zone
// read in the other unit), but not by more than ranKeep: a date further
// ahead is no clock's (a state file edited or written by a clock set
// years ahead), and trusted it would make every later command of the
// owner a duplicate.
func ranBound(sent, pi time.Time) time.Time {
	if plausible(pi) {
		if lim := pi.Add(ranKeep); sent.After(lim) {
			return lim
		}
		if sent.After(pi) {
			return sent
		}
		return pi
	}
	return sent
}

func plausible(t time.Time) bool { return !t.IsZero() && t.Year() >= plausibleEpoch }

// boundRan forgets, once the Pi's clock is plausible, the remembered
// watermarks beyond their bound: a state file written by an older
// smsgate, which dated them by any sender's SMS, must not make the
// owner's commands "duplicates" for a day. Copies of such a command are
// still known by id and content (State.Removed) while the modem lists
// them.
func (g *Gateway) boundRan() {
	pi := g.now()
	if !plausible(pi) {
		return
	}
	g.st.Ran = slices.DeleteFunc(g.st.Ran, func(r ranCommand) bool {
		return r.Before.After(ranBound(r.Sent, pi))
	})
}

// newestOwn is the newest plausible date of an allowed sender's SMS in
// msgs that could be a command from it: complete, and starting with the
// PIN when there is one. A spoof from an allowed number that fails the PIN,
// or a fragment that never completes, must not date the watermark past
// the owner's own SMS (their SMSC may stamp them behind the Pi's clock).
func (g *Gateway) newestOwn(msgs []SMS) time.Time {
	var newest time.Time
	for _, m := range msgs {
		if !plausible(m.Time) || !m.Time.After(newest) || !m.Complete || !g.allow[normalizeNumber(m.From, g.cfg.CountryCode)] {
			continue
		}
		if g.cfg.PIN != "" {
			if _, ok := stripPIN(m.Text, g.cfg.PIN); !ok {
				continue
			}
		}
		newest = m.Time
	}
	return newest
}

// verdict is a decision and what it takes.
type verdict struct {
	decision
	cmd    Command
	run    bool   // execute cmd
	remove bool   // consumed: off the modem before anything runs
	reply  string // to the sender
	// stranger: the sender is not in -allow (counted for the flood alert)
	stranger bool
}

// judge applies the policy to one complete message.
func (p *pass) judge(m SMS) verdict {
	g, st, now := p.g, p.st, p.now
	from := normalizeNumber(m.From, g.cfg.CountryCode)
	ignored := func(reason string) verdict {
		return verdict{decision: decision{verdict: "ignored", reason: reason}}
	}
	consumed := func(d decision, reply string) verdict {
		return verdict{decision: d, remove: true, reply: reply}
	}
	if !g.allow[from] {
		v := ignored("sender not in -allow; left in the inbox")
		v.stranger = true
		return v
	}
	if g.cfg.MarkRead && m.Read && g.markedByUs[m.ID] != fingerprint(m) {
		return ignored("already read (-mark-read)")
	}
	if g.cfg.TOTP != nil && copyOf(st.TOTPUsed, m.ID, fingerprint(m)) {
		// Before the lockout and the code: a copy is no new attempt.
		return consumed(decision{verdict: "duplicate", reason: "copy of a message already accepted (same sender, date and text)"}, "")
	}
	if _, seen := st.WrongSecret[fingerprint(m)]; seen && g.cfg.secret() != secretNone {
		// Before the lockout and the code, as for an accepted one.
		return consumed(decision{verdict: "duplicate", reason: "copy of a message already refused (same sender, date and text): not another attempt"}, "")
	}
	if _, seen := st.SharedID[fingerprint(m)]; seen {
		// Refused, and the sender told, while its id was shared with
		// another message: listed alone now, it is the same message.
		return consumed(decision{verdict: "duplicate", reason: "refused before while its id was shared with another message (the sender was told)"}, "")
	}
	if until := st.LockedUntil[from]; now.Before(until) {
		return ignored("sender locked out after wrong PINs until " + until.Format(time.RFC3339))
	}
	text := m.Text
	if g.cfg.secret() != secretNone {
		rest, err := g.checkSecret(st, m, now)
		if err != nil {
			st.WrongSecret[fingerprint(m)] = now
			fails := append(recent(st.PINFails[from], now, pinFailWindow), now)
			st.PINFails[from] = fails
			reply := fmt.Sprintf("%s (%d more and this number is ignored for 1h)", err, pinFailLimit-len(fails))
			reason := err.Error()
			if len(fails) >= pinFailLimit {
				st.LockedUntil[from] = now.Add(pinLockout)
				delete(st.PINFails, from)
				reply, reason = "", err.Error()+"; number ignored for 1h"
				if p.live {
					g.log.Warn("sender locked out after wrong PINs", "from", m.From, "until", now.Add(pinLockout).Format(time.RFC3339))
				}
			}
			return consumed(decision{verdict: "rejected", reason: reason}, reply)
		}
		text = rest
	}
	cmd, err := g.actions.parseExplained(text)
	switch {
	case errors.Is(err, errUnknownCommand):
		return consumed(decision{verdict: "rejected", reason: "unknown command"}, unknownCommandReply)
	case err != nil:
		// A known command with a wrong argument: say what is wrong.
		return consumed(decision{verdict: "rejected", reason: "bad argument: " + err.Error()}, badArgumentPrefix+err.Error())
	}
	d := decision{command: cmd.String()}
	sent := p.age(m)
	if sent.known && g.cfg.MaxAge > 0 && sent.age > g.cfg.MaxAge {
		d.verdict, d.reason = "stale", fmt.Sprintf("sent %s ago, -max-age %s", sent.age.Round(time.Minute), g.cfg.MaxAge)
		if sent.note != "" {
			d.reason += "; " + sent.note
		}
		return consumed(d, fmt.Sprintf("not executed: '%s' is %s old (max %s)", cmd.Name, shortDuration(sent.age), shortDuration(g.cfg.MaxAge)))
	}
	key := string(from) + "|" + cmd.String()
	if why := p.duplicate(m, from, cmd, key); why != "" {
		d.verdict, d.reason = "duplicate", why
		return consumed(d, "")
	}
	if v, ok := p.admit(m, from, cmd, key, d); !ok {
		return v
	}
	d.verdict, d.reason = "executed", "authorised"
	if g.cfg.secret() != secretNone {
		d.reason = "authorised, " + g.cfg.secret().String() + " ok"
	}
	if sent.note != "" {
		d.reason += "; " + sent.note
	}
	return verdict{decision: d, cmd: cmd, run: true, remove: true}
}

// admit applies the limits every command meets, from an SMS or a call
// (-on-call): the rate, the reboot interval, one disruptive command per
// pass. An admitted command is counted and recorded at once; ok false: v
// says why not.
func (p *pass) admit(m SMS, from phoneKey, cmd Command, key string, d decision) (v verdict, ok bool) {
	g, st, now := p.g, p.st, p.now
	window := recent(st.Executed[from], now, time.Hour)
	if len(window) >= g.cfg.Rate {
		d.verdict, d.reason = "rejected", fmt.Sprintf("rate limit: %d commands in the last hour", len(window))
		reply := ""
		// Said once per episode: each reply would cost an SMS, and a
		// spoofer could make smsgate text the owner without end.
		if _, told := st.RateTold[from]; !told {
			st.RateTold[from] = now
			reply = fmt.Sprintf("not executed: over -rate %d an hour; next possible in %s; until then commands are refused without a reply",
				g.cfg.Rate, shortDuration(window[0].Add(time.Hour).Sub(now)))
		}
		return verdict{decision: d, remove: true, reply: reply}, false
	}
	if cmd.RebootLimited() {
		if why := g.rebootTooSoon(st, now); why != "" {
			d.verdict, d.reason = "rejected", why
			return verdict{decision: d, remove: true, reply: "reboot refused: " + why}, false
		}
	}
	if cmd.Disruptive() && p.disruptive {
		d.verdict, d.reason = "deferred", "one disruptive command per pass; it is looked at again next poll"
		return verdict{decision: d}, false
	}
	p.ran[key] = true
	p.disruptive = p.disruptive || cmd.Disruptive()
	st.Executed[from] = append(window, now)
	delete(st.RateTold, from)
	if cmd.RebootLimited() {
		st.LastReboot, st.RebootBy = now, "command"
	}
	before, sentAt := p.watermark(m)
	st.Ran = append(st.Ran, ranCommand{From: from, Command: cmd.String(), Before: before, Sent: sentAt})
	return verdict{}, true
}

// duplicate says why m repeats a command that already ran after m was
// sent, or "".
func (p *pass) duplicate(m SMS, from phoneKey, cmd Command, key string) string {
	if p.ran[key] {
		return "same command already executed in this pass"
	}
	if w := p.g.waiting[m.ID]; w != nil && w.fp == fingerprint(m) && w.ran[key] {
		return "same command executed while this SMS waited"
	}
	if m.Time.IsZero() || m.Time.Year() < plausibleEpoch {
		return ""
	}
	for _, r := range p.st.Ran {
		if r.From == from && r.Command == cmd.String() && !m.Time.After(r.Before) {
			return "same command already executed after this SMS was sent"
		}
	}
	return ""
}

// fingerprint tells a message from a later one under the same id: a
// modem may give a deleted message's id to the next one, in the same
// second, from the same sender, with a text of the same length.
func fingerprint(m SMS) string {
	if len(m.Shared) > 0 {
		return sharedFingerprint(m)
	}
	h := sha256.New()
	for _, s := range []string{m.RawDate, m.From, m.Store, m.Text} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// sharedFingerprint is the fingerprint of different messages listed under
// one id, decided as one: a change in any is a change of the whole. It is
// their own fingerprints, sorted (the listing's order is no change: an
// unsorted database lists them in any order) and joined by
// sharedFPSep, so that what was decided before can be told record by
// record (recordFingerprints).
func sharedFingerprint(m SMS) string {
	recs := m.records()
	fps := make([]string, 0, len(recs))
	for _, r := range recs {
		fps = append(fps, fingerprint(r))
	}
	slices.Sort(fps)
	return strings.Join(fps, sharedFPSep)
}

// sharedFPSep joins the records' fingerprints in a shared id's: never in
// a single record's (hex).
const sharedFPSep = "+"

// recordFingerprints is the set of records' fingerprints in fp, a single
// record's or a shared id's.
func recordFingerprints(fp string) map[string]bool {
	out := map[string]bool{}
	if fp == "" {
		return out
	}
	for _, f := range strings.Split(fp, sharedFPSep) {
		out[f] = true
	}
	return out
}

func (g *Gateway) logSMS(m SMS, d decision) {
	attrs := []any{"id", m.ID, "from", m.From, "decision", d.verdict, "command", d.command, "reason", d.reason}
	if d.verdict == "ignored" || d.verdict == "incomplete" {
		// Left for the owner: keep the whole text in the log.
		attrs = append(attrs, "text", g.logText(m), "date", sanitizeText(m.RawDate))
	}
	if m.Problem != "" {
		attrs = append(attrs, "problem", m.Problem)
	}
	g.log.Info("sms", attrs...)
}

// logText is m's text as the log may show it: never the owner's PIN (nor
// a one-time code).
func (g *Gateway) logText(m SMS) string {
	text := sanitizeText(m.Text)
	if g.cfg.secret() == secretNone {
		return text
	}
	if g.allow[normalizeNumber(m.From, g.cfg.CountryCode)] {
		// The first word is where a PIN goes, right or mistyped.
		lead := len(text) - len(strings.TrimLeftFunc(text, unicode.IsSpace))
		word := len(text)
		if i := strings.IndexFunc(text[lead:], unicode.IsSpace); i >= 0 {
			word = lead + i
		}
		if word > lead {
			text = text[:lead] + "****" + text[word:]
		}
	}
	if g.cfg.PIN != "" {
		text = strings.ReplaceAll(text, g.cfg.PIN, "****")
	}
	return text
}

// dateSlack is how far ahead of the Pi's clock an SMS date may lie and
// still count as sent now: clocks drift.
const dateSlack = 5 * time.Minute

// smsAge is how old an SMS is, as far as its date tells.
type smsAge struct {
	age   time.Duration
	known bool
	note  string // how the date was read, when that was not plain: for the log
}

// age is how old m is at the pass's time, when both can be trusted. A zone
// written in hours or in quarter hours (see smsDateReadings) is read in
// hours only when that makes the SMS younger without putting it in the
// future: the reading that makes it older is never chosen over one that
// makes it fresh, because the Pi's clock can be hours behind (a power cut
// under fake-hwclock, no network time while the line is down) exactly when
// the owner texts, and a fresh command must not be refused for its zone's
// unit. A date in the future cannot be aged and does not make a command
// stale: an SMSC with a wrong clock must not lock the owner out. Without a
// plausible Pi clock, dates are compared with each other only, each read
// one way, which the unit cannot change.
func (p *pass) age(m SMS) smsAge {
	now := p.now
	if now.Year() < plausibleEpoch || m.Time.IsZero() || m.Time.Year() < plausibleEpoch {
		return smsAge{}
	}
	t, note := m.Time, ""
	if p.g.piClock {
		if h := zoneInHours(m, now); !h.IsZero() {
			t, note = h, "zone read in hours"
		}
	}
	if t.After(now.Add(dateSlack)) {
		return smsAge{note: "date in the future: age unknown"}
	}
	return smsAge{age: max(now.Sub(t), 0), known: true, note: note}
}

// zoneInHours is m's date with its zone read in hours, when age's rule
// takes that reading at now (by a plausible Pi clock): it makes m younger
// and not future. Zero otherwise.
func zoneInHours(m SMS, now time.Time) time.Time {
	if _, h, err := smsDateReadings(m.RawDate); err == nil && !h.IsZero() && !h.After(now.Add(dateSlack)) && h.After(m.Time) {
		return h
	}
	return time.Time{}
}

func (g *Gateway) rebootTooSoon(st *State, now time.Time) string {
	if plausible(now) {
		st.LastReboot = notAfter(st.LastReboot, now) // a clock corrected back
	}
	if !st.LastReboot.IsZero() && now.Sub(st.LastReboot) < g.cfg.RebootInterval {
		return fmt.Sprintf("last reboot %s ago (at most one per %s)", shortDuration(max(now.Sub(st.LastReboot), 0)), shortDuration(g.cfg.RebootInterval))
	}
	// A dry run reboots nothing, so the time since boot does not matter.
	if up, err := g.actions.host.Uptime(); err == nil && up < g.cfg.RebootInterval && !g.actions.dryRun && !g.actions.noReboot {
		return fmt.Sprintf("the Pi booted %s ago (at most one reboot per %s)", shortDuration(up), shortDuration(g.cfg.RebootInterval))
	}
	return ""
}

// recent returns the times within window of now, in a new slice: the
// caller's stays as it was.
func recent(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	var out []time.Time
	for _, t := range ts {
		if now.Sub(t) < window {
			out = append(out, t)
		}
	}
	return out
}

// makeRoom deletes the oldest messages nobody waits for when the modem's
// memory is nearly full: a full inbox stops commands from arriving. msgs
// is the list this poll read. It reports whether it deleted any.
func (g *Gateway) makeRoom(ctx context.Context, msgs []SMS) bool {
	c, err := g.modem.Capacity(ctx)
	if err != nil || c.Total <= 0 || c.Used < c.Total-inboxReserve {
		if err == nil {
			// A new episode, but what the modem kept is still known as
			// kept: it is not logged, chosen or warned about again.
			g.room = g.room.stillListed(msgs)
		}
		return false
	}
	if len(g.removedNow) > 0 {
		// This poll removed messages since msgs was read, and a modem may
		// give a removed message's id to a new one at once: deleting by
		// that list would delete the new one unseen, and log another's
		// text for it. The victims come from the inbox as it is now.
		if msgs, err = g.modem.Inbox(ctx); err != nil {
			return false
		}
	}
	need := c.Used - (c.Total - 2*inboxReserve)
	// kept: deleted to make room before, and still listed (the modem kept
	// what it said it deleted). They are not chosen, logged or counted
	// again: their deletion is retried on its own schedule, and room is
	// made with the others.
	var kept, victims []SMS
	listed := 0
	for _, m := range msgs {
		if m.Store != "device" {
			continue
		}
		listed++
		if g.removedNow[m.ID] || m.Unreadable != "" || !g.leftDecided(m) {
			// Unreadable: it may be the owner's command (never deleted).
			continue
		}
		if fp, ok := g.room.fps[m.ID]; ok && fp == fingerprint(m) {
			kept = append(kept, m)
		} else {
			victims = append(victims, m)
		}
	}
	// Oldest first; an undated one counts as oldest.
	sort.SliceStable(victims, func(i, j int) bool { return victims[i].Time.Before(victims[j].Time) })
	victims = victims[:min(max(need, 0), len(victims))]
	if g.room.freedSome(msgs) {
		g.room.works = true
	}
	if len(kept) > 0 && !g.room.works {
		// Nothing deleted was freed: others would be kept too.
		victims = nil
	}
	now := g.now()
	retryKept := len(kept) > 0 && g.room.tries < lingerRetries && !now.Before(g.room.next)
	if len(kept) > 0 && !g.room.keptWarned {
		g.room.keptWarned = true
		g.log.Warn(lingerWarning, "messages", len(kept), "while", "making room",
			"retries", lingerRetries, "then", "left until other messages can go")
	}
	// The listing lost messages since the last deletion and the memory
	// counter did not go down: a counter that does not follow would have
	// every message left for the owner deleted within a few polls. New
	// deletions then wait on the same back-off, and stop after it.
	stuck := len(kept) == 0 && len(g.room.fps) > 0 && c.Used >= g.room.used && listed < g.room.listed
	if stuck && !g.room.warned {
		g.room.warned = true
		g.log.Warn(stuckCounterWarning, "used", c.Used, "total", c.Total, "listed", listed,
			"retries", lingerRetries, "then", "no more deleted until it goes down")
	}
	if stuck && (g.room.tries >= lingerRetries || now.Before(g.room.next)) {
		victims = nil
	}
	if len(victims) == 0 && !retryKept {
		return false
	}
	ids := make([]int64, 0, len(victims)+len(kept))
	for _, m := range victims {
		ids = append(ids, m.ID)
		for _, r := range m.records() {
			g.log.Info("inbox full: deleting", "id", r.ID, "from", r.From, "date", sanitizeText(r.RawDate),
				"complete", r.Complete, "text", g.logText(r))
		}
	}
	last := map[int64]string{}
	for _, m := range victims {
		last[m.ID] = fingerprint(m)
	}
	if retryKept {
		for _, m := range kept {
			ids = append(ids, m.ID)
			last[m.ID] = fingerprint(m)
		}
	}
	if err := g.modem.Delete(ctx, ids...); err != nil {
		g.log.Warn("inbox full and the modem refused to delete", "err", err)
		return false
	}
	if retryKept || stuck {
		g.room.tries++
	}
	if len(kept) == 0 && !stuck {
		g.room = roomTry{fps: map[int64]string{}, used: c.Used, listed: listed, works: g.room.works}
	}
	// What was decided stays so until the next listing no longer shows
	// it: a modem that keeps what it said it deleted must not have it
	// decided again.
	for _, m := range victims {
		g.room.fps[m.ID] = fingerprint(m)
	}
	g.room.used, g.room.listed, g.room.last = c.Used, listed, last
	g.room.next = now.Add(lingerBackoff.wait(g.room.tries))
	g.log.Warn("inbox was full", "deleted", len(ids), "total", c.Total, "used", c.Used)
	if now := g.now(); g.st.LastNotice.IsZero() || now.Sub(g.st.LastNotice) > fullNoticeGap {
		g.st.LastNotice = now
		g.alert(now, fmt.Sprintf("modem inbox was full; deleted %d oldest messages (kept in the log)", len(ids)))
	}
	return true
}

// leftDecided says whether m, by id and content, is a message that may go
// to make room: decided and left for the owner (or deleted once and kept
// by the modem); or a stranger's long SMS missing parts, which may never
// complete (a flood of first parts would fill the inbox for good). Never a
// message not decided yet, nor a command still waiting, nor the owner's
// incomplete one, nor an id shared with the owner's message (a delete by
// id would take it too); never a new message under a decided one's id.
// (makeRoom never chooses an unreadable record either.)
func (g *Gateway) leftDecided(m SMS) bool {
	fp := fingerprint(m)
	if len(m.Shared) > 0 && g.ownerIn(m) {
		// Deleting by id would delete the owner's message too, which was
		// not run: it is left for the owner, like an incomplete one.
		return false
	}
	if g.st.Decided[m.ID] == fp {
		return true
	}
	if r, ok := g.st.Removed[m.ID]; ok && r.FP == fp {
		return true
	}
	w := g.waiting[m.ID]
	return w != nil && w.incomplete && !w.unreadable && w.fp == fp && !g.ownerIn(m)
}

// ownerIn says whether any record listed under m's id is from an allowed
// sender.
func (g *Gateway) ownerIn(m SMS) bool {
	for _, r := range m.records() {
		if g.allow[normalizeNumber(r.From, g.cfg.CountryCode)] {
			return true
		}
	}
	return false
}

// roomTry is a deletion made to make room: the messages (id ->
// fingerprint), the times it was tried again, and when it may be next;
// and the memory counter and the listing's length before it, to tell a
// counter that does not go down.
type roomTry struct {
	fps          map[int64]string
	tries        int
	next         time.Time
	used, listed int
	warned       bool             // about a counter that does not go down
	keptWarned   bool             // about messages the modem kept
	last         map[int64]string // what the last deletion asked for
	works        bool             // a deletion freed something
}

// freedSome says whether the last deletion freed anything: one of the
// messages it asked for is no longer listed as it was.
func (r roomTry) freedSome(msgs []SMS) bool {
	listed := map[int64]string{}
	for _, m := range msgs {
		listed[m.ID] = fingerprint(m)
	}
	for id, fp := range r.last {
		if listed[id] != fp {
			return true
		}
	}
	return false
}

// stillListed is r for a new episode: only the kept messages still listed,
// with their tries, schedule and warning.
func (r roomTry) stillListed(msgs []SMS) roomTry {
	out := roomTry{fps: map[int64]string{}, tries: r.tries, next: r.next, keptWarned: r.keptWarned, works: r.works || r.freedSome(msgs)}
	for _, m := range msgs {
		if fp, ok := r.fps[m.ID]; ok && fp == fingerprint(m) {
			out.fps[m.ID] = fp
		}
	}
	if len(out.fps) == 0 {
		return roomTry{}
	}
	return out
}

const stuckCounterWarning = "modem's memory counter did not go down after deleting to make room"

// StartAlert queues the "smsgate up" alert when it is due.
func (g *Gateway) StartAlert(cause bootCause, always bool) {
	up, err := g.actions.uptime()
	if err != nil {
		g.log.Warn("uptime unknown; no start alert", "err", err)
		return
	}
	now := g.now()
	if g.store.dir != "" {
		cause.stateKnown = true
		cause.asked = askedReboot(g.st, now, up)
	}
	if text, due := startAlert(now, up, cause, always); due {
		// Said once smsgate has run a while: a process that crashes and is
		// restarted again and again must not text on every start.
		g.startText, g.startAt = text, now
	}
}

// startAlertDelay is how long smsgate runs before it says it is up.
const startAlertDelay = time.Minute

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
	if g.canSend {
		g.sendReports(ctx) // what a crash left (intent.go)
	}
	g.flushAlerts(ctx)
	g.own.tend(ctx)
}

func (g *Gateway) flushAlerts(ctx context.Context) {
	g.started()
	if g.startText != "" && g.now().Sub(g.startAt) >= startAlertDelay {
		g.alert(g.startAt, g.startText)
		g.startText = ""
	}
	if g.canSend && g.alerts.Pending() > 0 {
		sent := g.alerts.Sent()
		g.alerts.Flush(ctx, g.now(), func(ctx context.Context, number, text string) error {
			return g.modem.Send(ctx, number, text)
		})
		if now := g.alerts.Sent(); len(now) != len(sent) {
			g.st.AlertsSent = now
			g.store.Save(g.st) // -alert-max holds across restarts
		}
	}
}

// loginHeld alerts once per hold of the modem login.
func (g *Gateway) loginHeld(le *LoginError) {
	g.own.loginHeld(le)
	if g.loginAlerted || le.Busy || le.Unjudged {
		// The owner in the web UI is told nothing: they know. A refusal
		// that may not be about the password (another login raced ours)
		// is not theirs to fix.
		return
	}
	g.loginAlerted = true
	g.alert(g.now(), "modem login held to save your attempts: "+le.Reason)
}

// stranger counts a message from a stranger, the first time it is decided,
// and alerts on a flood; now is the reference clock.
func (g *Gateway) stranger(m SMS, now time.Time) {
	if m.Read {
		return // read before smsgate first saw it: the owner knows of it
	}
	at := m.Time
	if g.piClock {
		// Dated as age dates it: firmware writing negative zones in hours
		// would otherwise put every stranger's SMS hours back.
		if h := zoneInHours(m, now); !h.IsZero() {
			at = h
		}
	}
	if !g.strangers.add(at, now) {
		return
	}
	if g.lastFlood.IsZero() || now.Sub(g.lastFlood) > fullNoticeGap {
		g.lastFlood = now
		// A flood found in the inbox at start is told once smsgate has
		// run a while, as the start alert: a process restarted again and
		// again (without -state-dir) must not text at every start.
		g.alerts.AddAfter(now, fmt.Sprintf("%d SMS from strangers within an hour; ignored and left in the inbox (see the log)", strangerFlood),
			g.started().Add(startAlertDelay))
	}
}

// started is when the first poll reached the modem, by the Pi's clock.
func (g *Gateway) started() time.Time {
	if g.began.IsZero() {
		g.began = g.now()
	}
	return g.began
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

func (h gatewayHeal) PiRebootRefused() string { return h.g.rebootTooSoon(h.g.st, h.g.now()) }

func (h gatewayHeal) RebootPi(ctx context.Context) error {
	now := h.g.now()
	h.g.st.LastReboot, h.g.st.RebootBy = now, "healing"
	h.g.store.Save(h.g.st) // before the reboot that would lose it
	h.g.flushAlerts(ctx)   // nothing is said after a reboot
	return h.g.actions.rebootPi(ctx, "healing")
}
