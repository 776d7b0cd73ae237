package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"
)

// The tests of issue 11: exactly once, under a hostile inbox. Each runs the
// real gateway and client against the simulator, on the fake clock.

// logLines returns the JSON log lines whose msg is msg.
func (h *harness) logLines(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(h.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			h.t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		if v["msg"] == msg {
			out = append(out, v)
		}
	}
	return out
}

func (h *harness) decisions(id int64) []string {
	var out []string
	for _, l := range h.smsLines()[id] {
		out = append(out, l["decision"].(string))
	}
	return out
}

func (h *harness) steps(n int) {
	for i := 0; i < n; i++ {
		h.step()
	}
}

func (h *harness) replyCount(substr string) int {
	n := 0
	for _, r := range h.replies() {
		if strings.Contains(r, substr) {
			n++
		}
	}
	return n
}

// TestOnePassOneDelete: what a pass consumed leaves the modem in one
// confirmed request.
func TestOnePassOneDelete(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	for _, text := range []string{"ping", "status", "ping", "what?", "ir power"} {
		h.send(owner, text)
	}
	h.step()
	n := 0
	for _, p := range h.sim.Record().Posts {
		if p.GoformID == "DELETE_SMS" {
			n++
		}
	}
	if n != 1 || len(h.sim.Inbox()) != 0 {
		t.Errorf("%d DELETE_SMS for one pass; left %v", n, h.sim.Inbox())
	}
}

// TestIdenticalDisruptiveCommandsRunOnce (item 1): three identical
// "modem reboot" waiting at start reboot the modem once, though the modem
// is gone for a minute after the first.
func TestIdenticalDisruptiveCommandsRunOnce(t *testing.T) {
	// In a synctest bubble: the client's default timeout, one clock.
	synctest.Test(t, func(t *testing.T) {
		h := newPipedHarness(t, "mf920v", nil)
		h.sim.RebootTime = time.Minute
		ids := []int64{h.send(owner, "modem reboot"), h.send(owner, "modem reboot"), h.send(owner, "Modem Reboot")}
		h.step()
		h.clk.Advance(2 * time.Minute)
		h.steps(3)
		if n := h.sim.Record().Reboots; n != 1 {
			t.Fatalf("modem rebooted %d times, want 1", n)
		}
		want := []string{"executed", "duplicate", "duplicate"}
		for i, id := range ids {
			if got := h.decision(id); got != want[i] {
				t.Errorf("sms %d: %s, want %s", id, got, want[i])
			}
		}
		if len(h.sim.Inbox()) != 0 {
			t.Errorf("left in the inbox: %v", h.sim.Inbox())
		}
	})
}

// TestRefusedDeleteOnceRunsOnce (item 1): the modem refuses a delete once,
// then obeys; each command still runs once.
func TestRefusedDeleteOnceRunsOnce(t *testing.T) {
	for _, tt := range []struct {
		text  string
		count func(h *harness) int
	}{
		{"modem reboot", func(h *harness) int { return h.sim.Record().Reboots }},
		{"modem reconnect", func(h *harness) int { return h.sim.Record().Connects }},
		{"ir power", func(h *harness) int { return len(h.ir.sent) }},
	} {
		for _, refusals := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/refused %d", tt.text, refusals), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					h := newPipedHarness(t, "mf920v", nil)
					h.sim.RebootTime = time.Minute
					h.sim.SetFaults(func(f *SimFaults) { f.FailTimes = map[string]int{"DELETE_SMS": refusals} })
					h.send(owner, tt.text)
					h.send(owner, tt.text)
					h.step()
					h.clk.Advance(2 * time.Minute)
					h.steps(4)
					if n := tt.count(h); n != 1 {
						t.Fatalf("%q ran %d times, want 1", tt.text, n)
					}
					if len(h.sim.Inbox()) != 0 {
						t.Errorf("left in the inbox: %v", h.sim.Inbox())
					}
				})
			})
		}
	}
}

