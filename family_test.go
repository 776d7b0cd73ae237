package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The behaviour table: what smsgate promises its owner (exactly once,
// strangers ignored, PIN and TOTP, healing, alerts, room making) checked
// against every family's simulator through the modem port, one row per
// family. Adding a family is one entry in families and one familySim
// adapter around its simulator.

// familySim is what a behaviour test needs of a family's simulator. Every
// simulator is written from the notes on its own; its adapter here only
// translates.
type familySim interface {
	// Deliver stores a received SMS dated at and returns its id as the
	// client will see it.
	Deliver(from, text string, at time.Time) int64
	// DeliverIncomplete stores a long SMS with a part missing; Complete
	// brings the missing part.
	DeliverIncomplete(from, text string, at time.Time) int64
	Complete(id int64)
	// Inbox lists the ids stored, in any order.
	Inbox() []int64
	// Sent is what the client asked to send and the modem confirmed, in
	// order.
	Sent() []familySent
	// Done counts the actions the modem carried out.
	Done() familyDone
	// SetLink takes mobile data down or brings it up (the radio stays
	// registered: SMS still work).
	SetLink(up bool)
	// SetStuck: "" a reconnect brings a down link back; "reboot" only a
	// modem reboot does.
	SetStuck(mode string)
	// SetCapacity is how many messages the store holds.
	SetCapacity(n int)
	// FailDeletes refuses the next n deletions, then obeys.
	FailDeletes(n int)
	// ExpireSessions ends every session, as an idle timeout does.
	ExpireSessions()
	// Logins counts the login attempts made.
	Logins() int
	Close()
}

// sessionless is a familySim whose modem has no login: session expiry
// does not apply to it, and NoSessions says why.
type sessionless interface{ NoSessions() string }

type familySent struct{ Number, Text string }

type familyDone struct{ Reboots, Reconnects int }

// simFamily is one row: how to start the family's simulator (on
// 127.0.0.1:0 or a pseudo-terminal the test made) on the test's clock,
// with a client for it built as the daemon builds it. The simulator
// accepts password "pw", and the client is given it. A modem reboot lasts
// one minute of the fake clock.
type simFamily struct {
	name  string
	start func(t *testing.T, clk *fakeClock) (familySim, modemPort)
}

// families is the table's rows. The other families' rows are added with
// their simulators: {familyHiLink, startHiLinkFamily}, ...
var families = []simFamily{
	{familyZTE, startZTEFamily},
	{familyZTE + "/f50", startZTEPersonality("f50")},     // base64 inbox
	{familyZTE + "/mc889", startZTEPersonality("mc889")}, // RED encryption
	{familyUbus, startZTEPersonality("u60pro")},
	{familyHiLink, startHiLinkFamily},
}

// zteFamily is the ZTE goform simulator as a familySim.
type zteFamily struct{ sim *Sim }

func startZTEFamily(t *testing.T, clk *fakeClock) (familySim, modemPort) {
	return startZTEPersonality("mf920v")(t, clk)
}

// startZTEPersonality is the row of one of the ZTE simulator's
// personalities, goform or ubus.
func startZTEPersonality(personality string) func(t *testing.T, clk *fakeClock) (familySim, modemPort) {
	return func(t *testing.T, clk *fakeClock) (familySim, modemPort) {
		t.Helper()
		sim, err := NewSim(personality, "pw")
		if err != nil {
			t.Fatal(err)
		}
		return startZTESim(t, clk, sim)
	}
}

func startZTESim(t *testing.T, clk *fakeClock, sim *Sim) (familySim, modemPort) {
	t.Helper()
	sim.now = clk.Now
	sim.RebootTime = time.Minute
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	p, err := openTarget(context.Background(), portTarget{Config: ModemConfig{URL: sim.URL, Password: "pw", Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	switch m := p.(type) {
	case *Modem:
		m.now = clk.Now
		m.statusEvery, m.sendSettle = time.Millisecond, time.Millisecond
	case *ubusModem:
		m.now = clk.Now
		m.statusEvery, m.sendSettle = time.Millisecond, time.Millisecond
	}
	return zteFamily{sim}, p
}

func (z zteFamily) Deliver(from, text string, at time.Time) int64 {
	return z.sim.Deliver(from, text, at)
}
func (z zteFamily) DeliverIncomplete(from, text string, at time.Time) int64 {
	return z.sim.DeliverIncomplete(from, text, at)
}
func (z zteFamily) Complete(id int64) { z.sim.CompleteMessage(id) }
func (z zteFamily) Inbox() []int64    { return z.sim.Inbox() }
func (z zteFamily) Sent() []familySent {
	var out []familySent
	for _, s := range z.sim.Record().Sent {
		out = append(out, familySent{s.Number, s.Text})
	}
	return out
}
func (z zteFamily) Done() familyDone {
	r := z.sim.Record()
	return familyDone{Reboots: r.Reboots, Reconnects: r.Connects}
}
func (z zteFamily) SetLink(up bool) {
	if up {
		z.sim.SetLink(z.sim.p.connected, "4")
	} else {
		z.sim.SetLink("ppp_disconnected", "4")
	}
}
func (z zteFamily) SetStuck(mode string) { z.sim.SetStuck(mode) }
func (z zteFamily) SetCapacity(n int) {
	z.sim.mu.Lock()
	defer z.sim.mu.Unlock()
	z.sim.Capacity = n
}
func (z zteFamily) FailDeletes(n int) {
	z.sim.SetFaults(func(f *SimFaults) { f.FailTimes = map[string]int{"DELETE_SMS": n} })
}
func (z zteFamily) ExpireSessions() { z.sim.ExpireSessions() }
func (z zteFamily) Logins() int     { return len(z.sim.Record().Logins) }
func (z zteFamily) Close()          { z.sim.Close() }

// famHarness runs the real gateway against one family's simulator.
type famHarness struct {
	t       *testing.T
	sim     familySim
	port    modemPort
	clk     *fakeClock
	gw      *Gateway
	reboots *countingRebooter
	ir      *recordingIR
	logs    *lockedBuffer
	cfg     GatewayConfig
	host    hostInfo
}

func newFamHarness(t *testing.T, f simFamily, mutate func(*GatewayConfig)) *famHarness {
	t.Helper()
	clk := newFakeClock()
	sim, port := f.start(t, clk)
	h := &famHarness{t: t, sim: sim, port: port, clk: clk, reboots: &countingRebooter{}, ir: &recordingIR{},
		logs: &lockedBuffer{}, host: fakeHost{uptime: 3 * time.Hour}}
	h.cfg = daemonGatewayConfig(t)
	// As installed: families that report no attempts left log in only
	// with a state directory to write each login down in.
	h.cfg.StateDir = t.TempDir()
	if mutate != nil {
		mutate(&h.cfg)
	}
	h.restart()
	return h
}

// restart builds a fresh gateway on the same port, as after a restart of
// smsgate.
func (h *famHarness) restart() {
	log := slog.New(slog.NewJSONHandler(h.logs, nil))
	actions := &Actions{modem: h.port, reboot: h.reboots, ir: h.ir, host: h.host, log: log}
	gw, err := NewGateway(h.cfg, h.port, actions, &recordingLED{}, log)
	if err != nil {
		h.t.Fatal(err)
	}
	gw.now = h.clk.Now
	h.gw = gw
}

func (h *famHarness) step() { h.gw.Step(context.Background()) }

func (h *famHarness) steps(n int) {
	for i := 0; i < n; i++ {
		h.step()
	}
}

func (h *famHarness) send(from, text string) int64 { return h.sim.Deliver(from, text, h.clk.Now()) }

// decisions are the "sms" log lines' decisions for id, in order.
func (h *famHarness) decisions(id int64) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(h.logs.String()))
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			h.t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		if v["msg"] == "sms" && int64(v["id"].(float64)) == id {
			out = append(out, fmt.Sprint(v["decision"]))
		}
	}
	return out
}

// decision checks that id got exactly one log line, and returns its verdict.
func (h *famHarness) decision(id int64) string {
	h.t.Helper()
	d := h.decisions(id)
	if len(d) != 1 {
		h.t.Fatalf("sms %d has %d log lines, want 1: %v", id, len(d), d)
	}
	return d[0]
}

func (h *famHarness) replies() []string {
	var out []string
	for _, s := range h.sim.Sent() {
		out = append(out, s.Number+": "+s.Text)
	}
	return out
}

func (h *famHarness) inInbox(id int64) bool {
	for _, i := range h.sim.Inbox() {
		if i == id {
			return true
		}
	}
	return false
}

// forFamilies runs test once per row.
func forFamilies(t *testing.T, test func(t *testing.T, f simFamily)) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) { test(t, f) })
	}
}

