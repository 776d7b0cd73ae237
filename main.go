// Command smsgate turns a cellular modem (a ZTE or Huawei HiLink hotspot,
// or an AT-command module) and a Raspberry Pi into an out-of-band remote
// control: text the modem's SIM, and smsgate reads the SMS, checks the
// sender and acts.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, newRebooter: newSystemRebooter}
	limitMemory(os.Args[1:], os.Getenv)
	err := a.run(os.Args[1:])
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "smsgate:", err)
	}
	os.Exit(exitCode(err))
}

// exitStatusConfig is gokrazy's "do not restart me": the same flags would
// fail the same way every second. systemd's RestartPreventExitStatus= can
// say the same.
const exitStatusConfig = 125

// configError is a mistake in the flags or the command line: no restart
// can mend it.
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

// badConfig marks err as a configuration error; nil stays nil.
func badConfig(err error) error {
	if err == nil {
		return nil
	}
	return configError{err}
}

// exitCode is the process status for what run returned: 0 for success
// and -h, 125 for a configuration error, 1 for a runtime failure (a
// stalled loop, an unreachable modem in a one-shot command), which a
// supervisor answers with a restart.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	}
	if _, ok := errors.AsType[configError](err); ok {
		return exitStatusConfig
	}
	return 1
}

// app is smsgate as one process sees it: its standard streams, and what
// reboots the machine. main gives the real rebooter; tests give one that
// cannot reboot anything.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	newRebooter    func(rebootConfig, *slog.Logger) rebooter
}

const usage = `smsgate: SMS remote control for a Raspberry Pi beside a cellular modem (ZTE, Huawei HiLink, AT modules).

Usage:
  smsgate [run] [flags]        the daemon (gokrazy passes flags only)
  smsgate status [flags]       the modem's state
  smsgate list [-json] [flags] the inbox
  smsgate send [flags] NUMBER TEXT
  smsgate delete [flags] ID...
  smsgate modem-reboot [flags]
  smsgate pause DURATION       stop the daemon logging in to the modem (at most 2h); needs its -state-dir
  smsgate resume               end a pause
  smsgate doctor [flags]       check the modem, the flags and this machine before installing
                               (every flag of run, and the same SMSGATE_* environment);
                               -capture FILE writes a redacted capture for a bug report
  smsgate demo                 try the command set against a simulated modem
  smsgate sim [flags]          serve a simulated modem on loopback
  smsgate sim -replay FILE     serve a modem that answers like a doctor capture
  smsgate ir-print CODE        print an IR code as LIRC mode2 pulse/space lines
  smsgate totp-new             a fresh -totp secret and its otpauth:// URI for a phone app

'smsgate CMD -h' lists the flags of CMD.
`

// splitCommand is the command args name, and the arguments after it: the
// daemon ("run") when they are empty or start with a flag, as gokrazy
// passes flags only. The one place that decides what a process is.
func splitCommand(args []string) (cmd string, rest []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "run", args
}

