package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// blankModem is a modem that accepts the password and then answers every
// session read blank, as if the login had not happened (firmware that wants
// something the client does not send, or a web UI that takes the session
// back at once). It can be told to answer again.
type blankModem struct {
	mu       sync.Mutex
	logins   int
	answers  bool // session reads are answered after a login
	loggedIn bool
}

func (b *blankModem) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodPost {
		r.ParseForm()
		if id := r.PostForm.Get("goformId"); id == "LOGIN" {
			b.logins++
			b.loggedIn = true
			w.Write([]byte(`{"result":"0"}`))
			return
		}
		w.Write([]byte(`{"result":"failure"}`))
		return
	}
	if r.URL.Path != "/goform/goform_get_cmd_process" {
		http.NotFound(w, r)
		return
	}
	pre := map[string]string{"psw_fail_num_str": "5", "login_lock_time": "300",
		"wa_inner_version": "MF920V_BLANK_B03", "modem_main_state": "modem_init_complete"}
	cmd := r.URL.Query().Get("cmd")
	out := map[string]any{}
	switch {
	case cmd == "sms_data_total" && b.answers && b.loggedIn:
		out["messages"] = []any{}
	case cmd == "sms_capacity_info" && b.answers && b.loggedIn:
		out["sms_nv_total"], out["sms_nv_rev_total"], out["sms_nv_send_total"], out["sms_nv_draftbox_total"] = "100", "0", "0", "0"
	default:
		for _, k := range strings.Split(cmd, ",") {
			out[k] = pre[k]
			if b.answers && b.loggedIn && !preLoginKeys[k] {
				out[k] = "1"
			}
		}
	}
	json.NewEncoder(w).Encode(out)
}

func (b *blankModem) set(answers, loggedIn bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.answers, b.loggedIn = answers, loggedIn
}

func (b *blankModem) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.logins
}

