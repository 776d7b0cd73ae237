//go:build linux && !nosim

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

// atPair is a simulated module and the adapter on its pseudo-terminal.
func atPair(t *testing.T, personality string) (*ATSim, *atModem) {
	t.Helper()
	sim, err := startATSim(personality)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	m, err := newATModem(ATConfig{Device: sim.DevicePath(), Timeout: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return sim, m
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var atPersonalities = []string{"sim7600", "ec25", "sim800"}

func TestATInboxDecodesWhatTheSimulatorDelivered(t *testing.T) {
	at := time.Date(2026, 12, 4, 17, 0, 5, 0, time.FixedZone("", 3600))
	long := strings.Repeat("long message, part after part. ", 12) // 372 chars: 3 parts
	cases := []struct{ from, text string }{
		{"+4915112345678", "4711 status"},
		{"+4915112345678", "ümlaut €uro [x] {y} ~ ^ | \\"},
		{"+4915112345678", "日本語 and emoji 😀"},
		{"0612345678", long},
		{"+33612345678", strings.Repeat("😀 unicode long ", 10)},
		{"Orange", "alphanumeric sender"},
	}
	for _, p := range atPersonalities {
		t.Run(p, func(t *testing.T) {
			sim, m := atPair(t, p)
			ctx := ctxT(t)
			if _, err := m.Poll(ctx); err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				sim.Deliver(c.from, c.text, at)
			}
			msgs, err := m.Inbox(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != len(cases) {
				t.Fatalf("listed %d messages, want %d: %+v", len(msgs), len(cases), msgs)
			}
			for _, c := range cases {
				i := slices.IndexFunc(msgs, func(s SMS) bool { return s.Text == c.text })
				if i < 0 {
					t.Errorf("%q not listed; got %+v", c.text, msgs)
					continue
				}
				s := msgs[i]
				if s.From != c.from || !s.Complete || !s.Time.Equal(at) || s.Problem != "" {
					t.Errorf("%q: got from %q complete %v time %v problem %q", c.text, s.From, s.Complete, s.Time, s.Problem)
				}
				// RawDate is in the form the gateway reads zones from.
				if rt, err := parseSMSDate(s.RawDate); err != nil || !rt.Equal(at) {
					t.Errorf("%q: raw date %q reads %v %v", c.text, s.RawDate, rt, err)
				}
			}
		})
	}
}

func simStoreSize(s *ATSim) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.store {
		n += len(st)
	}
	return n
}

func TestATDeleteRemovesEveryPartOfAMergedMessage(t *testing.T) {
	for _, p := range atPersonalities {
		t.Run(p, func(t *testing.T) {
			sim, m := atPair(t, p)
			ctx := ctxT(t)
			now := time.Now()
			sim.Deliver("+4915112345678", strings.Repeat("x", 400), now) // 3 parts
			sim.Deliver("+4915112345678", "keep me", now)
			msgs, err := m.Inbox(ctx)
			if err != nil || len(msgs) != 2 {
				t.Fatalf("inbox: %v %+v", err, msgs)
			}
			long := msgs[slices.IndexFunc(msgs, func(s SMS) bool { return s.Text != "keep me" })]
			if err := m.Delete(ctx, long.ID); err != nil {
				t.Fatal(err)
			}
			if n := simStoreSize(sim); n != 1 {
				t.Fatalf("%d stored after deleting the long message, want 1 (%v)", n, sim.Actions())
			}
			left, err := m.Inbox(ctx)
			if err != nil || len(left) != 1 || left[0].Text != "keep me" {
				t.Fatalf("after delete: %v %+v", err, left)
			}
			// Deleting it again: nothing there any more, said so.
			if err := m.Delete(ctx, long.ID); err == nil {
				t.Error("deleting a message no longer listed: no error")
			}
		})
	}
}

// A message deleted behind smsgate's back and another filed at its index:
// Delete must not take the newcomer.
func TestATDeleteLeavesANewcomerAtTheSameIndexAlone(t *testing.T) {
	sim, m := atPair(t, "ec25")
	ctx := ctxT(t)
	if _, err := m.Poll(ctx); err != nil { // both go to the store smsgate set
		t.Fatal(err)
	}
	sim.Deliver("+4915112345678", "old", time.Now())
	msgs, err := m.Inbox(ctx)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("inbox: %v %+v", err, msgs)
	}
	sim.mu.Lock()
	for _, st := range sim.store {
		clear(st)
	}
	sim.mu.Unlock()
	sim.Deliver("+4915112345678", "newcomer", time.Now())
	err = m.Delete(ctx, msgs[0].ID)
	if err == nil {
		t.Fatal("delete of a replaced index: no error")
	}
	if simStoreSize(sim) != 1 {
		t.Fatalf("the newcomer was deleted: %v", sim.Actions())
	}
}

func TestATIncompleteMessageListedAsSuch(t *testing.T) {
	for _, p := range atPersonalities {
		t.Run(p, func(t *testing.T) {
			sim, m := atPair(t, p)
			sim.DeliverIncomplete("+4915112345678", strings.Repeat("y", 400), time.Now(), 2)
			msgs, err := m.Inbox(ctxT(t))
			if err != nil || len(msgs) != 1 {
				t.Fatalf("inbox: %v %+v", err, msgs)
			}
			if msgs[0].Complete || !strings.Contains(msgs[0].Problem, "2 of 3 parts") {
				t.Fatalf("got complete %v problem %q", msgs[0].Complete, msgs[0].Problem)
			}
			if err := m.Delete(ctxT(t), msgs[0].ID); err != nil || simStoreSize(sim) != 0 {
				t.Fatalf("delete: %v, %d left", err, simStoreSize(sim))
			}
		})
	}
}

func TestATSend(t *testing.T) {
	long := strings.Repeat("0123456789", 20)
	cases := []struct {
		name     string
		text     string
		maxParts int
		want     []string // texts of the parts the module took
		err      error
	}{
		{"gsm", "pong, up 3h00m [ok] €", 1, []string{"pong, up 3h00m [ok] €"}, nil},
		{"ucs2", "ответ: 😀", 1, []string{"ответ: 😀"}, nil},
		{"long refused", long, 1, nil, errTooLong},
		{"long split", long, 2, []string{long[:153], long[153:]}, nil},
		{"escape kept whole", strings.Repeat("a", 152) + "€bcdefghi", 2, []string{strings.Repeat("a", 152), "€bcdefghi"}, nil},
		{"surrogates kept whole", strings.Repeat("ж", 66) + "😀wxyz", 2, []string{strings.Repeat("ж", 66), "😀wxyz"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sim, m := atPair(t, "sim7600")
			m.cfg.MaxParts = c.maxParts
			err := m.Send(ctxT(t), "+4915112345678", c.text)
			if !errors.Is(err, c.err) {
				t.Fatalf("send: %v, want %v", err, c.err)
			}
			var got []string
			for _, s := range sim.Sent() {
				if s.To != "+4915112345678" {
					t.Errorf("sent to %q", s.To)
				}
				got = append(got, s.Text)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("module took %q, want %q (%v)", got, c.want, sim.Actions())
			}
		})
	}
}

func TestATSendUnansweredIsUnconfirmedAndNotRepeated(t *testing.T) {
	sim, m := atPair(t, "ec25")
	ctx := ctxT(t)
	if _, err := m.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	sim.SetFaults(atSimFaults{CMGSSilent: true})
	m.cfg.Timeout = 300 * time.Millisecond
	start := time.Now()
	c2, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := m.Send(c2, "+4915112345678", "hello")
	if !errors.Is(err, errSendUnconfirmed) {
		t.Fatalf("send: %v after %v, want errSendUnconfirmed", err, time.Since(start))
	}
	if n := len(sim.Sent()); n != 1 {
		t.Fatalf("module took %d PDUs, want 1", n)
	}
	// The line works again afterwards.
	sim.SetFaults(atSimFaults{})
	if _, err := m.Capacity(ctx); err != nil {
		t.Fatalf("after the unanswered send: %v", err)
	}
}

func TestATSendRefusedIsAnError(t *testing.T) {
	sim, m := atPair(t, "sim800")
	sim.SetLink(false)
	err := m.Send(ctxT(t), "+4915112345678", "hello")
	var ae *atError
	if !errors.As(err, &ae) || ae.code() != 331 || errors.Is(err, errSendUnconfirmed) {
		t.Fatalf("send with no network: %v, want +CMS ERROR: 331", err)
	}
}

func waitEvent(t *testing.T, ch <-chan struct{}, d time.Duration) bool {
	t.Helper()
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

func drainEvents(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func TestATEventOnCMTIAndIdleCostsNothing(t *testing.T) {
	sim, m := atPair(t, "sim7600")
	ctx := ctxT(t)
	st0, err := m.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st0.SIMReady || !st0.Registered {
		t.Fatalf("poll after init: %+v", st0)
	}
	drainEvents(m.Events())
	before := len(sim.Commands())
	for i := 0; i < 50; i++ {
		st, err := m.Poll(ctx)
		if err != nil || st.Unread != st0.Unread {
			t.Fatalf("idle poll %d: %+v %v", i, st, err)
		}
	}
	if n := len(sim.Commands()) - before; n != 0 {
		t.Fatalf("50 idle polls cost %d AT commands: %v", n, sim.Commands()[before:])
	}
	sim.Deliver("+4915112345678", "status", time.Now())
	if !waitEvent(t, m.Events(), 2*time.Second) {
		t.Fatal("no event after +CMTI")
	}
	st, err := m.Poll(ctx)
	if err != nil || st.Unread == st0.Unread {
		t.Fatalf("poll after +CMTI: %+v %v, unread unchanged", st, err)
	}
	// The probe comes once ProbeEvery has passed.
	m.lastProbe = time.Now().Add(-2 * m.cfg.ProbeEvery)
	before = len(sim.Commands())
	if _, err := m.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sim.Commands()[before:]; !slices.Equal(got, []string{"AT"}) {
		t.Fatalf("probe sent %q, want one AT", got)
	}
}

func TestATLineFaults(t *testing.T) {
	cases := []struct {
		name   string
		faults atSimFaults
	}{
		{"echo stuck on", atSimFaults{EchoStuck: true}},
		{"URC in the middle of a listing", atSimFaults{URCMidAnswer: true}},
	}
	for _, c := range cases {
		for _, p := range atPersonalities {
			t.Run(c.name+"/"+p, func(t *testing.T) {
				sim, m := atPair(t, p)
				sim.SetFaults(c.faults)
				ctx := ctxT(t)
				sim.Deliver("+4915112345678", "one", time.Now())
				sim.Deliver("+4915112345678", strings.Repeat("two ", 50), time.Now())
				msgs, err := m.Inbox(ctx)
				if err != nil || len(msgs) != 2 || msgs[0].Text != "one" && msgs[1].Text != "one" {
					t.Fatalf("inbox: %v %+v", err, msgs)
				}
				for _, s := range msgs {
					if err := m.Delete(ctx, s.ID); err != nil {
						t.Fatal(err)
					}
				}
				if err := m.Send(ctx, "+4915112345678", "pong"); err != nil {
					t.Fatal(err)
				}
				if simStoreSize(sim) != 0 || len(sim.Sent()) != 1 {
					t.Fatalf("%d stored, %d sent: %v", simStoreSize(sim), len(sim.Sent()), sim.Actions())
				}
			})
		}
	}
}

// A command that never answers times out; the line is resynchronised and
// the next command gets its own answer, not a late one.
func TestATNeverAnsweredCommandThenResync(t *testing.T) {
	sim, m := atPair(t, "sim7600")
	ctx := ctxT(t)
	m.cfg.Timeout = 200 * time.Millisecond
	if _, err := m.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	sim.Deliver("+4915112345678", "status", time.Now())
	sim.SetFaults(atSimFaults{NeverAnswer: "AT+CMGL"})
	if _, err := m.Inbox(ctx); !errors.Is(err, errATTimeout) {
		t.Fatalf("inbox with a silent module: %v, want a timeout", err)
	}
	sim.SetFaults(atSimFaults{})
	msgs, err := m.Inbox(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "status" {
		t.Fatalf("inbox after resync: %v %+v", err, msgs)
	}
	c, err := m.Capacity(ctx)
	if err != nil || c.Used != 1 {
		t.Fatalf("capacity after resync: %+v %v", c, err)
	}
}

// The module restarts between two commands of a pass: settings are gone
// (echo on, no +CMTI); smsgate sets it up again and lists.
func TestATModuleRestartMidPass(t *testing.T) {
	for _, p := range atPersonalities {
		t.Run(p, func(t *testing.T) {
			sim, m := atPair(t, p)
			ctx := ctxT(t)
			st0, err := m.Poll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			drainEvents(m.Events())
			sim.Reboot()
			if !waitEvent(t, m.Events(), 2*time.Second) {
				t.Fatal("no event after RDY")
			}
			st, err := m.Poll(ctx)
			if err != nil || st.Unread == st0.Unread {
				t.Fatalf("poll after restart: %+v %v", st, err)
			}
			drainEvents(m.Events())
			sim.Deliver("+4915112345678", "after restart", time.Now())
			if !waitEvent(t, m.Events(), 2*time.Second) {
				t.Fatal("no +CMTI after restart: not set up again")
			}
			msgs, err := m.Inbox(ctx)
			if err != nil || len(msgs) != 1 {
				t.Fatalf("inbox after restart: %v %+v", err, msgs)
			}
		})
	}
}

// The device node vanishes (USB re-enumeration) and comes back: errors
// meanwhile, then the module is reopened and set up, nothing lost.
func TestATDeviceVanishesAndComesBack(t *testing.T) {
	sim, m := atPair(t, "ec25")
	ctx := ctxT(t)
	if _, err := m.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	sim.Deliver("+4915112345678", "before", time.Now())
	sim.Unplug()
	gone := time.Now().Add(2 * time.Second)
	for _, err := m.Poll(ctx); err == nil; _, err = m.Poll(ctx) {
		if time.Now().After(gone) {
			t.Fatal("poll with the device gone: no error")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := sim.Replug(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := m.Poll(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not back after replug: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	msgs, err := m.Inbox(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "before" {
		t.Fatalf("inbox after replug: %v %+v", err, msgs)
	}
}

func TestATCallsReportedOncePerCall(t *testing.T) {
	sim, m := atPair(t, "sim800")
	if _, err := m.Poll(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	sim.Ring("+4915112345678")
	sim.Ring("+4915112345678")
	select {
	case c := <-m.Calls():
		if c.Number != "+4915112345678" {
			t.Fatalf("call from %q", c.Number)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no call reported")
	}
	select {
	case c := <-m.Calls():
		t.Fatalf("the second ring of one call reported again: %+v", c)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestATUSSD(t *testing.T) {
	sim, m := atPair(t, "sim7600")
	ctx := ctxT(t)
	got, err := m.USSD(ctx, "*100#")
	if err != nil || got != "Balance for *100#:\n12.34 EUR" {
		t.Fatalf("ussd: %q %v", got, err)
	}
	sim.SetFaults(atSimFaults{USSDSilent: true})
	m.ussdWait = 200 * time.Millisecond
	if _, err := m.USSD(ctx, "*100#"); !errors.Is(err, errNoUSSDAnswer) {
		t.Fatalf("silent ussd: %v", err)
	}
	if _, err := m.USSD(ctx, "*100#\"\r\nAT+CFUN=0"); err == nil {
		t.Fatal("a code with a quote and a line break was sent")
	}
}

func TestATRebootReconnectStatus(t *testing.T) {
	sim, m := atPair(t, "ec25")
	ctx := ctxT(t)
	st, err := m.Status(ctx)
	if err != nil || !st.SIMReady || st.Network != "LTE" || st.Operator != "Sim Telecom" || st.Bars < 3 || !st.DataUp {
		t.Fatalf("status: %+v %v", st, err)
	}
	how, err := m.Reconnect(ctx)
	if err != nil || !strings.Contains(how, "attached again") {
		t.Fatalf("reconnect: %q %v", how, err)
	}
	drainEvents(m.Events())
	if err := m.Reboot(ctx); err != nil {
		t.Fatal(err)
	}
	if !waitEvent(t, m.Events(), 3*time.Second) {
		t.Fatal("no event after the module came back")
	}
	if _, err := m.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	acts := strings.Join(sim.Actions(), ",")
	if acts != "cgatt=0,cgatt=1,reboot" {
		t.Fatalf("actions %q", acts)
	}
	sim.SetLink(false)
	// Real time (a pseudo-terminal): poll until the module says so.
	var down PollState
	waitFor(t, "the link down", func() bool { down, err = m.Poll(ctx); return err != nil || !down.Registered })
	if err != nil || down.Registered {
		t.Fatalf("poll with the link down: %+v %v", down, err)
	}
}

// parseSerialAddr reads an address as -modem does, into the AT adapter's
// configuration with its defaults.
func parseSerialAddr(s string) (ATConfig, error) {
	t, err := parseModemAddress(s, "", ModemConfig{})
	if err != nil {
		return ATConfig{}, err
	}
	if t.Family != familyAT {
		return ATConfig{}, fmt.Errorf("%q is no serial address", s)
	}
	cfg := atConfigOf(t)
	cfg.defaults()
	return cfg, nil
}

func TestParseSerialAddr(t *testing.T) {
	cases := []struct {
		in   string
		dev  string
		baud int
		ok   bool
	}{
		{"serial:/dev/ttyUSB2", "/dev/ttyUSB2", 115200, true},
		{"serial:/dev/ttyAMA0?baud=9600", "/dev/ttyAMA0", 9600, true},
		{"serial:/dev/serial/by-id/usb-Quectel_EC25-if02-port0", "/dev/serial/by-id/usb-Quectel_EC25-if02-port0", 115200, true},
		{"serial:ttyUSB2", "", 0, false},
		{"serial:/dev/ttyUSB2?baud=fast", "", 0, false},
		{"serial:/dev/ttyUSB2?speed=9600", "", 0, false},
		{"/dev/ttyUSB2", "", 0, false},
	}
	for _, c := range cases {
		got, err := parseSerialAddr(c.in)
		if (err == nil) != c.ok || got.Device != c.dev || got.Baud != c.baud {
			t.Errorf("%q: %+v %v", c.in, got, err)
		}
	}
}

func TestATDoctorChecks(t *testing.T) {
	sim, m := atPair(t, "sim800")
	got := m.DoctorChecks(ctxT(t))
	var names []string
	for _, c := range got {
		names = append(names, c.Name)
		if c.Level != levelOK {
			t.Errorf("%s: %s %s", c.Name, c.Level, c.Detail)
		}
	}
	if want := []string{"serial", "AT", "SIM", "PDU mode", "storage", "network"}; !slices.Equal(names, want) {
		t.Fatalf("checks %q, want %q", names, want)
	}
	sim.SetLink(false)
	sim.Unplug()
	got = m.DoctorChecks(ctxT(t))
	if last := got[len(got)-1]; last.Name != "serial" || last.Level != levelFail || last.Fix == "" {
		t.Fatalf("device gone: %+v", got)
	}
}

func TestConsoleCheck(t *testing.T) {
	cases := []struct {
		dev, resolved, cmdline string
		applies                bool
		level                  checkLevel
	}{
		{"/dev/ttyUSB2", "/dev/ttyUSB2", "console=serial0,115200 console=tty1", false, levelOK},
		{"/dev/serial0", "/dev/ttyS0", "console=serial0,115200 console=tty1 root=PARTUUID=x", true, levelFail},
		{"/dev/ttyAMA0", "/dev/ttyAMA0", "console=tty1 root=/dev/mmcblk0p2", true, levelOK},
		{"/dev/serial0", "/dev/ttyAMA0", "console=ttyAMA0,115200", true, levelFail},
	}
	for _, c := range cases {
		got, ok := consoleCheck(c.dev, c.resolved, c.cmdline)
		if ok != c.applies || (ok && got.Level != c.level) {
			t.Errorf("%s %q: %+v %v", c.dev, c.cmdline, got, ok)
		}
	}
}

// Listing marks a message read in the module; smsgate reports it unread
// until it is asked to mark it read, so -mark-read never skips a command
// only because it was listed before.
func TestATReadOnlyWhenMarkedRead(t *testing.T) {
	sim, m := atPair(t, "sim7600")
	ctx := ctxT(t)
	sim.Deliver("+4915112345678", strings.Repeat("z", 200), time.Now())
	for i := 0; i < 2; i++ {
		msgs, err := m.Inbox(ctx)
		if err != nil || len(msgs) != 1 || msgs[0].Read {
			t.Fatalf("listing %d: %v %+v", i, err, msgs)
		}
	}
	msgs, _ := m.Inbox(ctx)
	if err := m.MarkRead(ctx, msgs[0].ID); err != nil {
		t.Fatal(err)
	}
	if msgs, err := m.Inbox(ctx); err != nil || len(msgs) != 1 || !msgs[0].Read {
		t.Fatalf("after MarkRead: %v %+v", err, msgs)
	}
}

// +CMTI lost (the fault drops it): no event, and a pass between sweeps
// reads only what was indicated; the sweep (every SweepEvery) finds it.
func TestATLostIndicationFoundBySweep(t *testing.T) {
	sim, m := atPair(t, "ec25")
	ctx := ctxT(t)
	if _, err := m.Inbox(ctx); err != nil { // the first listing is a sweep
		t.Fatal(err)
	}
	drainEvents(m.Events())
	sim.SetFaults(atSimFaults{DropCMTI: true})
	sim.Deliver("+4915112345678", "status", time.Now())
	if waitEvent(t, m.Events(), 200*time.Millisecond) {
		t.Fatal("an event without +CMTI")
	}
	if msgs, err := m.Inbox(ctx); err != nil || len(msgs) != 0 {
		t.Fatalf("between sweeps: %v %+v", err, msgs)
	}
	m.fullAt = m.fullAt.Add(-m.cfg.SweepEvery)
	msgs, err := m.Inbox(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "status" {
		t.Fatalf("sweep: %v %+v", err, msgs)
	}
}

// Between sweeps, a +CMTI costs one AT+CMGR of the index it names, not a
// listing of every message the store holds.
func TestATIndicatedPassReadsOnlyTheIndex(t *testing.T) {
	sim, m := atPair(t, "sim7600")
	ctx := ctxT(t)
	if _, err := m.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		sim.Deliver("+33600000000", fmt.Sprintf("stranger %d", i), time.Now())
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		m.st.Lock()
		n := len(m.st.pending)
		m.st.Unlock()
		if n == 20 { // every indication read off the line before the sweep
			break
		}
	}
	if msgs, err := m.Inbox(ctx); err != nil || len(msgs) != 20 {
		t.Fatalf("sweep: %v %d", err, len(msgs))
	}
	drainEvents(m.Events())
	before := len(sim.Commands())
	sim.Deliver("+4915112345678", "status", time.Now())
	if !waitEvent(t, m.Events(), 2*time.Second) {
		t.Fatal("no event")
	}
	msgs, err := m.Inbox(ctx)
	if err != nil || len(msgs) != 21 || !slices.ContainsFunc(msgs, func(s SMS) bool { return s.Text == "status" }) {
		t.Fatalf("after +CMTI: %v %+v", err, msgs)
	}
	if got := sim.Commands()[before:]; len(got) != 1 || !strings.HasPrefix(got[0], "AT+CMGR=") {
		t.Fatalf("the pass sent %q, want one AT+CMGR", got)
	}
}

// The module restarts while a listing is in flight: the listing fails
// (nothing is decided on half an answer), the next one sets the module up
// again and finds every message, and +CMTI works again.
func TestATRestartDuringListing(t *testing.T) {
	sim, m := atPair(t, "sim7600")
	ctx := ctxT(t)
	m.cfg.Timeout = 300 * time.Millisecond
	sim.Deliver("+4915112345678", "one", time.Now())
	if _, err := m.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	sim.SetFaults(atSimFaults{NeverAnswer: "AT+CMGL"})
	done := make(chan error, 1)
	go func() {
		_, err := m.Inbox(ctx)
		done <- err
	}()
	// Real time: the module is on a pseudo-terminal, outside any bubble.
	// The restart comes once the listing is on the line.
	before := len(sim.Commands())
	waitFor(t, "the listing sent", func() bool {
		return slices.ContainsFunc(sim.Commands()[before:], func(c string) bool { return strings.HasPrefix(c, "AT+CMGL") })
	})
	sim.Reboot()
	if err := <-done; err == nil {
		t.Fatal("a listing the module never finished: no error")
	}
	sim.SetFaults(atSimFaults{})
	msgs, err := m.Inbox(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "one" {
		t.Fatalf("after restart: %v %+v", err, msgs)
	}
	drainEvents(m.Events())
	sim.Deliver("+4915112345678", "two", time.Now())
	if !waitEvent(t, m.Events(), 2*time.Second) {
		t.Fatal("no +CMTI after the restart")
	}
}

// A locked SIM: Poll answers (SIMReady false) without an init each poll;
// +CPIN: READY sets the module up at once.
func TestATSIMNotReadyThenReady(t *testing.T) {
	sim, m := atPair(t, "ec25")
	ctx := ctxT(t)
	sim.SetSIM(false)
	st, err := m.Poll(ctx)
	if err != nil || st.SIMReady {
		t.Fatalf("poll with a locked SIM: %+v %v", st, err)
	}
	before := len(sim.Commands())
	for i := 0; i < 5; i++ {
		if _, err := m.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(sim.Commands()) - before; n != 0 {
		t.Fatalf("5 polls with a locked SIM cost %d commands", n)
	}
	if _, err := m.Inbox(ctx); !errors.Is(err, errSIMNotReady) {
		t.Fatalf("inbox with a locked SIM: %v", err)
	}
	drainEvents(m.Events())
	sim.SetSIM(true)
	if !waitEvent(t, m.Events(), 2*time.Second) {
		t.Fatal("no event on +CPIN: READY")
	}
	if st, err := m.Poll(ctx); err != nil || !st.SIMReady {
		t.Fatalf("poll once the SIM is ready: %+v %v", st, err)
	}
}

func TestRunATSim(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	outR, outW := io.Pipe()
	go func() {
		done <- runATSimCtx(ctx, []string{"-personality", "ec25", "-deliver", "+4915112345678=hello", "-deliver-stdin"}, pr, outW, io.Discard)
		outW.Close()
	}()
	line := make([]byte, 200)
	n, _ := outR.Read(line)
	_, addr, ok := strings.Cut(strings.TrimSpace(string(line[:n])), "-modem ")
	cfg, err := parseSerialAddr(addr)
	if !ok || err != nil {
		t.Fatalf("printed %q: %v", line[:n], err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := newATModem(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Poll(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	drainEvents(m.Events())
	io.WriteString(pw, "+4915112345678=second\n")
	if !waitEvent(t, m.Events(), 2*time.Second) {
		t.Fatal("no event for the stdin delivery")
	}
	msgs, err := m.Inbox(ctxT(t))
	if err != nil || len(msgs) != 2 {
		t.Fatalf("inbox: %v %+v", err, msgs)
	}
	cancel()
	go io.Copy(io.Discard, outR)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Messages arrive while the adapter lists and deletes, with URCs in the
// middle of answers and echo stuck on: each is listed complete and deleted
// once, none is lost, none is deleted unlisted.
func TestATNoLossUnderChurn(t *testing.T) {
	for _, p := range atPersonalities {
		t.Run(p, func(t *testing.T) {
			sim, m := atPair(t, p)
			ctx := ctxT(t)
			sim.SetFaults(atSimFaults{URCMidAnswer: true, EchoStuck: true})
			if _, err := m.Poll(ctx); err != nil {
				t.Fatal(err)
			}
			const n = 40
			go func() {
				for i := 0; i < n; i++ {
					text := fmt.Sprintf("msg %d", i)
					if i%5 == 0 {
						text += strings.Repeat(" long", 40)
					}
					sim.Deliver("+4915112345678", text, time.Now())
					time.Sleep(time.Duration(i%4) * time.Millisecond) // real time on purpose: arrivals spread over the pty's reads
				}
			}()
			seen := map[string]int{}
			deadline := time.Now().Add(20 * time.Second)
			for len(seen) < n && time.Now().Before(deadline) {
				waitEvent(t, m.Events(), 50*time.Millisecond)
				msgs, err := m.Inbox(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var ids []int64
				for _, s := range msgs {
					if !s.Complete {
						continue // its other parts are on their way
					}
					seen[s.Text]++
					ids = append(ids, s.ID)
				}
				if err := m.Delete(ctx, ids...); err != nil {
					t.Fatal(err)
				}
			}
			if len(seen) != n {
				t.Fatalf("%d of %d messages seen", len(seen), n)
			}
			for text, k := range seen {
				if k != 1 {
					t.Errorf("%.20q listed complete %d times", text, k)
				}
			}
			if left := simStoreSize(sim); left != 0 {
				t.Errorf("%d parts left in the store", left)
			}
		})
	}
}
