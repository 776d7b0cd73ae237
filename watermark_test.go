package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Tests for two holes an outside black-box witness found: a stranger's SMS
// dated in the future made the owner's later commands "duplicates", and a
// full inbox made room from a list read before the pass removed messages.

// TestStrangersFutureDateMovesNoWatermark: a stranger's SMS dated a day
// ahead, in the inbox when the owner's command runs, does not make the
// owner's later commands (one after a restart) silent duplicates.
func TestStrangersFutureDateMovesNoWatermark(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir })
	h.sim.Deliver("+3360000000", "hello", h.clk.Now().Add(23*time.Hour))
	first := h.send(owner, "ir power")
	h.step()
	if h.decision(first) != "executed" {
		t.Fatalf("first ir power: %s", h.decision(first))
	}
	h.clk.Advance(time.Minute)
	later := h.send(owner, "ir power")
	h.step()
	if d := h.decision(later); d != "executed" || len(h.ir.sent) != 2 {
		t.Errorf("ir power sent a minute after the first ran: %s, ir sent %d times, want 2", d, len(h.ir.sent))
	}
	h.restart()
	h.clk.Advance(time.Minute)
	again := h.send(owner, "ir power")
	h.steps(2)
	if d := h.decision(again); d != "executed" || len(h.ir.sent) != 3 {
		t.Errorf("after a restart: %s, ir sent %d times, want 3", d, len(h.ir.sent))
	}
	for _, r := range h.gw.st.Ran {
		if r.Before.After(h.clk.Now()) {
			t.Errorf("watermark %v is ahead of the clock %v", r.Before, h.clk.Now())
		}
	}
}

// TestSpoofedFutureDateMovesNoWatermark: with -pin, an SMS from a spoofed
// allowed number, dated a day ahead and failing the PIN, does not push the
// watermark of the owner's command either.
func TestSpoofedFutureDateMovesNoWatermark(t *testing.T) {
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.PIN = "4711" })
	spoof := h.sim.Deliver(owner, "0000 ir power", h.clk.Now().Add(23*time.Hour))
	first := h.send(owner, "4711 ir power")
	h.step()
	if h.decision(spoof) != "rejected" || h.decision(first) != "executed" {
		t.Fatalf("spoof %s, owner %s", h.decision(spoof), h.decision(first))
	}
	h.clk.Advance(time.Minute)
	later := h.send(owner, "4711 ir power")
	h.step()
	if d := h.decision(later); d != "executed" || len(h.ir.sent) != 2 {
		t.Errorf("owner's next ir power: %s, ir sent %d times, want 2", d, len(h.ir.sent))
	}
}

// TestSpoofMovesNoWatermarkWhenTheOwnersSMSCLags: a spoof from the owner's
// number that fails the PIN, dated ahead, and the owner's SMSC stamping 10
// minutes behind the Pi's clock: the owner's resend 10 s after the first
// ran is still a new command (found by an outside witness).
func TestSpoofMovesNoWatermarkWhenTheOwnersSMSCLags(t *testing.T) {
	for _, spoof := range []string{"complete", "incomplete"} {
		t.Run(spoof, func(t *testing.T) {
			h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.PIN = "4711" })
			lag := -10 * time.Minute
			if spoof == "complete" {
				h.sim.Deliver(owner, "ir power", h.clk.Now().Add(24*time.Hour))
			} else {
				h.sim.DeliverIncomplete(owner, "4711 ir power and ", h.clk.Now().Add(24*time.Hour))
			}
			h.sim.Deliver(owner, "4711 ir power", h.clk.Now().Add(lag))
			h.step()
			h.clk.Advance(10 * time.Second)
			again := h.sim.Deliver(owner, "4711 ir power", h.clk.Now().Add(lag))
			h.step()
			if d := h.decision(again); d != "executed" || len(h.ir.sent) != 2 {
				t.Errorf("owner's resend: %s, ir sent %d times, want executed and 2", d, len(h.ir.sent))
			}
		})
	}
}