func TestFamilyOwnerCommandsOnce(t *testing.T) {
	forFamilies(t, func(t *testing.T, f simFamily) {
		h := newFamHarness(t, f, nil)
		ids := []int64{h.send(owner, "help"), h.send(owner, "ping"), h.send(owner, "Status"), h.send(owner, "what?")}
		h.step()
		want := []string{"executed", "executed", "executed", "rejected"}
		for i, id := range ids {
			if got := h.decision(id); got != want[i] {
				t.Errorf("sms %d: %s, want %s", id, got, want[i])
			}
		}
		if inbox := h.sim.Inbox(); len(inbox) != 0 {
			t.Errorf("commands left in the inbox: %v", inbox)
		}
		r := h.replies()
		checks := []string{"smsgate: status | ping", "pong, up 3h00m", "/5", "unknown command; send 'help'"}
		if len(r) != len(checks) {
			t.Fatalf("replies %q", r)
		}
		for i, c := range checks {
			if !strings.HasPrefix(r[i], owner+": ") || !strings.Contains(r[i], c) {
				t.Errorf("reply %d = %q, want %q in it", i, r[i], c)
			}
		}
		if !strings.Contains(r[2], "| pi up 3h00m") {
			t.Errorf("status reply %q", r[2])
		}
		// Nothing new: nothing runs again, nothing is sent again.
		h.steps(3)
		h.restart()
		h.steps(2)
		if n := len(h.replies()); n != len(checks) {
			t.Errorf("%d replies after more polls and a restart, want %d", n, len(checks))
		}
	})
}

