package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// passSteps are the crash points of a pass (Gateway.crashAt), in order.
var passSteps = []string{"intent saved", "removed", "decided saved", "ran", "ran saved", "replied", "settled"}

// crashedStep runs one poll that dies at step, as a SIGKILL would: nothing
// more is written to the state directory, nothing more is sent. It reports
// whether the pass reached step.
func crashedStep(h *harness, step string) bool {
	reached := false
	h.gw.crashHook = func(s string) {
		if s == step {
			reached = true
			h.gw.store.dir = "" // a dead process writes nothing
			runtime.Goexit()
		}
	}
	done := make(chan struct{})
	go func() { defer close(done); h.gw.Step(context.Background()) }()
	<-done
	return reached
}

// TestCrashAtEveryStepOfAPass kills a pass at each of its steps, then
// starts again on the same state directory against the same modem. Every
// command runs at most once; one that did not run, or whose fate cannot
// be known, is reported to the owner by SMS; no report is untrue.
func TestCrashAtEveryStepOfAPass(t *testing.T) {
	cmds := []struct {
		text string
		ran  func(h *harness) int
	}{
		{"ir power", func(h *harness) int { h.ir.mu.Lock(); defer h.ir.mu.Unlock(); return len(h.ir.sent) }},
		{"modem reconnect", func(h *harness) int {
			n := 0
			for _, p := range h.sim.Record().Posts {
				if p.GoformID == "CONNECT_NETWORK" {
					n++
				}
			}
			return n
		}},
		{"reboot", func(h *harness) int { return h.reboots.count() }},
	}
	for i, c := range append(cmds, cmds[0]) {
		markRead := i == len(cmds) // the IR command again, under -mark-read
		for _, step := range passSteps {
			t.Run(fmt.Sprintf("%s/mark-read=%v/%s", c.text, markRead, step), func(t *testing.T) {
				h := newHarness(t, "mf920v", func(g *GatewayConfig) { g.StateDir = t.TempDir(); g.MarkRead = markRead })
				id := h.send(owner, c.text)
				if !crashedStep(h, step) {
					t.Fatalf("the pass never reached %q", step)
				}
				for round := 0; round < 2; round++ {
					h.restart()
					for i := 0; i < 3; i++ {
						h.clk.Advance(10 * time.Second)
						h.step()
					}
				}
				n := c.ran(h)
				var notRun, unknown int
				for _, r := range h.replies() {
					notRun += strings.Count(r, "but not run")
					unknown += strings.Count(r, "may or may not have run")
				}
				t.Logf("ran %d, reports: not run %d, unknown %d; replies %q", n, notRun, unknown, h.replies())
				switch {
				case n > 1:
					t.Errorf("ran %d times", n)
				case n == 0 && notRun+unknown == 0:
					t.Errorf("lost without a report; log:\n%s", h.logs.String())
				case n == 1 && notRun > 0:
					t.Errorf("reported as not run, but ran")
				case notRun+unknown > 1:
					t.Errorf("reported %d times", notRun+unknown)
				}
				if len(h.gw.st.Intents) != 0 {
					t.Errorf("intents left: %+v", h.gw.st.Intents)
				}
				if !strings.Contains(h.logs.String(), `"id":`+itoa(id)) {
					t.Errorf("message %d left no log line", id)
				}
			})
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestRefusedRemovalWritesItsIntentOnce: while the modem refuses to delete
// a command, every poll plans it again; its intent is written once, not at
// every poll (an SD card would wear).
func TestRefusedRemovalWritesItsIntentOnce(t *testing.T) {
	h := newHarness(t, "mf920v", func(g *GatewayConfig) { g.StateDir = t.TempDir() })
	h.sim.SetFaults(func(f *SimFaults) { f.FailActions = map[string]string{"DELETE_SMS": "failure"} })
	h.send(owner, "ping")
	h.step()
	before := h.gw.store.writes
	for range 30 {
		h.clk.Advance(5 * time.Second)
		h.step()
	}
	if n := h.gw.store.writes - before; n > 1 {
		t.Errorf("%d state writes in 30 polls of a refused removal", n)
	}
	if len(h.gw.st.Intents) != 1 {
		t.Errorf("intents %+v", h.gw.st.Intents)
	}
}

// TestCrashKeepsTheOtherMessagesOfAPass: a crash at any step of a pass
// that runs a command does not take the other messages of the pass with
// it: a stranger's message gets its one log line, before or after the
// restart (witness: after a SIGKILL during a -cmd, a stranger's message
// decided in the same pass was never logged nor forwarded).
func TestCrashKeepsTheOtherMessagesOfAPass(t *testing.T) {
	for _, step := range passSteps {
		t.Run(step, func(t *testing.T) {
			h := newHarness(t, "mf920v", func(g *GatewayConfig) { g.StateDir = t.TempDir() })
			h.send(owner, "ir power")
			stranger := h.send("+15559990000", "your data plan is at 90%")
			if !crashedStep(h, step) {
				t.Fatalf("the pass never reached %q", step)
			}
			h.restart()
			for i := 0; i < 3; i++ {
				h.clk.Advance(10 * time.Second)
				h.step()
			}
			if d := h.decisions(stranger); len(d) != 1 || d[0] != "ignored" {
				t.Errorf("the stranger's message got %v, want one line, ignored", d)
			}
		})
	}
}

// Cold review: a crash after the intent was saved, before the delete; at
// the restart the command was listed unreadable (a web UI re-keys). It was
// taken for gone: the owner was told "taken off the modem but not run;
// send it again", then it ran once readable. An intent whose message is
// listed unreadable waits: once readable it is decided afresh (runs once,
// no report); once gone the owner is told it did not run.
func TestCrashIntentWaitsWhileUnreadable(t *testing.T) {
	for _, c := range []struct {
		name        string
		then        func(h *harness, id int64)
		pongs, told int
	}{
		{"readable again", func(h *harness, id int64) {}, 1, 0},
		{"gone", func(h *harness, id int64) {
			if err := h.modem.Delete(context.Background(), id); err != nil {
				t.Fatal(err)
			}
		}, 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, "mf920v", func(g *GatewayConfig) { g.StateDir = t.TempDir() })
			id := h.send(owner, "ping")
			if !crashedStep(h, "intent saved") {
				t.Fatal("not reached")
			}
			h.restart()
			um := &unreadableIDs{gatewayModem: h.gw.modem, ids: map[int64]bool{id: true}}
			h.gw.modem = um
			h.steps(2)
			if n := h.replyCount("not run"); n != 0 {
				t.Fatalf("told 'not run' while the command is listed: %q", h.replies())
			}
			delete(um.ids, id)
			c.then(h, id)
			h.clk.Advance(time.Minute)
			h.gw.lastUnread = ""
			h.steps(3)
			if n := h.replyCount("pong"); n != c.pongs {
				t.Errorf("ran %d times, want %d: %q", n, c.pongs, h.replies())
			}
			if n := h.replyCount("not run"); n != c.told {
				t.Errorf("told 'not run' %d times, want %d: %q", n, c.told, h.replies())
			}
		})
	}
}