// TestOwnCommandsDateTheWatermark: what the fix keeps. The owner's own
// newer SMS in the inbox still date the watermark, so a late copy of the
// command, sent before it ran, is a duplicate after it ran.
func TestOwnCommandsDateTheWatermark(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	h.send(owner, "ir power")
	h.clk.Advance(20 * time.Second)
	h.send(owner, "ping")
	h.clk.Advance(5 * time.Second)
	h.step()
	// A copy sent between the two, listed only now (a modem that showed
	// it late).
	late := h.sim.Deliver(owner, "ir power", h.clk.Now().Add(-15*time.Second))
	h.step()
	if d := h.decision(late); d != "duplicate" || len(h.ir.sent) != 1 {
		t.Errorf("late copy: %s, ir sent %d times, want 1", d, len(h.ir.sent))
	}
}

// TestOldStateWatermarkBounded: a watermark a day ahead, saved by an older
// smsgate in -state-dir, does not block the owner's command.
func TestOldStateWatermarkBounded(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir })
	cmd, ok := h.gw.actions.parse("ir power")
	if !ok {
		t.Fatal("ir power does not parse")
	}
	old := map[string]any{"ran": []map[string]any{{
		"from": normalizeNumber(owner, ""), "command": cmd.String(), "before": h.clk.Now().Add(23 * time.Hour),
	}}}
	b, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, stateFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	h.restart()
	id := h.send(owner, "ir power")
	h.step()
	if d := h.decision(id); d != "executed" || len(h.ir.sent) != 1 {
		t.Errorf("owner's ir power under an old state's watermark: %s, ir sent %d", d, len(h.ir.sent))
	}
}

// TestFutureDateNotRememberedAsNow: a stranger's SMS dated ahead of a right
// clock is not remembered as the newest SMS date, which would make the
// owner's commands "stale" after a cold boot without network time.
func TestFutureDateNotRememberedAsNow(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir })
	h.sim.Deliver("+3360000000", "hello", h.clk.Now().Add(23*time.Hour))
	h.step()
	h.gw.store.Save(h.gw.st)
	h.restart()
	h.gw.now = func() time.Time { return time.Date(1970, 1, 1, 0, 1, 0, 0, time.UTC) }
	id := h.send(owner, "ping")
	h.step()
	if d := h.decision(id); d != "executed" {
		t.Errorf("owner's fresh ping after a cold boot: %s", d)
	}

	// A date a day ahead, remembered while the clock was implausible (or
	// by an older smsgate), is forgotten once the clock is right.
	dir = t.TempDir()
	b, err := json.Marshal(map[string]any{"newest_sms": h.clk.Now().Add(23 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, stateFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	h = newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir })
	h.step()
	h.gw.store.Save(h.gw.st)
	h.restart()
	h.gw.now = func() time.Time { return time.Date(1970, 1, 1, 0, 1, 0, 0, time.UTC) }
	id = h.send(owner, "ping")
	h.step()
	if d := h.decision(id); d != "executed" {
		t.Errorf("owner's fresh ping after a cold boot, under a remembered future date: %s", d)
	}
}

// deleteHook is the gateway's modem with a hook after each deletion: the
// moment a modem may give a deleted id to a new message.
type deleteHook struct {
	gatewayModem
	after func(ids []int64)
}

func (d *deleteHook) Delete(ctx context.Context, ids ...int64) error {
	err := d.gatewayModem.Delete(ctx, ids...)
	if d.after != nil {
		d.after(ids)
	}
	return err
}

// roomLines returns the "inbox full: deleting" lines.
func (h *harness) roomLines() []map[string]any { return h.logLines("inbox full: deleting") }