func TestFamilyStrangerNeverObeyedNorAnswered(t *testing.T) {
	forFamilies(t, func(t *testing.T, f simFamily) {
		h := newFamHarness(t, f, nil)
		id := h.send("+21699999999", "reboot")
		alpha := h.send("TELKOMSEL", "modem reboot")
		h.steps(65) // past a forced full read
		if h.decision(id) != "ignored" || h.decision(alpha) != "ignored" {
			t.Fatal("stranger not ignored")
		}
		if h.reboots.count() != 0 || len(h.replies()) != 0 || h.sim.Done() != (familyDone{}) {
			t.Fatalf("stranger obeyed or answered: %d reboots, replies %q, modem %+v", h.reboots.count(), h.replies(), h.sim.Done())
		}
		if !h.inInbox(id) || !h.inInbox(alpha) {
			t.Fatal("stranger's messages not left for the owner")
		}
	})
}

func TestFamilyPIN(t *testing.T) {
	forFamilies(t, func(t *testing.T, f simFamily) {
		h := newFamHarness(t, f, func(c *GatewayConfig) { c.PIN = "4711" })
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
		replies := len(h.replies())
		locked := h.send(owner, "4711 ping")
		h.step()
		if h.decision(locked) != "ignored" || len(h.replies()) != replies {
			t.Fatal("locked-out sender got an answer or was obeyed")
		}
		h.clk.Advance(61 * time.Minute)
		again := h.send(owner, "4711 ping")
		h.step()
		if h.decision(again) != "executed" || h.reboots.count() != 0 {
			t.Fatalf("after the lockout: %s, %d reboots", h.decisions(again), h.reboots.count())
		}
	})
}

func TestFamilyTOTP(t *testing.T) {
	forFamilies(t, func(t *testing.T, f simFamily) {
		key := []byte("12345678901234567890")
		h := newFamHarness(t, f, func(c *GatewayConfig) { c.TOTP = newTOTP(key) })
		now := h.clk.Now()
		ok := h.send(owner, code(key, now)+" ping")
		h.step()
		h.clk.Advance(5 * time.Second)
		replay := h.send(owner, code(key, now)+" ping")
		h.step()
		bare := h.send(owner, "ping")
		h.step()
		if h.decision(ok) != "executed" || h.decision(replay) != "rejected" || h.decision(bare) != "rejected" {
			t.Fatalf("right code %v, replayed %v, none %v", h.decisions(ok), h.decisions(replay), h.decisions(bare))
		}
		if r := h.replies(); len(r) != 3 || !strings.Contains(r[0], "pong") {
			t.Errorf("replies %q", r)
		}
	})
}

