package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func startUbus(t *testing.T, p simPersonality, simPassword, clientPassword string) (*Sim, *ubusModem, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	sim := newSim(p, simPassword)
	sim.now = clk.Now
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	m, err := newUbusModem(ModemConfig{URL: sim.URL, Password: clientPassword, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m.now, m.statusEvery, m.sendSettle = clk.Now, time.Millisecond, time.Millisecond
	return sim, m, clk
}

// The U60 Pro (MU5250 B27): salted login, plaintext listing before any
// key, a plaintext send refused (nothing sent) and sent sealed once, the
// listing sealed after, a key replaced by another login renewed, a delete
// confirmed by the listing.
//
// In a synctest bubble over the in-memory network: the client's waits at
// their defaults and the 15 s delete confirmation on the bubble's clock
// (a fake clock given to the client no longer shortens it: it waits by
// real time).
func TestUbusU60Pro(t *testing.T) {
	synctest.Test(t, testUbusU60Pro)
}

func testUbusU60Pro(t *testing.T) {
	sim, m := startUbusPiped(t, simUbusPersonalities["u60pro"], "s3cret")
	ctx := t.Context()
	id1 := sim.Deliver("+21612345678", "status 1234", time.Now().Add(-time.Minute))
	msgs, err := m.Inbox(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "status 1234" || msgs[0].ID != id1 {
		t.Fatalf("inbox: %+v %v", msgs, err)
	}
	if err := m.Send(ctx, "+21612345678", "pong 👍"); err != nil {
		t.Fatal(err)
	}
	sent := sim.Record().Sent
	if len(sent) != 1 || sent[0].Text != "pong \uFFFD" || sent[0].Number != "+21612345678" ||
		sent[0].Form.Get("number") == "+21612345678" || !strings.HasSuffix(sent[0].SMSTime, ";+0") || strings.Count(sent[0].SMSTime, ";") != 6 {
		t.Fatalf("sent %+v", sent)
	}
	if inf := m.Info(); !inf.Encrypted || inf.Family != familyUbus {
		t.Errorf("info %+v", inf)
	}
	id2 := sim.Deliver("+21612345678", "перезагрузка", time.Now())
	msgs, err = m.Inbox(ctx)
	if err != nil || len(msgs) != 2 || msgs[1].Text != "перезагрузка" || !msgs[1].Complete {
		t.Fatalf("sealed listing: %+v %v", msgs, err)
	}
	sim.OtherWebLogin()
	msgs, err = m.Inbox(ctx)
	if err != nil || len(msgs) != 2 || msgs[0].Text != "status 1234" || msgs[1].Text != "перезагрузка" || msgs[1].Problem != "" {
		t.Fatalf("after another login replaced the key: %+v %v", msgs, err)
	}
	if err := m.Delete(ctx, id1, id2); err != nil {
		t.Fatal(err)
	}
	if len(sim.Inbox()) != 0 {
		t.Errorf("inbox after delete: %v", sim.Inbox())
	}
	if c, err := m.Capacity(ctx); err != nil || c.Total != 100 {
		t.Errorf("capacity %+v %v", c, err)
	}
	if _, err := m.Poll(ctx); err != nil {
		t.Error(err)
	}
	if err := m.Reboot(ctx); !errors.Is(err, errUnsupported) {
		t.Errorf("reboot: %v", err)
	}
	if n := len(sim.Record().Logins); n != 1 {
		t.Errorf("%d logins", n)
	}
	// A delete the modem does not carry out is not confirmed.
	id3 := sim.Deliver("+21612345678", "x", time.Now())
	sim.SetFaults(func(f *SimFaults) { f.DeleteSilentlyFails = true })
	start := time.Now()
	if err := m.Delete(ctx, id3); err == nil {
		t.Error("a delete the listing contradicts was confirmed")
	}
	if took := time.Since(start); took < 15*time.Second || took > 20*time.Second {
		t.Errorf("gave up on the delete after %s, want its 15 s", took)
	}
}

// Firmware that accepts plaintext gets plaintext: an envelope there would
// be stored as garbage.
func TestUbusPlaintextFirmware(t *testing.T) {
	p := simUbusPersonalities["u60pro"]
	p.red, p.inner = false, "CN_ZTE_MU5250V1.0.0B20"
	sim, m, _ := startUbus(t, p, "pw", "pw")
	if err := m.Send(context.Background(), "+21612345678", "hello"); err != nil {
		t.Fatal(err)
	}
	sent := sim.Record().Sent
	if len(sent) != 1 || sent[0].Form.Get("number") != "+21612345678" || sent[0].Form.Get("message_body") != "00680065006C006C006F" || sim.RedKeyed() {
		t.Errorf("sent %+v", sent)
	}
}

// A login that gives no session is a spent attempt: one per hold, and
// none after three until a restart.
func TestUbusWrongPassword(t *testing.T) {
	sim, m, clk := startUbus(t, simUbusPersonalities["u60pro"], "right", "wrong")
	ctx := context.Background()
	for i := 0; i < 60; i++ {
		_, err := m.Inbox(ctx)
		var le *LoginError
		if !errors.As(err, &le) {
			t.Fatalf("inbox: %v", err)
		}
		clk.Advance(time.Minute)
	}
	if n := len(sim.Record().Logins); n != ubusMaxFailed {
		t.Errorf("%d logins in an hour, want %d", n, ubusMaxFailed)
	}
}

// Without Referer and Origin the firmware answers 400.
func TestSimUbusWantsRefererAndOrigin(t *testing.T) {
	sim, _, _ := startUbus(t, simUbusPersonalities["u60pro"], "pw", "pw")
	resp, err := http.Post(sim.URL+"/ubus/", "application/json", strings.NewReader(`[{"jsonrpc":"2.0","id":1,"method":"call","params":["00000000000000000000000000000000","zwrt_web","web_login_info",{}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func TestParseUbusAnswer(t *testing.T) {
	for in, want := range map[string]string{
		`[{"jsonrpc":"2.0","id":1,"result":[0,{"a":"b"}]}]`:                            "",
		`[{"jsonrpc":"2.0","id":1,"result":[0]}]`:                                      "",
		`{"jsonrpc":"2.0","id":1,"result":[0,{"a":1}]}`:                                "",
		`[{"jsonrpc":"2.0","id":1,"result":[2]}]`:                                      "invalid argument",
		`[{"jsonrpc":"2.0","id":1,"result":[6]}]`:                                      "no session",
		`[{"jsonrpc":"2.0","id":1,"error":{"code":-32002,"message":"Access denied"}}]`: "no session",
		`[{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"x"}}]`:             "ubus error",
		`[]`:        "empty",
		`<html>`:    "malformed",
		`[{"x":1}]`: "without a result",
	} {
		_, err := parseUbusAnswer([]byte(in))
		if (err == nil) != (want == "") || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

func FuzzParseUbusAnswer(f *testing.F) {
	f.Add([]byte(`[{"jsonrpc":"2.0","id":1,"result":[0,{"messages":[{"id":1}]}]}]`))
	f.Add([]byte(`{"error":{"code":"x"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseUbusAnswer(b)
		if err == nil && p == nil {
			t.Fatal("no payload and no error")
		}
	})
}

// The ubus adapter is a modem port.
var _ modemPort = (*ubusModem)(nil)

var _ portDoctor = (*ubusModem)(nil)

func TestUbusDoctorChecks(t *testing.T) {
	sim, m, clk := startUbus(t, simUbusPersonalities["u60pro"], "pw", "pw")
	sim.Deliver("+21612345678", "x", clk.Now())
	got := map[string]checkLevel{}
	for _, c := range m.DoctorChecks(context.Background()) {
		got[c.Name] = c.Level
	}
	for _, n := range []string{"login", "inbox", "capacity", "generation"} {
		if got[n] != levelOK {
			t.Errorf("%s: %v", n, got[n])
		}
	}
	_, bad, _ := startUbus(t, simUbusPersonalities["u60pro"], "pw", "wrong")
	for _, c := range bad.DoctorChecks(context.Background()) {
		if c.Name == "login" && c.Level != levelFail {
			t.Errorf("wrong password: %+v", c)
		}
	}
}

// The family is told by reads alone: no login is made.
func TestDetectZTEFamily(t *testing.T) {
	for name, want := range map[string]string{"mf920v": familyZTE, "mc889": familyZTE, "zxic": familyZTE, "u60pro": familyUbus} {
		sim, err := NewSim(name, "pw")
		if err != nil {
			t.Fatal(err)
		}
		if err := sim.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		p, err := openTarget(context.Background(), portTarget{Config: ModemConfig{URL: sim.URL, Password: "pw", Timeout: 2 * time.Second}})
		if err != nil || p.Info().Family != want {
			t.Errorf("%s: %v %v, want %q", name, p, err, want)
		}
		if n := len(sim.Record().Logins); n != 0 {
			t.Errorf("%s: %d logins", name, n)
		}
		sim.Close()
	}
}

// A wrong password costs one login across restarts, not one per restart:
// the count goes into the state file (refusalKeeper) and comes back.
func TestUbusRefusalsOutliveRestarts(t *testing.T) {
	var _ refusalKeeper = (*ubusModem)(nil)
	sim, err := NewSim("u60pro", "right")
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	var saved LoginRefusals
	for restart := 0; restart < 5; restart++ {
		m, err := newUbusModem(ModemConfig{URL: sim.URL, Password: "wrong", Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		m.SetRefusals(saved)
		if _, err := m.Inbox(context.Background()); err == nil {
			t.Fatal("a wrong password listed the inbox")
		}
		saved = m.Refusals()
	}
	if n := len(sim.Record().Logins); n != 1 {
		t.Errorf("%d logins over 5 restarts, want 1", n)
	}
	m, _ := newUbusModem(ModemConfig{URL: sim.URL, Password: "another", Timeout: 2 * time.Second})
	if m.SetRefusals(saved) {
		t.Error("a count kept for another password")
	}
}

// saltTap is a transport that, after each answer to web_login_info, calls
// between (another client's moment) and then passes the answer on.
type saltTap struct {
	webTransport
	between func()
}

func (s saltTap) exchange(ctx context.Context, req *webRequest) (*webAnswer, error) {
	ans, err := s.webTransport.exchange(ctx, req)
	if err == nil && bytes.Contains(req.Body, []byte(`"web_login_info"`)) && s.between != nil {
		s.between()
	}
	return ans, err
}

// TestUbusParallelLoginsNotRaced: eight clients with the right password
// logging in at once (8 `smsgate list` beside each other; a daemon and a
// one-shot status is the usual pair). Each web_login_info replaces the
// salt, so half were refused, held five minutes and told the owner to fix
// a right password. smsgate takes its logins to one modem one at a time.
func TestUbusParallelLoginsNotRaced(t *testing.T) {
	sim, _, clk := startUbus(t, simUbusPersonalities["u60pro"], "right", "right")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	logs := make([]*bytes.Buffer, 8)
	for i := range errs {
		m, err := newUbusModem(ModemConfig{URL: sim.URL, Password: "right", Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		logs[i] = &bytes.Buffer{}
		m.log = slog.New(slog.NewTextHandler(logs[i], nil))
		m.now = clk.Now
		m.web = saltTap{m.web, func() { time.Sleep(20 * time.Millisecond) }}
		wg.Go(func() { _, errs[i] = m.Inbox(context.Background()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("client %d: %v", i, err)
		}
		if strings.Contains(logs[i].String(), "fix -password") {
			t.Errorf("client %d told the owner to fix a right password:\n%s", i, logs[i])
		}
	}
	if n := len(sim.Record().Logins); n != 8 {
		t.Errorf("%d logins, want 8", n)
	}
}

// TestUbusRaceNotJudged: another client (the web UI) asks for a salt
// between ours and our login: the refusal is counted and held like any
// other, but not judged a wrong password (no "fix -password", no owner
// alert); a wrong password still costs at most ubusMaxFailed logins.
func TestUbusRaceNotJudged(t *testing.T) {
	sim, m, clk := startUbus(t, simUbusPersonalities["u60pro"], "right", "right")
	logs := &bytes.Buffer{}
	m.log = slog.New(slog.NewTextHandler(logs, nil))
	other, _ := newUbusModem(ModemConfig{URL: sim.URL, Password: "x", Timeout: 2 * time.Second})
	raced := true
	m.web = saltTap{m.web, func() {
		if raced {
			raced = false
			other.call(context.Background(), ubusAnon, "zwrt_web", "web_login_info", map[string]any{})
		}
	}}
	ctx := context.Background()
	_, err := m.Inbox(ctx)
	var le *LoginError
	if !errors.As(err, &le) || !le.Unjudged || strings.Contains(logs.String(), "fix -password") {
		t.Fatalf("raced login: %v (unjudged %v)\n%s", err, le != nil && le.Unjudged, logs)
	}
	if _, err := m.Inbox(ctx); !errors.As(err, &le) || !le.Unjudged || len(sim.Record().Logins) != 1 {
		t.Errorf("within the hold: %v, %d logins", err, len(sim.Record().Logins))
	}
	if r := m.Refusals(); r.Count != 1 {
		t.Errorf("the raced attempt is not counted: %+v", r)
	}
	clk.Advance(ubusLoginHold)
	if _, err := m.Inbox(ctx); err != nil {
		t.Errorf("after the hold: %v", err)
	}

	// A wrong password: refusals on the simulator always see a new salt
	// (it makes one per call), yet three is all it costs, and the third
	// tells the owner.
	sim2, w, clk2 := startUbus(t, simUbusPersonalities["u60pro"], "right", "wrong")
	for range 60 {
		_, err = w.Inbox(ctx)
		clk2.Advance(time.Minute)
	}
	if n := len(sim2.Record().Logins); n != ubusMaxFailed || !errors.As(err, &le) || le.Unjudged || !strings.Contains(le.Reason, "fix -password") {
		t.Errorf("wrong password: %d logins, last %v", n, err)
	}
}

// TestUbusLoginSavedBeforeItIsPosted: the count a web_login would leave
// if it gives no session is handed out (to the state file) before it is
// posted.
func TestUbusLoginSavedBeforeItIsPosted(t *testing.T) {
	sim, m, _ := startUbus(t, simUbusPersonalities["u60pro"], "right", "wrong")
	var seen []LoginRefusals
	var loginsThen []int
	m.SaveBeforeLogin(func(r LoginRefusals) error {
		seen = append(seen, r)
		loginsThen = append(loginsThen, len(sim.Record().Logins))
		return nil
	})
	if _, err := m.Inbox(context.Background()); err == nil {
		t.Fatal("a wrong password listed the inbox")
	}
	if len(seen) != 1 || seen[0].Count != 1 || seen[0].Until.IsZero() || loginsThen[0] != 0 {
		t.Errorf("saved %+v with %v logins made, want a count of 1 before the login", seen, loginsThen)
	}
	if r := m.Refusals(); r.Count != 1 {
		t.Errorf("refusals after: %+v", r)
	}
}

// TestUbusProbeWaitsForALogin: detecting the family (a one-shot's first
// request) asks web_login_info, which replaces the salt: made while the
// daemon was logging in, it had the daemon's right password refused. The
// probe waits for the login lock.
func TestUbusProbeWaitsForALogin(t *testing.T) {
	sim, m, _ := startUbus(t, simUbusPersonalities["u60pro"], "right", "right")
	var wg sync.WaitGroup
	probed := false
	m.web = saltTap{m.web, func() {
		if probed {
			return
		}
		probed = true
		wg.Go(func() {
			openTarget(context.Background(), portTarget{Config: ModemConfig{URL: sim.URL + "/", Password: "right", Timeout: 2 * time.Second}})
		})
		time.Sleep(100 * time.Millisecond) // the probe's moment, were it not held
	}}
	_, err := m.Inbox(context.Background())
	wg.Wait()
	if err != nil || !probed {
		t.Errorf("login beside a family probe: %v (probed %v)", err, probed)
	}
}
