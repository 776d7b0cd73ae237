package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ZTE goform's own doctor checks (portDoctor): SIM state, the login scheme
// and the one login doctor allows itself, the firmware, the unread
// counters, and the anti-forgery (AD) form.

var (
	_ portDoctor     = (*Modem)(nil)
	_ portDoctorLate = (*Modem)(nil)
)

// preLoginKeysRead are read first, before anything that could cost a login
// attempt. Every firmware answers them without a session.
var preLoginKeysRead = []string{"loginfo", "psw_fail_num_str", "login_lock_time", "wa_inner_version",
	"cr_version", "modem_main_state"}

// tapWeb puts doctor's recorder between the client and the network.
func (m *Modem) tapWeb(r *recorder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.next = m.web
	m.web = r
}

// paceStatus replaces the waits between status reads (doctor's tests).
func (m *Modem) paceStatus(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.statusEvery, m.sendSettle = d, d
}

// CaptureDetected is what the client detected, as a capture keeps it.
func (m *Modem) CaptureDetected() map[string]string { return detectionMap(m.Detected()) }

// zteDoctor collects the checks of one run.
type zteDoctor struct {
	m   *Modem
	out []check
}

func (z *zteDoctor) add(c check) { z.out = append(z.out, c) }

// DoctorChecks reads the pre-login keys, probes the scheme, logs in at
// most once, and reads the counters when a session is there.
func (m *Modem) DoctorChecks(ctx context.Context) []check {
	z := &zteDoctor{m: m}
	pre, err := m.readKeys(ctx, preLoginKeysRead...)
	if err != nil && !errors.Is(err, errBlank) {
		detail, fix := modemProblem(m.base, err)
		z.add(check{"goform", levelFail, detail, fix})
		return z.out
	}
	if errors.Is(err, errBlank) {
		z.add(check{"goform", levelWarn, fmt.Sprintf("%s answers, but blank even for the keys every firmware gives before login", m.base),
			"run doctor -capture FILE and attach the file to a bug report"})
	}
	z.simState(pre["modem_main_state"])
	// config.js and LD cost no attempt: the scheme is decided before the
	// one login doctor allows itself.
	if _, err := m.Probe(ctx); err != nil {
		z.add(check{"scheme", levelWarn, "the login scheme could not be probed: " + err.Error(), ""})
	}
	session := z.login(ctx, pre)
	z.firmware(ctx, session)
	if !session {
		z.add(check{"counters", levelSkip, "not checked: no session", ""})
		return z.out
	}
	// Marks the session (LoggedIn) for doctor's session checks, whichever
	// way it came: a login, one already there, or none needed.
	_, _ = m.readKeys(ctx, sessionKeys...)
	if k, err := m.Keys(ctx, "sms_unread_num", "sms_dev_unread_num", "sms_sim_unread_num", "sms_received_flag"); err != nil {
		z.add(check{"counters", levelWarn, "the unread counters cannot be read: " + err.Error(),
			"smsgate then notices new SMS only by listing the inbox; attach doctor -capture FILE to a bug report"})
	} else {
		z.add(check{"counters", levelOK, fmt.Sprintf("sms_unread_num %s, sms_dev_unread_num %s, sms_sim_unread_num %s, sms_received_flag %s",
			orBlank(k["sms_unread_num"]), orBlank(k["sms_dev_unread_num"]), orBlank(k["sms_sim_unread_num"]), orBlank(k["sms_received_flag"])), ""})
	}
	return z.out
}

func (z *zteDoctor) simState(st string) {
	switch st {
	case "modem_init_complete", "":
	case "modem_sim_undetected", "modem_sim_destroy", "modem_imsi_waitnck":
		z.add(check{"sim", levelFail, "modem_main_state " + st + ": no usable SIM, no SMS",
			"insert the SIM (power the hotspot off first) and check it in the web UI"})
	case "modem_waitpin", "modem_waitpuk":
		z.add(check{"sim", levelFail, "modem_main_state " + st + ": the SIM waits for its PIN, no SMS until it gets it",
			"enter the SIM PIN in the web UI and let it remember it, or disable the SIM PIN"})
	default:
		z.add(check{"sim", levelWarn, "modem_main_state " + st, "wait until the web UI shows the modem ready, then run doctor again"})
	}
}

