package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// alertTexts is what the gateway queued or sent as alerts.
func (h *harness) alertTexts() []string {
	var out []string
	for _, a := range h.gw.alerts.queue {
		out = append(out, a.text)
	}
	for _, s := range h.sim.Record().Sent {
		out = append(out, s.Text)
	}
	return out
}

// Witness (RED, MC888/MC889): a web UI left open replaces the key after
// every registration, the inbox is full, and the owner's command and three
// strangers' SMS cannot be read. All four were deleted to make room, from
// "" with text "": the command never ran and the log kept nothing of it.
// A record smsgate cannot read is never made room with, says why it waits,
// the owner is told once, and once the key holds the command runs once.
func TestUnreadableRecordsNeverMakeRoom(t *testing.T) {
	h := newHarness(t, "mc889", nil)
	h.sim.Capacity = 4
	h.send(owner, "ping")
	h.step() // read in plaintext; the reply registers smsgate's key
	h.sim.FightKey(true)
	h.sim.OtherWebLogin()
	cmd := h.send(owner, "status")
	var spam []int64
	for _, n := range []string{"+21699990001", "+21699990002", "+21699990003"} {
		spam = append(spam, h.send(n, "spam from "+n))
	}
	for i := 0; i < 12; i++ {
		h.clk.Advance(30 * time.Second)
		h.step()
	}
	if r := h.roomLines(); len(r) != 0 {
		t.Errorf("unreadable records made room with: %v", r)
	}
	if inbox := h.sim.Inbox(); len(inbox) != 4 {
		t.Fatalf("inbox %v, want the 4 unreadable records kept", inbox)
	}
	for _, id := range append([]int64{cmd}, spam...) {
		lines := h.smsLines()[id]
		if len(lines) != 1 || lines[0]["decision"] != "incomplete" || !strings.Contains(lines[0]["reason"].(string), "unreadable") {
			t.Errorf("sms %d: %v, want one line saying it is unreadable", id, lines)
		}
	}
	if w := h.logLines("inbox holds messages smsgate cannot read; they are left untouched"); len(w) != 1 {
		t.Errorf("%d warnings about unreadable records, want 1", len(w))
	}
	told := 0
	for _, a := range h.alertTexts() {
		if strings.Contains(a, "cannot read 4 message(s)") {
			told++
		}
	}
	if told != 1 {
		t.Errorf("owner told %d times, want once: %q", told, h.alertTexts())
	}
	// The web UI closed: the next key holds, the command is read and runs
	// once.
	h.sim.FightKey(false)
	for i := 0; i < 8; i++ {
		h.clk.Advance(30 * time.Second)
		h.step()
	}
	if d := h.decisions(cmd); len(d) != 2 || d[1] != "executed" {
		t.Errorf("command: %v, want incomplete then executed", d)
	}
	if n := h.replyCount("LTE"); n != 1 {
		t.Errorf("status answered %d times: %q", n, h.replies())
	}
	if n := h.replyCount("cannot read 4 message(s)"); n != 1 {
		t.Errorf("the alert went out %d times once sends work again: %q", n, h.replies())
	}
}

// An unreadable record is never judged, marked nor deleted whatever the
// family: what is known of its id stays as it was, and room is made with
// the others only.
func TestUnreadableRecordLeftAlone(t *testing.T) {
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.MarkRead = true })
	h.sim.Capacity = 12
	um := &unreadableIDs{gatewayModem: h.gw.modem, ids: map[int64]bool{}}
	h.gw.modem = um
	cmd := h.send(owner, "ping")
	um.ids[cmd] = true
	for i := 0; i < 11; i++ {
		h.send("+21699990001", "spam")
	}
	for i := 0; i < 4; i++ {
		h.clk.Advance(30 * time.Second)
		h.step()
	}
	if !containsID(h.sim.Inbox(), cmd) {
		t.Errorf("unreadable command deleted: inbox %v", h.sim.Inbox())
	}
	for _, id := range h.sim.Record().MarkedRead {
		if id == cmd {
			t.Error("unreadable command marked read")
		}
	}
	if len(h.roomLines()) == 0 {
		t.Error("no room made with the strangers' messages")
	}
	if d := h.decisions(cmd); len(d) != 1 || d[0] != "incomplete" {
		t.Errorf("command: %v", d)
	}
}

// unreadableIDs lists the given ids as a client lists a record it cannot
// read (an AT PDU that does not decode: from nobody, complete).
type unreadableIDs struct {
	gatewayModem
	ids map[int64]bool
}