// TestDuplicateAcrossRestart: a copy whose removal failed while its twin
// ran is still a duplicate after smsgate restarts (by SMS date, from the
// state directory).
func TestDuplicateAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir })
	h.sim.SetFaults(func(f *SimFaults) { f.FailTimes = map[string]int{"DELETE_SMS": 2} })
	first := h.send(owner, "ir power")
	h.clk.Advance(time.Second)
	h.send(owner, "ir power")
	h.step()
	if len(h.ir.sent) != 1 || h.decisions(first)[0] != "deferred" {
		t.Fatalf("ir sent %d times; first copy %v", len(h.ir.sent), h.decisions(first))
	}
	h.restart()
	h.steps(2)
	if len(h.ir.sent) != 1 {
		t.Fatalf("ir sent %d times after a restart, want 1", len(h.ir.sent))
	}
	if d := h.decisions(first); len(d) != 2 || d[1] != "duplicate" {
		t.Errorf("first copy: %v", d)
	}
	// A new one, sent after the run, is a new command.
	h.clk.Advance(time.Minute)
	h.send(owner, "ir power")
	h.step()
	if len(h.ir.sent) != 2 {
		t.Errorf("a later ir power did not run: %d", len(h.ir.sent))
	}
	// SMS dates have seconds: one sent in the second of the last run is
	// taken for a copy.
	same := h.send(owner, "ir power")
	h.step()
	if h.decision(same) != "duplicate" || len(h.ir.sent) != 2 {
		t.Errorf("same second: %s", h.decision(same))
	}
}

// TestDisruptiveRunsLastOnePerPass: replies go out before the modem
// reboots, and a second disruptive command waits for the next pass.
func TestDisruptiveRunsLastOnePerPass(t *testing.T) {
	// In a synctest bubble: the client's default timeout, one clock.
	synctest.Test(t, func(t *testing.T) {
		h := newPipedHarness(t, "mf920v", nil)
		h.sim.RebootTime = time.Minute
		mr := h.send(owner, "modem reboot")
		ping := h.send(owner, "ping")
		pi := h.send(owner, "reboot")
		st := h.send(owner, "status")
		h.step()
		if h.sim.Record().Reboots != 1 || h.reboots.count() != 0 {
			t.Fatalf("modem reboots %d, Pi reboots %d after the first pass", h.sim.Record().Reboots, h.reboots.count())
		}
		// Every reply of the pass was sent, so none came after the modem went.
		if r := h.replies(); len(r) != 3 || !strings.Contains(r[0], "rebooting the modem") || !strings.Contains(r[1], "pong") {
			t.Fatalf("replies %q", r)
		}
		if h.decision(mr) != "executed" || h.decision(ping) != "executed" || h.decision(st) != "executed" {
			t.Fatal("first pass")
		}
		if d := h.decisions(pi); len(d) != 1 || d[0] != "deferred" {
			t.Fatalf("Pi reboot in the first pass: %v", d)
		}
		h.steps(3) // the modem is away: nothing more
		h.clk.Advance(2 * time.Minute)
		h.steps(2)
		if h.reboots.count() != 1 || h.sim.Record().Reboots != 1 {
			t.Fatalf("Pi reboots %d, modem reboots %d", h.reboots.count(), h.sim.Record().Reboots)
		}
		if d := h.decisions(pi); len(d) != 2 || d[1] != "executed" {
			t.Fatalf("Pi reboot: %v", d)
		}
	})
}

// TestRateLimitCountsOnlyTheLastHour (item 4): -rate 3, commands at
// minutes 0, 10, 20, 65 and 71: at 71 only two ran in the last hour.
func TestRateLimitCountsOnlyTheLastHour(t *testing.T) {
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.Rate = 3 })
	start := h.clk.Now()
	for _, min := range []int{0, 10, 20, 65, 71} {
		h.clk.Advance(start.Add(time.Duration(min) * time.Minute).Sub(h.clk.Now()))
		id := h.send(owner, "ping")
		h.step()
		if got := h.decision(id); got != "executed" {
			t.Errorf("ping at minute %d: %s", min, got)
		}
	}
}

// TestRateRefusalToldOnce (item 4): the owner learns of the limit by one
// SMS per episode, not one per refused command.
func TestRateRefusalToldOnce(t *testing.T) {
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.Rate = 1 })
	h.send(owner, "ping")
	h.step()
	for i := 0; i < 4; i++ {
		h.clk.Advance(time.Minute)
		id := h.send(owner, "ping")
		h.step()
		if h.decision(id) != "rejected" {
			t.Fatal("over the rate, not rejected")
		}
	}
	if n := h.replyCount("-rate 1"); n != 1 {
		t.Fatalf("%d rate replies, want 1: %q", n, h.replies())
	}
	if !strings.Contains(h.replies()[1], "next possible in 0h59m") {
		t.Errorf("rate reply %q", h.replies()[1])
	}
	h.clk.Advance(time.Hour)
	h.send(owner, "ping")
	h.step()
	h.clk.Advance(time.Minute)
	h.send(owner, "ping")
	h.step()
	if n := h.replyCount("-rate 1"); n != 2 {
		t.Errorf("a new episode was not told: %d rate replies", n)
	}
}

