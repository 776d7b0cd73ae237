package main

import (
	"encoding/base32"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestTOTPVectors: RFC 6238 appendix B, SHA-1: the 8-digit values, and
// their 6-digit truncation (the last six digits) as the apps show them.
func TestTOTPVectors(t *testing.T) {
	key := []byte("12345678901234567890")
	for _, tt := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		step := uint64(totpStep(time.Unix(tt.unix, 0)))
		if got := hotp(key, step, 8); got != tt.want {
			t.Errorf("T=%d: %s, want %s", tt.unix, got, tt.want)
		}
		if got := hotp(key, step, totpDigits); got != tt.want[2:] {
			t.Errorf("T=%d, 6 digits: %s, want %s", tt.unix, got, tt.want[2:])
		}
	}
}

func TestTOTPSecret(t *testing.T) {
	want := []byte("12345678901234567890")
	enc := base32.StdEncoding.EncodeToString(want) // GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
	for _, s := range []string{enc, strings.ToLower(enc), "gezd gnbv gy3t qojq gezd gnbv gy3t qojq", " GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ\n"} {
		key, err := parseTOTPSecret(s)
		if err != nil || string(key) != string(want) {
			t.Errorf("parseTOTPSecret(%q) = %q, %v", s, key, err)
		}
	}
	if key, err := parseTOTPSecret("JBSWY3DPEHPK3PXP"); err != nil || string(key) != "Hello!\xde\xad\xbe\xef" {
		t.Errorf("the common example secret: %q, %v", key, err)
	}
	for _, s := range []string{"", "GEZDGNBV", "not base32!", "GEZDGNBVGY3TQOJ1"} {
		if _, err := parseTOTPSecret(s); err == nil {
			t.Errorf("parseTOTPSecret(%q) accepted", s)
		}
	}
	s := newTOTPSecret()
	if key, err := parseTOTPSecret(s); err != nil || len(key) != 20 || len(s) != 32 || s == newTOTPSecret() {
		t.Errorf("newTOTPSecret %q: %d bytes, %v", s, len(key), err)
	}
}

// code is the 6-digit code a phone shows at t.
func code(key []byte, t time.Time) string { return hotp(key, uint64(totpStep(t)), totpDigits) }

func TestTOTPCheck(t *testing.T) {
	key := []byte("12345678901234567890")
	now := time.Date(2026, 3, 14, 11, 0, 10, 0, time.UTC)
	cold := time.Date(1970, 1, 1, 0, 2, 0, 0, time.UTC) // a Pi booted without network time
	for _, tt := range []struct {
		name      string
		text      string
		sent, pi  time.Time
		want      error
		wantRest  string
		usedFirst bool // the code was used by another message before
	}{
		{name: "now", text: code(key, now) + " status", sent: now, pi: now, wantRest: "status"},
		{name: "typed with the app's space", text: code(key, now)[:3] + " " + code(key, now)[3:] + "\nping", sent: now, pi: now, wantRest: "ping"},
		{name: "one step early", text: code(key, now.Add(-30*time.Second)) + " ping", sent: now, pi: now, wantRest: "ping"},
		{name: "one step late", text: code(key, now.Add(30*time.Second)) + " ping", sent: now, pi: now, wantRest: "ping"},
		{name: "2 minutes earlier", text: code(key, now.Add(-2*time.Minute)) + " ping", sent: now, pi: now, want: errCodeWrong},
		{name: "Pi clock wrong, SMS date right", text: code(key, now) + " ping", sent: now, pi: now.Add(-3 * time.Hour), wantRest: "ping"},
		{name: "Pi clock implausible, SMS date right", text: code(key, now) + " ping", sent: now, pi: cold, wantRest: "ping"},
		{name: "SMS date missing, Pi clock right", text: code(key, now) + " ping", pi: now, wantRest: "ping"},
		{name: "delayed SMS: its date right, Pi later", text: code(key, now) + " ping", sent: now, pi: now.Add(10 * time.Minute), wantRest: "ping"},
		{name: "no plausible clock", text: code(key, now) + " ping", pi: cold, want: errCodeNoClock},
		{name: "replayed", text: code(key, now) + " reboot", sent: now.Add(5 * time.Second), pi: now, usedFirst: true, want: errCodeUsed},
		{name: "PIN instead of code", text: "4711 ping", sent: now, pi: now, want: errCodeWrong},
		{name: "8 digits", text: hotp(key, uint64(totpStep(now)), 8) + " ping", sent: now, pi: now, want: errCodeWrong},
		{name: "nothing", text: "", sent: now, pi: now, want: errCodeWrong},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, used := newTOTP(key), map[int64]string{}
			if tt.usedFirst {
				if _, err := v.check(tt.text, "first", now, now, used); err != nil {
					t.Fatal(err)
				}
			}
			rest, err := v.check(tt.text, "msg", tt.sent, tt.pi, used)
			if !errors.Is(err, tt.want) || (err == nil && rest != tt.wantRest) {
				t.Errorf("check(%q) = %q, %v; want %q, %v", tt.text, rest, err, tt.wantRest, tt.want)
			}
		})
	}
}

