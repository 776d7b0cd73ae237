//go:build !nosim

package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

const (
	demoOwner    = "+15550001111"
	demoStranger = "+15559998888"
)

// runDemo runs the real gateway, in dry run, against a simulated MF920V on
// loopback, with SMS typed on stdin.
func runDemo(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "demo [flags]", stderr)
	pin := fs.String("pin", "", "require this PIN before every command, as -pin does")
	personality := fs.String("personality", "mf920v", "simulated modem, any family: "+strings.Join(simFrontNames(), ", "))
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sim, err := startSimFront(*personality, "demo-password", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer sim.Close()
	if z, ok := sim.(zteFront); ok {
		z.RebootTime = 5 * time.Second
	}

	demoUSSD(sim)
	out := &demoOut{w: stdout, sim: sim}
	log := slog.New(&demoHandler{out: out, Handler: slog.NewTextHandler(stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{} // the demo is read live; times are noise
			}
			return a
		},
	})})
	// The family is detected as the daemon detects it, from the address
	// -modem would take.
	target, err := parseModemAddress(sim.Addr(), "", ModemConfig{Password: "demo-password", Timeout: 3 * time.Second, Logger: log})
	if err != nil {
		return err
	}
	modem, err := openTarget(context.Background(), target)
	if err != nil {
		return err
	}
	defer releasePort(modem, log)
	switch m := modem.(type) {
	case *Modem:
		m.statusEvery = 100 * time.Millisecond
	case *hilinkModem:
		m.linkEvery = 0 // the demo's /no-data shows at the next SMS, not a minute later
	}
	codes, err := parseIRCodes([]string{"hifi-power=samsung32:0x2c2c1e", "tv-power=nec:0x0408"})
	if err != nil {
		return err
	}
	var checkHost []string // the simulator's web server, when it has one
	if h, ok := strings.CutPrefix(sim.Addr(), "http://"); ok {
		checkHost = []string{h}
	}
	actions := &Actions{
		modem: modem, dryRun: true, host: procHost{}, log: log,
		checkHost: checkHost,
		ir:        &IR{codes: codes, tx: nopTX{}, toggle: map[string]bool{}},
		reboot:    refuseReboot{},
	}
	// The daemon's configuration, made as the daemon makes it: the demo
	// runs with its limits. Nothing from the environment; the state in a
	// directory of its own, removed at the end (a modem that reports no
	// attempts left is logged in to only with one: login_record.go).
	stateDir, err := os.MkdirTemp("", "smsgate-demo-")
	if err != nil {
		return fmt.Errorf("demo state dir: %w", err)
	}
	defer os.RemoveAll(stateDir)
	daemon := flag.NewFlagSet("run", flag.ContinueOnError)
	daemon.SetOutput(io.Discard)
	cfg, err := parseDaemonArgs(daemon, []string{"-allow", demoOwner, "-pin", *pin, "-poll", "1s", "-state-dir", stateDir},
		func(string) string { return "" }, func() string { return "" })
	if err != nil {
		return err
	}
	gw, err := NewGateway(cfg.gateway, modem, actions, &logLED{log: log}, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `smsgate demo: a simulated %s on %s, the real gateway in dry run.
Type an SMS and press Enter. It comes from the owner (%s) unless it starts
with "stranger:" (%s). Try: help, status, ping, reboot, modem reconnect,
ir hifi-power, ussd *100#, pause 30m, modem reboot. Also: /no-data, /data,
/modem-off, /modem-on, /quit.
`, *personality+" ("+modem.Info().Family+")", sim.Addr(), demoOwner, demoStranger)
	if *pin != "" {
		fmt.Fprintf(stdout, "Commands need the PIN first: '%s status'.\n", *pin)
	}
	d := &demoRun{gw: gw, sim: sim, modem: modem, out: out, poll: cfg.gateway.PollInterval}
	return d.run(context.Background(), stdin)
}

// demoRun is the demo's loop: a line of input is an SMS or a /command.
type demoRun struct {
	gw    *Gateway
	sim   simFront
	modem modemPort
	out   *demoOut
	poll  time.Duration
}

// demoDrainLimit bounds the wait, at the end of the input, for the SMS
// still undecided: longer than a modem reboot and a USSD wait.
const demoDrainLimit = 3 * time.Minute

func (d *demoRun) run(ctx context.Context, stdin io.Reader) error {
	d.gw.Step(ctx)
	d.out.flush()
	d.out.startCounting()
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch line {
		case "":
			continue
		case "/quit":
			return nil
		case "/no-data", "/data":
			d.sim.SetData(line == "/data")
		case "/modem-off", "/modem-on":
			d.sim.SetReachable(line == "/modem-on")
		default:
			from := demoOwner
			if rest, ok := strings.CutPrefix(line, "stranger:"); ok {
				from, line = demoStranger, strings.TrimSpace(rest)
			}
			if !deliverAndWait(d.sim, d.modem, from, line) {
				fmt.Fprintln(d.out.w, "(the simulated inbox is full: the SMS was lost, as on a real modem)")
			} else {
				d.out.delivered()
			}
		}
		d.gw.Step(ctx)
		d.out.flush()
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return d.drain(ctx)
}

