package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

const owner = "+21612345678"

type fakeHost struct{ uptime time.Duration }

func (h fakeHost) Uptime() (time.Duration, error) { return h.uptime, nil }
func (h fakeHost) Summary() string                { return "up " + shortDuration(h.uptime) }

type countingRebooter struct {
	mu sync.Mutex
	n  int
}

func (r *countingRebooter) Reboot(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	return nil
}

func (r *countingRebooter) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

type recordingIR struct {
	mu   sync.Mutex
	sent []string
}

func (r *recordingIR) Send(_ context.Context, name string, count int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, fmt.Sprintf("%s x%d", name, count))
	return nil
}

func (r *recordingIR) Names() []string { return []string{"power"} }

type recordingLED struct {
	mu     sync.Mutex
	states []health
}

func (l *recordingLED) Show(h health) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.states) == 0 || l.states[len(l.states)-1] != h {
		l.states = append(l.states, h)
	}
}

func (l *recordingLED) last() health {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.states[len(l.states)-1]
}

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type harness struct {
	t       *testing.T
	sim     *Sim
	modem   *Modem
	clk     *fakeClock
	gw      *Gateway
	reboots *countingRebooter
	ir      *recordingIR
	led     *recordingLED
	logs    *lockedBuffer
	cfg     GatewayConfig
	host    fakeHost
}

func newHarness(t *testing.T, personality string, mutate func(*GatewayConfig)) *harness {
	t.Helper()
	sim, modem, clk := startSim(t, personality, "pw", "pw")
	h := &harness{t: t, sim: sim, modem: modem, clk: clk, reboots: &countingRebooter{}, ir: &recordingIR{},
		led: &recordingLED{}, logs: &lockedBuffer{}, host: fakeHost{uptime: 3 * time.Hour}}
	h.cfg = daemonGatewayConfig(t)
	if mutate != nil {
		mutate(&h.cfg)
	}
	h.restart()
	return h
}

// restart builds a fresh gateway, as after a reboot of the Pi.
func (h *harness) restart() {
	log := slog.New(slog.NewJSONHandler(h.logs, nil))
	actions := &Actions{modem: h.modem, reboot: h.reboots, ir: h.ir, host: h.host, log: log}
	gw, err := NewGateway(h.cfg, h.modem, actions, h.led, log)
	if err != nil {
		h.t.Fatal(err)
	}
	gw.now = h.clk.Now
	h.gw = gw
}

func (h *harness) step() { h.gw.Step(context.Background()) }

func (h *harness) send(from, text string) int64 {
	return h.sim.Deliver(from, text, h.clk.Now())
}

// smsLines returns the "sms" log lines, by message id.
func (h *harness) smsLines() map[int64][]map[string]any {
	out := map[int64][]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(h.logs.String()))
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			h.t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		if v["msg"] == "sms" {
			id := int64(v["id"].(float64))
			out[id] = append(out[id], v)
		}
	}
	return out
}

// decision checks that id got exactly one log line, and returns its verdict.
func (h *harness) decision(id int64) string {
	h.t.Helper()
	lines := h.smsLines()[id]
	if len(lines) != 1 {
		h.t.Fatalf("sms %d has %d log lines, want 1: %v", id, len(lines), lines)
	}
	for _, k := range []string{"msg", "id", "from", "decision", "command", "reason"} {
		if _, ok := lines[0][k]; !ok {
			h.t.Errorf("sms %d log line lacks %q: %v", id, k, lines[0])
		}
	}
	return lines[0]["decision"].(string)
}

func (h *harness) replies() []string {
	var out []string
	for _, s := range h.sim.Record().Sent {
		out = append(out, s.Number+": "+s.Text)
	}
	return out
}

