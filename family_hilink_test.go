package main

import (
	"context"
	"testing"
	"time"
)

// hilinkFamily is the HiLink simulator as a familySim.
type hilinkFamily struct{ sim *HiLinkSim }

func startHiLinkFamily(t *testing.T, clk *fakeClock) (familySim, modemPort) {
	t.Helper()
	sim, err := NewHiLinkSim("e3372h", "pw")
	if err != nil {
		t.Fatal(err)
	}
	sim.now = clk.Now
	sim.RebootFor = time.Minute
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	p, err := openTarget(context.Background(), portTarget{Config: ModemConfig{URL: sim.URL, Password: "pw", Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := p.(*hilinkModem)
	if !ok {
		t.Fatalf("detected %T, want the HiLink adapter", p)
	}
	m.now = clk.Now
	m.statusEvery = time.Millisecond
	return hilinkFamily{sim}, m
}

func (h hilinkFamily) Deliver(from, text string, at time.Time) int64 {
	return h.sim.Deliver(from, text, at)
}
func (h hilinkFamily) DeliverIncomplete(from, text string, at time.Time) int64 {
	return h.sim.DeliverIncomplete(from, text, at)
}
func (h hilinkFamily) Complete(id int64) { h.sim.CompleteMessage(id) }
func (h hilinkFamily) Inbox() []int64    { return h.sim.Inbox() }
func (h hilinkFamily) Sent() []familySent {
	var out []familySent
	for _, s := range h.sim.Sent() {
		if s.Sent {
			out = append(out, familySent{s.To, s.Text})
		}
	}
	return out
}
func (h hilinkFamily) Done() familyDone {
	var d familyDone
	for _, a := range h.sim.Actions() {
		switch a {
		case "reboot":
			d.Reboots++
		case "data on":
			d.Reconnects++
		}
	}
	return d
}
func (h hilinkFamily) SetLink(up bool)      { h.sim.DropData(!up) }
func (h hilinkFamily) SetStuck(mode string) { h.sim.SetStuck(mode) }
func (h hilinkFamily) SetCapacity(n int)    { h.sim.Configure(func(s *HiLinkSim) { s.Capacity = n }) }
func (h hilinkFamily) FailDeletes(n int)    { h.sim.FailDeletes(n) }
func (h hilinkFamily) ExpireSessions()      { h.sim.ExpireSessions() }
func (h hilinkFamily) Logins() int          { return h.sim.Logins() }
func (h hilinkFamily) Close()               { h.sim.Close() }