// TestReusedIDSameSecondSameLength (item 5): a new message under the id of
// one just deleted, in the same second, from the same sender, with a text
// of the same length, is still looked at.
func TestReusedIDSameSecondSameLength(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	first := h.send(owner, "ping")
	h.step()
	h.sim.ReuseIDs()
	second := h.send(owner, "help")
	if second != first {
		t.Fatalf("the simulator gave id %d, want the reused %d", second, first)
	}
	h.steps(2)
	if d := h.decisions(first); len(d) != 2 || d[1] != "executed" {
		t.Fatalf("reused id %d: %v", first, d)
	}
	if h.replyCount("smsgate: status") != 1 {
		t.Errorf("help not answered: %q", h.replies())
	}
	a := SMS{ID: 1, From: owner, RawDate: "26,03,14,12,00,00,+4", Text: "ping", Store: "device"}
	b := a
	b.Text = "help"
	if fingerprint(a) == fingerprint(b) {
		t.Error("fingerprint does not see the text")
	}
}

// TestPollErrorsLoggedOncePerChange (issue 12): an outage is one warning
// when it starts and one when it ends, not a line per poll.
func TestPollErrorsLoggedOncePerChange(t *testing.T) {
	// In a synctest bubble: the client's default timeout, one clock.
	synctest.Test(t, func(t *testing.T) {
		h := newPipedHarness(t, "mf920v", nil)
		h.step()
		h.sim.SetFaults(func(f *SimFaults) { f.Unreachable = true })
		h.steps(5)
		down := h.logLines("modem not answering")
		if len(down) != 1 || down[0]["level"] != "WARN" {
			t.Fatalf("outage logged %d times: %v", len(down), down)
		}
		h.sim.SetFaults(func(f *SimFaults) { *f = SimFaults{} })
		h.clk.Advance(time.Minute)
		h.steps(3)
		up := h.logLines("modem answering again")
		if len(up) != 1 || up[0]["level"] != "WARN" {
			t.Fatalf("recovery logged %d times: %v", len(up), up)
		}
		h.sim.SetFaults(func(f *SimFaults) { f.Unreachable = true })
		h.steps(2)
		if n := len(h.logLines("modem not answering")); n != 2 {
			t.Errorf("second outage: %d lines in all, want 2", n)
		}
	})
}

// TestStateSurvivesRestart (item 6): PIN lockouts and failure counts, rate
// counts, the last reboot and what was decided outlive a restart.
func TestStateSurvivesRestart(t *testing.T) {
	t.Run("lockout", func(t *testing.T) {
		h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.PIN = "4711"; c.StateDir = t.TempDir(); c.MaxAge = 3 * time.Hour })
		for i := 0; i < 3; i++ {
			h.clk.Advance(time.Second) // attempts, not copies of one SMS
			h.send(owner, "1234 reboot")
			h.step()
		}
		h.restart() // fresh guesses?
		for i := 0; i < 2; i++ {
			h.clk.Advance(time.Second)
			h.send(owner, "1234 reboot")
			h.step()
		}
		h.restart()
		id := h.send(owner, "4711 reboot")
		h.step()
		if h.decision(id) != "ignored" || h.reboots.count() != 0 {
			t.Fatal("a command during the lockout ran after a restart")
		}
		// Nor once the lockout is over, across another restart.
		h.clk.Advance(61 * time.Minute)
		h.steps(2)
		h.restart()
		h.steps(2)
		if h.decision(id) != "ignored" || h.reboots.count() != 0 {
			t.Fatal("a command sent during the lockout ran after it")
		}
	})
	t.Run("rate", func(t *testing.T) {
		h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.Rate = 2; c.StateDir = t.TempDir() })
		h.send(owner, "ping")
		h.send(owner, "status")
		h.step()
		h.restart()
		h.clk.Advance(time.Minute)
		id := h.send(owner, "ping")
		h.step()
		if h.decision(id) != "rejected" {
			t.Fatal("rate count forgotten on restart")
		}
	})
	t.Run("last reboot", func(t *testing.T) {
		h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = t.TempDir() })
		h.send(owner, "reboot")
		h.step()
		h.clk.Advance(5 * time.Minute)
		h.restart() // smsgate restarted, the Pi did not
		id := h.send(owner, "reboot")
		h.step()
		if h.decision(id) != "rejected" || h.reboots.count() != 1 {
			t.Fatalf("reboots %d: last reboot forgotten on restart", h.reboots.count())
		}
	})
	t.Run("decided", func(t *testing.T) {
		h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = t.TempDir() })
		id := h.send("+3360000000", "hello")
		h.step()
		h.restart()
		h.steps(2)
		h.decision(id) // exactly one line
	})
	t.Run("memory only", func(t *testing.T) {
		h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.Rate = 1 })
		h.send(owner, "ping")
		h.step()
		h.restart()
		h.clk.Advance(time.Minute)
		id := h.send(owner, "ping")
		h.step()
		if h.decision(id) != "executed" || len(h.logLines("state: memory only (no -state-dir): PIN lockouts, rate counts and the last reboot are forgotten on restart")) != 2 {
			t.Fatal("memory only: not said at start")
		}
	})
}