// drain runs the gateway's polls, at the end of the input, until every
// SMS the input gave is decided (answered or logged): a piped input ends
// long before a modem reboot is over, and its last lines must not be
// dropped.
func (d *demoRun) drain(ctx context.Context) error {
	deadline := time.Now().Add(demoDrainLimit)
	for n := d.out.undecided(); n > 0; n = d.out.undecided() {
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: %d SMS still undecided %s after the end of the input", n, demoDrainLimit)
		}
		time.Sleep(d.poll)
		d.gw.Step(ctx)
		d.out.flush()
	}
	return nil
}

// demoOut is the demo's printout: the log and, in the order the modem saw
// them, the SMS the simulator sent. It counts the demo's SMS decided.
type demoOut struct {
	w   io.Writer
	sim simFront

	mu       sync.Mutex
	printed  int  // sim.Sent() entries printed
	counting bool // the input is being read: decisions are counted
	given    int  // SMS the input put in the simulator
	decided  int  // of them, decided (answered or logged)
}

// flush prints the SMS the simulator sent since the last flush.
func (o *demoOut) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushLocked()
}

func (o *demoOut) flushLocked() {
	sent := o.sim.Sent()
	for _, s := range sent[min(o.printed, len(sent)):] {
		fmt.Fprintf(o.w, "  -> SMS to %s\n", s)
	}
	o.printed = len(sent)
}

func (o *demoOut) startCounting() { o.mu.Lock(); o.counting = true; o.mu.Unlock() }
func (o *demoOut) delivered()     { o.mu.Lock(); o.given++; o.mu.Unlock() }

func (o *demoOut) undecided() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.given - o.decided
}

// demoHandler prints, before each log record, the SMS sent before it was
// logged: a reply the gateway sends before its reboot or reconnect shows
// before that action's line.
type demoHandler struct {
	slog.Handler
	out *demoOut
}

func (h *demoHandler) Handle(ctx context.Context, r slog.Record) error {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	h.out.flushLocked()
	if h.out.counting && r.Message == "sms" && demoFinal(r) {
		h.out.decided++
	}
	return h.Handler.Handle(ctx, r)
}

func (h *demoHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &demoHandler{Handler: h.Handler.WithAttrs(as), out: h.out}
}

func (h *demoHandler) WithGroup(name string) slog.Handler {
	return &demoHandler{Handler: h.Handler.WithGroup(name), out: h.out}
}

// demoFinal says whether r, a gateway's "sms" line, decides one of the
// demo's SMS for good: not deferred to a later poll, not waiting for parts.
func demoFinal(r slog.Record) bool {
	from, final := false, true
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "from":
			from = a.Value.String() == demoOwner || a.Value.String() == demoStranger
		case "decision":
			final = a.Value.String() != "deferred" && a.Value.String() != "incomplete"
		}
		return true
	})
	return from && final
}

// demoBalance is the simulated network's answer to the demo's USSD code.
const demoBalance = "Balance 12.50 TND, valid until 2027-01-31"

// demoUSSD gives the simulated network an answer to *100#, so that
// `ussd *100#` works in the demo on a family that has USSD. (The AT
// simulator answers every code already.)
func demoUSSD(sim simFront) {
	answers := map[string]string{"*100#": demoBalance}
	switch s := sim.(type) {
	case zteFront:
		s.SetOwner(func(o *simOwnerExt) {
			o.USSD = map[string]SimUSSDAnswer{}
			for code, text := range answers {
				o.USSD[code] = SimUSSDAnswer{Text: text}
			}
		})
	case hilinkFront:
		m := map[string]HiLinkUSSDAnswer{}
		for code, text := range answers {
			m[code] = HiLinkUSSDAnswer{Text: text}
		}
		s.SetUSSD(m)
	}
}

// refuseReboot guards the demo: its actions run in dry run, so this is
// never called; if it were, it must not reboot the machine running the
// demo.
type refuseReboot struct{}

func (refuseReboot) Reboot(context.Context) error { return fmt.Errorf("the demo never reboots") }

// deliverAndWait puts an SMS in the simulator and, for a modem that says
// when one arrives (an AT module's +CMTI), waits for it to say so, as the
// daemon's loop does before its pass. False when the inbox was full.
func deliverAndWait(sim simFront, modem modemPort, from, text string) bool {
	ev := portEvents(modem)
	for drained := false; ev != nil && !drained; {
		select {
		case <-ev:
		default:
			drained = true
		}
	}
	if sim.Deliver(from, text, time.Now()) == 0 {
		return false
	}
	if ev != nil {
		select {
		case <-ev:
		case <-time.After(2 * time.Second):
		}
	}
	return true
}
