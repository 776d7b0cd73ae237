package main

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// pipeListener is an in-memory network made inside a synctest bubble: each
// dial is a net.Pipe whose far end Accept hands to an http.Server. A
// goroutine waiting on a pipe is durably blocked, as one on a loopback
// socket is not, so the bubble's time advances while the client and the
// simulator both wait: the client's timers and the simulator's delays run
// on one fake clock.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error { l.once.Do(func() { close(l.done) }); return nil }

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial is a webClient's dial: the address is not looked at.
func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.done:
		return nil, net.ErrClosed
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// servePiped serves h on a pipeListener until the test ends, and returns
// the dial a client uses to reach it. Call it inside the bubble.
func servePiped(t *testing.T, h http.Handler) func(ctx context.Context, network, addr string) (net.Conn, error) {
	ln := newPipeListener()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.dial
}

// pipedURL is the address a piped client is built with; it is never
// dialled (servePiped's dial replaces the client's).
const pipedURL = "http://127.0.0.1:9"

// startSimPiped is startSim inside a synctest bubble: the simulator on a
// pipeListener, the client's and the simulator's clock the bubble's, and
// the client's status waits at their defaults (fake time costs nothing).
func startSimPiped(t *testing.T, personality, password string) (*Sim, *Modem) {
	t.Helper()
	p, ok := simPersonalities[personality]
	if !ok {
		t.Fatalf("no personality %q", personality)
	}
	sim := newSim(p, password)
	sim.now = time.Now
	sim.URL = pipedURL
	dial := servePiped(t, sim)
	m, err := NewModem(ModemConfig{URL: pipedURL, Password: password, Timeout: defaultRequestTimeout})
	if err != nil {
		t.Fatal(err)
	}
	m.web.(*webClient).dial = dial
	return sim, m
}

// newPipedHarness is newHarness inside a synctest bubble: a piped
// simulator, and the gateway, the client and the simulator on one clock,
// the bubble's from the fake date (newBubbleClock), instead of a fake
// clock beside real timers.
func newPipedHarness(t *testing.T, personality string, mutate func(*GatewayConfig)) *harness {
	t.Helper()
	clk := newBubbleClock()
	sim, modem := startSimPiped(t, personality, "pw")
	sim.now, modem.now = clk.Now, clk.Now
	h := &harness{t: t, sim: sim, modem: modem, clk: clk, reboots: &countingRebooter{}, ir: &recordingIR{},
		led: &recordingLED{}, logs: &lockedBuffer{}, host: fakeHost{uptime: 3 * time.Hour}}
	h.cfg = daemonGatewayConfig(t) // the daemon's own limits, as newHarness
	if mutate != nil {
		mutate(&h.cfg)
	}
	h.restart()
	return h
}

// startHiLinkPiped is startHiLink inside a synctest bubble, with the
// client's status waits at their defaults.
func startHiLinkPiped(t *testing.T, personality, password string) (*HiLinkSim, *hilinkModem) {
	t.Helper()
	sim, err := NewHiLinkSim(personality, password)
	if err != nil {
		t.Fatal(err)
	}
	sim.URL = pipedURL
	dial := servePiped(t, sim)
	m, err := newHiLinkModem(ModemConfig{URL: pipedURL, Password: password, Timeout: defaultRequestTimeout})
	if err != nil {
		t.Fatal(err)
	}
	m.web.(*webClient).dial = dial
	return sim, m
}

// startUbusPiped is startUbus inside a synctest bubble: the client's clock
// the bubble's (in UTC, as the fake clock was), its waits at their
// defaults.
func startUbusPiped(t *testing.T, p simPersonality, password string) (*Sim, *ubusModem) {
	t.Helper()
	sim := newSim(p, password)
	sim.now = time.Now
	sim.URL = pipedURL
	dial := servePiped(t, sim)
	m, err := newUbusModem(ModemConfig{URL: pipedURL, Password: password, Timeout: defaultRequestTimeout})
	if err != nil {
		t.Fatal(err)
	}
	m.web.(*webClient).dial = dial
	m.now = func() time.Time { return time.Now().UTC() }
	return sim, m
}
