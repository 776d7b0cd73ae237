package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// reservedPort is a loopback port bound but not listening: connections
// are refused, and no other test can take it, until listen.
type reservedPort struct {
	f    *os.File
	addr string
}

func reservePort(t *testing.T) *reservedPort {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	p := &reservedPort{addr: fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)}
	p.f = os.NewFile(uintptr(fd), p.addr)
	t.Cleanup(func() { p.f.Close() })
	return p
}

// listen opens the port and counts the connections it accepts.
func (p *reservedPort) listen(t *testing.T) *atomic.Int64 {
	if err := unix.Listen(int(p.f.Fd()), 16); err != nil {
		t.Fatal(err)
	}
	ln, err := net.FileListener(p.f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	n := new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return n
}

// healHarness steps the gateway on the fake clock and writes down what
// reached the modem (reconnects, reboots, SMS sent), each stamped with the
// time since start. Only TestHealChecksFailingWhileDataUp uses it: its
// -check-host probes are real loopback TCP connections (net.Dialer, no dial
// to pipe), and a goroutine in the network poller is not durably blocked,
// so a synctest bubble's clock would not move.
type healHarness struct {
	*harness
	start    time.Time
	timeline []string
	seen     int
}

func newHealHarness(t *testing.T, mutate func(*GatewayConfig)) *healHarness {
	t.Helper()
	h := newHarness(t, "mf920v", func(c *GatewayConfig) {
		c.PollInterval = 30 * time.Second
		c.Heal = HealConfig{Enabled: true, StepTimeout: time.Second}
		if mutate != nil {
			mutate(c)
		}
	})
	h.sim.RebootTime = time.Minute
	h.gw.actions.host = clockHost{h.clk, h.clk.Now().Add(-10 * time.Hour)}
	return &healHarness{harness: h, start: h.clk.Now()}
}

// run polls every poll interval for span, calling world first each time
// with the time since start.
func (h *healHarness) run(span time.Duration, world func(at time.Duration)) {
	end := h.clk.Now().Add(span)
	for h.clk.Now().Before(end) {
		at := h.clk.Now().Sub(h.start)
		if world != nil {
			world(at)
		}
		h.step()
		ev := h.sim.Record().Events
		for _, e := range ev[h.seen:] {
			h.timeline = append(h.timeline, at.String()+" "+e)
		}
		h.seen = len(ev)
		h.clk.Advance(h.cfg.PollInterval)
	}
}

func (h *healHarness) check(want []string) {
	h.t.Helper()
	got := h.timeline
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Errorf("timeline:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestHealChecksFailingWhileDataUp(t *testing.T) {
	port := reservePort(t)
	h := newHealHarness(t, func(c *GatewayConfig) { c.CheckHosts = []string{port.addr} })
	var opened *atomic.Int64
	h.run(25*time.Minute, func(time.Duration) {
		// The uplink comes back with the modem's reboot.
		if opened == nil && h.sim.Record().Reboots > 0 {
			opened = port.listen(t)
		}
	})
	h.check([]string{
		"10m0s disconnect",
		"10m0s connect",
		"10m0s " + to + "12:10: check-host failing since 12:00; healing",
		"10m0s " + to + "12:10: healing: reconnect (1/3 in 24h)",
		"11m0s modem reboot",
		"12m0s " + to + "12:11: healing: modem reboot (1/3 in 24h)",
		"14m0s " + to + "12:14: back after 12m down (check-host failing since 12:00); fixed by modem reboot",
	})
	if opened == nil {
		t.Fatal("never opened")
	}
	// Checked once a minute while data is up: from 12m to 25m. Real time:
	// the checks are real TCP connections, counted as the listener accepts.
	waitFor(t, "12 check connections", func() bool { return opened.Load() >= 12 })
	if n := opened.Load(); n < 12 || n > 14 {
		t.Errorf("%d check connections in 13 minutes", n)
	}
}

// TestStatusNamesEachCheckHost: with several -check-host, status says
// which one failed.
func TestStatusNamesEachCheckHost(t *testing.T) {
	good := reservePort(t)
	good.listen(t)
	bad := reservePort(t)
	h := newHarness(t, "mf920v", nil)
	h.gw.actions.checkHost = []string{good.addr, bad.addr}
	id := h.send(owner, "status")
	h.step()
	r := h.replies()
	if h.decision(id) != "executed" || len(r) != 1 || !strings.HasSuffix(r[0], "| 127.0.0.1 dns ok tcp ok | 127.0.0.1 dns ok tcp FAIL") {
		t.Errorf("status %q", r)
	}
}
