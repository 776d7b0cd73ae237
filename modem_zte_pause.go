package main

import "sync"

// pauseHolds maps each pause hold still in force to the hold it covered:
// a hold made by an earlier gateway on the same client (a test's restart)
// is looked through, never restored.
var pauseHolds sync.Map // *LoginError -> *LoginError

// HoldLogins stops the ZTE client from logging in until release is
// called: reads go on with the session the modem still honours, and a
// read that finds it gone fails with the hold (Busy: no alert, no attempt
// spent). release gives back the hold that was there before, so that a
// refused password stays refused.
func (m *Modem) HoldLogins(reason string) (release func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := m.loginHold
	for prev != nil {
		under, ok := pauseHolds.Load(prev)
		if !ok {
			break
		}
		pauseHolds.Delete(prev)
		prev = under.(*LoginError)
	}
	// No RetryAfter: only release ends it, whatever the clocks say.
	hold := &LoginError{Reason: reason, AttemptsLeft: -1, Busy: true}
	pauseHolds.Store(hold, prev)
	m.loginHold = hold
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		pauseHolds.Delete(hold)
		if m.loginHold == hold {
			m.loginHold = prev
		}
	}
}