func TestOwnerCommandsExecutedAndAnswered(t *testing.T) {
	for _, p := range []string{"mf920v", "mc801a", "datacard", "f50", "mc889", "zxic"} {
		t.Run(p, func(t *testing.T) {
			h := newHarness(t, p, nil)
			ids := []int64{h.send(owner, "help"), h.send("+216 12 345 678", "  PING  "), h.send("0021612345678", "Status\n-- sent from my phone"),
				h.send(owner, "ir power 3"), h.send(owner, "modem reconnect"), h.send(owner, "what?")}
			h.step()
			want := []string{"executed", "executed", "executed", "executed", "executed", "rejected"}
			for i, id := range ids {
				if got := h.decision(id); got != want[i] {
					t.Errorf("sms %d: %s, want %s", id, got, want[i])
				}
			}
			if inbox := h.sim.Inbox(); len(inbox) != 0 {
				t.Errorf("commands left in the inbox: %v", inbox)
			}
			r := h.replies()
			if len(r) != 6 {
				t.Fatalf("replies %q", r)
			}
			checks := []string{"smsgate: status | ping", "pong, up 3h00m", "LTE 4/5 -95dBm SimTel, data up", "ir power sent x3", "reconnecting mobile data now", "unknown command; send 'help'"}
			for i, c := range checks {
				if _, text, _ := strings.Cut(r[i], ": "); !strings.HasPrefix(text, c) {
					t.Errorf("reply %d = %q, want prefix %q", i, r[i], c)
				}
				if smsParts(r[i]) != 1 {
					t.Errorf("reply %d costs %d SMS", i, smsParts(r[i]))
				}
			}
			if len(h.ir.sent) != 1 || h.ir.sent[0] != "power x3" {
				t.Errorf("ir %v", h.ir.sent)
			}
			if n := h.sim.Record().Connects; n != 1 {
				t.Errorf("modem reconnected %d times", n)
			}
		})
	}
}

func TestStrangerIsNeverObeyedNorAnswered(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	id := h.send("+21699999999", "reboot")
	alpha := h.send("TELKOMSEL", "reboot")
	for i := 0; i < 65; i++ { // past a forced full read
		h.step()
	}
	if h.decision(id) != "ignored" || h.decision(alpha) != "ignored" {
		t.Fatal("stranger not ignored")
	}
	if h.reboots.count() != 0 || len(h.replies()) != 0 {
		t.Fatalf("stranger obeyed or answered: %d reboots, replies %q", h.reboots.count(), h.replies())
	}
	if len(h.sim.Inbox()) != 2 {
		t.Fatal("stranger's messages not left for the owner")
	}
	if !strings.Contains(h.logs.String(), `"text":"reboot"`) {
		t.Error("stranger's text not logged in full")
	}
}

func TestPIN(t *testing.T) {
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.PIN = "4711" })
	ok := h.send(owner, "4711 ping")
	h.step()
	if h.decision(ok) != "executed" {
		t.Fatal("right PIN refused")
	}
	var wrong []int64
	for i := 0; i < 5; i++ {
		h.clk.Advance(time.Second) // five attempts, not copies of one SMS
		wrong = append(wrong, h.send(owner, "1234 reboot"))
		h.step()
	}
	for _, id := range wrong {
		if h.decision(id) != "rejected" {
			t.Errorf("wrong PIN %d not rejected", id)
		}
	}
	// Locked out for an hour: even the right PIN is ignored, silently.
	replies := len(h.replies())
	locked := h.send(owner, "4711 ping")
	h.step()
	if h.decision(locked) != "ignored" || len(h.replies()) != replies {
		t.Fatalf("locked-out sender got an answer or was obeyed")
	}
	if got := h.replies(); !strings.Contains(got[1], "wrong PIN (4 more") {
		t.Errorf("first wrong PIN reply %q", got[1])
	}
	h.clk.Advance(61 * time.Minute)
	again := h.send(owner, "4711 ping")
	h.step()
	if h.decision(again) != "executed" {
		t.Fatal("not obeyed again after the lockout")
	}
	if h.reboots.count() != 0 {
		t.Fatal("rebooted on a wrong PIN")
	}
	for _, tt := range []struct {
		text, rest string
		ok         bool
	}{
		{"4711", "", true},
		{"4711 status", "status", true},
		{"4711\nstatus", "status", true},
		{"  4711\t ir power 2", "ir power 2", true},
		{"4711status", "", false},
		{"471 status", "", false},
		{"47111 status", "", false},
		{"status 4711", "", false},
	} {
		rest, ok := stripPIN(tt.text, "4711")
		if ok != tt.ok || rest != tt.rest {
			t.Errorf("stripPIN(%q) = %q, %v; want %q, %v", tt.text, rest, ok, tt.rest, tt.ok)
		}
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.Rate = 3 })
	var ids []int64
	for i := 0; i < 4; i++ {
		ids = append(ids, h.send(owner, "ping"))
		h.step()
		h.clk.Advance(time.Minute)
	}
	for i, id := range ids {
		want := "executed"
		if i == 3 {
			want = "rejected"
		}
		if got := h.decision(id); got != want {
			t.Errorf("ping %d: %s, want %s", i, got, want)
		}
	}
	h.clk.Advance(time.Hour)
	id := h.send(owner, "ping")
	h.step()
	if h.decision(id) != "executed" {
		t.Error("rate limit did not expire")
	}
}