func (u *unreadableIDs) Inbox(ctx context.Context) ([]SMS, error) {
	msgs, err := u.gatewayModem.Inbox(ctx)
	for i := range msgs {
		if u.ids[msgs[i].ID] {
			msgs[i] = SMS{ID: msgs[i].ID, Complete: true, Store: msgs[i].Store, Problem: "bad pdu", Unreadable: "PDU does not decode: bad pdu"}
		}
	}
	return msgs, err
}

func containsID(ids []int64, id int64) bool {
	for _, i := range ids {
		if i == id {
			return true
		}
	}
	return false
}

// Witness: id 101 listed twice, the owner's "4711 mark" and a longer
// stranger text. The longest record was kept: the owner's command got no
// log line, no reply, never ran, and `smsgate list` hid it. Each message
// under a shared id gets its one line; the command is not run (a delete by
// id could remove the stranger's message too, or not the command), its
// sender is told why, once; listed alone later it is not run either.
func TestSharedIDNeverDropsACommand(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir })
	id := h.send(owner, "ping")
	h.sim.DeliverUnderID(id, "+21699999999", "hello this is a longer text", h.clk.Now())
	h.steps(3)
	h.restart() // decided and told, with -state-dir: not again
	h.steps(2)
	lines := h.smsLines()[id]
	got := map[string]string{}
	for _, l := range lines {
		got[l["from"].(string)] = l["decision"].(string)
	}
	if len(lines) != 2 || got[owner] != "rejected" || got["+21699999999"] != "ignored" {
		t.Fatalf("lines under id %d: %v", id, lines)
	}
	if n := h.replyCount("pong"); n != 0 {
		t.Errorf("command ran %d times under a shared id", n)
	}
	if n := h.replyCount("shares the modem's id"); n != 1 {
		t.Errorf("owner told %d times: %q", n, h.replies())
	}
	if !containsID(h.sim.Inbox(), id) {
		t.Error("shared id deleted: the stranger's message with it")
	}
	// The stranger's message goes (the owner deleted it on the modem): the
	// command, listed alone now, was refused and told already.
	alone := &dropFrom{gatewayModem: h.gw.modem, from: "+21699999999"}
	h.gw.modem = alone
	h.gw.lastUnread = "" // the counters change with the listing
	h.steps(2)
	if d := h.decisions(id); len(d) != 3 || d[2] != "duplicate" {
		t.Errorf("lines under id %d: %v, want the refusal kept when listed alone", id, d)
	}
	if n := h.replyCount("pong"); n != 0 {
		t.Errorf("command ran %d times once listed alone", n)
	}
	if n := h.replyCount("shares the modem's id"); n != 1 {
		t.Errorf("owner told %d times", n)
	}
}

// One id listed twice with the same message (a long SMS still arriving)
// is one message, as before: judged once, run once.
func TestSameIDSameMessageRunsOnce(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	id := h.send(owner, "status")
	h.sim.DeliverUnderID(id, owner, "stat", h.clk.Now())
	h.steps(3)
	if d := h.decisions(id); len(d) != 1 || d[0] != "executed" {
		t.Errorf("decisions %v, want the longest record executed once", d)
	}
	if n := h.replyCount("LTE"); n != 1 {
		t.Errorf("status answered %d times: %q", n, h.replies())
	}
	if len(h.sim.Inbox()) != 0 {
		t.Errorf("inbox %v", h.sim.Inbox())
	}
}

// dropFrom hides one sender's records from the listing, as a modem after
// that message alone was deleted.
type dropFrom struct {
	gatewayModem
	from string
}

func (d *dropFrom) Inbox(ctx context.Context) ([]SMS, error) {
	msgs, err := d.gatewayModem.Inbox(ctx)
	for i := range msgs {
		var keep []SMS
		for _, r := range msgs[i].records() {
			if r.From != d.from {
				keep = append(keep, r)
			}
		}
		if len(keep) > 0 {
			m := keep[0]
			m.Shared = keep[1:]
			msgs[i] = m
		}
	}
	return msgs, err
}

