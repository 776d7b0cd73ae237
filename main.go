// Command smsgate turns a ZTE 4G hotspot and a Raspberry Pi into an
// out-of-band remote control: text the hotspot's SIM, and smsgate, polling
// the modem's web API, checks the sender and acts.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"periph.io/x/conn/v3/gpio/gpiostream"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "smsgate:", err)
		os.Exit(1)
	}
}

const usage = `smsgate: SMS remote control for a Raspberry Pi beside a ZTE 4G hotspot.

Usage:
  smsgate [run] [flags]        the daemon (gokrazy passes flags only)
  smsgate status [flags]       the modem's state
  smsgate list [-json] [flags] the inbox
  smsgate send [flags] NUMBER TEXT
  smsgate delete [flags] ID...
  smsgate modem-reboot [flags]
  smsgate demo                 try the command set against a simulated modem
  smsgate sim [flags]          serve a simulated modem on loopback
  smsgate ir-print CODE        print an IR code as LIRC mode2 pulse/space lines

'smsgate CMD -h' lists the flags of CMD.
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runDaemon(args, stdout, stderr)
	case "status", "list", "send", "delete", "modem-reboot":
		return runOneShot(cmd, args, stdout, stderr)
	case "demo":
		return runDemo(args, stdin, stdout, stderr)
	case "sim":
		return runSim(args, stdout, stderr)
	case "ir-print":
		return runIRPrint(args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// listFlag collects a repeatable, comma-separable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// repeatFlag collects a repeatable flag whose values may contain commas.
type repeatFlag []string

func (r *repeatFlag) String() string     { return strings.Join(*r, " ") }
func (r *repeatFlag) Set(s string) error { *r = append(*r, s); return nil }

// modemFlags are shared by the daemon and the one-shot commands.
type modemFlags struct {
	url, user, password string
	timeout             time.Duration
}

func (m *modemFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.url, "modem", "http://192.168.0.1", "the modem's web UI `URL`")
	fs.StringVar(&m.user, "user", "", "web UI user name, for firmware with LOGIN_MULTI_USER")
	fs.StringVar(&m.password, "password", "", "web UI password (better: env SMSGATE_PASSWORD, kept out of ps)")
	fs.DurationVar(&m.timeout, "timeout", 10*time.Second, "timeout of one request to the modem")
}

func (m *modemFlags) client(log *slog.Logger) (*Modem, error) {
	if m.password == "" {
		m.password = os.Getenv("SMSGATE_PASSWORD")
	}
	return NewModem(ModemConfig{URL: m.url, User: m.user, Password: m.password, Timeout: m.timeout, Logger: log})
}

func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: smsgate %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func newLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}

// daemonConfig is everything `smsgate run` is told.
type daemonConfig struct {
	modem          modemFlags
	allow          listFlag
	countryCode    string
	pin            string
	rate           int
	maxAge         time.Duration
	markRead       bool
	keepInbox      bool
	poll           time.Duration
	checkHost      string
	dryRun         bool
	logFormat      string
	led            string
	ledActiveLow   bool
	ir             string
	irCodes        repeatFlag
	watchdog       string
	wdTimeout      time.Duration
	wdNowayout     bool
	rebootMode     string
	rebootInterval time.Duration
	rebootGrace    time.Duration
}

func (c *daemonConfig) register(fs *flag.FlagSet) {
	c.modem.register(fs)
	fs.Var(&c.allow, "allow", "phone `number`s allowed to command, international form (+21612345678); repeat or comma-separate. Required")
	fs.StringVar(&c.countryCode, "country-code", "", "your country calling code (216); lets national numbers (012345678) match")
	fs.StringVar(&c.pin, "pin", "", "PIN that must start every command (better: env SMSGATE_PIN)")
	fs.IntVar(&c.rate, "rate", 10, "commands per number per hour")
	fs.DurationVar(&c.maxAge, "max-age", 30*time.Minute, "commands older than this (by SMS timestamp) are not executed")
	fs.BoolVar(&c.markRead, "mark-read", false, "mark commands read instead of deleting them; only unread messages are then commands")
	fs.BoolVar(&c.keepInbox, "keep-inbox", false, "never delete other messages to make room in a full inbox")
	fs.DurationVar(&c.poll, "poll", 5*time.Second, "poll interval")
	fs.StringVar(&c.checkHost, "check-host", "", "`host:port` the status report resolves and connects to (e.g. example.com:443); empty: no check")
	fs.BoolVar(&c.dryRun, "dry-run", false, "log reboot, IR, LED and watchdog actions instead of doing them (modem actions still happen)")
	fs.StringVar(&c.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.led, "led", "", "status LED: a GPIO pin (GPIO17, P1_11, gpiochip0:17) or an onboard LED (ACT, PWR, led0)")
	fs.BoolVar(&c.ledActiveLow, "led-active-low", false, "the LED lights when the pin is low")
	fs.StringVar(&c.ir, "ir", "", "IR transmitter: a LIRC device (/dev/lirc0) or a GPIO pin (GPIO18)")
	fs.Var(&c.irCodes, "ir-code", "`NAME=CODE`, CODE as ir-ctl writes it (samsung32:0x2c2c1e, nec:0x0408, raw:38000:9000,4500,560); repeat per code")
	fs.StringVar(&c.watchdog, "watchdog", "/dev/watchdog", "hardware watchdog device; empty disables it")
	fs.DurationVar(&c.wdTimeout, "watchdog-timeout", 15*time.Second, "watchdog timeout (15 s is the BCM2835 maximum)")
	fs.BoolVar(&c.wdNowayout, "watchdog-nowayout", false, "leave the watchdog armed when smsgate stops")
	fs.StringVar(&c.rebootMode, "reboot-mode", "auto", "auto, init (ask PID 1) or syscall (reboot(2) directly)")
	fs.DurationVar(&c.rebootInterval, "reboot-interval", 10*time.Minute, "least time between reboots, counted from boot too")
	fs.DurationVar(&c.rebootGrace, "reboot-grace", 30*time.Second, "with -reboot-mode init: how long init may take before reboot(2) is used")
}

// stepTimeout bounds one poll iteration: a few list pages, a delete with its
// confirmation, a reply and its send confirmation, a reconnect.
func (c *daemonConfig) stepTimeout() time.Duration {
	return 8*c.modem.timeout + 60*time.Second + 30*time.Second + c.rebootGrace
}

func runDaemon(args []string, stdout, stderr io.Writer) error {
	var c daemonConfig
	fs := newFlagSet("run", "[run] [flags]", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage+"\nFlags of run:\n")
		fs.PrintDefaults()
	}
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	log, err := newLogger(stdout, c.logFormat, slog.LevelInfo)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return c.serve(ctx, log)
}

// serve wires the parts together and runs until ctx ends or the loop
// stalls.
func (c *daemonConfig) serve(ctx context.Context, log *slog.Logger) error {
	if c.pin == "" {
		c.pin = os.Getenv("SMSGATE_PIN")
	}
	var allow []phoneKey
	for _, a := range c.allow {
		allow = append(allow, normalizeNumber(a, c.countryCode))
	}
	modem, err := c.modem.client(log)
	if err != nil {
		return err
	}
	codes, err := parseIRCodes(c.irCodes)
	if err != nil {
		return err
	}
	switch c.rebootMode {
	case "auto", "init", "syscall":
	default:
		return fmt.Errorf("-reboot-mode %q: want auto, init or syscall", c.rebootMode)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 4)

	var ind indicator
	var releasePins []func() error
	if c.dryRun {
		ind = &logLED{log: log}
	} else if c.led != "" {
		// A broken LED must not cost the owner the SMS gateway: it is said
		// loudly, and smsgate runs without it.
		if out, err := openLEDOutput(c.led, c.ledActiveLow); err != nil {
			log.Error("status LED unavailable; running without it", "err", err)
		} else {
			led := NewLED(out)
			ind = led
			ledCtx, ledStop := context.WithCancel(context.Background())
			ledDone := make(chan error, 1)
			go func() { ledDone <- led.Run(ledCtx) }()
			releasePins = append(releasePins, func() error { ledStop(); return <-ledDone })
		}
	}
	var ir irSender
	if len(codes) > 0 || c.ir != "" {
		if c.ir == "" || len(codes) == 0 {
			return errors.New("-ir and -ir-code go together")
		}
		tx, err := openIRTransmitter(c.ir, c.dryRun)
		if err != nil {
			log.Error("IR transmitter unavailable; ir commands will say so", "err", err)
			tx = brokenTX{err}
		}
		releasePins = append(releasePins, tx.Close)
		ir = &IR{codes: codes, tx: tx, toggle: map[string]bool{}}
	}
	// Called by the rebooter before a reboot, and on exit: once is enough.
	release := sync.OnceFunc(func() {
		for _, r := range releasePins {
			if err := r(); err != nil {
				log.Warn("releasing pins", "err", err)
			}
		}
	})
	defer release()

	actions := &Actions{
		modem: modem, ir: ir, dryRun: c.dryRun, checkHost: c.checkHost, host: procHost{}, log: log,
		reboot: &systemRebooter{mode: c.rebootMode, release: release, grace: c.rebootGrace, log: log},
	}
	gw, err := NewGateway(GatewayConfig{
		Allow: allow, CountryCode: c.countryCode, PIN: c.pin, Rate: c.rate, MaxAge: c.maxAge,
		MarkRead: c.markRead, KeepInbox: c.keepInbox, PollInterval: c.poll, RebootInterval: c.rebootInterval,
		StepTimeout: c.stepTimeout(),
	}, modem, actions, ind, log)
	if err != nil {
		return err
	}
	if c.pin == "" {
		log.Warn("no -pin: anyone who can spoof an allowed sender number can command this machine")
	}
	if c.modem.password != "" && os.Getenv("SMSGATE_PASSWORD") == "" {
		log.Info("the modem password came from -password; SMSGATE_PASSWORD keeps it out of ps")
	}
	log.Info("smsgate starting", "modem", c.modem.url, "allow", c.allow.String(), "dry_run", c.dryRun,
		"mark_read", c.markRead, "poll", c.poll, "ir_codes", len(codes), "led", c.led)

	sup := &Supervisor{budget: c.poll + c.stepTimeout() + 10*time.Second, lastBeat: gw.LastBeat,
		nowayout: c.wdNowayout, log: log, now: time.Now}
	if c.dryRun {
		log.Info("action", "action", "watchdog", "detail", "not opened", "dry_run", true)
	} else if wd, applied := openSupervisedWatchdog(c.watchdog, c.wdTimeout, log); wd != nil {
		sup.dev, sup.every = wd, applied/3
	}
	go func() { errc <- gw.Run(ctx) }()
	go func() { errc <- sup.Run(ctx) }()
	err = <-errc
	cancel()
	if errors.Is(err, errStalled) {
		return err
	}
	err = errors.Join(err, <-errc)
	log.Info("smsgate stopped", "err", err)
	return err
}

// openIRTransmitter opens -ir: a LIRC device path, or a periph pin that can
// stream.
func openIRTransmitter(name string, dryRun bool) (irTransmitter, error) {
	if dryRun {
		return nopTX{}, nil
	}
	if strings.HasPrefix(name, "/") {
		return openLIRC(name)
	}
	p, err := openPin(name)
	if err != nil {
		return nil, fmt.Errorf("-ir %s: %w", name, err)
	}
	sp, ok := p.(gpiostream.PinOut)
	if !ok {
		return nil, fmt.Errorf("-ir %s: this pin cannot stream a carrier; use GPIO0-31 on a Pi, or the gpio-ir-tx overlay and -ir /dev/lirc0", name)
	}
	return &gpioTX{pin: sp}, nil
}

// brokenTX stands in for a transmitter that could not be opened, so that
// an ir command answers why instead of nothing.
type brokenTX struct{ err error }

func (b brokenTX) Transmit(int, int, []uint32) error {
	return fmt.Errorf("transmitter unavailable: %w", b.err)
}
func (brokenTX) Close() error { return nil }

// nopTX is the transmitter of a dry run: the action line says what would
// have been sent.
type nopTX struct{}

func (nopTX) Transmit(int, int, []uint32) error { return nil }
func (nopTX) Close() error                      { return nil }

func runOneShot(cmd string, args []string, stdout, stderr io.Writer) error {
	synopsis := map[string]string{
		"status": "status [flags]", "list": "list [-json] [flags]", "send": "send [flags] NUMBER TEXT",
		"delete": "delete [flags] ID...", "modem-reboot": "modem-reboot [flags]",
	}[cmd]
	fs := newFlagSet(cmd, synopsis, stderr)
	var mf modemFlags
	mf.register(fs)
	asJSON := false
	if cmd == "list" {
		fs.BoolVar(&asJSON, "json", false, "print a JSON array")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, _ := newLogger(stderr, "text", slog.LevelWarn)
	m, err := mf.client(log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	switch cmd {
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		for _, k := range []string{"modem_main_state", "network_type", "signalbar", "lte_rsrp", "network_provider", "ppp_status", "wan_ipaddr", "battery_vol_percent"} {
			fmt.Fprintf(stdout, "%-20s %s\n", k, st[k])
		}
		if c, err := m.Capacity(ctx); err == nil {
			fmt.Fprintf(stdout, "%-20s %d/%d\n", "sms_storage", c.Used, c.Total)
		}
		return nil
	case "list":
		msgs, err := m.Inbox(ctx)
		if err != nil {
			return err
		}
		if asJSON {
			if msgs == nil {
				msgs = []SMS{}
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(msgs)
		}
		for _, s := range msgs {
			when := s.RawDate
			if !s.Time.IsZero() {
				when = s.Time.Format(time.RFC3339)
			}
			flags := ""
			if !s.Read {
				flags += " unread"
			}
			if !s.Complete {
				flags += " incomplete"
			}
			fmt.Fprintf(stdout, "%d\t%s\t%s%s\t%q\n", s.ID, s.From, when, flags, s.Text)
		}
		return nil
	case "send":
		if fs.NArg() != 2 {
			return errors.New("send takes NUMBER and TEXT (quote the text)")
		}
		if err := m.Send(ctx, fs.Arg(0), fs.Arg(1)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "sent (%d part(s), %s)\n", smsParts(fs.Arg(1)), smsEncoding(fs.Arg(1)))
		return nil
	case "delete":
		if fs.NArg() == 0 {
			return errors.New("delete takes one or more message IDs")
		}
		var ids []int64
		for _, a := range fs.Args() {
			id, err := strconv.ParseInt(a, 10, 64)
			if err != nil || id < 0 {
				return fmt.Errorf("message id %q: want a number", a)
			}
			ids = append(ids, id)
		}
		if err := m.Delete(ctx, ids...); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted %d message(s)\n", len(ids))
		return nil
	}
	if err := m.Reboot(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "modem rebooting")
	return nil
}

func runIRPrint(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ir-print", "ir-print [-frames N] CODE", stderr)
	frames := fs.Int("frames", 1, "frames to print: the first, then the protocol's repeat frames")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("ir-print takes one CODE, e.g. samsung32:0x2c2c1e")
	}
	c, err := parseIRCode(fs.Arg(0))
	if err != nil {
		return err
	}
	if *frames < 1 || *frames > maxIRCount {
		return fmt.Errorf("-frames %d: want 1 to %d", *frames, maxIRCount)
	}
	fmt.Fprint(stdout, mode2(c.carrier, c.signal(*frames, false)))
	return nil
}

func runSim(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim", "sim [flags]", stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "loopback `address` to serve on")
	personality := fs.String("personality", "mf920v", "firmware: mf920v, mc801a, mc888, mf286d, mf297d or datacard")
	password := fs.String("password", "admin", "the simulated web UI password")
	var deliver repeatFlag
	fs.Var(&deliver, "deliver", "`NUMBER=TEXT` to put in the inbox at start; repeatable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sim, err := NewSim(*personality, *password)
	if err != nil {
		return err
	}
	for _, d := range deliver {
		from, text, ok := strings.Cut(d, "=")
		if !ok {
			return fmt.Errorf("-deliver %q: want NUMBER=TEXT", d)
		}
		sim.Deliver(from, text, time.Now())
	}
	if err := sim.Start(*listen); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "simulated %s serving on %s\n", *personality, sim.URL)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// Say what the client does, as it happens: a person watching, or the
	// VM test reading the guest's console, sees the order of events.
	var seen SimRecord
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return sim.Close()
		case <-t.C:
		}
		r := sim.Record()
		for _, id := range r.Deleted[len(seen.Deleted):] {
			fmt.Fprintf(stdout, "sim: deleted sms %d\n", id)
		}
		for _, m := range r.Sent[len(seen.Sent):] {
			fmt.Fprintf(stdout, "sim: sent to %s: %s\n", m.Number, m.Text)
		}
		if r.Reboots > seen.Reboots {
			fmt.Fprintln(stdout, "sim: modem rebooting")
		}
		seen = r
	}
}