func TestRebootAtMostOncePerInterval(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	first := h.send(owner, "reboot")
	h.step()
	h.clk.Advance(5 * time.Minute)
	second := h.send(owner, "reboot")
	h.step()
	if h.decision(first) != "executed" || h.decision(second) != "rejected" || h.reboots.count() != 1 {
		t.Fatalf("reboots %d", h.reboots.count())
	}
	h.clk.Advance(6 * time.Minute)
	third := h.send(owner, "reboot")
	h.step()
	if h.decision(third) != "executed" || h.reboots.count() != 2 {
		t.Fatalf("third reboot: reboots %d", h.reboots.count())
	}
	// Replies go out before the reboot.
	r := h.replies()
	if len(r) != 3 || !strings.Contains(r[0], "rebooting the Pi") || !strings.Contains(r[1], "reboot refused") {
		t.Errorf("replies %q", r)
	}
	// Just booted: a reboot is refused whatever this process remembers.
	h.host.uptime = 2 * time.Minute
	h.restart()
	fresh := h.send(owner, "reboot")
	h.step()
	if h.decision(fresh) != "rejected" || h.reboots.count() != 2 {
		t.Fatal("rebooted a Pi that booted 2 minutes ago")
	}
}

// TestRefusedDeleteRunsNothing: the command must be off the modem before
// it runs, so that a reboot can never find its own command again.
func TestRefusedDeleteRunsNothing(t *testing.T) {
	for _, mode := range []string{"failure", "empty"} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t, "mf920v", nil)
			h.sim.SetFaults(func(f *SimFaults) { f.FailActions = map[string]string{"DELETE_SMS": mode} })
			id := h.send(owner, "reboot")
			h.step()
			h.step()
			if h.reboots.count() != 0 {
				t.Fatal("rebooted although the modem kept the command")
			}
			if d := h.smsLines()[id]; len(d) == 0 || d[0]["decision"] != "deferred" {
				t.Fatalf("decision %v", d)
			}
			h.sim.SetFaults(func(f *SimFaults) { f.FailActions = nil })
			h.step()
			if h.reboots.count() != 1 {
				t.Fatal("not executed once the modem deleted it")
			}
			// The Pi comes back: a fresh gateway finds nothing to redo.
			h.host.uptime = time.Hour
			h.restart()
			for i := 0; i < 3; i++ {
				h.step()
			}
			if h.reboots.count() != 1 {
				t.Fatal("reboot loop: the command ran again after the restart")
			}
		})
	}
}

func TestSessionExpiresBetweenListAndDelete(t *testing.T) {
	h := newHarness(t, "mc801a", nil)
	h.sim.SetFaults(func(f *SimFaults) { f.ExpireAfterList = true })
	id := h.send(owner, "ping")
	h.step()
	if h.decision(id) != "executed" {
		t.Fatal("expired session stopped the command")
	}
}

func TestIncompleteLeftUntouchedUntilComplete(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	id := h.sim.DeliverIncomplete(owner, "status "+strings.Repeat("x", 200), h.clk.Now())
	for i := 0; i < 3; i++ {
		h.step()
	}
	rec := h.sim.Record()
	if len(rec.Deleted) != 0 || len(rec.MarkedRead) != 0 || len(rec.Sent) != 0 {
		t.Fatalf("incomplete message touched: %+v", rec)
	}
	if lines := h.smsLines()[id]; len(lines) != 1 || lines[0]["decision"] != "incomplete" {
		t.Fatalf("incomplete logged as %v", lines)
	}
	// While it waits, a poll with nothing new stays one request, and the
	// message is looked at again every few polls.
	before := h.sim.Record().Requests
	for i := 0; i < incompleteEvery-1; i++ {
		h.step()
	}
	// One small read per poll, and at most one full read (two lists and
	// the capacity) in fewer than incompleteEvery polls.
	if n := h.sim.Record().Requests - before; n > incompleteEvery-1+3 {
		t.Errorf("%d requests in %d polls while an incomplete SMS waits", n, incompleteEvery-1)
	}
	h.sim.CompleteMessage(id)
	for i := 0; i < incompleteEvery && len(h.smsLines()[id]) < 2; i++ {
		h.step()
	}
	if lines := h.smsLines()[id]; len(lines) != 2 || lines[1]["decision"] != "executed" {
		t.Fatalf("completed message: %v", lines)
	}
}