// TestStateDiskTrouble: a corrupt file costs only its memory; a read-only
// directory or a file that cannot be written is logged once, never fatal.
func TestStateDiskTrouble(t *testing.T) {
	t.Run("corrupt", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, stateFile), []byte(`{"pin_fails":{"+216`), 0o600)
		h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir })
		id := h.send(owner, "ping")
		h.step()
		if h.decision(id) != "executed" || len(h.logLines("state: corrupt; starting without its memory")) != 1 {
			t.Fatal("corrupt state file")
		}
		var st State
		b, _ := os.ReadFile(filepath.Join(dir, stateFile))
		if err := json.Unmarshal(b, &st); err != nil || len(st.Executed) != 1 {
			t.Errorf("state not rewritten: %v, %s", err, b)
		}
	})
	t.Run("interrupted write", func(t *testing.T) {
		dir := t.TempDir()
		h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir; c.Rate = 1 })
		h.send(owner, "ping")
		h.step()
		// A power cut after the temporary file was written, before the
		// rename: the old file is whole, and the leftover goes.
		os.WriteFile(filepath.Join(dir, "."+stateFile+".123"), []byte(`{"executed":{}`), 0o600)
		h.restart()
		h.clk.Advance(time.Minute)
		id := h.send(owner, "ping")
		h.step()
		if h.decision(id) != "rejected" {
			t.Error("the saved state was lost to a leftover temporary file")
		}
		if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}
	})
	unwritable := map[string]string{}
	ro := t.TempDir()
	os.Chmod(ro, 0o500)
	t.Cleanup(func() { os.Chmod(ro, 0o700) })
	if writableDir(ro) {
		ro = "/sys/kernel" // root ignores modes; sysfs refuses new files even to root
	}
	if dirExists(ro) && !writableDir(ro) {
		unwritable["read-only dir"] = ro
	} else {
		t.Log("no read-only directory on this machine: that case is not run")
	}
	blocked := t.TempDir()
	os.MkdirAll(filepath.Join(blocked, stateFile, "x"), 0o700) // the file's name is taken by a directory
	unwritable["unwritable file"] = blocked
	for name, dir := range unwritable {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir; c.PIN = "4711" })
			for i := 0; i < 3; i++ {
				h.clk.Advance(time.Minute)
				id := h.send(owner, "4711 ping")
				h.step()
				h.send(owner, "9999 ping")
				h.step()
				if h.decision(id) != "executed" {
					t.Fatal("a disk that refuses writes stopped commands")
				}
			}
			// A directory named like the state file is refused at start
			// (issue 19.8), a read-only directory at the first write:
			// either way one line.
			if n := len(h.logLines("state: not saved; remembered in memory only until the disk takes writes")) +
				len(h.logLines("state: not a regular file; refused: serving from memory only, nothing saved")); n != 1 {
				t.Errorf("%d lines about the disk, want 1", n)
			}
		})
	}
}

// TestStateStaysSmall: a flood leaves a state file bounded by the inbox.
func TestStateStaysSmall(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir })
	for i := 0; i < 300; i++ {
		h.sim.Deliver("+3360000000", fmt.Sprintf("flood %d", i), h.clk.Now())
		if i%3 == 0 {
			h.send(owner, "ping")
		}
		h.clk.Advance(5 * time.Second)
		h.step()
	}
	fi, err := os.Stat(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 16<<10 {
		t.Errorf("state file %d bytes after a flood", fi.Size())
	}
	t.Logf("state file: %d bytes with a full inbox of %d", fi.Size(), h.sim.Capacity)
}

// TestStateWritesAreRare: a flood of strangers' messages writes the state
// file about once a minute; a command is written before its reply.
func TestStateWritesAreRare(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir })
	h.sim.Capacity = 200
	for i := 0; i < 60; i++ { // 5 minutes of polls, a message each
		h.sim.Deliver("+3360000000", fmt.Sprintf("flood %d", i), h.clk.Now())
		h.clk.Advance(5 * time.Second)
		h.step()
	}
	// 7: the first login's count is written before the LOGIN goes out
	// (TestLoginSavedBeforeItIsPosted), and cleared once it worked.
	if n := h.gw.store.writes; n > 7 {
		t.Errorf("%d writes in 5 minutes of flood", n)
	}
	before := h.gw.store.writes
	h.send(owner, "ping")
	h.step()
	b, _ := os.ReadFile(filepath.Join(dir, stateFile))
	// A command costs a few synced writes (issue 19.3): its intent before
	// the modem deletes it, the decision before it runs, the run before
	// its reply, and the settling after.
	if h.gw.store.writes > before+4 || !strings.Contains(string(b), `"executed"`) {
		t.Errorf("a command was not written at once: %s", b)
	}
}

