package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// detectZTEFamily says which ZTE API answers at rawURL, with reads only
// (no login attempt): the goform API (also under /reqproc/ on ZXIC-based
// dongles) is familyZTE, JSON-RPC on /ubus/ is familyUbus.
func detectZTEFamily(ctx context.Context, rawURL string) (string, error) {
	m, err := NewModem(ModemConfig{URL: rawURL})
	if err != nil {
		return "", err
	}
	_, gerr := m.readKeys(ctx, "loginfo")
	if gerr == nil || noSession(gerr) || errors.Is(gerr, errBlank) {
		return familyZTE, nil
	}
	u, err := newUbusModem(ModemConfig{URL: rawURL})
	if err != nil {
		return "", err
	}
	u.web = m.web
	if _, uerr := u.call(ctx, ubusAnon, "zwrt_web", "web_login_info", map[string]any{}); uerr == nil || errors.Is(uerr, errUbusSession) {
		return familyUbus, nil
	} else if strings.Contains(uerr.Error(), "ubus status") {
		return familyUbus, nil
	}
	return "", fmt.Errorf("no ZTE API at %s (goform: %w)", rawURL, gerr)
}
