//go:build linux && !nosim

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"
)

// BenchmarkATCMTIToInbox: from the simulator filing an SMS (and sending
// +CMTI) on the pseudo-terminal to the adapter's Inbox listing it, as a
// gateway woken by Events() would, with 20 strangers' messages kept in the
// store: ms-p50 and ms-p99 over b.N messages on the pty (which has no baud
// rate), and wire-ms-p99@115200, the bytes the module sent for it at 10
// bits a byte on a 115200 baud UART. sweep-wire-ms@115200 is the same for
// a full listing (AT+CMGL=4) of that store.
func BenchmarkATCMTIToInbox(b *testing.B) {
	sim, err := startATSim("sim7600")
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	m, err := newATModem(ATConfig{Device: sim.DevicePath(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	if _, err := m.Poll(ctx); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		sim.Deliver("+33600000000", fmt.Sprintf("a stranger's message number %d, of a usual length for an advert", i), time.Now())
	}
	// Real time (a pseudo-terminal): every +CMTI read off the line first.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		m.st.Lock()
		n := len(m.st.pending)
		m.st.Unlock()
		if n == 20 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of 20 indications read in 5 s", n)
		}
	}
	m.fullAt = time.Time{}
	rx := m.conn.rxBytes.Load()
	if _, err := m.Inbox(ctx); err != nil {
		b.Fatal(err)
	}
	sweep := m.conn.rxBytes.Load() - rx
	lat := make([]time.Duration, 0, b.N)
	wire := make([]int64, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drainEvents(m.Events())
		text := fmt.Sprintf("status %d", i)
		start, rx := time.Now(), m.conn.rxBytes.Load()
		sim.Deliver("+4915112345678", text, start)
		<-m.Events()
		msgs, err := m.Inbox(ctx)
		if err != nil || !slices.ContainsFunc(msgs, func(s SMS) bool { return s.Text == text }) {
			b.Fatalf("inbox: %v %+v", err, msgs)
		}
		lat = append(lat, time.Since(start))
		wire = append(wire, m.conn.rxBytes.Load()-rx)
		b.StopTimer()
		for _, s := range msgs {
			if s.From == "+4915112345678" {
				if err := m.Delete(ctx, s.ID); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StartTimer()
	}
	slices.Sort(lat)
	slices.Sort(wire)
	uart := func(bytes int64) float64 { return float64(bytes) * 10 / 115200 * 1000 }
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms-p99")
	b.ReportMetric(uart(wire[len(wire)*99/100]), "wire-ms-p99@115200")
	b.ReportMetric(uart(sweep), "sweep-wire-ms@115200")
}

// BenchmarkATIdleMinute: AT commands in an idle minute of 5 s polls with
// the default probe interval. The clock is not waited for: each poll moves
// the last probe 5 s into the past, as a minute of polls would see it.
func BenchmarkATIdleMinute(b *testing.B) {
	sim, err := startATSim("ec25")
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	m, err := newATModem(ATConfig{Device: sim.DevicePath(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	if _, err := m.Poll(ctx); err != nil {
		b.Fatal(err)
	}
	before := len(sim.Commands())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for poll := 0; poll < 12; poll++ {
			m.op.Lock()
			m.lastProbe = m.lastProbe.Add(-5 * time.Second)
			m.op.Unlock()
			if _, err := m.Poll(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(sim.Commands())-before)/float64(b.N), "AT-commands/idle-minute")
}