// TestStaleBacklogIsOneReply: a backlog of old commands costs the owner
// one SMS, not one per command.
func TestStaleBacklogIsOneReply(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	for i, text := range []string{"reboot", "status", "modem reboot", "ping"} {
		h.sim.Deliver(owner, text, h.clk.Now().Add(-time.Duration(4-i)*time.Hour))
	}
	h.step()
	r := h.replies()
	if len(r) != 1 || !strings.Contains(r[0], "not executed: 'reboot' is 4h00m old (max 0h30m); 3 more old commands not executed either") {
		t.Fatalf("replies %q", r)
	}
	if h.reboots.count() != 0 || h.sim.Record().Reboots != 0 || len(h.sim.Inbox()) != 0 {
		t.Fatal("a stale command ran or stayed")
	}
}

// TestImplausibleClockJudgesAgeBySMSDates: after a cold boot without
// network time, age is judged against the newest SMS date, in the inbox or
// remembered.
func TestImplausibleClockJudgesAgeBySMSDates(t *testing.T) {
	sent := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	bootClock := func() time.Time { return time.Date(1970, 1, 1, 0, 1, 0, 0, time.UTC) }

	h := newHarness(t, "mf920v", nil)
	h.gw.now = bootClock
	old := h.sim.Deliver(owner, "reboot", sent.Add(-2*time.Hour))
	h.sim.Deliver("+3360000000", "hello", sent)
	h.step()
	if h.decision(old) != "stale" || h.reboots.count() != 0 {
		t.Fatal("a 2-hour-old reboot ran on a Pi without a clock")
	}

	dir := t.TempDir()
	h = newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir })
	h.send(owner, "ping") // seen while the clock was right
	h.step()
	h.restart()
	h.gw.now = bootClock
	old = h.sim.Deliver(owner, "reboot", h.clk.Now().Add(-2*time.Hour))
	h.step()
	if h.decision(old) != "stale" || h.reboots.count() != 0 {
		t.Fatal("an old backlog ran after a cold boot: the newest SMS date was forgotten")
	}
}

// TestStrangersIncompleteFloodDoesNotFillInbox (item 3): first parts of
// long SMS from a stranger cannot fill the inbox for good; the owner's own
// incomplete message is kept.
func TestStrangersIncompleteFloodDoesNotFillInbox(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	long := strings.Repeat("spam ", 60)
	mine := h.sim.DeliverIncomplete(owner, "status "+strings.Repeat("x", 200), h.clk.Now())
	for i := 0; i < 30; i++ {
		for j := 0; j < 5; j++ {
			h.sim.DeliverIncomplete("+3360000000", fmt.Sprintf("%d %s", i*5+j, long), h.clk.Now())
		}
		h.clk.Advance(5 * time.Second)
		h.step()
	}
	if d := h.sim.Record().Dropped; d > 0 {
		t.Errorf("%d messages dropped by a full inbox", d)
	}
	ping := h.send(owner, "ping")
	if ping == 0 {
		t.Fatal("the owner's ping was dropped by a full inbox")
	}
	h.steps(2)
	if h.decision(ping) != "executed" {
		t.Fatal("ping not executed")
	}
	kept := false
	for _, id := range h.sim.Inbox() {
		kept = kept || id == mine
	}
	if !kept {
		t.Error("the owner's incomplete message was deleted")
	}
	if !strings.Contains(h.logs.String(), `"text":"0 spam spam`) {
		t.Error("a deleted first part was not logged first")
	}
}

// TestRoomMadeRereadsInbox (item 8): after room is made, new messages may
// bring the unread counter back where it was; the inbox is read anyway.
func TestRoomMadeRereadsInbox(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	h.sim.Capacity = 30
	for i := 0; i < 28; i++ {
		h.sim.Deliver("+3360000000", fmt.Sprintf("advert %d", i), h.clk.Now())
	}
	h.step() // reads 28 unread, deletes 18
	for i := 0; i < 17; i++ {
		h.sim.Deliver("+3360000000", "more", h.clk.Now())
	}
	ping := h.send(owner, "ping") // 28 unread again
	h.steps(2)
	if len(h.smsLines()[ping]) != 1 || h.decision(ping) != "executed" {
		t.Fatal("the ping waited for the safety-net read")
	}
}