func TestStaleAndDuplicateCommands(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	old := h.sim.Deliver(owner, "reboot", h.clk.Now().Add(-2*time.Hour))
	p1 := h.send(owner, "ping")
	p2 := h.send(owner, "ping")
	p3 := h.send(owner, "PING")
	h.step()
	if h.decision(old) != "stale" || h.reboots.count() != 0 {
		t.Fatal("a 2-hour-old reboot was executed")
	}
	if h.decision(p1) != "executed" || h.decision(p2) != "duplicate" || h.decision(p3) != "duplicate" {
		t.Fatal("duplicates in a batch executed")
	}
	r := h.replies()
	if len(r) != 2 || !strings.Contains(r[0], "not executed: 'reboot' is 2h00m old (max 0h30m)") {
		t.Errorf("replies %q", r)
	}
	if len(h.sim.Inbox()) != 0 {
		t.Error("stale or duplicate commands left in the inbox")
	}
}

func TestImplausibleClockDoesNotMakeCommandsStale(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	h.gw.now = func() time.Time { return time.Date(1970, 1, 1, 0, 1, 0, 0, time.UTC) } // a Pi before NTP
	id := h.sim.Deliver(owner, "ping", time.Date(2026, 3, 14, 11, 0, 0, 0, time.UTC))
	h.step()
	if h.decision(id) != "executed" {
		t.Fatal("age judged with an implausible clock")
	}
}

func TestMarkReadMode(t *testing.T) {
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.MarkRead = true })
	id := h.send(owner, "ping")
	h.step()
	h.restart()
	h.step()
	rec := h.sim.Record()
	if len(rec.Deleted) != 0 || len(rec.MarkedRead) != 1 || len(rec.Sent) != 1 {
		t.Fatalf("record %+v", rec)
	}
	lines := h.smsLines()[id]
	if len(lines) != 2 || lines[0]["decision"] != "executed" || lines[1]["decision"] != "ignored" {
		t.Fatalf("decisions %v", lines)
	}
}

func TestInboxFullMakesRoom(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	h.sim.Capacity = 30
	for i := 0; i < 28; i++ {
		h.sim.Deliver("+3360000000", fmt.Sprintf("advert %d", i), h.clk.Now())
	}
	h.step()
	if n := len(h.sim.Inbox()); n != 10 {
		t.Fatalf("inbox holds %d after making room, want 10", n)
	}
	if !strings.Contains(h.logs.String(), `"text":"advert 0"`) {
		t.Error("deleted message not logged in full first")
	}
	// A command now has room to arrive.
	id := h.send(owner, "ping")
	if id == 0 {
		t.Fatal("command lost to a full inbox")
	}
	for i := 0; i < 30; i++ {
		h.sim.Deliver("+3360000000", "more", h.clk.Now())
	}
	h.step()
	h.step()
	if h.decision(id) != "executed" {
		t.Fatal("command not executed")
	}
	notices := 0
	for _, r := range h.replies() {
		if strings.Contains(r, "inbox was full") {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("%d inbox-full notices, want 1", notices)
	}

	keep := newHarness(t, "mf920v", func(c *GatewayConfig) { c.KeepInbox = true })
	keep.sim.Capacity = 30
	for i := 0; i < 28; i++ {
		keep.sim.Deliver("+3360000000", "advert", keep.clk.Now())
	}
	keep.step()
	if len(keep.sim.Inbox()) != 28 {
		t.Error("-keep-inbox deleted messages")
	}
}

func TestModemFaultsAreSurvived(t *testing.T) {
	faults := []struct {
		name   string
		set    func(*SimFaults)
		health health
	}{
		{"unreachable", func(f *SimFaults) { f.Unreachable = true }, healthUnreachable},
		{"html", func(f *SimFaults) { f.HTML = true }, healthUnreachable},
		{"dropped", func(f *SimFaults) { f.DropEvery = 1 }, healthUnreachable},
		{"slow", func(f *SimFaults) { f.Slow = time.Minute }, healthUnreachable},
	}
	for _, tt := range faults {
		// In a synctest bubble over the in-memory network: the client's
		// default timeout against a modem a minute slow, on one clock.
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newPipedHarness(t, "mf920v", nil)
				h.step()
				h.sim.SetFaults(tt.set)
				id := h.send(owner, "ping")
				for i := 0; i < 3; i++ {
					h.step()
				}
				if h.led.last() != tt.health {
					t.Errorf("led shows %v, want %v", h.led.last(), tt.health)
				}
				h.sim.SetFaults(func(f *SimFaults) { *f = SimFaults{} })
				h.step()
				if h.decision(id) != "executed" || h.led.last() != healthOK {
					t.Fatalf("did not resume: led %v", h.led.last())
				}
			})
		})
	}
	t.Run("no data", func(t *testing.T) {
		h := newHarness(t, "mf920v", nil)
		h.sim.SetLink("ppp_disconnected", "0")
		h.step()
		if h.led.last() != healthNoData {
			t.Errorf("led %v", h.led.last())
		}
	})
	t.Run("login refused", func(t *testing.T) {
		sim, modem, clk := startSim(t, "mf920v", "right", "wrong")
		led := &recordingLED{}
		actions := &Actions{modem: modem, reboot: &countingRebooter{}, host: fakeHost{time.Hour}, log: slog.New(slog.DiscardHandler)}
		gw, _ := NewGateway(daemonGatewayConfig(t), modem, actions, led, slog.New(slog.DiscardHandler))
		gw.now = clk.Now
		for i := 0; i < 20; i++ {
			gw.Step(context.Background())
		}
		if led.last() != healthLogin || len(sim.Record().Logins) != 1 {
			t.Errorf("led %v, %d logins", led.last(), len(sim.Record().Logins))
		}
	})
}

