package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loginRun is one start of smsgate against sim: a new Modem and Gateway
// with password and the state in dir, polled for two lock periods.
func loginRun(t *testing.T, sim *Sim, clk *fakeClock, password, dir string) *Modem {
	t.Helper()
	m, err := NewModem(ModemConfig{URL: sim.URL, Password: password, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m.now = clk.Now
	log := slog.New(slog.DiscardHandler)
	actions := &Actions{modem: m, reboot: &countingRebooter{}, host: fakeHost{uptime: 3 * time.Hour}, log: log}
	gw, err := NewGateway(gatewayConfigIn(t, dir), m, actions, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	gw.now = clk.Now
	for range 2 * 60 {
		gw.Step(context.Background())
		clk.Advance(5 * time.Second)
	}
	return m
}

func simFailLeft(sim *Sim) int {
	sim.mu.Lock()
	defer sim.mu.Unlock()
	return sim.failLeft
}

// TestRefusedLoginsOutliveRestarts: a wrong password on firmware whose
// counter stays at 5 (MC7010, MC888) spent three attempts per start of
// smsgate, and the third start locked the owner out. With -state-dir the
// client's own count holds across restarts.
func TestRefusedLoginsOutliveRestarts(t *testing.T) {
	for _, name := range []string{"mc7010", "mc888"} {
		t.Run(name, func(t *testing.T) {
			sim, _, clk := startSim(t, name, "right", "unused")
			dir := t.TempDir()
			for run := range 3 {
				loginRun(t, sim, clk, "wrong", dir)
				if n := len(sim.Record().Logins); n > 3 {
					t.Fatalf("after start %d: %d logins, %d attempts left to the owner", run+1, n, simFailLeft(sim))
				}
			}
			if left := simFailLeft(sim); left < 2 {
				t.Errorf("%d attempts left to the owner", left)
			}
			b, err := os.ReadFile(filepath.Join(dir, stateFile))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "wrong") || strings.Contains(string(b), "right") {
				t.Errorf("a password in the state file: %s", b)
			}
		})
	}
}

// TestRefusedLoginsHiddenCounterOutliveRestarts: the same where the
// firmware does not report attempts at all.
func TestRefusedLoginsHiddenCounterOutliveRestarts(t *testing.T) {
	sim, _, clk := startSim(t, "mf920v", "right", "unused")
	sim.SetFaults(func(f *SimFaults) { f.HideAttempts = true })
	dir := t.TempDir()
	for range 3 {
		loginRun(t, sim, clk, "wrong", dir)
	}
	if n, left := len(sim.Record().Logins), simFailLeft(sim); n > 3 || left < 2 {
		t.Errorf("%d logins, %d attempts left to the owner", n, left)
	}
}

// TestRefusedLoginsNewPasswordAndSuccess: once the owner fixes the
// password it is tried (a fresh count), a success forgets the refusals,
// and a wrong password after that gets its three attempts, once.
func TestRefusedLoginsNewPasswordAndSuccess(t *testing.T) {
	sim, _, clk := startSim(t, "mc7010", "right", "unused")
	dir := t.TempDir()
	loginRun(t, sim, clk, "wrong", dir)
	loginRun(t, sim, clk, "wrong", dir)
	if n := len(sim.Record().Logins); n != 3 {
		t.Fatalf("%d logins after two starts with a wrong password, want 3", n)
	}
	m := loginRun(t, sim, clk, "right", dir)
	if !m.Detected().LoggedIn {
		t.Fatalf("the fixed password was not tried: %+v, logins %+v", m.Detected(), sim.Record().Logins)
	}
	var st State
	if b, err := os.ReadFile(filepath.Join(dir, stateFile)); err != nil || json.Unmarshal(b, &st) != nil {
		t.Fatalf("state: %v", err)
	}
	if st.LoginRefusals != (LoginRefusals{}) {
		t.Errorf("after a success the state keeps %+v", st.LoginRefusals)
	}
	before := len(sim.Record().Logins)
	loginRun(t, sim, clk, "wrong", dir)
	loginRun(t, sim, clk, "wrong", dir)
	if n := len(sim.Record().Logins) - before; n != 3 {
		t.Errorf("%d logins with a wrong password after a success, want 3", n)
	}
	if left := simFailLeft(sim); left < 2 {
		t.Errorf("%d attempts left to the owner", left)
	}
}

// TestStateWithoutRefusalsLoads: a state file from before the field, or
// with it corrupt, still loads what it can.
func TestStateWithoutRefusalsLoads(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, tt := range []struct {
		name, file string
		want       LoginRefusals
		lastReboot bool
	}{
		{"old", `{"last_reboot":"2026-11-01T10:00:00Z"}`, LoginRefusals{}, true},
		{"with", `{"last_reboot":"2026-11-01T10:00:00Z","login_refusals":{"password":"0011223344556677","count":3}}`, LoginRefusals{Password: "0011223344556677", Count: 3}, true},
		{"corrupt", `{"last_reboot":"2026-11-01T10:00:00Z","login_refusals":"three"}`, LoginRefusals{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, stateFile), []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			_, st := openStateStore(dir, log)
			if st.LoginRefusals != tt.want || st.LastReboot.IsZero() == tt.lastReboot {
				t.Errorf("%+v, last reboot %v", st.LoginRefusals, st.LastReboot)
			}
		})
	}
}

// TestSetRefusalsOnlyForTheSamePassword: a count is seeded only into a
// client with the password it was counted against.
func TestSetRefusalsOnlyForTheSamePassword(t *testing.T) {
	a, _ := NewModem(ModemConfig{URL: "http://127.0.0.1:1", Password: "one"})
	b, _ := NewModem(ModemConfig{URL: "http://127.0.0.1:1", Password: "two"})
	r := LoginRefusals{Password: passwordFingerprint("one"), Count: 3}
	if len(r.Password) != 16 || strings.Contains(r.Password, "one") {
		t.Errorf("fingerprint %q", r.Password)
	}
	if !a.SetRefusals(r) || a.Refusals() != r {
		t.Errorf("same password: %+v", a.Refusals())
	}
	if b.SetRefusals(r) || b.Refusals() != (LoginRefusals{}) {
		t.Errorf("other password: %+v", b.Refusals())
	}
}

// TestLostLoginAnswerWithLiveSession: the modem took the password but its
// answer was lost; a session-only read that works shows the login
// succeeded, and it is not counted as a refusal.
func TestLostLoginAnswerWithLiveSession(t *testing.T) {
	for _, mode := range []string{"cut", "empty", "html"} {
		t.Run(mode, func(t *testing.T) {
			sim, m, _ := startSim(t, "mf920v", "right", "right") // session bound to the client's address
			sim.SetFaults(func(f *SimFaults) { f.LoseLogin = mode })
			if _, err := m.Poll(context.Background()); err != nil {
				var le *LoginError
				t.Fatalf("poll: %v (login held: %v)", err, errors.As(err, &le))
			}
			if d := m.Detected(); !d.LoggedIn || d.OwnRefusals != 0 {
				t.Errorf("%+v", d)
			}
			if n := len(sim.Record().Logins); n != 1 {
				t.Errorf("%d logins", n)
			}
		})
	}
}

// TestCountingModemKeepsNoOwnCount: where psw_fail_num_str is seen to go
// down, the modem's count is the one that holds (it comes back after a
// lock period); smsgate saves none of its own, and restarts still leave
// the owner two attempts.
func TestCountingModemKeepsNoOwnCount(t *testing.T) {
	sim, _, clk := startSim(t, "mf920v", "right", "unused")
	dir := t.TempDir()
	for range 3 {
		m := loginRun(t, sim, clk, "wrong", dir)
		if r := m.Refusals(); r != (LoginRefusals{}) {
			t.Errorf("own count kept on a counting modem: %+v", r)
		}
	}
	if n, left := len(sim.Record().Logins), simFailLeft(sim); n > 3 || left < 2 {
		t.Errorf("%d logins, %d attempts left to the owner", n, left)
	}
}

// quickStart is one short start of smsgate against the modem at modemURL: a few polls a
// second apart, then a SIGKILL (nothing but the state file survives).
func quickStart(t *testing.T, modemURL string, clk *fakeClock, password, dir string) *Modem {
	t.Helper()
	m, err := NewModem(ModemConfig{URL: modemURL, Password: password, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m.now = clk.Now
	log := slog.New(slog.DiscardHandler)
	actions := &Actions{modem: m, reboot: &countingRebooter{}, host: fakeHost{uptime: 3 * time.Hour}, log: log}
	gw, err := NewGateway(gatewayConfigIn(t, dir), m, actions, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	gw.now = clk.Now
	for range 3 {
		gw.Step(context.Background())
		clk.Advance(time.Second)
	}
	return m
}

// TestAcceptedLoginWithoutSessionOutlivesRestarts: firmware that leaves
// psw_fail_num_str blank and answers a wrong password with "0" (no
// session follows). Each start of smsgate made one more LOGIN (a
// witness: six restarts took the modem's count from 5 to 0). A login
// counts as spent until a read that needs a session works, and that count
// and its hold are kept in the state file.
func TestAcceptedLoginWithoutSessionOutlivesRestarts(t *testing.T) {
	sim, _, clk := startSim(t, "mf920v", "right", "unused")
	sim.SetFaults(func(f *SimFaults) { f.HideAttempts, f.RefuseAsZero = true, true })
	dir := t.TempDir()
	for range 6 {
		quickStart(t, sim.URL, clk, "wrong", dir)
	}
	if n := len(sim.Record().Logins); n != 1 {
		t.Errorf("%d logins over 6 quick restarts, want 1 (the hold kept)", n)
	}
	// Hours of restarts, each past the hold: at most three in all, two
	// attempts left to the owner.
	for range 12 {
		clk.Advance(defaultLockPeriod)
		quickStart(t, sim.URL, clk, "wrong", dir)
	}
	if n, left := len(sim.Record().Logins), simFailLeft(sim); n != 3 || left < 2 {
		t.Errorf("%d logins, %d attempts left to the owner; want 3 and at least 2", n, left)
	}
	// The right password: counted afresh, logged in, and the state clean.
	m := quickStart(t, sim.URL, clk, "right", dir)
	if d := m.Detected(); !d.LoggedIn || m.Refusals() != (LoginRefusals{}) {
		t.Errorf("right password: %+v, refusals %+v", d, m.Refusals())
	}
}

// TestRefusalHoldOutlivesRestarts: a plain wrong password on a modem that
// counts: a restart within the lock period logged in again at once. The
// hold's end is kept; a saved end far ahead (clock corrected since) is
// bounded to loginHoldBound.
func TestRefusalHoldOutlivesRestarts(t *testing.T) {
	sim, _, clk := startSim(t, "mf920v", "right", "unused")
	dir := t.TempDir()
	for range 4 {
		quickStart(t, sim.URL, clk, "wrong", dir)
		clk.Advance(30 * time.Second)
	}
	if n := len(sim.Record().Logins); n != 1 {
		t.Errorf("%d logins over 4 restarts within the lock period, want 1", n)
	}
	clk.Advance(defaultLockPeriod)
	quickStart(t, sim.URL, clk, "wrong", dir)
	if n := len(sim.Record().Logins); n != 2 {
		t.Errorf("%d logins once the lock period is over, want 2", n)
	}

	// A hold saved two days ahead.
	path := filepath.Join(dir, stateFile)
	var st State
	if b, err := os.ReadFile(path); err != nil || json.Unmarshal(b, &st) != nil {
		t.Fatalf("state: %v", err)
	}
	if st.LoginRefusals.Until.IsZero() {
		t.Fatalf("no hold saved: %+v", st.LoginRefusals)
	}
	st.LoginRefusals.Until = clk.Now().Add(48 * time.Hour)
	b, _ := json.Marshal(st)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	quickStart(t, sim.URL, clk, "wrong", dir)
	clk.Advance(loginHoldBound)
	quickStart(t, sim.URL, clk, "wrong", dir)
	if n := len(sim.Record().Logins); n != 3 {
		t.Errorf("%d logins an hour after a hold saved two days ahead, want 3", n)
	}
}

// TestLoginSavedBeforeItIsPosted: the state file already counts a LOGIN
// when the modem receives it, so a SIGKILL right after it (before the
// poll ends) cannot make that attempt free to the next start.
func TestLoginSavedBeforeItIsPosted(t *testing.T) {
	sim, _, clk := startSim(t, "mf920v", "right", "unused")
	sim.SetFaults(func(f *SimFaults) { f.HideAttempts, f.RefuseAsZero = true, true })
	dir := t.TempDir()
	target, _ := url.Parse(sim.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var seen []LoginRefusals
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if strings.Contains(string(body), "goformId=LOGIN") {
				var st State
				b, _ := os.ReadFile(filepath.Join(dir, stateFile))
				json.Unmarshal(b, &st)
				seen = append(seen, st.LoginRefusals)
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	quickStart(t, front.URL, clk, "wrong", dir)
	clk.Advance(defaultLockPeriod)
	quickStart(t, front.URL, clk, "wrong", dir)
	if len(seen) != 2 || seen[0].Count != 1 || seen[1].Count != 2 || !seen[1].Until.After(clk.Now()) {
		t.Errorf("the state when each LOGIN arrived: %+v, want counts 1 and 2 with a hold", seen)
	}
	if n := len(sim.Record().Logins); n != 2 {
		t.Errorf("%d logins", n)
	}
}
