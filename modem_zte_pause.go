package main

// HoldLogins stops the ZTE client from logging in until release is
// called: reads go on with the session the modem still honours, and a
// read that finds it gone fails with the hold (Busy: no alert, no attempt
// spent). release gives back the hold that was there before, so that a
// refused password stays refused.
func (m *Modem) HoldLogins(reason string) (release func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := m.loginHold
	// No RetryAfter: only release ends it, whatever the clocks say.
	hold := &LoginError{Reason: reason, AttemptsLeft: -1, Busy: true}
	m.loginHold = hold
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.loginHold == hold {
			m.loginHold = prev
		}
	}
}