// TestTOTPOnce: a code is good once; the same message looked at again
// (its removal deferred) still is; memory stays bounded, and what it has
// forgotten is refused.
func TestTOTPOnce(t *testing.T) {
	key := []byte("12345678901234567890")
	v, used := newTOTP(key), map[int64]string{}
	now := time.Date(2026, 3, 14, 11, 0, 10, 0, time.UTC)
	c := code(key, now) + " ping"
	if _, err := v.check(c, "a", now, now, used); err != nil {
		t.Fatal(err)
	}
	if _, err := v.check(c, "a", now, now, used); err != nil {
		t.Errorf("the same message again: %v", err)
	}
	if _, err := v.check(c, "b", now, now, used); !errors.Is(err, errCodeUsed) {
		t.Errorf("replay: %v", err)
	}
	// An hour of commands, one a minute.
	for i := 1; i <= 60; i++ {
		at := now.Add(time.Duration(i) * time.Minute)
		if _, err := v.check(code(key, at)+" ping", "m"+at.String(), at, at, used); err != nil {
			t.Fatalf("minute %d: %v", i, err)
		}
	}
	if len(used) > totpRemember {
		t.Errorf("%d used codes remembered", len(used))
	}
	// The first code, replayed with a forged old date and a Pi without
	// a clock: forgotten, but not good again.
	if _, err := v.check(c, "c", now, time.Time{}, used); !errors.Is(err, errCodeTooOld) {
		t.Errorf("forgotten code: %v", err)
	}
}

func TestTOTPURI(t *testing.T) {
	u, err := url.Parse(totpURI("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "pi 4"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/smsgate:pi 4" || q.Get("secret") != "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" ||
		q.Get("issuer") != "smsgate" || q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Errorf("uri %s", u)
	}
}

// TestTOTPCommands: under -totp every command starts with the current
// code; a replayed SMS is refused, a wrong Pi clock does not matter when
// the SMS is dated, and wrong codes lock the number out like wrong PINs.
func TestTOTPCommands(t *testing.T) {
	key := []byte("12345678901234567890")
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.TOTP = newTOTP(key) })
	now := h.clk.Now()
	ok := h.send(owner, code(key, now)+" ping")
	h.step()
	if h.decision(ok) != "executed" || h.smsLines()[ok][0]["reason"] != "authorised, code ok" {
		t.Fatalf("right code: %v", h.smsLines()[ok])
	}
	h.clk.Advance(5 * time.Second)
	replay := h.send(owner, code(key, now)+" ping")
	h.step()
	if h.decision(replay) != "rejected" {
		t.Fatal("replayed code accepted")
	}
	// The Pi's clock is 3 hours slow (a bad RTC), the SMS is dated by the
	// network.
	h.clk.Advance(30 * time.Second)
	h.gw.now = func() time.Time { return h.clk.Now().Add(-3 * time.Hour) }
	help := h.send(owner, code(key, h.clk.Now())+" help")
	h.step()
	if h.decision(help) != "executed" {
		t.Fatal("a wrong Pi clock refused a code the SMS date proves")
	}
	h.gw.now = h.clk.Now
	h.clk.Advance(30 * time.Second)
	old := h.send(owner, code(key, h.clk.Now().Add(-2*time.Minute))+" ping")
	h.step()
	if h.decision(old) != "rejected" {
		t.Fatal("a code from 2 minutes earlier accepted")
	}
	r := h.replies()
	if len(r) != 4 || !strings.HasPrefix(r[0], owner+": pong") || !strings.Contains(r[1], "code already used; wait for the next one (4 more") ||
		!strings.Contains(r[2], "code first, e.g. '123456 status'. smsgate: status") || !strings.Contains(r[3], "wrong code (4 more") {
		t.Errorf("replies %q", r)
	}
	// 4 more, not 3: while the Pi's clock read 3 hours behind, the wrong
	// code before it lay in the future, and a saved time in the future
	// counts as made now (issue 19.4: nothing waits longer than its rule
	// from now); the clock set right again, it is 3 hours old.
	for i := 0; i < 4; i++ {
		h.clk.Advance(time.Second) // four attempts, not copies of one SMS
		h.send(owner, "000000 reboot")
		h.step()
	}
	locked := h.send(owner, code(key, h.clk.Now())+" ping")
	h.step()
	if h.decision(locked) != "ignored" || h.reboots.count() != 0 {
		t.Fatal("five wrong codes did not lock the number out")
	}
}