func (z *zteDoctor) firmware(ctx context.Context, session bool) {
	m := z.m
	det := m.Detected()
	model := det.Model
	if session && model == "" {
		if k, err := m.Keys(ctx, "hardware_version"); err == nil {
			model = k["hardware_version"]
		}
	}
	if model == "" && det.Firmware == "" {
		z.add(check{"firmware", levelWarn, "the modem does not say its model or firmware",
			"smsgate detects the firmware from its answers; if it misbehaves, attach doctor -capture FILE to a bug report"})
	} else {
		z.add(check{"firmware", levelOK, fmt.Sprintf("hardware_version %s, wa_inner_version %s, cr_version %s",
			orBlank(model), orBlank(det.Firmware), orBlank(det.CRVersion)), ""})
	}
	switch {
	case det.Login == schemeNone:
		z.add(check{"scheme", levelOK, "no login (" + det.LoginFrom + ")", ""})
	case det.Login != "":
		detail := fmt.Sprintf("password %s (%s), goformId %s", det.Login, det.LoginFrom, orBlank(det.LoginForm))
		if !strings.HasPrefix(det.LoginFrom, "config.js") {
			detail += "; config.js: " + orBlank(det.ConfigJS)
		}
		z.add(check{"scheme", levelOK, detail, ""})
	}
}

// login reads the attempts left first, then logs in at most once, and
// reports whether a session is there.
func (z *zteDoctor) login(ctx context.Context, pre map[string]string) bool {
	m := z.m
	if m.Detected().Login == schemeNone {
		z.add(check{"login", levelOK, "the firmware has no login", ""})
		return true
	}
	if pre["loginfo"] == "ok" {
		z.add(check{"login", levelWarn, "already logged in from this address: the password was not tested",
			"log out of the web UI (or wait 5 minutes), then run doctor again"})
		return true
	}
	if _, err := m.readKeys(ctx, sessionKeys...); err == nil {
		z.add(check{"login", levelOK, "the modem serves the SMS API without a login (datacard firmware)", ""})
		return true
	}
	left := -1
	if n, err := strconv.Atoi(pre["psw_fail_num_str"]); err == nil {
		left = n
	}
	lock := strconv.Itoa(int(loginLockPeriod(pre) / time.Second))
	switch {
	case left < 0:
		z.add(check{"attempts", levelOK, "the modem does not say how many login attempts are left; doctor tries once", ""})
	case left <= reservedAttempts:
		z.add(check{"attempts", levelFail, fmt.Sprintf("only %d login attempts left: doctor, like smsgate, never spends the last %d", left, reservedAttempts),
			fmt.Sprintf("log in once at %s/index.html with the right password (a success resets the count), or wait %s s for the lock to end", m.base, lock)})
		z.add(check{"login", levelSkip, "not tried: attempts kept for the owner", ""})
		return false
	default:
		z.add(check{"attempts", levelOK, fmt.Sprintf("%d login attempts left (the modem locks the login for %s s after %d wrong ones)", left, lock, maxAttempts), ""})
	}
	if m.password == "" {
		z.add(check{"login", levelFail, "the modem asks for a password and none is set",
			"set SMSGATE_PASSWORD=the-web-UI-password (or -password)"})
		return false
	}
	lerr := m.Login(ctx)
	var results []string
	blocked := 0
	m.mu.Lock()
	rec, ok := m.web.(*recorder)
	m.mu.Unlock()
	if ok {
		results, blocked = rec.Logins()
	}
	refused := 0
	for _, r := range results {
		if r != "0" && r != "4" {
			refused++
		}
	}
	spent := fmt.Sprintf("doctor sent %d login(s), %d refused", len(results), refused)
	if blocked > 0 {
		spent += fmt.Sprintf("; %d more (another password scheme) held back to keep your attempts", blocked)
	}
	if after, err := m.readKeys(ctx, "psw_fail_num_str"); err == nil || errors.Is(err, errBlank) {
		if n, err := strconv.Atoi(after["psw_fail_num_str"]); err == nil {
			spent += fmt.Sprintf("; %d attempts left now", n)
			if left >= 0 && refused > 0 && n == left {
				spent += " (the modem's count did not go down: it does not count for clients, so smsgate counts its own refusals)"
			}
		}
	}
	if lerr != nil {
		z.add(check{"login", levelFail, z.refusal(lerr, results, refused) + "; " + spent, z.loginFix(lerr, blocked)})
		return false
	}
	z.add(check{"login", levelOK, "logged in; " + spent, ""})
	return true
}