// TestFamilyExactlyOnce: a command runs only once it is off the modem, and
// never again, whatever the modem refuses and whenever smsgate restarts.
func TestFamilyExactlyOnce(t *testing.T) {
	forFamilies(t, func(t *testing.T, f simFamily) {
		dir := t.TempDir()
		h := newFamHarness(t, f, func(c *GatewayConfig) { c.StateDir = dir })
		h.sim.FailDeletes(2)
		first := h.send(owner, "reboot")
		h.clk.Advance(time.Second)
		h.send(owner, "ir power")
		h.step()
		if h.reboots.count() != 0 {
			t.Fatal("rebooted although the modem kept the command")
		}
		if d := h.decisions(first); len(d) == 0 || d[0] != "deferred" {
			t.Fatalf("first: %v", d)
		}
		h.steps(3)
		if h.reboots.count() != 1 || len(h.ir.sent) != 1 {
			t.Fatalf("once the modem deleted them: %d reboots, ir %v", h.reboots.count(), h.ir.sent)
		}
		// The Pi comes back: a fresh gateway finds nothing to redo.
		h.host = fakeHost{uptime: time.Hour}
		h.restart()
		h.steps(3)
		if h.reboots.count() != 1 || len(h.ir.sent) != 1 {
			t.Fatalf("ran again after the restart: %d reboots, ir %v", h.reboots.count(), h.ir.sent)
		}
		if len(h.sim.Inbox()) != 0 {
			t.Errorf("left in the inbox: %v", h.sim.Inbox())
		}
	})
}

// TestFamilySessionExpiry: sessions ending between polls cost one login
// each, and no command is lost or run twice.
func TestFamilySessionExpiry(t *testing.T) {
	forFamilies(t, func(t *testing.T, f simFamily) {
		h := newFamHarness(t, f, nil)
		if s, ok := h.sim.(sessionless); ok {
			t.Skip(s.NoSessions())
		}
		h.step()
		before := h.sim.Logins()
		var ids []int64
		for i := 0; i < 3; i++ {
			h.sim.ExpireSessions()
			h.clk.Advance(time.Minute)
			ids = append(ids, h.send(owner, fmt.Sprintf("ping %d", i)))
			h.step()
		}
		for _, id := range ids {
			if h.decision(id) != "executed" {
				t.Errorf("sms %d: %v", id, h.decisions(id))
			}
		}
		if n := len(h.replies()); n != 3 {
			t.Errorf("%d replies, want 3", n)
		}
		if n := h.sim.Logins() - before; n > 3 {
			t.Errorf("%d logins for 3 expired sessions", n)
		}
	})
}

func TestFamilyIncompleteWaits(t *testing.T) {
	forFamilies(t, func(t *testing.T, f simFamily) {
		h := newFamHarness(t, f, nil)
		id := h.sim.DeliverIncomplete(owner, "status "+strings.Repeat("x", 200), h.clk.Now())
		h.steps(3)
		if len(h.replies()) != 0 || !h.inInbox(id) {
			t.Fatalf("incomplete message touched: replies %q, inbox %v", h.replies(), h.sim.Inbox())
		}
		if d := h.decisions(id); len(d) != 1 || d[0] != "incomplete" {
			t.Fatalf("incomplete logged as %v", d)
		}
		h.sim.Complete(id)
		for i := 0; i < incompleteEvery && len(h.decisions(id)) < 2; i++ {
			h.step()
		}
		if d := h.decisions(id); len(d) != 2 || d[1] != "executed" || len(h.replies()) != 1 {
			t.Fatalf("completed message: %v, replies %q", d, h.replies())
		}
	})
}

func TestFamilyRoomMaking(t *testing.T) {
	forFamilies(t, func(t *testing.T, f simFamily) {
		h := newFamHarness(t, f, nil)
		h.sim.SetCapacity(30)
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
		id := h.send(owner, "ping")
		h.steps(2)
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
			t.Errorf("%d inbox-full notices, want 1: %q", notices, h.replies())
		}
	})
}

func TestFamilyKeepInbox(t *testing.T) {
	forFamilies(t, func(t *testing.T, f simFamily) {
		h := newFamHarness(t, f, func(c *GatewayConfig) { c.KeepInbox = true })
		h.sim.SetCapacity(30)
		for i := 0; i < 28; i++ {
			h.sim.Deliver("+3360000000", "advert", h.clk.Now())
		}
		h.steps(2)
		if n := len(h.sim.Inbox()); n != 28 {
			t.Errorf("-keep-inbox left %d of 28", n)
		}
	})
}

// TestFamilyModemCommands: modem reboot and reconnect reach the modem once,
// or are answered as not supported by the family.
func TestFamilyModemCommands(t *testing.T) { forFamilies(t, familyModemCommands) }