func (a *app) run(args []string) error {
	cmd, args := splitCommand(args)
	stdin, stdout, stderr := a.stdin, a.stdout, a.stderr
	switch cmd {
	case "run":
		return a.runDaemon(args)
	case "status", "list", "send", "delete", "modem-reboot":
		return runOneShot(cmd, args, stdout, stderr)
	case "pause", "resume":
		return runPauseCmd(cmd, args, stdout, stderr)
	case "doctor":
		return runDoctor(args, stdout, stderr)
	case "demo":
		return runDemo(args, stdin, stdout, stderr)
	case "sim":
		return runSim(args, stdout, stderr)
	case "ir-print":
		return runIRPrint(args, stdout, stderr)
	case "totp-new":
		return runTOTPNew(args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return badConfig(fmt.Errorf("unknown command %q", cmd))
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
	family              string // -modem-type: "auto" or a family
	timeout             time.Duration
}

func (m *modemFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.url, "modem", "http://192.168.0.1", "the modem: its web UI `URL` (the family is detected), or serial:/dev/ttyUSB2[?baud=N] for an AT module")
	fs.StringVar(&m.family, "modem-type", "auto", "the modem family: auto (detect it), zte, hilink, ubus or at")
	fs.StringVar(&m.user, "user", "", "web UI user name: for ZTE firmware with LOGIN_MULTI_USER; HiLink uses admin unless set")
	fs.StringVar(&m.password, "password", "", "web UI password (better: env SMSGATE_PASSWORD, kept out of ps)")
	fs.DurationVar(&m.timeout, "timeout", defaultRequestTimeout, "timeout of one request to the modem")
}

// open opens the port the flags address (see openModem), the password
// from SMSGATE_PASSWORD unless -password gave it.
func (m *modemFlags) open(ctx context.Context, log *slog.Logger) (modemPort, error) {
	if m.password == "" {
		m.password = os.Getenv("SMSGATE_PASSWORD")
	}
	return openModem(ctx, *m, log)
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

// parseFlags parses args into fs; a flag mistake is a configuration error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	return badConfig(fs.Parse(args))
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
	totp           bool
	rate           int
	maxAge         time.Duration
	markRead       bool
	keepInbox      bool
	poll           time.Duration
	checkHost      listFlag
	dryRun         bool
	noReboot       bool
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
	programs       repeatFlag
	cmdTimeout     time.Duration
	heal           HealConfig
	alert          alertFlag
	alertStart     bool
	alertMax       int
	stateDir       stateDirFlag
	owner          ownerFlags // -forward, -on-sms, -ussd-allow, -keepalive, -reply-parts: ownerflags.go
}

// alertFlag is -alert: unset means the first -allow number, "" nobody.
type alertFlag struct {
	set  bool
	list listFlag
}

func (a *alertFlag) String() string {
	if a == nil {
		return ""
	}
	return a.list.String()
}

func (a *alertFlag) Set(s string) error { a.set = true; return a.list.Set(s) }

func (c *daemonConfig) register(fs *flag.FlagSet) {
	c.modem.register(fs)
	fs.Var(&c.allow, "allow", "phone `number`s allowed to command, international form (+21612345678); repeat or comma-separate. Required")
	fs.StringVar(&c.countryCode, "country-code", "", "your country calling code (216); lets national numbers (012345678) match")
	fs.StringVar(&c.pin, "pin", "", "PIN that must start every command (better: env SMSGATE_PIN)")
	fs.BoolVar(&c.totp, "totp", false, "every command starts with the current 6-digit one-time code instead of a PIN; secret (base32) in env SMSGATE_TOTP; 'smsgate totp-new' makes one")
	fs.IntVar(&c.rate, "rate", 10, "commands per number per hour")
	fs.DurationVar(&c.maxAge, "max-age", 30*time.Minute, "commands older than this (by SMS timestamp) are not executed")
	fs.BoolVar(&c.markRead, "mark-read", false, "mark commands read instead of deleting them; only unread messages are then commands")
	fs.BoolVar(&c.keepInbox, "keep-inbox", false, "never delete other messages to make room in a full inbox")
	fs.DurationVar(&c.poll, "poll", 5*time.Second, "poll interval")
	fs.Var(&c.checkHost, "check-host", "`host:port` to resolve and connect to (e.g. example.com:443): in status, and watched by healing at most once a minute; repeatable")
	fs.BoolVar(&c.dryRun, "dry-run", false, "log reboot, IR, -cmd, LED and watchdog actions instead of doing them (modem actions still happen)")
	fs.BoolVar(&c.noReboot, "no-reboot", false, "never reboot the Pi (by command or healing: logged instead) and never open the watchdog; -cmd programs, IR, the LED and modem actions happen for real: to try smsgate on a machine that must not reboot")
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
	fs.Var(&c.programs, "cmd", "`NAME=PROGRAM [ARG...]`: the SMS NAME runs PROGRAM (absolute path) with exactly these arguments, no shell; repeat per command")
	fs.DurationVar(&c.cmdTimeout, "cmd-timeout", 30*time.Second, "a -cmd program still running after this is killed with its process group")
	fs.BoolVar(&c.heal.Enabled, "heal", true, "heal a line that stays down: reconnect data, then reboot the modem (then the Pi, with -heal-reboot-pi)")
	fs.DurationVar(&c.heal.After, "heal-after", 10*time.Minute, "how long data must stay down, or every -check-host fail, before healing")
	fs.IntVar(&c.heal.Max, "heal-max", 3, "each healing step at most this many times in 24 hours")
	fs.BoolVar(&c.heal.RebootPi, "heal-reboot-pi", false, "let healing reboot the Pi as its last step (respects -reboot-interval)")
	fs.Var(&c.alert, "alert", "phone `number`s alerts go to; repeat or comma-separate; default the first -allow number; \"\" for none")
	fs.BoolVar(&c.alertStart, "alert-start", false, "send the \"smsgate up\" alert after every start, not only after a boot nobody asked for")
	fs.IntVar(&c.alertMax, "alert-max", 10, "alerts at most this many in 24 hours; the next says how many were suppressed")
	c.owner.register(fs)
	fs.Var(&c.stateDir, "state-dir", "`directory` keeping PIN lockouts, rate counts, the last reboot and decided messages across restarts; "+stateDirUsage+"; none (-state-dir \"\") keeps them in memory only")
}

// stepTimeout bounds one poll iteration (see stepBudget).
func (c *daemonConfig) stepTimeout() time.Duration {
	return stepBudget(c.modem.timeout, c.owner.replyParts, c.rebootGrace, c.cmdTimeout)
}

// parseDaemonArgs is the one way a daemon configuration is made: the
// flags registered on fs with their defaults, args, the environment
// (getenv), validate. stateDir decides -state-dir when args do not give
// it. Tests make their gateway configurations here too, so that they run
// with the daemon's limits.
func parseDaemonArgs(fs *flag.FlagSet, args []string, getenv func(string) string, stateDir func() string) (validConfig, error) {
	var c daemonConfig
	c.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return validConfig{}, err
	}
	if fs.NArg() > 0 {
		return validConfig{}, badConfig(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	c.stateDir.settle(stateDir)
	cfg, err := c.validate(getenv)
	return cfg, badConfig(err)
}

func (a *app) runDaemon(args []string) error {
	fs := newFlagSet("run", "[run] [flags]", a.stderr)
	fs.Usage = func() {
		fmt.Fprint(a.stderr, usage+"\nFlags of run:\n")
		fs.PrintDefaults()
	}
	cfg, err := parseDaemonArgs(fs, args, os.Getenv, hostStateDir)
	if err != nil {
		return err
	}
	log, err := newLogger(a.stdout, cfg.logFormat, slog.LevelInfo)
	if err != nil {
		return badConfig(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return a.serve(ctx, cfg, log)
}

// validConfig is a daemonConfig that validate accepted: from here on only
// the hardware and the run itself can fail.
type validConfig struct {
	modem            ModemConfig
	passwordFromFlag bool // said at start: SMSGATE_PASSWORD keeps it out of ps
	gateway          GatewayConfig
	allow            string // as given, for the start line
	logFormat        string
	dryRun           bool
	noReboot         bool
	checkHost        []string
	alertStart       bool
	led              string
	ledActiveLow     bool
	ir               string
	irCodes          map[string]irCode
	programs         []*program
	watchdog         watchdogConfig
	reboot           rebootConfig
	modemType        string
}

// watchdogConfig is how the -watchdog flags say to use the hardware
// watchdog.
type watchdogConfig struct {
	path     string // empty: not used
	timeout  time.Duration
	nowayout bool // leave it armed on exit
}

// validate checks every flag before anything is opened, and says every
// mistake at once: the owner fixing config.json sees them all after one
// try. getenv supplies SMSGATE_PASSWORD, SMSGATE_PIN and SMSGATE_TOTP. It
// opens, reads and changes nothing, but looks the -cmd programs up.
func (c *daemonConfig) validate(getenv func(string) string) (validConfig, error) {
	var errs problems
	v := validConfig{
		allow: c.allow.String(), logFormat: c.logFormat, dryRun: c.dryRun, noReboot: c.noReboot, checkHost: c.checkHost, alertStart: c.alertStart,
		led: c.led, ledActiveLow: c.ledActiveLow, ir: c.ir,
		watchdog: watchdogConfig{path: c.watchdog, timeout: c.wdTimeout, nowayout: c.wdNowayout},
		reboot:   rebootConfig{mode: c.rebootMode, grace: c.rebootGrace},
	}
	v.modem, v.passwordFromFlag = c.validateModem(getenv, &errs)
	v.modemType = c.modem.family
	cc, allow := c.validateSenders(&errs)
	pin, otp := c.validateSecret(getenv, &errs)
	c.validateLimits(&errs)
	if _, err := newLogger(io.Discard, c.logFormat, slog.LevelInfo); err != nil {
		errs.add(err) // said with the rest, not after them
	}
	v.gateway = GatewayConfig{
		Allow: allow, CountryCode: cc, PIN: pin, TOTP: otp, Rate: c.rate, MaxAge: c.maxAge,
		MarkRead: c.markRead, KeepInbox: c.keepInbox, PollInterval: c.poll, RebootInterval: c.rebootInterval,
		StepTimeout: c.stepTimeout(), Heal: c.heal, CheckHosts: c.checkHost, AlertMax: c.alertMax,
		StateDir: c.stateDir.dir, AlertTo: c.validateAlerts(cc, &errs),
	}
	// A healing reconnect may take as long as the slowest family's.
	v.gateway.Heal.StepTimeout = healStepBudget(c.modem.timeout)
	v.irCodes = c.validateHardware(&errs)
	var err error
	// A missing program is said now, not on the day the owner needs it.
	if v.programs, err = parsePrograms(c.programs, c.cmdTimeout); err != nil {
		errs.add(err)
	}
	if v.gateway.Owner, err = c.owner.validate(c.cmdTimeout, c.dryRun, c.alert.set && len(c.alert.list) == 0); err != nil {
		errs.add(err)
	}
	errs.add(checkOnCallSecret(v.gateway))
	return v, errors.Join(errs...)
}

// problems gathers every mistake in the flags, so that one start says them
// all, not one per restart.
type problems []error

func (p *problems) add(err error) {
	if err != nil {
		*p = append(*p, err)
	}
}

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Errorf(format, args...)) }

// validateModem checks where the modem is; the password may come from the
// environment, and passwordFromFlag says it was seen by ps instead.
func (c *daemonConfig) validateModem(getenv func(string) string, errs *problems) (m ModemConfig, passwordFromFlag bool) {
	m = ModemConfig{URL: c.modem.url, User: c.modem.user, Password: c.modem.password, Timeout: c.modem.timeout}
	if m.Password == "" {
		m.Password = getenv("SMSGATE_PASSWORD")
	} else {
		passwordFromFlag = getenv("SMSGATE_PASSWORD") == ""
	}
	if t, err := parseModemAddress(m.URL, c.modem.family, m); err != nil {
		errs.add(fmt.Errorf("-modem: %w", err))
	} else if _, ok := portOpeners[t.Family]; t.Family != "" && !ok {
		errs.addf("-modem-type %s: this smsgate is built without that family", t.Family)
	}
	if c.modem.timeout <= 0 {
		errs.addf("-timeout %s: want more than 0", c.modem.timeout)
	}
	return m, passwordFromFlag
}

// validateSenders checks who is obeyed: every -allow number in
// international form.
func (c *daemonConfig) validateSenders(errs *problems) (string, []phoneKey) {
	cc, err := parseCountryCode(c.countryCode)
	errs.add(err)
	var allow []phoneKey
	for _, a := range c.allow {
		k := normalizeNumber(a, cc)
		if !k.international() {
			errs.addf("-allow %q: give it in international form (+216...) or set -country-code", a)
		}
		allow = append(allow, k)
	}
	if len(c.allow) == 0 {
		errs.addf("no -allow numbers: smsgate would obey nobody; give the owner's number")
	}
	return cc, allow
}

// validateSecret checks the PIN or the TOTP secret, from flags or the
// environment; one of them at most.
func (c *daemonConfig) validateSecret(getenv func(string) string, errs *problems) (string, *totp) {
	pin := c.pin
	if pin == "" {
		pin = getenv("SMSGATE_PIN")
	}
	if !c.totp {
		return pin, nil
	}
	key, err := parseTOTPSecret(getenv("SMSGATE_TOTP"))
	switch {
	case getenv("SMSGATE_TOTP") == "":
		errs.addf("-totp: no secret in SMSGATE_TOTP; 'smsgate totp-new' makes one")
	case err != nil:
		errs.addf("-totp: %w", err)
	case pin != "":
		errs.addf("-totp and a PIN (-pin or SMSGATE_PIN): choose one; the code replaces the PIN")
	default:
		return pin, newTOTP(key)
	}
	return pin, nil
}

// validateLimits checks the numbers and durations that bound smsgate.
func (c *daemonConfig) validateLimits(errs *problems) {
	if c.rate < 1 {
		errs.addf("-rate %d: want at least 1 command per hour", c.rate)
	}
	if c.maxAge <= 0 {
		errs.addf("-max-age %s: want more than 0", c.maxAge)
	}
	if c.poll <= 0 {
		errs.addf("-poll %s: want more than 0", c.poll)
	}
	if c.rebootInterval < 0 {
		errs.addf("-reboot-interval %s: want 0 or more", c.rebootInterval)
	}
	if c.heal.After <= 0 {
		errs.addf("-heal-after %s: want more than 0", c.heal.After)
	}
	if c.heal.Max < 1 {
		errs.addf("-heal-max %d: want at least 1", c.heal.Max)
	}
	if c.alertMax < 1 {
		errs.addf("-alert-max %d: want at least 1", c.alertMax)
	}
	for _, hp := range c.checkHost {
		if host, port, err := net.SplitHostPort(hp); err != nil || host == "" || port == "" {
			errs.addf("-check-host %q: want host:port (example.com:443)", hp)
		}
	}
	if _, err := newLogger(io.Discard, c.logFormat, slog.LevelInfo); err != nil {
		errs.add(err)
	}
}

// validateAlerts is where alerts go: nil for the default (the -allow
// numbers), empty for none (-alert "").
func (c *daemonConfig) validateAlerts(cc string, errs *problems) []string {
	if !c.alert.set {
		return nil
	}
	to := []string{}
	for _, a := range c.alert.list {
		k := normalizeNumber(a, cc)
		if !k.international() {
			errs.addf("-alert %q: give it in international form (+216...) or set -country-code", a)
		}
		to = append(to, string(k))
	}
	return to
}

// validateHardware checks the IR codes, the watchdog and the reboot.
func (c *daemonConfig) validateHardware(errs *problems) map[string]irCode {
	codes, err := parseIRCodes(c.irCodes)
	errs.add(err)
	if (c.ir == "") != (len(c.irCodes) == 0) {
		errs.addf("-ir and -ir-code go together: the transmitter, and the codes it sends")
	}
	if c.watchdog != "" && c.wdTimeout < time.Second {
		errs.addf("-watchdog-timeout %s: want at least 1s (the device counts in seconds)", c.wdTimeout)
	}
	switch c.rebootMode {
	case "auto", "init", "syscall":
	default:
		errs.addf("-reboot-mode %q: want auto, init or syscall", c.rebootMode)
	}
	if c.rebootGrace <= 0 {
		errs.addf("-reboot-grace %s: want more than 0", c.rebootGrace)
	}
	return codes
}

// serve opens the hardware, wires the parts together and runs until ctx
// ends or the loop stalls. Whatever was opened is given back on every way
// out, a panic included.
func (a *app) serve(ctx context.Context, cfg validConfig, log *slog.Logger) error {
	// Before any hardware: a second daemon must not take the LED or the
	// watchdog from the first either.
	lock, err := holdStateDir(cfg.gateway.StateDir, log)
	if err != nil {
		log.Error("smsgate not started", "err", err)
		return badConfig(err)
	}
	defer lock.Release()
	hw := &hardware{log: log}
	defer hw.Close()
	hw.open(cfg)

	modem, err := daemonPort(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer releasePort(modem, log)
	var ir irSender
	if hw.ir != nil {
		ir = &IR{codes: cfg.irCodes, tx: hw.ir, toggle: map[string]bool{}}
	}
	actions := &Actions{
		modem: modem, ir: ir, dryRun: cfg.dryRun, noReboot: cfg.noReboot, checkHost: cfg.checkHost, host: procHost{}, log: log,
		reboot: a.newRebooter(cfg.reboot, log), release: hw.releasePins, programs: cfg.programs,
	}
	gw, err := NewGateway(cfg.gateway, modem, actions, hw.ind, log)
	if err != nil {
		return badConfig(err)
	}
	cause := bootCause{}
	cause.watchdogReset, cause.watchdogKnown = watchdogBootStatus("/sys", cfg.watchdog.path)
	gw.StartAlert(cause, cfg.alertStart)
	if cfg.gateway.secret() == secretNone {
		log.Warn("no -pin: anyone who can spoof an allowed sender number can command this machine")
	}
	if cfg.passwordFromFlag {
		log.Info("the modem password came from -password; SMSGATE_PASSWORD keeps it out of ps")
	}
	log.Info("smsgate starting", "modem", cfg.modem.URL, "modem_type", cfg.modemType, "allow", cfg.allow, "dry_run", cfg.dryRun, "no_reboot", cfg.noReboot,
		"mark_read", cfg.gateway.MarkRead, "poll", cfg.gateway.PollInterval, "ir_codes", len(cfg.irCodes), "led", cfg.led, "cmds", len(cfg.programs),
		"state_dir", cfg.gateway.StateDir)

	sup := &Supervisor{budget: supervisorBudget(cfg.gateway.PollInterval, cfg.gateway.StepTimeout),
		lastBeat: gw.LastBeat, log: log}
	if hw.wd != nil {
		sup.dev, sup.every = hw.wd, hw.wdTimeout/3
	} else {
		log.Info("self-supervision: smsgate exits if the poll loop stalls", "budget", sup.budget)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, _ := newLogger(stderr, "text", slog.LevelWarn)
	if _, err := mf.target(log); err != nil {
		return badConfig(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// The arguments first, then log in where the modem needs it: a wrong
	// password is then the error, and the command is sent once.
	var ids []int64
	switch cmd {
	case "send":
		if fs.NArg() != 2 {
			return badConfig(errors.New("send takes NUMBER and TEXT (quote the text)"))
		}
	case "delete":
		if fs.NArg() == 0 {
			return badConfig(errors.New("delete takes one or more message IDs"))
		}
		for _, a := range fs.Args() {
			id, err := strconv.ParseInt(a, 10, 64)
			if err != nil || id < 0 {
				return badConfig(fmt.Errorf("message id %q: want a number", a))
			}
			ids = append(ids, id)
		}
	}
	m, err := mf.open(ctx, log)
	if err != nil {
		return err
	}
	defer releasePort(m, log)
	if cmd == "modem-reboot" && !m.Info().Can.Reboot {
		return fmt.Errorf("modem reboot: %w", errUnsupported)
	}
	if s, ok := m.(sessionOpener); ok {
		if err := s.EnsureSession(ctx); err != nil {
			return err
		}
	}
	switch cmd {
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		printStatus(stdout, m.Info(), st)
		if c, err := m.Capacity(ctx); err == nil {
			fmt.Fprintf(stdout, "%-12s %d/%d\n", "sms storage", c.Used, c.Total)
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
		for _, m := range msgs {
			// Every message listed under the id: none hidden.
			for _, s := range m.records() {
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
				if s.Unreadable != "" {
					flags += " unreadable"
				}
				if len(m.Shared) > 0 {
					flags += " shared-id"
				}
				fmt.Fprintf(stdout, "%d\t%s\t%s%s\t%q\n", s.ID, s.From, when, flags, s.Text)
			}
		}
		return nil
	case "send":
		if err := m.Send(ctx, fs.Arg(0), fs.Arg(1)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "sent (%d part(s), %s)\n", smsParts(fs.Arg(1)), smsEncoding(fs.Arg(1)))
		return nil
	case "delete":
		return deleteListed(ctx, m, ids, stdout)
	}
	if err := m.Reboot(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "modem rebooting")
	return nil
}

// errNotInInbox: none of the ids `smsgate delete` was given is listed.
var errNotInInbox = errors.New("not in the inbox")

// deleteListed is `smsgate delete`: it deletes the ids the inbox lists
// (the ids `smsgate list` shows), and says which it deleted and which the
// inbox did not hold. A modem's "done" is not taken for it: what the inbox
// lists again afterwards was not deleted. It fails (exit 1) when no id
// asked was listed, or when one listed stays. Every family answers a
// delete of an unknown id its own way (ZTE goform and ubus: success; HiLink
// and AT: an error), so the inbox is asked first.
func deleteListed(ctx context.Context, m modemPort, ids []int64, stdout io.Writer) error {
	before, err := m.Inbox(ctx)
	if err != nil {
		return fmt.Errorf("delete: list the inbox: %w", err)
	}
	listed := map[int64]string{}
	for _, s := range before {
		listed[s.ID] = fingerprint(s)
	}
	var found, missing []int64
	for _, id := range ids {
		switch _, ok := listed[id]; {
		case slices.Contains(found, id) || slices.Contains(missing, id):
		case ok:
			found = append(found, id)
		default:
			missing = append(missing, id)
		}
	}
	if len(found) == 0 {
		return fmt.Errorf("delete: %s: %w", spacedIDs(missing), errNotInInbox)
	}
	if err := m.Delete(ctx, found...); err != nil {
		return err
	}
	after, err := m.Inbox(ctx)
	if err != nil {
		return fmt.Errorf("delete: the modem said %s deleted; listing the inbox again: %w", spacedIDs(found), err)
	}
	var kept []int64
	for _, s := range after {
		if !slices.Contains(found, s.ID) {
			continue
		}
		// A message listed before, not a new one filed under a freed id;
		// record by record: on an id listed with several messages, a
		// delete may have removed only one.
		was := recordFingerprints(listed[s.ID])
		if slices.ContainsFunc(s.records(), func(r SMS) bool { return was[fingerprint(r)] }) {
			kept = append(kept, s.ID)
		}
	}
	found = slices.DeleteFunc(found, func(id int64) bool { return slices.Contains(kept, id) })
	if len(found) > 0 {
		// One id may hold several messages (a stranger's beside yours):
		// the count says how many went with the ids.
		n := 0
		for _, s := range before {
			if slices.Contains(found, s.ID) {
				n += len(s.records())
			}
		}
		fmt.Fprintf(stdout, "deleted %d message(s): %s\n", n, spacedIDs(found))
	}
	if len(missing) > 0 {
		fmt.Fprintf(stdout, "%s: %s\n", errNotInInbox, spacedIDs(missing))
	}
	if len(kept) > 0 {
		return fmt.Errorf("delete: the modem said done, but still lists %s", spacedIDs(kept))
	}
	return nil
}

// spacedIDs is ids as a person reads them: "101 102".
func spacedIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, " ")
}

func runIRPrint(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ir-print", "ir-print [-frames N] CODE", stderr)
	frames := fs.Int("frames", 1, "frames to print: the first, then the protocol's repeat frames")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return badConfig(errors.New("ir-print takes one CODE, e.g. samsung32:0x2c2c1e"))
	}
	c, err := parseIRCode(fs.Arg(0))
	if err != nil {
		return badConfig(err)
	}
	if *frames < 1 || *frames > maxIRCount {
		return badConfig(fmt.Errorf("-frames %d: want 1 to %d", *frames, maxIRCount))
	}
	fmt.Fprint(stdout, mode2(c.carrier, c.signal(*frames, false)))
	return nil
}

func runTOTPNew(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("totp-new", "totp-new [-account NAME]", stderr)
	host, _ := os.Hostname()
	if host == "" {
		host = "pi"
	}
	account := fs.String("account", host, "the name the phone app shows under smsgate")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badConfig(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	secret := newTOTPSecret()
	fmt.Fprintf(stdout, `secret: %s
uri:    %s

Type the secret into an authenticator app (time-based, SHA-1, 6 digits, 30 s),
or show the URI as a QR code (qrencode -t ansiutf8 'URI'). Then give smsgate
SMSGATE_TOTP=%s and -totp, and start every command with the code: '123456 status'.
`, secret, totpURI(secret, *account), secret)
	return nil
}
