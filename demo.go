//go:build !nosim

package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
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

	log := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{} // the demo is read live; times are noise
			}
			return a
		},
	}))
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
	// runs with its limits. Nothing from the environment, no state kept.
	daemon := flag.NewFlagSet("run", flag.ContinueOnError)
	daemon.SetOutput(io.Discard)
	cfg, err := parseDaemonArgs(daemon, []string{"-allow", demoOwner, "-pin", *pin, "-poll", "1s"},
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
ir hifi-power, modem reboot. Also: /no-data, /data, /modem-off, /modem-on, /quit.
`, *personality+" ("+modem.Info().Family+")", sim.Addr(), demoOwner, demoStranger)
	if *pin != "" {
		fmt.Fprintf(stdout, "Commands need the PIN first: '%s status'.\n", *pin)
	}
	ctx := context.Background()
	gw.Step(ctx)
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch line {
		case "":
			continue
		case "/quit":
			return nil
		case "/no-data", "/data":
			sim.SetData(line == "/data")
		case "/modem-off", "/modem-on":
			sim.SetReachable(line == "/modem-on")
		default:
			from := demoOwner
			if rest, ok := strings.CutPrefix(line, "stranger:"); ok {
				from, line = demoStranger, strings.TrimSpace(rest)
			}
			if !deliverAndWait(sim, modem, from, line) {
				fmt.Fprintln(stdout, "(the simulated inbox is full: the SMS was lost, as on a real modem)")
			}
		}
		sent := len(sim.Sent())
		gw.Step(ctx)
		for _, s := range sim.Sent()[sent:] {
			fmt.Fprintf(stdout, "  -> SMS to %s\n", s)
		}
	}
	return sc.Err()
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