// TestRoomSparesNewMessageUnderReusedID: the inbox is full; the owner's
// command runs and is deleted, and the modem gives its id at once to a new
// command. Room is made from the inbox as it is after the removal: the new
// command is not deleted unseen, and no line shows the old text for it.
func TestRoomSparesNewMessageUnderReusedID(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	h.sim.Capacity = 30
	for i := 0; i < 20; i++ {
		h.sim.Deliver("+3360000000", fmt.Sprintf("advert %d", i), h.clk.Now())
	}
	// The oldest message, so that a list read before its removal would
	// pick it first.
	ping := h.sim.Deliver(owner, "ping", h.clk.Now().Add(-10*time.Minute))
	var reused int64
	h.gw.modem = &deleteHook{gatewayModem: h.gw.modem, after: func(ids []int64) {
		if reused == 0 && len(ids) == 1 && ids[0] == ping {
			h.sim.ReuseIDs()
			reused = h.sim.Deliver(owner, "ir power", h.clk.Now())
		}
	}}
	h.step()
	if reused != ping {
		t.Fatalf("the simulator gave id %d to the new message, want %d", reused, ping)
	}
	h.steps(2)
	if d := h.decisions(ping); len(d) != 2 || d[0] != "executed" || d[1] != "executed" {
		t.Errorf("decisions under id %d: %v, want ping then ir power executed", ping, d)
	}
	if len(h.ir.sent) != 1 {
		t.Errorf("ir sent %d times, want 1", len(h.ir.sent))
	}
	lines := h.roomLines()
	for _, l := range lines {
		if int64(l["id"].(float64)) == ping || !strings.HasPrefix(l["text"].(string), "advert") {
			t.Errorf("made room with a message that was not left for the owner: %v", l)
		}
	}
	if len(lines) != 11 {
		t.Errorf("%d messages deleted to make room, want 11", len(lines))
	}
}

// TestRoomNotMadeWithWhatThePassRemoved: without id reuse, the command the
// pass ran and removed is not deleted (nor logged) again to make room.
func TestRoomNotMadeWithWhatThePassRemoved(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	h.sim.Capacity = 11 // one message fills it
	h.sim.Deliver("+3360000000", "advert", h.clk.Now())
	id := h.send(owner, "ping")
	h.step()
	if h.decision(id) != "executed" {
		t.Fatalf("ping: %s", h.decision(id))
	}
	lines := h.roomLines()
	for _, l := range lines {
		if l["text"] != "advert" {
			t.Errorf("made room with a message that was not left for the owner: %v", l)
		}
	}
	if len(lines) != 1 {
		t.Errorf("%d messages deleted to make room, want 1 (the advert)", len(lines))
	}
}

// stuckCapacity is the gateway's modem with a memory counter that never
// goes down.
type stuckCapacity struct {
	gatewayModem
	c Capacity
}

func (s stuckCapacity) Capacity(context.Context) (Capacity, error) { return s.c, nil }

// TestStuckCounterDoesNotEmptyTheInbox: a modem whose memory counter stays
// at full after deletions the listing shows does not get every message left
// for the owner deleted: after the first deletion it is tried again like a
// kept message (1, 4, 16 minutes), with one warning, then left.
func TestStuckCounterDoesNotEmptyTheInbox(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	h.sim.Capacity = 300
	for i := 0; i < 200; i++ {
		h.sim.Deliver("+3360000000", fmt.Sprintf("advert %d", i), h.clk.Now())
	}
	h.gw.modem = stuckCapacity{gatewayModem: h.gw.modem, c: Capacity{Total: 100, Used: 100}}
	for i := 0; i < 200; i++ { // 100 minutes
		h.step()
		h.clk.Advance(30 * time.Second)
	}
	per := 100 - (100 - 2*inboxReserve)
	if got, want := len(h.roomLines()), (1+lingerRetries)*per; got != want {
		t.Errorf("%d messages deleted to make room, want %d", got, want)
	}
	if n := len(h.sim.Inbox()); n != 200-(1+lingerRetries)*per {
		t.Errorf("inbox holds %d", n)
	}
	if w := h.logLines(stuckCounterWarning); len(w) != 1 {
		t.Errorf("%d warnings %q, want 1", len(w), stuckCounterWarning)
	}
	// The counter goes down: room is made again as usual.
	h.gw.modem = stuckCapacity{gatewayModem: h.gw.modem.(stuckCapacity).gatewayModem, c: Capacity{Total: 100, Used: 95}}
	h.sim.Deliver("+3360000000", "one more", h.clk.Now()) // the inbox is read again
	h.step()
	if got, want := len(h.roomLines()), (1+lingerRetries)*per+15; got != want {
		t.Errorf("after the counter went down: %d deleted in all, want %d", got, want)
	}
}