// TestRefusedRemovalLoggedOnce (item 9): one line when deferred, one when
// decided, however many polls the modem refuses.
func TestRefusedRemovalLoggedOnce(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	h.sim.SetFaults(func(f *SimFaults) { f.FailActions = map[string]string{"DELETE_SMS": "failure"} })
	id := h.send(owner, "ping")
	h.steps(10)
	if d := h.decisions(id); len(d) != 1 || d[0] != "deferred" {
		t.Fatalf("after 10 refused polls: %v", d)
	}
	h.sim.SetFaults(func(f *SimFaults) { f.FailActions = nil })
	h.steps(2)
	if d := h.decisions(id); len(d) != 2 || d[1] != "executed" {
		t.Fatalf("decisions %v", d)
	}
}

// TestDeferredMessageThatLeavesNeverRuns: a command whose removal was not
// confirmed, and which then leaves the inbox some other way (the owner's
// web UI, a modem that deleted without saying so), never runs; its second
// line says so.
func TestDeferredMessageThatLeavesNeverRuns(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	h.sim.SetFaults(func(f *SimFaults) { f.FailActions = map[string]string{"DELETE_SMS": "failure"} })
	id := h.send(owner, "reboot")
	h.steps(2)
	h.sim.SetFaults(func(f *SimFaults) { f.FailActions = nil })
	if err := h.modem.Delete(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	h.steps(2)
	if d := h.decisions(id); len(d) != 2 || d[0] != "deferred" || d[1] != "gone" || h.reboots.count() != 0 {
		t.Fatalf("decisions %v, reboots %d", d, h.reboots.count())
	}
}

// TestLogsCarryNoControlsNorPIN (item 10): text decoded from hex is
// sanitised like any other, and the owner's PIN never reaches the log.
func TestLogsCarryNoControlsNorPIN(t *testing.T) {
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.PIN = "4711" })
	h.send("+3360000000", "a\u0085b\u009b[31mc\u202eevil\u2066x\u2069\u200ed\x1b[0m")
	h.sim.DeliverIncomplete(owner, "4711 status "+strings.Repeat("x", 200), h.clk.Now())
	h.step()
	for i := 0; i < 5; i++ {
		h.clk.Advance(time.Second) // attempts, not copies of one SMS
		h.send(owner, "9999 ping")
		h.step()
	}
	locked := h.send(owner, "4711 reboot")
	h.step()
	if h.decision(locked) != "ignored" {
		t.Fatal("not locked out")
	}
	mr := newHarness(t, "mf920v", func(c *GatewayConfig) { c.PIN = "4711"; c.MarkRead = true })
	mr.send(owner, "4711 ping")
	mr.step()
	mr.restart()
	mr.step()
	// A full inbox deletes the owner's read command too, logged first.
	mr.sim.Capacity = 30
	for i := 0; i < 28; i++ {
		mr.sim.Deliver("+3360000000", "advert", mr.clk.Now())
	}
	mr.step()
	if !strings.Contains(mr.logs.String(), `"msg":"inbox full: deleting","id":101,"from":"+21612345678","date":"26,03,14,12,00,00,+0","complete":true,"text":"**** ping"`) {
		t.Errorf("the owner's read command not logged, masked, before deletion:\n%s", mr.logs.String())
	}
	noTime := regexp.MustCompile(`"time":"[^"]*"`)
	for _, logs := range []string{noTime.ReplaceAllString(h.logs.String(), ""), noTime.ReplaceAllString(mr.logs.String(), "")} {
		for _, r := range logs {
			if unsafeRune(r) && r != '\n' {
				t.Errorf("log carries %U", r)
			}
		}
		if strings.Contains(logs, "4711") || strings.Contains(logs, "9999") {
			t.Errorf("log carries the PIN or a guess:\n%s", logs)
		}
	}
	if !strings.Contains(h.logs.String(), `"text":"ab[31mcevilxd[0m"`) {
		t.Errorf("stranger's text not logged, sanitised")
	}
	if !strings.Contains(h.logs.String(), `"text":"**** reboot"`) {
		t.Errorf("locked-out text not logged masked")
	}
}

func FuzzSanitizeText(f *testing.F) {
	for _, s := range []string{"", "a\u0085b", "\u009b31m", "\u202eevil", "\u2066x\u2069", "\U0001F468\u200D\U0001F469", "\xff\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, got := range []string{sanitizeText(s), mustDecode(encodeContent(s))} {
			if !utf8.ValidString(got) {
				t.Fatalf("invalid UTF-8 from %q", s)
			}
			for _, r := range got {
				if unsafeRune(r) && r != '\n' && r != '\t' {
					t.Fatalf("%q kept %U", s, r)
				}
			}
			if sanitizeText(got) != got {
				t.Fatalf("not idempotent on %q", s)
			}
		}
	})
}