// Each family that encrypts the listing (ZTE goform RED, ZTE ubus) lists a
// record sealed under another client's key as Unreadable, from nobody and
// incomplete, however often it registers a new key; readable again once
// the other client stops.
func TestUnreadableListedByEncryptingFamilies(t *testing.T) {
	type client interface {
		Inbox(context.Context) ([]SMS, error)
		Send(context.Context, string, string) error
	}
	for _, c := range []struct {
		name  string
		start func(t *testing.T) (*Sim, client, *fakeClock)
	}{
		{"goform mc889", func(t *testing.T) (*Sim, client, *fakeClock) {
			sim, m, clk := startSim(t, "mc889", "pw", "pw")
			return sim, m, clk
		}},
		{"ubus u60pro", func(t *testing.T) (*Sim, client, *fakeClock) {
			sim, m, clk := startUbus(t, simUbusPersonalities["u60pro"], "pw", "pw")
			return sim, m, clk
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sim, m, clk := c.start(t)
			ctx := context.Background()
			if err := m.Send(ctx, owner, "hi"); err != nil { // registers a key
				t.Fatal(err)
			}
			sim.FightKey(true)
			sim.OtherWebLogin()
			id := sim.Deliver(owner, "status", clk.Now())
			msgs, err := m.Inbox(ctx)
			if err != nil || len(msgs) != 1 {
				t.Fatalf("inbox %+v, %v", msgs, err)
			}
			if s := msgs[0]; s.ID != id || s.Unreadable == "" || s.From != "" || s.Text != "" || s.Complete {
				t.Errorf("while the key is replaced: %+v", s)
			}
			sim.FightKey(false)
			msgs, err = m.Inbox(ctx)
			if err != nil || len(msgs) != 1 || msgs[0].Unreadable != "" || msgs[0].Text != "status" || msgs[0].From != owner {
				t.Errorf("after: %+v, %v", msgs, err)
			}
		})
	}
}

// Cold review: a command removed and kept by the modem (its removal due
// again), then really deleted, and the owner's next command given its id
// and listed unreadable (a web UI re-keys). The due retry deleted the new
// command by id, and it got no log line (its id was still known as
// removed). Likewise a stranger's message left in the inbox (decided)
// replaced under its id by a record that cannot be read (an AT slot
// reused by a PDU that does not decode): never logged. An unreadable
// record is never deleted by a retried removal, and gets its one line
// even under an id known before.
func TestUnreadableUnderKnownIDLoggedAndKept(t *testing.T) {
	for _, c := range []struct {
		name  string
		first func(h *harness) int64 // the message decided under the id
	}{
		{"removal retried", func(h *harness) int64 {
			x := h.send(owner, "ping")
			h.sim.SetFaults(func(f *SimFaults) { f.DeleteKeeps = map[int64]bool{x: true} })
			h.step()
			h.clk.Advance(10 * time.Second)
			h.gw.lastUnread = ""
			h.step() // kept: its removal tried again in a minute
			if _, due := h.gw.retryAt[x]; !due {
				t.Fatalf("no retry scheduled for %d", x)
			}
			h.sim.SetFaults(func(f *SimFaults) { f.DeleteKeeps = nil })
			return x
		}},
		{"left decided", func(h *harness) int64 {
			x := h.send("+21699990001", "spam")
			h.step()
			if _, ok := h.gw.st.Decided[x]; !ok {
				t.Fatalf("stranger's %d not decided", x)
			}
			return x
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, "mf920v", nil)
			x := c.first(h)
			// The modem removes it at last; the next command takes its id.
			if err := h.modem.Delete(context.Background(), x); err != nil {
				t.Fatal(err)
			}
			h.sim.ReuseIDs()
			if y := h.send(owner, "status"); y != x {
				t.Fatalf("id %d, want %d reused", y, x)
			}
			before := len(h.smsLines()[x])
			h.gw.modem = &unreadableIDs{gatewayModem: h.gw.modem, ids: map[int64]bool{x: true}}
			for i := 0; i < 4; i++ {
				h.clk.Advance(30 * time.Second)
				h.gw.lastUnread = ""
				h.step()
			}
			if !containsID(h.sim.Inbox(), x) {
				t.Errorf("unreadable record %d deleted: deletes %v", x, h.sim.Record().Deleted)
			}
			lines := h.smsLines()[x][before:]
			if len(lines) != 1 || !strings.Contains(lines[0]["reason"].(string), "unreadable") {
				t.Errorf("unreadable record under a known id: lines %v, want one", lines)
			}
		})
	}
}