// TestTOTPNew: 'smsgate totp-new' prints a secret smsgate accepts, and an
// otpauth:// URI carrying it.
func TestTOTPNew(t *testing.T) {
	var out strings.Builder
	if err := run([]string{"totp-new", "-account", "garage"}, strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var secret, uri string
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "secret: "); ok {
			secret = v
		}
		if v, ok := strings.CutPrefix(line, "uri:    "); ok {
			uri = v
		}
	}
	if key, err := parseTOTPSecret(secret); err != nil || len(key) != 20 {
		t.Fatalf("secret %q: %v", secret, err)
	}
	u, err := url.Parse(uri)
	if err != nil || u.Query().Get("secret") != secret || u.Path != "/smsgate:garage" {
		t.Errorf("uri %q: %v", uri, err)
	}
	if err := run([]string{"totp-new", "x"}, strings.NewReader(""), io.Discard, io.Discard); exitCode(err) != 125 {
		t.Errorf("stray argument: %v", err)
	}
}

// FuzzTOTPCheck: whatever an SMS says, it passes only by starting with a
// code valid at its time.
func FuzzTOTPCheck(f *testing.F) {
	key := []byte("12345678901234567890")
	now := time.Date(2026, 3, 14, 11, 0, 10, 0, time.UTC)
	valid := map[string]bool{}
	for d := -totpSkew; d <= totpSkew; d++ {
		valid[code(key, now.Add(time.Duration(d)*totpPeriod))] = true
	}
	for c := range valid {
		f.Add(c + " status")
		f.Add(c[:3] + " " + c[3:] + "\nping")
	}
	f.Add("123456 reboot")
	f.Add("\x00\u202e 1 2")
	f.Fuzz(func(t *testing.T, text string) {
		rest, err := newTOTP(key).check(text, "m", now, now, map[int64]string{})
		if err != nil {
			return
		}
		used := strings.Join(strings.Fields(strings.TrimSuffix(strings.TrimSpace(text), rest)), "")
		if !valid[used] || !strings.HasSuffix(strings.TrimSpace(text), rest) {
			t.Fatalf("check(%q) passed with %q, rest %q", text, used, rest)
		}
	})
}

// TestTOTPReplayAfterRestart: with -state-dir, the codes used survive a
// restart of smsgate: an SMS replayed right after it is still refused.
func TestTOTPReplayAfterRestart(t *testing.T) {
	key := []byte("12345678901234567890")
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.TOTP = newTOTP(key); c.StateDir = t.TempDir() })
	text := code(key, h.clk.Now()) + " ping"
	first := h.send(owner, text)
	h.step()
	if h.decision(first) != "executed" {
		t.Fatal("right code refused")
	}
	h.restart()
	h.clk.Advance(5 * time.Second)
	replay := h.send(owner, text)
	h.step()
	if h.decision(replay) != "rejected" {
		t.Fatal("a code used before the restart was accepted again")
	}
	if r := h.replies(); len(r) != 2 || !strings.Contains(r[1], "code already used") {
		t.Errorf("replies %q", r)
	}
}