func mustDecode(hex string) string {
	s, _ := decodeContent(hex)
	return s
}

// TestCountryCodeForms (item 11): +216 and 00216 mean 216; anything else is
// refused at start, never silently ignored.
func TestCountryCodeForms(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"", "", true}, {"216", "216", true}, {"+216", "216", true}, {" +33 ", "33", true}, {"00216", "216", true}, {"1", "1", true},
		{"+", "", false}, {"2x6", "", false}, {"0216", "", false}, {"+2165", "", false}, {"++216", "", false}, {"216-", "", false},
	} {
		got, err := parseCountryCode(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseCountryCode(%q) = %q, %v", tt.in, got, err)
		}
	}
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.CountryCode = "+216" })
	id := h.send("012345678", "ping")
	h.step()
	if h.decision(id) != "executed" {
		t.Error("-country-code +216: the owner's national form does not match")
	}
	cfg := daemonGatewayConfig(t)
	cfg.CountryCode = "2x6"
	if _, err := NewGateway(cfg, nil, &Actions{}, nil, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("-country-code 2x6 accepted")
	}
	err := run([]string{"-allow", owner, "-country-code", "+21x", "-watchdog", "", "-dry-run"}, strings.NewReader(""), new(strings.Builder), new(strings.Builder))
	if err == nil || !strings.Contains(err.Error(), "-country-code") {
		t.Errorf("smsgate -country-code +21x: %v", err)
	}
}

// TestDeletedButKeptDecidedOnce: a modem whose DELETE_SMS answers success
// (and whose sms_cmd=6 says done) but which keeps the message. The message
// gets one log line, its command runs once, its removal is retried a few
// times with back-off, with one warning, and a restart changes none of it.
// Once the inbox fills, making room still deletes it.
func TestDeletedButKeptDecidedOnce(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir; c.PollInterval = time.Second })
	h.sim.SetFaults(func(f *SimFaults) { f.DeleteSilentlyFails = true })
	id := h.send(owner, "ping")
	deletes := func() int {
		n := 0
		for _, p := range h.sim.Record().Posts {
			if p.GoformID == "DELETE_SMS" {
				n++
			}
		}
		return n
	}
	poll := func(n int, every time.Duration) {
		for i := 0; i < n; i++ {
			h.step()
			h.clk.Advance(every)
		}
	}
	poll(10, time.Second)
	if d := h.decisions(id); len(d) != 1 || d[0] != "executed" {
		t.Fatalf("after 10 polls: %v", d)
	}
	h.restart()               // the warning is not said again
	poll(200, 30*time.Second) // 100 minutes
	want := 1 + lingerRetries
	if d, n := h.decisions(id), deletes(); len(d) != 1 || n != want {
		t.Fatalf("after 100 minutes: decisions %v, %d DELETE_SMS posts, want 1 line and %d", d, n, want)
	}
	h.restart()
	poll(20, 30*time.Second)
	if d, n := h.decisions(id), deletes(); len(d) != 1 || n != want {
		t.Fatalf("after a restart: decisions %v, %d DELETE_SMS posts, want 1 line and %d", d, n, want)
	}
	if n := h.replyCount("pong"); n != 1 {
		t.Errorf("ping answered %d times, want 1", n)
	}
	if w := h.logLines(lingerWarning); len(w) != 1 {
		t.Errorf("%d warnings %q, want 1", len(w), lingerWarning)
	}
	if !slices.Equal(h.sim.Inbox(), []int64{id}) {
		t.Fatalf("inbox %v", h.sim.Inbox())
	}

	// The modem deletes again; a full inbox takes the kept message first
	// (the oldest), without a new line for it.
	h.sim.SetFaults(func(f *SimFaults) { f.DeleteSilentlyFails = false })
	h.sim.Capacity = 30
	for i := 0; i < 27; i++ {
		h.sim.Deliver("+3360000000", fmt.Sprintf("advert %d", i), h.clk.Now())
	}
	poll(3, time.Second)
	if slices.Contains(h.sim.Inbox(), id) || !slices.Contains(h.sim.Record().Deleted, id) {
		t.Errorf("making room left the kept message: inbox %v", h.sim.Inbox())
	}
	if d := h.decisions(id); len(d) != 1 {
		t.Errorf("decisions %v", d)
	}
}