func familyModemCommands(t *testing.T, f simFamily) {
	h := newFamHarness(t, f, nil)
	can := h.port.Info().Can
	rc := h.send(owner, "modem reconnect")
	h.step()
	h.clk.Advance(time.Minute)
	rb := h.send(owner, "modem reboot")
	h.step()
	h.clk.Advance(2 * time.Minute)
	h.steps(2)
	want := familyDone{}
	if can.Reconnect {
		want.Reconnects = 1
	}
	if can.Reboot {
		want.Reboots = 1
	}
	if got := h.sim.Done(); got != want {
		t.Errorf("modem did %+v, want %+v", got, want)
	}
	r := strings.Join(h.replies(), "\n")
	for _, c := range []struct {
		id   int64
		can  bool
		yes  string
		name string
	}{{rc, can.Reconnect, "reconnecting mobile data now", "modem reconnect"}, {rb, can.Reboot, "rebooting the modem now", "modem reboot"}} {
		if len(h.decisions(c.id)) != 1 {
			t.Errorf("%s: %v", c.name, h.decisions(c.id))
		}
		want := c.yes
		if !c.can {
			want = c.name + ": not supported by this modem"
		}
		if !strings.Contains(r, want) {
			t.Errorf("replies %q, want %q", r, want)
		}
	}
}

// TestFamilyHealing: a data link that stays down is healed, the owner is
// told, and the modem is not touched while all is well.
func TestFamilyHealing(t *testing.T) { forFamilies(t, familyHealing) }

func familyHealing(t *testing.T, f simFamily) {
	for _, stuck := range []string{"", "reboot"} {
		t.Run("stuck="+stuck, func(t *testing.T) {
			h := newFamHarness(t, f, func(c *GatewayConfig) {
				c.PollInterval = 30 * time.Second
				c.Heal = HealConfig{Enabled: true, StepTimeout: time.Second}
			})
			run := func(d time.Duration) {
				for end := h.clk.Now().Add(d); h.clk.Now().Before(end); h.clk.Advance(h.cfg.PollInterval) {
					h.step()
				}
			}
			run(15 * time.Minute)
			if got := h.sim.Done(); got != (familyDone{}) || len(h.replies()) != 0 {
				t.Fatalf("healing while all is well: %+v, %q", got, h.replies())
			}
			can := h.port.Info().Can
			if !can.LinkState {
				t.Skip("the family does not report the data link: healing has nothing to watch (doctor and README say so)")
			}
			h.sim.SetStuck(stuck)
			h.sim.SetLink(false)
			run(25 * time.Minute)
			done := h.sim.Done()
			r := strings.Join(h.replies(), "\n")
			switch {
			case stuck == "" && can.Reconnect:
				if done.Reconnects != 1 || done.Reboots != 0 || !strings.Contains(r, "fixed by reconnect") {
					t.Errorf("modem %+v, alerts:\n%s", done, r)
				}
			case can.Reboot:
				if done.Reboots != 1 || !strings.Contains(r, "fixed by modem reboot") {
					t.Errorf("modem %+v, alerts:\n%s", done, r)
				}
			}
			if !strings.Contains(r, "mobile data down since 12:15; healing") || (can.Reconnect || can.Reboot) != strings.Contains(r, "back after") {
				t.Errorf("alerts:\n%s", r)
			}
			if !can.Reconnect && strings.Contains(r, "healing: reconnect") || !can.Reboot && strings.Contains(r, "healing: modem reboot") {
				t.Errorf("a step the family cannot take was tried:\n%s", r)
			}
		})
	}
}

// TestFamilyAlerts: the start alert goes out once the modem can send, to
// the -alert number, once.
func TestFamilyAlerts(t *testing.T) {
	forFamilies(t, func(t *testing.T, f simFamily) {
		h := newFamHarness(t, f, func(c *GatewayConfig) { c.AlertTo = []string{"+15550002222"} })
		h.gw.StartAlert(bootCause{}, true)
		for i := 0; i < 5; i++ {
			h.step()
			h.clk.Advance(30 * time.Second)
		}
		var alerts []string
		for _, s := range h.sim.Sent() {
			alerts = append(alerts, s.Number+": "+s.Text)
		}
		if len(alerts) != 1 || !strings.HasPrefix(alerts[0], "+15550002222: smsgate") {
			t.Errorf("alerts %q, want one start alert", alerts)
		}
	})
}