// refusal says why the login failed, in the modem's words when it gave
// them.
func (z *zteDoctor) refusal(lerr error, results []string, refused int) string {
	reason := lerr.Error()
	var le *LoginError
	if errors.As(lerr, &le) {
		reason = "login refused: " + le.Reason
	}
	if refused > 0 && len(results) > 0 {
		reason = fmt.Sprintf("login refused: the modem answered %q", results[0])
		if results[0] == "3" {
			reason += " (wrong password)"
		}
	}
	return reason
}

func (z *zteDoctor) loginFix(lerr error, blocked int) string {
	m := z.m
	det := m.Detected()
	fix := "set SMSGATE_PASSWORD (or -password) to the web UI's password; check it by logging in at " + m.base + "/index.html"
	if m.user != "" {
		fix += "; check -user too"
	}
	if blocked > 0 || !strings.HasPrefix(det.LoginFrom, "config.js") {
		fix += "; if the password is right, the firmware may want another password scheme than " + det.Login +
			": attach doctor -capture FILE to a bug report"
	}
	var le *LoginError
	if errors.As(lerr, &le) && strings.Contains(le.Reason, "another user") {
		fix = "log out of the web UI in your browser, then run doctor again"
	}
	return fix
}

// DoctorChecksLate finds the AD form, after doctor's session checks: an
// action must be accepted to know it. doctor's test SMS, when it was sent,
// was one; otherwise the action is re-marking an already read message as
// read, which changes nothing.
func (m *Modem) DoctorChecksLate(ctx context.Context) []check {
	// The generation's encryption probe (web_crt_get) may want a session:
	// after the session checks.
	return append([]check{m.generationCheck(ctx)}, m.adCheck(ctx)...)
}

// adCheck says which anti-forgery (AD) form the modem took, and how that
// was known.
func (m *Modem) adCheck(ctx context.Context) []check {
	if !m.Detected().LoggedIn {
		return []check{{"ad", levelSkip, "not checked: no session", ""}}
	}
	how := ""
	if m.Detected().ADConfirmed {
		how = "an action the modem accepted (the test SMS)"
	} else if msgs, err := m.Inbox(ctx); err == nil {
		for _, s := range msgs {
			if s.Read && s.Complete {
				if err := m.MarkRead(ctx, s.ID); err != nil {
					return []check{{"ad", levelWarn, fmt.Sprintf("re-marking read message %d as read was refused: %v", s.ID, err),
						"smsgate's actions (delete, send) may be refused the same way: run doctor -send-test NUMBER -capture FILE and attach the file to a bug report"}}
				}
				how = fmt.Sprintf("re-marking read message %d as read (changes nothing)", s.ID)
				break
			}
		}
	}
	det := m.Detected()
	switch {
	case how == "":
		return []check{{"ad", levelOK, "anti-forgery (AD) form not known yet: the inbox has no read message to re-mark; smsgate learns it from its first action (doctor -send-test NUMBER shows it now)", ""}}
	case det.ADConfirmed:
		return []check{{"ad", levelOK, fmt.Sprintf("anti-forgery (AD) form %s (%s), confirmed by %s", det.AD, det.ADFrom, how), ""}}
	}
	return []check{{"ad", levelWarn, fmt.Sprintf("anti-forgery (AD) form %s (%s) not confirmed by %s", orBlank(det.AD), orBlank(det.ADFrom), how),
		"run doctor -send-test NUMBER -capture FILE and attach the file to a bug report"}}
}