// TestFloodKeepsStateFlat: a stranger texting every second for an hour of
// polls, and 500 messages waiting at start: what the gateway remembers stays
// bounded by the inbox, not by the traffic.
func TestFloodKeepsStateFlat(t *testing.T) {
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.PollInterval = 5 * time.Second })
	h.sim.Capacity = 600
	for i := 0; i < 499; i++ {
		h.sim.Deliver("+3360000000", "old", h.clk.Now().Add(-time.Hour))
	}
	cmd := h.send(owner, "status")
	h.step()
	if h.decision(cmd) != "executed" {
		t.Fatal("command among 500 waiting not executed")
	}
	h.sim.Capacity = 100
	for i := 0; i < 720; i++ { // an hour at one poll per 5 s, 5 SMS per poll
		for j := 0; j < 5; j++ {
			h.sim.Deliver("+3360000000", "flood", h.clk.Now())
		}
		h.clk.Advance(5 * time.Second)
		h.step()
	}
	if n := len(h.gw.waiting) + len(h.gw.st.Executed) + len(h.gw.st.PINFails) + len(h.gw.st.LockedUntil) + len(h.gw.st.Ran); n > 1 {
		t.Errorf("gateway state grew to %d entries", n)
	}
	if n := len(h.gw.st.Decided); n > h.sim.Capacity {
		t.Errorf("%d decided messages remembered, more than the inbox holds", n)
	}
	last := h.send(owner, "ping")
	h.step()
	h.step()
	if h.decision(last) != "executed" {
		t.Fatal("command lost in the flood")
	}
}