// limitedPort is a family that cannot reconnect nor reboot its modem, as
// some will be: the commands say so, and healing skips to what it can do.
type limitedPort struct{ modemPort }

func (l limitedPort) Info() PortInfo {
	i := l.modemPort.Info()
	i.Can.Reconnect, i.Can.Reboot = false, false
	return i
}

func (limitedPort) Reconnect(context.Context) (string, error) {
	return "", fmt.Errorf("reconnect: %w", errUnsupported)
}

func (limitedPort) Reboot(context.Context) error { return fmt.Errorf("reboot: %w", errUnsupported) }

func TestFamilyWithoutModemActions(t *testing.T) {
	limited := simFamily{"zte-limited", func(t *testing.T, clk *fakeClock) (familySim, modemPort) {
		s, p := startZTEFamily(t, clk)
		return s, limitedPort{p}
	}}
	t.Run("commands", func(t *testing.T) { familyModemCommands(t, limited) })
	t.Run("healing", func(t *testing.T) { familyHealing(t, limited) })
}

// noMarkRead is a family that cannot mark messages read.
type noMarkRead struct{ modemPort }

func (n noMarkRead) Info() PortInfo {
	i := n.modemPort.Info()
	i.Can.MarkRead = false
	return i
}

func (noMarkRead) MarkRead(context.Context, ...int64) error {
	return fmt.Errorf("mark read: %w", errUnsupported)
}

// TestMarkReadWithoutTheCapability: -mark-read on a family that cannot
// mark read still runs each command once, deleting it first.
func TestMarkReadWithoutTheCapability(t *testing.T) {
	f := simFamily{"zte-no-mark-read", func(t *testing.T, clk *fakeClock) (familySim, modemPort) {
		s, p := startZTEFamily(t, clk)
		return s, noMarkRead{p}
	}}
	h := newFamHarness(t, f, func(c *GatewayConfig) { c.MarkRead = true })
	id := h.send(owner, "ping")
	h.steps(3)
	if h.decision(id) != "executed" || len(h.replies()) != 1 || h.inInbox(id) {
		t.Errorf("decisions %v, replies %q, inbox %v", h.decisions(id), h.replies(), h.sim.Inbox())
	}
	if !strings.Contains(h.logs.String(), "cannot mark messages read") {
		t.Error("the fallback was not logged")
	}
}

// eventPort is a port that says when a message arrived, and counts polls.
type eventPort struct {
	modemPort
	ev    chan struct{}
	polls *atomic.Int32
}

func (e eventPort) Events() <-chan struct{} { return e.ev }

func (e eventPort) Poll(ctx context.Context) (PollState, error) {
	defer e.polls.Add(1)
	return e.modemPort.Poll(ctx)
}

// TestEventStartsAPass: an arrival hint starts a pass at once, not at the
// next poll (an hour away here). In a synctest bubble (the simulator on the
// in-memory network, the gateway on the bubble's clock): half an hour with
// no hint brings no pass, and the hint's pass ends well before the tick.
func TestEventStartsAPass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ep := eventPort{ev: make(chan struct{}, 1), polls: &atomic.Int32{}}
		f := simFamily{"zte-events", func(t *testing.T, _ *fakeClock) (familySim, modemPort) {
			sim, m := startSimPiped(t, "mf920v", "pw")
			ep.modemPort = m
			return zteFamily{sim}, ep
		}}
		h := newFamHarness(t, f, func(c *GatewayConfig) { c.PollInterval = time.Hour })
		h.gw.now = time.Now
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- h.gw.Run(ctx) }()
		defer func() { cancel(); <-done }()
		time.Sleep(time.Minute) // the first pass ends
		synctest.Wait()
		if n := ep.polls.Load(); n != 1 {
			t.Fatalf("first pass: %d polls", n)
		}
		id := h.sim.Deliver(owner, "ping", time.Now())
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		if n := ep.polls.Load(); n != 1 || len(h.sim.Sent()) != 0 {
			t.Fatalf("a pass without a hint: %d polls, replies %q", n, h.replies())
		}
		ep.ev <- struct{}{}
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := ep.polls.Load(); n != 2 || len(h.sim.Sent()) != 1 || h.inInbox(id) {
			t.Errorf("after the hint: %d polls, replies %q, inbox %v", n, h.replies(), h.sim.Inbox())
		}
	})
}
