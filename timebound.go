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

// bound applies the rules above to s at now; nothing when now is not a
// plausible clock (the times saved may then be the right ones).
func (s *State) bound(now time.Time) {
	if !plausible(now) {
		return
	}
	for k, until := range s.LockedUntil {
		if lim := now.Add(pinLockout); until.After(lim) {
			s.LockedUntil[k] = lim
		}
	}
	for _, ts := range s.PINFails {
		boundTimes(ts, now)
	}
	for fp, t := range s.WrongSecret {
		s.WrongSecret[fp] = notAfter(t, now)
	}
	for _, ts := range s.Executed {
		boundTimes(ts, now)
	}
	for k, t := range s.RateTold {
		s.RateTold[k] = notAfter(t, now)
	}
	for _, ts := range s.HealSteps {
		boundTimes(ts, now)
	}
	boundTimes(s.AlertsSent, now)
	if !s.LastReboot.IsZero() {
		s.LastReboot = notAfter(s.LastReboot, now)
	}
	if !s.LastNotice.IsZero() {
		s.LastNotice = notAfter(s.LastNotice, now)
	}
	// Ran is bounded by its own rule (Gateway.boundRan): brought to now,
	// a watermark would make a command sent now a duplicate.
	s.Owner.bound(now)
}

// boundTimes bounds what the gateway keeps of the state and what its
// healer and alerts took from it.
func (g *Gateway) boundTimes(now time.Time) {
	if !plausible(now) {
		return
	}
	g.st.bound(now)
	for s := range g.heal.taken {
		boundTimes(g.heal.taken[s], now)
	}
	boundTimes(g.alerts.sent, now)
}