func TestGatewayRefusesToStartWithoutAllow(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, allow := range [][]phoneKey{nil, {normalizeNumber("012345678", "")}, {normalizeNumber("TELKOMSEL", "")}} {
		cfg := daemonGatewayConfig(t)
		cfg.Allow = allow
		if _, err := NewGateway(cfg, nil, &Actions{}, nil, log); err == nil {
			t.Errorf("started with -allow %v", allow)
		}
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"help", "help", true},
		{"HELP", "help", true},
		{"?", "help", true},
		{"  status  ", "status", true},
		{"Status\n-- Bob", "status", true},
		{"reboot please", "reboot", true},
		{"modem   reboot", "modem reboot", true},
		{"Modem Reconnect", "modem reconnect", true},
		{"modem", "", false},
		{"modem explode", "", false},
		{"ir power", "ir power 1", true},
		{"ir vol+ 5", "ir vol+ 5", true},
		{"ir vol+ thanks", "ir vol+ 1", true},
		{"ir vol+ 0", "", false},
		{"ir vol+ 999", "", false},
		{"ir", "", false},
		{"ping", "ping", true},
		{"don't reboot", "", false},
		{"; reboot", "", false},
		{"$(reboot)", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		c, ok := parseCommand(tt.in)
		if ok != tt.ok || (ok && c.String() != tt.want) {
			t.Errorf("parseCommand(%q) = %v, %v; want %q, %v", tt.in, c, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"help", "ir power 3", "modem reboot", "1234 status", "\x00"} {
		f.Add(s)
	}
	for _, s := range commandTable {
		f.Add(s.name + " x 2")
		f.Add(s.alias)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := parseCommand(s)
		if !ok {
			return
		}
		// Only a table entry, and what it parsed reads back the same.
		if builtinCommand(c.Name) == nil || (c.Name == "ir" && (c.Count < 1 || c.Count > maxIRCount || c.Arg == "")) {
			t.Fatalf("parseCommand(%q) = %+v", s, c)
		}
		if again, ok := parseCommand(c.String()); !ok || again != c {
			t.Fatalf("parseCommand(%q) = %+v, but its String %q reads as %+v, %v", s, c, c.String(), again, ok)
		}
	})
}

func TestModemRebootCommand(t *testing.T) {
	// In a synctest bubble: the client's default timeout, one clock.
	synctest.Test(t, func(t *testing.T) {
		h := newPipedHarness(t, "mf920v", nil)
		h.sim.RebootTime = time.Minute
		id := h.send(owner, "modem reboot")
		h.step()
		if h.decision(id) != "executed" || h.sim.Record().Reboots != 1 {
			t.Fatal("modem not rebooted")
		}
		if r := h.replies(); len(r) != 1 || !strings.Contains(r[0], "rebooting the modem") {
			t.Errorf("replies %q: the answer must go out before the modem goes", r)
		}
		h.step()
		if h.led.last() != healthUnreachable {
			t.Errorf("led %v while the modem reboots", h.led.last())
		}
		h.clk.Advance(2 * time.Minute)
		next := h.send(owner, "ping")
		h.step()
		if h.decision(next) != "executed" || h.led.last() != healthOK {
			t.Fatal("did not resume after the modem came back")
		}
	})
}

// TestReusedIDIsANewMessage: after smsgate deletes the newest message, a
// modem may hand its id to the next one; that one must still be read.
func TestReusedIDIsANewMessage(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	stranger := h.send("+3360000000", "hello")
	first := h.send(owner, "ping")
	h.step()
	h.sim.ReuseIDs()
	h.clk.Advance(time.Minute)
	second := h.send(owner, "status")
	if second != first {
		t.Fatalf("the simulator gave id %d, want the reused %d", second, first)
	}
	h.step()
	h.step()
	lines := h.smsLines()[first]
	if len(lines) != 2 || lines[1]["command"] != "status" || lines[1]["decision"] != "executed" {
		t.Fatalf("reused id %d: %v", first, lines)
	}
	if h.decision(stranger) != "ignored" {
		t.Error("the stranger's message was looked at twice")
	}
}

// TestDisruptiveActionAfterItsReply: README's "a reboot or modem action
// runs last, after the replies", as the modem saw it: the reply's send
// comes before the reconnect's or the reboot's first request.
func TestDisruptiveActionAfterItsReply(t *testing.T) {
	for _, c := range []struct{ text, reply, action string }{
		{"modem reconnect", "reconnecting mobile data now", "disconnect"},
		{"modem reboot", "rebooting the modem now", "modem reboot"},
	} {
		t.Run(c.text, func(t *testing.T) {
			h := newHarness(t, "mf920v", nil)
			h.send(owner, c.text)
			h.send(owner, "ping")
			h.step()
			ev := h.sim.Record().Events
			reply := slices.IndexFunc(ev, func(e string) bool { return strings.HasPrefix(e, "sent "+owner+": "+c.reply) })
			ping := slices.IndexFunc(ev, func(e string) bool { return strings.HasPrefix(e, "sent "+owner+": pong") })
			action := slices.Index(ev, c.action)
			if reply < 0 || ping < 0 || action < 0 || action < reply || action < ping {
				t.Errorf("modem saw %q: want both replies before %q", ev, c.action)
			}
		})
	}
}
