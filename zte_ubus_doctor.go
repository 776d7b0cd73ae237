package main

import (
	"context"
	"errors"
	"fmt"
)

// DoctorChecks is doctor's view of a ubus modem: the login (at most one
// attempt, as doctor allows itself), the inbox, the storage, and whether
// SMS travel in envelopes.
func (m *ubusModem) DoctorChecks(ctx context.Context) []check {
	var out []check
	m.mu.Lock()
	err := m.withSession(ctx, func() error { return nil })
	m.mu.Unlock()
	if err != nil {
		fix := "set SMSGATE_PASSWORD (or -password) to the web UI's password; check it by logging in at " + m.base + "/"
		var le *LoginError
		if !errors.As(err, &le) {
			fix = "check -modem: the ubus API answers POST /ubus/"
		}
		out = append(out, check{"login", levelFail, "ubus: " + err.Error(), fix})
		for _, n := range []string{"inbox", "capacity", "generation"} {
			out = append(out, check{n, levelSkip, "not checked: no session", ""})
		}
		return out
	}
	out = append(out, check{"login", levelOK, "logged in to the ubus API (sha256(sha256(pw)+salt))", ""})
	if msgs, err := m.Inbox(ctx); err != nil {
		out = append(out, check{"inbox", levelFail, "the inbox cannot be read: " + err.Error(), "attach the log to a bug report"})
	} else {
		incomplete := 0
		for _, s := range msgs {
			if !s.Complete {
				incomplete++
			}
		}
		out = append(out, check{"inbox", levelOK, fmt.Sprintf("%d received message(s), %d incomplete", len(msgs), incomplete), ""})
	}
	if c, err := m.Capacity(ctx); err != nil {
		out = append(out, check{"capacity", levelWarn, "SMS storage use unknown: " + err.Error(),
			"delete old messages by hand now and then: a full inbox stops SMS arriving"})
	} else {
		out = append(out, check{"capacity", levelOK, fmt.Sprintf("%d of %d SMS slots used", c.Used, c.Total), ""})
	}
	inf := m.Info()
	enc := "envelopes not needed so far (a send tells: plaintext first)"
	if inf.Encrypted {
		enc = "encryption ON: smsgate registered its key"
	}
	out = append(out, check{"generation", levelOK, inf.Generation + "; " + enc, ""})
	return out
}