// Cold review: the refusal under a shared id was remembered by the Pi's
// clock while the state forgets by the pass's reference time; at a cold
// boot (1970, no network time yet) it was forgotten at once, and the
// command the owner was told "not executed" ran once listed alone.
func TestSharedIDRefusalOutlivesWrongClock(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	pi := time.Date(1970, 1, 1, 0, 5, 0, 0, time.UTC)
	h.gw.now = func() time.Time { return pi }
	id := h.send(owner, "ping")
	h.sim.DeliverUnderID(id, "+21699999999", "hello this is a longer text", h.clk.Now())
	h.steps(2)
	if n := h.replyCount("shares the modem's id"); n != 1 {
		t.Fatalf("owner told %d times: %q", n, h.replies())
	}
	h.gw.modem = &dropFrom{gatewayModem: h.gw.modem, from: "+21699999999"}
	h.gw.lastUnread = ""
	h.clk.Advance(time.Minute)
	pi = pi.Add(time.Minute)
	h.steps(2)
	if n := h.replyCount("pong"); n != 0 {
		t.Errorf("command told 'not executed' ran %d times once listed alone; decisions %v", n, h.decisions(id))
	}
}

// flipShared lists the records under a shared id in the other order every
// other listing, as an unsorted database may.
type flipShared struct {
	gatewayModem
	n int
}

func (f *flipShared) Inbox(ctx context.Context) ([]SMS, error) {
	msgs, err := f.gatewayModem.Inbox(ctx)
	f.n++
	for i := range msgs {
		if len(msgs[i].Shared) > 0 && f.n%2 == 0 {
			recs := msgs[i].records()
			m := recs[len(recs)-1]
			m.Shared = append([]SMS{}, recs[:len(recs)-1]...)
			msgs[i] = m
		}
	}
	return msgs, err
}

// Cold review: the fingerprint of a shared id followed the listing's
// order, so every flip re-decided it (a new line for each record, a new
// -on-sms run, a new flood count); and a third message under the id had
// the two decided before logged again. Each message under a shared id
// gets one line, whatever the order, whatever joins it later.
func TestSharedIDDecidedOncePerRecord(t *testing.T) {
	for _, c := range []struct {
		name  string
		then  func(h *harness, id int64)
		lines int
	}{
		{"order flips", func(h *harness, id int64) {
			h.gw.modem = &flipShared{gatewayModem: h.gw.modem}
		}, 2},
		{"a third message", func(h *harness, id int64) {
			h.sim.DeliverUnderID(id, "+21688888888", "another one", h.clk.Now())
		}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, "mf920v", nil)
			id := h.send(owner, "ping")
			h.sim.DeliverUnderID(id, "+21699999999", "hello this is a longer text", h.clk.Now())
			h.steps(2)
			c.then(h, id)
			for i := 0; i < 6; i++ {
				h.clk.Advance(10 * time.Second)
				h.gw.lastUnread = ""
				h.step()
			}
			lines := h.smsLines()[id]
			if len(lines) != c.lines {
				for _, l := range lines {
					t.Logf("%v %v %v", l["from"], l["decision"], l["reason"])
				}
				t.Errorf("%d lines under id %d, want %d", len(lines), id, c.lines)
			}
			if n := h.replyCount("shares the modem's id"); n != 1 {
				t.Errorf("owner told %d times: %q", n, h.replies())
			}
			if n := h.replyCount("pong"); n != 0 {
				t.Errorf("command ran %d times under a shared id", n)
			}
		})
	}
}

// Cold review: the day of the unreadable alert was stamped when it was
// queued; while the web UI re-keys, RED sends are refused too, so the
// alert was dropped after its tries and not raised again for a day: the
// owner was never told. It is stamped once it went out, queued again a
// few times when dropped, and no more than that however long the fight
// (each costs one of -alert-max).
func TestUnreadableNoticeOutlivesKeyFight(t *testing.T) {
	for _, c := range []struct {
		name           string
		fight, after   int // polls a minute apart
		told, maxQueue int
	}{
		{"40 minutes", 40, 20, 1, 3},
		{"all day", 600, 0, 0, 1 + unreadableRearms},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, "mc889", nil)
			h.send(owner, "ping")
			h.step() // read in plaintext; the reply registers smsgate's key
			h.sim.FightKey(true)
			h.sim.OtherWebLogin()
			h.send(owner, "status")
			for i := 0; i < c.fight; i++ {
				h.clk.Advance(time.Minute)
				h.step()
			}
			h.sim.FightKey(false)
			for i := 0; i < c.after; i++ {
				h.clk.Advance(30 * time.Second)
				h.step()
			}
			if n := h.replyCount("cannot read"); n != c.told {
				t.Errorf("unreadable alert delivered %d times, want %d: %q", n, c.told, h.replies())
			}
			queued := 0
			for _, l := range h.logLines("alert") {
				if strings.Contains(l["text"].(string), "cannot read") {
					queued++
				}
			}
			if queued < 1 || queued > c.maxQueue {
				t.Errorf("unreadable alert queued %d times, want 1 to %d", queued, c.maxQueue)
			}
		})
	}
}

