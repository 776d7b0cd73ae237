package main

import "time"

// A state file written while the Pi's clock was ahead (then corrected by
// network time) holds times in the future. Trusted, a lockout saved two
// days ahead would ignore the owner for two days. Every saved time is
// bounded against the Pi's clock when it is plausible, on load (the first
// poll) and on every use: nothing waits longer than its rule says from
// now. A time ahead counts as now (a wrong PIN, a command run, a reboot,
// an alert sent, a healing step), so no limit is lost, only shortened to
// what its rule allows.

// notAfter is t, or now when t lies after now.
func notAfter(t, now time.Time) time.Time {
	if t.After(now) {
		return now
	}
	return t
}

// boundTimes puts every time in ts no later than now, in place.
func boundTimes(ts []time.Time, now time.Time) {
	for i, t := range ts {
		ts[i] = notAfter(t, now)
	}
}

// bounder caps times against a plausible now, and says whether it
// changed any: a bounded state is saved at once, so that a restart does not
// grant a far-future lockout or pause its rule again from its own now.
type bounder struct {
	now     time.Time
	changed bool
}

func (b *bounder) notAfter(t time.Time) time.Time {
	if t.After(b.now) {
		b.changed = true
		return b.now
	}
	return t
}

// within is t, or now+d when t lies beyond it.
func (b *bounder) within(t time.Time, d time.Duration) time.Time {
	if lim := b.now.Add(d); t.After(lim) {
		b.changed = true
		return lim
	}
	return t
}

func (b *bounder) all(ts []time.Time) {
	for i := range ts {
		ts[i] = b.notAfter(ts[i])
	}
}

// bound applies the rules above to s at now, and says whether it changed
// anything; nothing when now is not a plausible clock (the times saved may
// then be the right ones).
func (s *State) bound(now time.Time) bool {
	if !plausible(now) {
		return false
	}
	b := &bounder{now: now}
	for k, until := range s.LockedUntil {
		s.LockedUntil[k] = b.within(until, pinLockout)
	}
	for _, ts := range s.PINFails {
		b.all(ts)
	}
	for fp, t := range s.WrongSecret {
		s.WrongSecret[fp] = b.notAfter(t)
	}
	for _, ts := range s.Executed {
		b.all(ts)
	}
	for k, t := range s.RateTold {
		s.RateTold[k] = b.notAfter(t)
	}
	for _, ts := range s.HealSteps {
		b.all(ts)
	}
	b.all(s.AlertsSent)
	if !s.LoginRefusals.Until.IsZero() {
		s.LoginRefusals.Until = b.within(s.LoginRefusals.Until, loginHoldBound)
	}
	s.LastReboot = b.notAfter(s.LastReboot)
	s.LastNotice = b.notAfter(s.LastNotice)
	// Ran is bounded by its own rule (Gateway.boundRan): brought to now,
	// a watermark would make a command sent now a duplicate.
	s.Owner.bound(b)
	return b.changed
}

// boundTimes bounds what the gateway keeps of the state and what its
// healer and alerts took from it.
func (g *Gateway) boundTimes(now time.Time) {
	if !plausible(now) {
		return
	}
	if g.st.bound(now) {
		g.store.Save(g.st)
	}
	for s := range g.heal.taken {
		boundTimes(g.heal.taken[s], now)
	}
	boundTimes(g.alerts.sent, now)
}