func startBlankModem(t *testing.T) (*blankModem, *Modem, *fakeClock, *bytes.Buffer) {
	t.Helper()
	b := &blankModem{}
	srv := httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(srv.Close)
	logs := &bytes.Buffer{}
	m, err := NewModem(ModemConfig{URL: srv.URL, Password: "pw", Timeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	m.now = clk.Now
	return b, m, clk, logs
}

// TestBlankAfterLoginBacksOffRelogins: a modem whose session reads stay
// blank right after a successful login got a LOGIN on every poll (12 in
// 12 s), each one logging out a person using the web UI. Such a login
// counts as a spent attempt until a session read works (firmware answers
// "0" to a wrong password): the next waits the lock period (and the
// back-off), the fourth is never made (the owner's last two attempts), it
// is said once in the log, and a read answered ends it all.
func TestBlankAfterLoginBacksOffRelogins(t *testing.T) {
	b, m, clk, logs := startBlankModem(t)
	ctx := context.Background()
	start := clk.Now()
	poll := func() error {
		_, err := m.Poll(ctx)
		clk.Advance(time.Second)
		return err
	}
	for range 12 {
		err := poll()
		if !noSession(err) {
			t.Fatalf("poll of a blank modem: %v", err)
		}
	}
	if n := b.count(); n != 1 {
		t.Fatalf("%d logins in 12 polls of a modem answering blank after login, want 1", n)
	}
	err := poll()
	if !strings.Contains(err.Error(), "blank right after a successful login") {
		t.Errorf("the error does not say why no login: %v", err)
	}
	if r := m.Refusals(); r.Count != 1 || !r.Until.After(clk.Now()) {
		t.Errorf("the unconfirmed login is not kept as spent: %+v", r)
	}
	var gaps []time.Duration
	last := start
	var lastErr error
	for range 2 * 360 { // two hours of polls, 10 s apart
		before := b.count()
		clk.Advance(9 * time.Second)
		lastErr = poll()
		if b.count() != before {
			gaps = append(gaps, clk.Now().Sub(last).Round(time.Minute))
			last = clk.Now()
		}
	}
	want := []time.Duration{5 * time.Minute, 5 * time.Minute}
	if len(gaps) != len(want) || gaps[0] != want[0] || gaps[1] != want[1] {
		t.Fatalf("re-logins after %v, want %v and then none (attempts kept for the owner)", gaps, want)
	}
	var le *LoginError
	if !errors.As(lastErr, &le) || le.AttemptsLeft != 2 {
		t.Errorf("after three unconfirmed logins: %v, want a hold keeping 2 attempts", lastErr)
	}
	if n := strings.Count(logs.String(), "blank right after a successful login"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
	// The warning and docs/modems.md say the back-off the code has (a
	// warning once said "doubling to 30 min" where the cap was 8).
	if said := "a back-off (" + reloginBackoff.String() + ")"; !strings.Contains(logs.String(), said) {
		t.Errorf("the warning does not say %q:\n%s", said, logs.String())
	}
	doc, err := os.ReadFile("docs/modems.md")
	if err != nil {
		t.Fatal(err)
	}
	docSays := fmt.Sprintf("a back-off of %d, %d, %d, ... at most %d\n  minutes", reloginBackoff.wait(0)/time.Minute,
		reloginBackoff.wait(1)/time.Minute, reloginBackoff.wait(2)/time.Minute, reloginBackoff.max/time.Minute)
	if !strings.Contains(string(doc), docSays) {
		t.Errorf("docs/modems.md does not say %q", docSays)
	}
}

// TestBlankAfterLoginThenAnswered: the modem answers again at the login
// due after the hold: the login is confirmed, nothing is counted any
// more, it is said once, and a session lost later means one re-login at
// once.
func TestBlankAfterLoginThenAnswered(t *testing.T) {
	b, m, clk, logs := startBlankModem(t)
	ctx := context.Background()
	poll := func() error {
		_, err := m.Poll(ctx)
		clk.Advance(time.Second)
		return err
	}
	if err := poll(); !noSession(err) {
		t.Fatalf("poll of a blank modem: %v", err)
	}
	b.set(true, false)
	clk.Advance(defaultLockPeriod)
	if err := poll(); err != nil {
		t.Fatalf("poll of a modem answering again: %v", err)
	}
	if !strings.Contains(logs.String(), "session reads answered again") {
		t.Errorf("the end of the state is not logged:\n%s", logs.String())
	}
	if r := m.Refusals(); r != (LoginRefusals{}) {
		t.Errorf("a confirmed login still counted: %+v", r)
	}
	b.set(true, false) // the session is gone
	before := b.count()
	if err := poll(); err != nil {
		t.Fatalf("poll after the session expired: %v", err)
	}
	if b.count() != before+1 {
		t.Errorf("%d logins for an expired session, want 1", b.count()-before)
	}
}

// TestBlankAfterLoginGateway: through the gateway, a poll every second for
// a minute costs the owner one LOGIN, and the gateway keeps polling.
func TestBlankAfterLoginGateway(t *testing.T) {
	b, m, clk, _ := startBlankModem(t)
	log := slog.New(slog.DiscardHandler)
	actions := &Actions{modem: m, reboot: &countingRebooter{}, host: fakeHost{uptime: 3 * time.Hour}, log: log}
	gw, err := NewGateway(daemonGatewayConfig(t), m, actions, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	gw.now = clk.Now
	for range 59 {
		gw.Step(context.Background())
		clk.Advance(time.Second)
	}
	if n := b.count(); n != 1 {
		t.Errorf("%d logins in a minute of 1 s polls, want 1", n)
	}
	var le *LoginError
	if _, err := m.Poll(context.Background()); errors.As(err, &le) {
		t.Errorf("a blank modem taken for a refused login: %v", err)
	}
}

// TestBlankAfterLoginActionsWait: a one-shot command or an action logs in
// first; on a modem still blank after that login it is not posted, says
// why, and the next one waits for the back-off and the lock period (the
// login counts as spent) instead of logging in.
func TestBlankAfterLoginActionsWait(t *testing.T) {
	b, m, clk, _ := startBlankModem(t)
	ctx := context.Background()
	err := m.EnsureSession(ctx)
	if !noSession(err) || !strings.Contains(err.Error(), "blank right after a successful login") {
		t.Fatalf("EnsureSession on a modem blank after login: %v", err)
	}
	if _, err := m.statusKeys(ctx); !noSession(err) {
		t.Fatalf("status: %v", err)
	}
	if err := m.Delete(ctx, 7); !noSession(err) {
		t.Fatalf("delete: %v", err)
	}
	if n := b.count(); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
	clk.Advance(time.Minute)
	m.EnsureSession(ctx)
	if n := b.count(); n != 1 {
		t.Errorf("%d logins after the back-off but within the lock period, want 1", n)
	}
	clk.Advance(defaultLockPeriod)
	m.EnsureSession(ctx)
	if n := b.count(); n != 2 {
		t.Errorf("%d logins once the lock period is over, want 2", n)
	}
}