// TestRoomMadeButKeptDecidedOnce: strangers' messages deleted to make
// room, which the modem keeps though it said done, are not decided (nor
// logged) again, and their deletion is tried again like a kept command's.
func TestRoomMadeButKeptDecidedOnce(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	h.sim.SetFaults(func(f *SimFaults) { f.DeleteSilentlyFails = true })
	h.sim.Capacity = 30
	var ids []int64
	for i := 0; i < 28; i++ {
		ids = append(ids, h.sim.Deliver("+3360000000", fmt.Sprintf("advert %d", i), h.clk.Now()))
	}
	for i := 0; i < 200; i++ { // 100 minutes
		h.step()
		h.clk.Advance(30 * time.Second)
	}
	if len(h.sim.Record().Deleted) != 0 || len(h.sim.Inbox()) != 28 {
		t.Fatalf("the fault did not keep the messages: inbox %d", len(h.sim.Inbox()))
	}
	deletes := 0
	for _, p := range h.sim.Record().Posts {
		if p.GoformID == "DELETE_SMS" {
			deletes++
		}
	}
	if want := 1 + lingerRetries; deletes != want {
		t.Errorf("%d DELETE_SMS posts in 100 minutes, want %d", deletes, want)
	}
	if w := h.logLines(lingerWarning); len(w) != 1 {
		t.Errorf("%d warnings %q, want 1", len(w), lingerWarning)
	}
	for _, id := range ids {
		if d := h.decisions(id); len(d) != 1 || d[0] != "ignored" {
			t.Fatalf("sms %d: %v", id, d)
		}
	}
}

// TestRoomKeptWhileNewArrive: a modem that keeps what it said it deleted
// to make room, while new messages keep arriving: the kept ones are not
// chosen, logged or deleted again beyond their retries, and nothing more
// is deleted while nothing deleted was freed (found by an outside witness:
// every new arrival made a new set of victims, all logged and deleted
// again).
func TestRoomKeptWhileNewArrive(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	h.sim.SetFaults(func(f *SimFaults) { f.DeleteSilentlyFails = true })
	h.sim.Capacity = 30
	for i := 0; i < 28; i++ {
		h.sim.Deliver("+3360000000", fmt.Sprintf("advert %d", i), h.clk.Now())
	}
	for i := 0; i < 40; i++ { // 20 minutes, a new stranger's SMS every 2 minutes
		if i%4 == 0 && len(h.sim.Inbox()) < h.sim.Capacity {
			h.sim.Deliver("+3370000000", fmt.Sprintf("new %d", i), h.clk.Now())
		}
		h.step()
		h.clk.Advance(30 * time.Second)
	}
	perID := map[string]int{}
	for _, l := range h.logLines("inbox full: deleting") {
		perID[fmt.Sprint(l["id"])]++
	}
	for id, n := range perID {
		if n > 1 {
			t.Errorf("sms %s logged %d times for deletion, want once", id, n)
		}
	}
	deletes := 0
	for _, p := range h.sim.Record().Posts {
		if p.GoformID == "DELETE_SMS" {
			deletes++
		}
	}
	if want := 1 + lingerRetries; deletes > want {
		t.Errorf("%d DELETE_SMS posts, want at most %d", deletes, want)
	}
	if w := h.logLines(lingerWarning); len(w) != 1 {
		t.Errorf("%d warnings %q, want 1", len(w), lingerWarning)
	}
}

// TestRoomPartlyKept: a modem that keeps some of what it deleted to make
// room and frees the rest still gets room made as new messages arrive; and
// when its counter falls below the mark and rises again, what it kept is
// not logged or warned about again (found by an outside witness).
func TestRoomPartlyKept(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	h.sim.Capacity = 30
	var ids []int64
	for i := 0; i < 28; i++ {
		ids = append(ids, h.sim.Deliver("+3360000000", fmt.Sprintf("advert %d", i), h.clk.Now()))
	}
	keeps := map[int64]bool{ids[0]: true, ids[1]: true}
	h.sim.SetFaults(func(f *SimFaults) { f.DeleteKeeps = keeps })
	for i := 0; i < 40; i++ { // 20 minutes, a new stranger's SMS every minute
		if i%2 == 0 {
			h.sim.Deliver("+3370000000", fmt.Sprintf("new %d", i), h.clk.Now())
		}
		h.step()
		h.clk.Advance(30 * time.Second)
	}
	if d := h.sim.Record().Dropped; d > 0 {
		t.Errorf("%d messages dropped by a full modem: no room was made", d)
	}
	perID := map[string]int{}
	for _, l := range h.logLines("inbox full: deleting") {
		perID[fmt.Sprint(l["id"])]++
	}
	for id, n := range perID {
		if n > 1 {
			t.Errorf("sms %s logged %d times for deletion, want once", id, n)
		}
	}
	if w := h.logLines(lingerWarning); len(w) != 1 {
		t.Errorf("%d warnings %q, want 1", len(w), lingerWarning)
	}
}