// Cold review: a stranger's long SMS still arriving under the id of the
// owner's complete command made the whole id incomplete: the command
// waited silently ("parts missing") until stale, its sender never told.
// Completeness is each record's own: the command is refused and told at
// once, as under any shared id, and the stranger's message is logged.
func TestSharedIDWithIncompleteStrangerRefusedAtOnce(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	id := h.send(owner, "ping")
	long := strings.Repeat("a long text from a stranger, ", 8)
	h.sim.DeliverIncompleteUnderID(id, "+21699999999", long, h.clk.Now())
	h.steps(2)
	got := map[string]string{}
	for _, l := range h.smsLines()[id] {
		got[l["from"].(string)] = l["decision"].(string)
	}
	if len(h.smsLines()[id]) != 2 || got[owner] != "rejected" || got["+21699999999"] != "ignored" {
		t.Errorf("lines under id %d: %v", id, h.smsLines()[id])
	}
	if n := h.replyCount("shares the modem's id"); n != 1 {
		t.Errorf("owner told %d times: %q", n, h.replies())
	}
	if n := h.replyCount("pong"); n != 0 {
		t.Errorf("command ran %d times under a shared id", n)
	}
}

// Cold review: two SMS from one sender with one text under one id (what
// "send it again" makes) were taken for one message: one got no log line,
// and with the stale one kept the fresh one was lost. The same text at
// another date is another message: each gets its line, none runs, the
// owner is told once.
func TestSharedIDSameTextTwoDates(t *testing.T) {
	for _, c := range []struct {
		name  string
		first time.Duration // the first one's date, from now
		then  time.Duration // the second's
	}{
		{"sent again later", 0, 20 * time.Minute},
		{"the stale one first", -40 * time.Minute, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, "mf920v", nil)
			start := h.clk.Now()
			id := h.sim.Deliver(owner, "ping", start.Add(c.first))
			h.sim.DeliverUnderID(id, owner, "ping", start.Add(c.then))
			h.clk.Advance(c.then + time.Minute)
			h.steps(3)
			if n := len(h.smsLines()[id]); n != 2 {
				t.Errorf("%d lines under id %d for 2 messages: %v", n, id, h.smsLines()[id])
			}
			if n := h.replyCount("shares the modem's id"); n != 1 {
				t.Errorf("owner told %d times: %q", n, h.replies())
			}
			if n := h.replyCount("pong"); n != 0 {
				t.Errorf("command ran %d times under a shared id", n)
			}
		})
	}
}

// TestDeferredCommandJoinedUnderItsIDIsNotGone: an owner's command waits
// (the modem did not confirm its removal) when a stranger's SMS is listed
// under its id: it is still in the inbox, so it is not logged "gone"; it is
// decided with the other (not run, the owner told once), and no intent of
// it is left for a restart to report (final outside witness).
func TestDeferredCommandJoinedUnderItsIDIsNotGone(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir })
	h.sim.SetFaults(func(f *SimFaults) { f.FailActions = map[string]string{"DELETE_SMS": "failure"} })
	id := h.send(owner, "ping")
	h.steps(2)
	if d := h.decisions(id); len(d) != 1 || d[0] != "deferred" {
		t.Fatalf("decisions %v, want deferred", d)
	}
	h.sim.DeliverUnderID(id, "+21699999999", "hello this is a longer text", h.clk.Now())
	h.steps(2)
	h.sim.SetFaults(func(f *SimFaults) { f.FailActions = nil })
	h.restart()
	h.steps(2)
	var owners []string
	for _, l := range h.smsLines()[id] {
		if l["from"] == owner {
			owners = append(owners, l["decision"].(string))
		}
	}
	if fmt.Sprint(owners) != "[deferred rejected]" {
		t.Errorf("the owner's command logged %v, want [deferred rejected] (never gone: it is still listed)", owners)
	}
	if n := h.replyCount("pong"); n != 0 {
		t.Errorf("command ran %d times", n)
	}
	if n := h.replyCount("shares the modem's id"); n != 1 {
		t.Errorf("owner told %d times: %q", n, h.replies())
	}
	if n := len(h.gw.st.Intents); n != 0 {
		t.Errorf("%d intents left: %+v", n, h.gw.st.Intents)
	}
}
