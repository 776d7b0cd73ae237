//go:build linux && !nosim

package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// The AT family's rows in the behaviour table: the AT simulator on a
// pseudo-terminal, the adapter opened as the daemon opens -modem serial:.
// The sim800 row plays a 2G module (no +CEREG, packet service by +CGREG,
// everything filed on the SIM).
func init() {
	families = append(families, simFamily{familyAT, startATFamily},
		simFamily{familyAT + "-sim800", func(t *testing.T, clk *fakeClock) (familySim, modemPort) {
			return startATFamilyAs(t, clk, "sim800")
		}})
}

// atFamily is the AT simulator as a familySim.
type atFamily struct {
	sim *ATSim
	m   *atModem
	t   *testing.T
}

func startATFamily(t *testing.T, clk *fakeClock) (familySim, modemPort) {
	return startATFamilyAs(t, clk, "sim7600")
}

func startATFamilyAs(t *testing.T, clk *fakeClock, personality string) (familySim, modemPort) {
	t.Helper()
	sim, err := startATSim(personality)
	if err != nil {
		t.Fatal(err)
	}
	// The restart is at once: the table's clock is fake, and a module away
	// for a real while would be away for many of its polls.
	sim.RebootDelay = 0
	// The table follows each message by its id: slots are not reused
	// within a test (the adapter's own tests cover a reused index).
	sim.FileAfterLast = true
	t.Cleanup(sim.Close)
	p, err := openTarget(context.Background(), portTarget{Family: familyAT, Device: sim.DevicePath(),
		Config: ModemConfig{Timeout: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := p.(*atModem)
	if !ok {
		t.Fatalf("opened %T, want the AT adapter", p)
	}
	t.Cleanup(func() { m.Close() })
	// Set the module up before the first delivery, so that it indicates
	// (+CMTI) what it files, as a module smsgate runs on does.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := m.Poll(ctx); err != nil {
		t.Fatalf("first poll: %v", err)
	}
	return atFamily{sim: sim, m: m, t: t}, m
}

// atFamilyIDBase is the client's id for index 0 of a store: the adapter
// numbers each store's messages apart (modem_at.go's storeIDBase, restated
// here so that a change of numbering shows).
var atFamilyIDBase = map[string]int64{"SM": 0, "ME": 100000}

func (a atFamily) id(store string, index int) int64 { return atFamilyIDBase[store] + int64(index) }

// deliver files a message and waits until the adapter saw every +CMTI it
// caused: the table steps the gateway by hand, and a daemon's pass starts
// on the indication.
func (a atFamily) deliver(from, text string, at time.Time, missing int) int64 {
	before, sent := a.indications(), a.sim.Indications()
	store, index := a.sim.DeliverWhere(from, text, at, missing)
	a.awaitIndications(before + a.sim.Indications() - sent)
	return a.id(store, index)
}

func (a atFamily) indications() int {
	a.m.st.Lock()
	defer a.m.st.Unlock()
	return a.m.st.indications
}

func (a atFamily) awaitIndications(n int) {
	for end := time.Now().Add(5 * time.Second); a.indications() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			a.t.Fatalf("the adapter saw %d indications, want %d", a.indications(), n)
		}
	}
}

func (a atFamily) Deliver(from, text string, at time.Time) int64 { return a.deliver(from, text, at, 0) }

// DeliverIncomplete holds back the last part.
func (a atFamily) DeliverIncomplete(from, text string, at time.Time) int64 {
	return a.deliver(from, text, at, 2)
}

func (a atFamily) Complete(id int64) {
	before, sent := a.indications(), a.sim.Indications()
	for _, w := range a.sim.Stored() {
		if a.id(w.Store, w.Index) == id {
			a.sim.CompleteMessage(int64(w.Index))
		}
	}
	a.awaitIndications(before + a.sim.Indications() - sent)
}

func (a atFamily) Inbox() []int64 {
	var out []int64
	for _, w := range a.sim.Stored() {
		out = append(out, a.id(w.Store, w.Index))
	}
	return out
}

// Sent joins the parts of each message the module took.
func (a atFamily) Sent() []familySent {
	var out []familySent
	var text string
	for _, s := range a.sim.Sent() {
		if s.Part <= 1 {
			text = ""
		}
		text += s.Text
		if s.Part >= s.Total {
			out = append(out, familySent{s.To, text})
		}
	}
	return out
}

// Done counts module restarts, and reconnects as the adapter makes them:
// an attach after a detach, or the radio turned on after off.
func (a atFamily) Done() familyDone {
	var d familyDone
	for _, act := range a.sim.Actions() {
		switch act {
		case "reboot":
			d.Reboots++
		case "cgatt=1", "cfun=1":
			d.Reconnects++
		}
	}
	return d
}

// SetLink drops or restores the module's packet service, and waits until
// the adapter heard of it (+CGREG/+CEREG come as URCs).
func (a atFamily) SetLink(up bool) {
	a.sim.SetData(up)
	for end := time.Now().Add(5 * time.Second); a.m.pollState().DataUp != up; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			a.t.Fatalf("the adapter did not see data %v", up)
		}
	}
}

func (a atFamily) SetStuck(mode string) { a.sim.SetStuck(mode) }
func (a atFamily) SetCapacity(n int)    { a.sim.SetCapacity(n) }
func (a atFamily) FailDeletes(n int)    { a.sim.FailDeletes(n) }
func (a atFamily) ExpireSessions()      {}
func (a atFamily) Logins() int          { return 0 }
func (a atFamily) Close()               { a.sim.Close() }

// NoSessions: a module on a serial line has no login and no session.
func (a atFamily) NoSessions() string {
	return "an AT module on a serial line has no login nor session to expire"
}

// TestATReusedIndexThroughTheGateway: a module files each new message at
// the lowest free index, so the next command gets the id of the one just
// deleted. Each still runs once, and a restart runs none again.
func TestATReusedIndexThroughTheGateway(t *testing.T) {
	h := newFamHarness(t, simFamily{familyAT, func(t *testing.T, clk *fakeClock) (familySim, modemPort) {
		s, p := startATFamily(t, clk)
		s.(atFamily).sim.FileAfterLast = false // as the modules do
		return s, p
	}}, func(c *GatewayConfig) { c.StateDir = t.TempDir() })
	var ids []int64
	for _, text := range []string{"ping", "Status", "reboot", "ping"} {
		ids = append(ids, h.send(owner, text))
		h.step()
		h.clk.Advance(time.Second)
	}
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("ids %v: the index was not reused", ids)
		}
	}
	if d := h.decisions(ids[0]); len(d) != 4 || d[0] != "executed" || d[1] != "executed" || d[2] != "executed" || d[3] != "executed" {
		t.Fatalf("decisions under the reused id: %v", d)
	}
	if h.reboots.count() != 1 || len(h.replies()) != 4 {
		t.Fatalf("%d reboots, replies %q", h.reboots.count(), h.replies())
	}
	h.restart()
	h.steps(3)
	if h.reboots.count() != 1 || len(h.replies()) != 4 || len(h.sim.Inbox()) != 0 {
		t.Fatalf("after a restart: %d reboots, replies %q, inbox %v", h.reboots.count(), h.replies(), h.sim.Inbox())
	}
}
