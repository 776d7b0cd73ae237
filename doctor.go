package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// doctor is `smsgate doctor`: the check a person runs once, at a shell,
// before the Pi goes into a read-only image. Every check prints one line,
// ok, warn or FAIL, and a failure or warning says how to fix it. A failure
// is what would stop smsgate serving SMS commands; a warning is what only
// degrades it.

type checkLevel int

const (
	levelOK checkLevel = iota
	levelWarn
	levelFail
	// levelSkip is a check that an earlier failure made pointless.
	levelSkip
)

func (l checkLevel) String() string {
	return [...]string{"ok", "warn", "FAIL", "--"}[l]
}

type check struct {
	Name   string
	Level  checkLevel
	Detail string
	Fix    string
}

func (c check) lines() []string {
	out := []string{fmt.Sprintf("%-4s  %-10s %s", c.Level, c.Name, c.Detail)}
	if c.Fix != "" {
		out = append(out, fmt.Sprintf("%-4s  %-10s fix: %s", "", "", c.Fix))
	}
	return out
}

// doctorConfig is what doctor is told: every flag the daemon takes, so
// that the daemon's command line can be pasted, and doctor's own
// (-ir-test, -send-test, -capture).
type doctorConfig struct {
	modem        modemFlags
	led          string
	ledActiveLow bool
	ir           string
	irCodes      repeatFlag
	irTest       string
	watchdog     string
	wdTimeout    time.Duration
	allow        listFlag
	countryCode  string
	sendTest     string
	capture      string
	owner        doctorOwnerFlags // -cmd, -on-sms, -ussd-allow: doctor_owner.go
	// daemon is the daemon's flags as given, which the "flags" check
	// validates as the daemon would; nil for a doctorConfig made without
	// flags (tests), which has no such check.
	daemon *daemonConfig
}

func (c *doctorConfig) register(fs *flag.FlagSet) {
	c.daemon = &daemonConfig{}
	c.daemon.register(fs)
	fs.StringVar(&c.irTest, "ir-test", "", "doctor: send the -ir-code `NAME` once")
	fs.StringVar(&c.sendTest, "send-test", "", "doctor: also send one SMS to `NUMBER` and wait until the modem reports it sent")
	fs.StringVar(&c.capture, "capture", "", "doctor: write every request and answer, redacted for a bug report, to `FILE`")
}

// fromDaemon takes, from the daemon's flags, what doctor's own checks
// look at.
func (c *doctorConfig) fromDaemon() {
	d := c.daemon
	c.modem = d.modem
	c.led, c.ledActiveLow, c.ir, c.irCodes = d.led, d.ledActiveLow, d.ir, d.irCodes
	c.watchdog, c.wdTimeout = d.watchdog, d.wdTimeout
	c.allow, c.countryCode = d.allow, d.countryCode
	c.owner = doctorOwnerFlags{programs: d.programs, cmdTimeout: d.cmdTimeout, onSMS: d.owner.onSMS,
		ussdAllow: d.owner.ussdAllow, balance: d.owner.balanceUSSD}
}

func runDoctor(args []string, stdout, stderr io.Writer) error {
	c, err := parseDoctorArgs(args, stderr, hostStateDir)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d := newDoctor(c, stdout)
	return d.run(ctx)
}

// parseDoctorArgs reads doctor's command line; stateDir decides
// -state-dir when args do not give it, as for the daemon.
func parseDoctorArgs(args []string, stderr io.Writer, stateDir func() string) (doctorConfig, error) {
	var c doctorConfig
	fs := newFlagSet("doctor", "doctor [flags]: every flag of smsgate run, and doctor's own", stderr)
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return c, badConfig(err)
	}
	if fs.NArg() > 0 {
		return c, badConfig(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	c.fromDaemon()
	c.daemon.stateDir.settle(stateDir)
	return c, nil
}

type doctor struct {
	cfg     doctorConfig
	out     io.Writer
	host    hostEnv
	rec     *recorder
	checks  []check
	secrets []string
	// statusEvery, when set, replaces the client's waits between status
	// reads (tests).
	statusEvery time.Duration
	detected    Detection
	// captured is what the adapter detected, in the capture's words.
	captured map[string]string
}

// doctorCheck is one of doctor's checks: it prints its lines (one per
// check it makes) through d.add.
type doctorCheck func(d *doctor, ctx context.Context)

// doctorSection is a heading and the checks under it.
type doctorSection struct {
	heading func(d *doctor) string
	checks  []doctorCheck
}

// doctorSections are doctor's checks in the order it runs and prints them:
// the flags and the modem first, as a failure there is what stops smsgate
// serving SMS; this machine's hardware after.
var doctorSections = []doctorSection{
	{func(d *doctor) string { return "smsgate doctor: modem " + d.cfg.modem.url }, []doctorCheck{
		noCtx((*doctor).checkDaemonFlags), // flags, state
		noCtx((*doctor).checkFlags),       // allow
		noCtx((*doctor).checkOwner),       // cmd, on-sms, ussd (doctor_owner.go)
		(*doctor).checkModem,              // modem, the family's own, session checks
	}},
	{func(*doctor) string { return "smsgate doctor: this machine" }, []doctorCheck{
		noCtx((*doctor).checkLED),      // led (doctor_host.go)
		(*doctor).checkIR,              // ir
		noCtx((*doctor).checkWatchdog), // watchdog
		noCtx((*doctor).checkClock),    // clock
	}},
}

// noCtx is a check that needs no context.
func noCtx(f func(*doctor)) doctorCheck { return func(d *doctor, _ context.Context) { f(d) } }

func newDoctor(c doctorConfig, out io.Writer) *doctor {
	if c.modem.password == "" {
		c.modem.password = os.Getenv("SMSGATE_PASSWORD")
	}
	return &doctor{cfg: c, out: out, host: defaultHostEnv()}
}

func (d *doctor) add(c check) {
	d.checks = append(d.checks, c)
	for _, l := range c.lines() {
		fmt.Fprintln(d.out, l)
	}
}

func (d *doctor) failed() int {
	n := 0
	for _, c := range d.checks {
		if c.Level == levelFail {
			n++
		}
	}
	return n
}

// run does every check, writes the capture if asked, and returns an error
// when any check failed.
func (d *doctor) run(ctx context.Context) error {
	d.secrets = append(d.secrets, d.cfg.sendTest)
	d.secrets = append(d.secrets, d.cfg.allow...)
	d.rec = newRecorder(nil, d.cfg.capture != "")
	for _, sec := range doctorSections {
		fmt.Fprintln(d.out, sec.heading(d))
		for _, c := range sec.checks {
			c(d, ctx)
		}
	}
	var werr error
	if d.cfg.capture != "" {
		werr = d.writeCapture(d.captured)
	}
	n := d.failed()
	switch {
	case n > 0:
		fmt.Fprintf(d.out, "%d check(s) failed: smsgate would not serve SMS commands; fix them and run doctor again\n", n)
		return errors.Join(fmt.Errorf("doctor: %d check(s) failed", n), werr)
	case werr != nil:
		return werr
	}
	fmt.Fprintln(d.out, "no failures: smsgate can serve SMS commands with these flags")
	return nil
}

func (d *doctor) writeCapture(det map[string]string) error {
	c := &Capture{Format: captureFormat, Taken: time.Now().UTC().Truncate(time.Second), Detected: det,
		Exchanges: d.rec.Exchanges()}
	for _, ch := range d.checks {
		for _, l := range ch.lines() {
			c.Report = append(c.Report, scrubText(l))
		}
	}
	b, err := marshalCaptureTokens(c, d.cfg.modem.password, d.secrets, d.rec.Tokens())
	if err != nil {
		return err
	}
	if err := os.WriteFile(d.cfg.capture, b, 0o600); err != nil {
		return fmt.Errorf("write capture: %w", err)
	}
	fmt.Fprintf(d.out, "capture of %d exchanges written to %s (redacted: password, numbers, texts, IMEI/IMSI/ICCID, IP addresses)\n",
		len(c.Exchanges), d.cfg.capture)
	return nil
}

// checkDaemonFlags validates the daemon's flags, and the environment it
// reads (SMSGATE_PASSWORD, SMSGATE_PIN, SMSGATE_TOTP), as the daemon does
// before it opens anything: one FAIL per mistake, in the daemon's words.
func (d *doctor) checkDaemonFlags() {
	c := d.cfg.daemon
	if c == nil {
		return
	}
	if _, err := c.validate(os.Getenv); err != nil {
		for _, e := range unjoin(err) {
			d.add(check{"flags", levelFail, e.Error(), "the daemon refuses to start with it (exit 125): correct the flag"})
		}
	} else {
		d.add(check{"flags", levelOK, "the daemon accepts these flags", ""})
	}
	d.checkStateDir(c.stateDir.dir)
}

// unjoin is the errors errors.Join joined, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// checkStateDir says whether the daemon can keep its state in dir: the
// directory, or the nearest one above it that exists (the daemon creates
// the rest), must be writable. Nothing is created.
func (d *doctor) checkStateDir(dir string) {
	if dir == "" {
		d.add(check{"state", levelWarn, "no -state-dir: PIN lockouts, rate counts, the last reboot and the commands taken are forgotten on restart, and the daemon sends no login to a modem that does not report its attempts left (HiLink, ubus, MC7010, MC888)",
			"give a writable directory that survives a reboot: -state-dir=/var/lib/smsgate"})
		return
	}
	at := filepath.Clean(dir)
	for !dirExists(at) && filepath.Dir(at) != at {
		at = filepath.Dir(at)
	}
	switch {
	case !mayWriteDir(at):
		d.add(check{"state", levelWarn, fmt.Sprintf("-state-dir %s: %s is not writable by this user: the daemon would keep its state in memory only", dir, at),
			"run doctor as the user the daemon runs as, or make the directory writable (systemd's StateDirectory= creates it)"})
	case at != filepath.Clean(dir):
		d.add(check{"state", levelOK, fmt.Sprintf("-state-dir %s: the daemon creates it in %s", dir, at), ""})
	default:
		d.add(check{"state", levelOK, fmt.Sprintf("-state-dir %s: writable", dir), ""})
	}
}

// checkFlags checks the flags the daemon would refuse.
func (d *doctor) checkFlags() {
	// With the daemon's flags, their check above counted the failure; this
	// line only adds the fix.
	fail := levelFail
	if d.cfg.daemon != nil {
		fail = levelSkip
	}
	cc := d.cfg.countryCode
	if cc != "" && strings.Trim(cc, "0123456789") != "" || strings.HasPrefix(cc, "0") {
		d.add(check{"allow", fail, fmt.Sprintf("-country-code %q is not a calling code", cc),
			"give digits only, without + or 00: -country-code=216"})
		return
	}
	if len(d.cfg.allow) == 0 {
		d.add(check{"allow", fail, "no -allow numbers: smsgate refuses to start, it would obey nobody",
			"give the owner's number: -allow=+21612345678"})
		return
	}
	var keys []string
	for _, a := range d.cfg.allow {
		k := normalizeNumber(a, cc)
		if !k.international() {
			d.add(check{"allow", fail, fmt.Sprintf("-allow %q is not an international number", a),
				"write it as the modem shows senders: +21612345678, or set -country-code for 0-numbers"})
			return
		}
		keys = append(keys, string(k))
	}
	d.add(check{"allow", levelOK, fmt.Sprintf("%d number(s): %s", len(keys), strings.Join(keys, ", ")), ""})
}

// modemProblem says in a person's words why the modem did not answer as a
// modem smsgate knows does, and what to do.
func modemProblem(url string, err error) (detail, fix string) {
	var nerr net.Error
	var oerr *net.OpError
	s := err.Error()
	switch {
	case errors.As(err, &oerr) && oerr.Op == "dial", strings.Contains(s, "connection refused"), strings.Contains(s, "no route to host"):
		return "nothing answers at " + url + ": " + s,
			"check -modem (192.168.0.1 on most ZTE hotspots; 192.168.8.1, 192.168.32.1 or 192.168.254.1 on others) and that this machine is on the hotspot's Wi-Fi or USB network (ip route)"
	case errors.As(err, &nerr) && nerr.Timeout():
		return "no answer within -timeout from " + url + ": " + s,
			"check -modem and the link to the hotspot; a modem that is rebooting answers again within a minute"
	case strings.Contains(s, "HTML answer"):
		return url + " answers an HTML page, not the API of a modem smsgate knows (ZTE goform JSON, Huawei HiLink XML, ZTE ubus JSON-RPC): " + s,
			"point -modem at the modem's web UI (the page that shows the modem's login); a captive portal, a router or an unknown firmware answers like this"
	case strings.Contains(s, "http status"):
		return url + " answers the modem APIs smsgate knows with an error: " + s,
			"this is not a ZTE or Huawei HiLink web UI, or its firmware is one smsgate does not know; give -modem-type if you know the family, or run doctor -capture and attach the file to a bug report"
	}
	return url + " answered something that is not a modem API smsgate knows: " + s,
		"run doctor -capture FILE and attach the file to a bug report"
}

// portDoctorLate is a portDoctor with checks that need doctor's session
// checks done first: ZTE's anti-forgery form is learnt from an accepted
// action, such as the test SMS.
type portDoctorLate interface {
	DoctorChecksLate(ctx context.Context) []check
}

// webTapper is a port whose requests doctor can record for -capture.
type webTapper interface{ tapWeb(r *recorder) }

// statusPacer is a port whose waits between status reads tests shorten.
type statusPacer interface{ paceStatus(every time.Duration) }

// captureDetailer is a port that says what it detected in its own words,
// for the capture (and sim -replay).
type captureDetailer interface{ CaptureDetected() map[string]string }

// checkModem checks everything smsgate needs of the modem and keeps what
// the adapter detected, for the capture. The family's own checks (its
// login among them) come from the adapter; what every family must do
// (list, store, tell the link, send) is checked here through the port.
func (d *doctor) checkModem(ctx context.Context) {
	p, ok := d.openModem(ctx)
	if !ok {
		return
	}
	defer func() {
		if dr, ok := p.(interface{ Detected() Detection }); ok {
			d.detected = dr.Detected()
		}
	}()
	session := false
	if pd, ok := p.(portDoctor); ok {
		for _, c := range pd.DoctorChecks(ctx) {
			d.add(c)
		}
	} else {
		session = d.checkLoginPlain(ctx, p)
	}
	info := p.Info()
	d.add(check{"family", levelOK, describePort(info), ""})
	if session || info.LoggedIn || info.Login == schemeNone {
		d.checkSession(ctx, p)
	} else {
		for _, n := range []string{"inbox", "capacity", "data", "signal"} {
			d.add(check{n, levelSkip, "not checked: no session", ""})
		}
	}
	if pl, ok := p.(portDoctorLate); ok {
		for _, c := range pl.DoctorChecksLate(ctx) {
			d.add(c)
		}
	}
	if cd, ok := p.(captureDetailer); ok {
		d.captured = cd.CaptureDetected()
		return
	}
	d.captured = map[string]string{"family": info.Family, "model": info.Model, "firmware": info.Firmware,
		"generation": info.Generation, "login": info.Login}
}

// openModem finds the modem's family and opens its adapter (the "modem"
// line), with doctor's recorder between the adapter and the network.
func (d *doctor) openModem(ctx context.Context) (modemPort, bool) {
	mf := d.cfg.modem
	t, err := mf.target(slog.New(slog.DiscardHandler))
	if err != nil {
		d.add(check{"modem", levelFail, err.Error(),
			"give the web UI's address, -modem=http://192.168.0.1, or an AT module's line, -modem=serial:/dev/ttyUSB2"})
		return nil, false
	}
	start := time.Now()
	p, det, err := openDetected(ctx, t, d.rec)
	if err != nil {
		detail, fix := modemProblem(mf.url, err)
		d.add(check{"modem", levelFail, detail, fix})
		return nil, false
	}
	lvl := levelOK
	if det.family == "" {
		lvl = levelWarn // forced, and the address answered no probe
	}
	d.add(check{"modem", lvl, det.describe(t, time.Since(start)), ""})
	if w, ok := p.(webTapper); ok {
		w.tapWeb(d.rec)
	}
	if sp, ok := p.(statusPacer); ok && d.statusEvery > 0 {
		sp.paceStatus(d.statusEvery)
	}
	return p, true
}

// checkLoginPlain logs in once, for a family without checks of its own:
// its adapter keeps the owner's attempts as the daemon does.
func (d *doctor) checkLoginPlain(ctx context.Context, p modemPort) bool {
	so, ok := p.(sessionOpener)
	if !ok {
		return true // nothing to log in to (a serial line)
	}
	if err := so.EnsureSession(ctx); err != nil {
		d.add(check{"login", levelFail, "no session: " + err.Error(),
			"set SMSGATE_PASSWORD (or -password) to the web UI's password, and -user if it is not the default"})
		return false
	}
	d.add(check{"login", levelOK, "session open (login " + orBlank(p.Info().Login) + ")", ""})
	return true
}

// describePort is doctor's line on what the adapter found.
func describePort(info PortInfo) string {
	s := info.Family
	if info.Generation != "" {
		s += " (" + info.Generation + ")"
	}
	s += ", model " + orBlank(info.Model) + ", login " + orBlank(info.Login)
	if info.Encrypted {
		s += ", SMS encrypted"
	}
	var cannot []string
	for _, c := range []struct {
		ok   bool
		name string
	}{{info.Can.MarkRead, "mark read"}, {info.Can.Reconnect, "reconnect"}, {info.Can.Reboot, "reboot"}} {
		if !c.ok {
			cannot = append(cannot, c.name)
		}
	}
	if len(cannot) > 0 {
		s += "; cannot " + strings.Join(cannot, ", ")
	}
	return s
}

// detectionMap is a Detection as the capture keeps it.
func detectionMap(det Detection) map[string]string {
	return map[string]string{
		"hardware_version": det.Model, "wa_inner_version": det.Firmware, "cr_version": det.CRVersion,
		"config_js": det.ConfigJS, "login": det.Login, "login_from": det.LoginFrom, "login_form": det.LoginForm,
		"ad": det.AD, "ad_from": det.ADFrom, "ad_confirmed": strconv.FormatBool(det.ADConfirmed),
		"counter_stuck": strconv.FormatBool(det.CounterStuck),
		"generation":    det.Generation,
		"encrypted":     strconv.FormatBool(det.Encrypted),
	}
}

func orBlank(s string) string {
	if s == "" {
		return "(blank)"
	}
	return s
}

// sessionCheck is one of doctor's checks that need a session, made
// through the port.
type sessionCheck func(d *doctor, ctx context.Context, m modemPort)

// sessionChecks are what smsgate does every poll and with every command,
// in the order doctor prints them.
var sessionChecks = []sessionCheck{
	(*doctor).checkInbox,    // inbox
	(*doctor).checkCapacity, // capacity
	(*doctor).checkLink,     // data, signal
	(*doctor).sendTest,      // send, when -send-test
}

// checkSession makes the session checks.
func (d *doctor) checkSession(ctx context.Context, m modemPort) {
	for _, c := range sessionChecks {
		c(d, ctx, m)
	}
}

// checkInbox lists the inbox, as every poll does.
func (d *doctor) checkInbox(ctx context.Context, m modemPort) {
	msgs, err := m.Inbox(ctx)
	if err != nil {
		d.add(check{"inbox", levelFail, "the inbox cannot be read: " + err.Error(),
			"run doctor -capture FILE and attach the file to a bug report"})
	} else {
		unread, incomplete, sim := 0, 0, 0
		for _, s := range msgs {
			d.secrets = append(d.secrets, s.From, s.Text)
			if !s.Read {
				unread++
			}
			if !s.Complete {
				incomplete++
			}
			if s.Store == "sim" {
				sim++
			}
		}
		d.add(check{"inbox", levelOK, fmt.Sprintf("%d received message(s): %d unread, %d incomplete, %d on the SIM",
			len(msgs), unread, incomplete, sim), ""})
	}
}

// checkCapacity reads how full the SMS storage is: a full one stops SMS
// arriving.
func (d *doctor) checkCapacity(ctx context.Context, m modemPort) {
	if c, err := m.Capacity(ctx); err != nil {
		d.add(check{"capacity", levelWarn, "SMS storage use unknown: " + err.Error(),
			"smsgate cannot tell when the inbox fills up and stops SMS arriving; delete old messages by hand now and then"})
	} else if c.Total <= 0 {
		d.add(check{"capacity", levelWarn, "the modem does not say how many SMS it can store",
			"delete old messages by hand now and then: a full inbox stops SMS arriving"})
	} else if c.Used >= c.Total-inboxReserve {
		d.add(check{"capacity", levelWarn, fmt.Sprintf("%d of %d SMS slots used: nearly full, a full inbox stops SMS arriving", c.Used, c.Total),
			"delete old messages (smsgate list; smsgate delete ID...); the daemon makes room by itself unless -keep-inbox"})
	} else {
		d.add(check{"capacity", levelOK, fmt.Sprintf("%d of %d SMS slots used", c.Used, c.Total), ""})
	}
}

// checkLink checks the mobile data link and the signal, as status reads
// them.
func (d *doctor) checkLink(ctx context.Context, m modemPort) {
	st, err := m.Status(ctx)
	if err != nil {
		d.add(check{"data", levelWarn, "the link cannot be read: " + err.Error(), "attach doctor -capture FILE to a bug report"})
		d.add(check{"signal", levelWarn, "signal cannot be read", ""})
		return
	}
	if st.DataUp {
		d.add(check{"data", levelOK, "mobile data up " + st.WANIP, ""})
	} else {
		d.add(check{"data", levelWarn, "mobile data " + orBlank(st.Data) + ": it is down (SMS still work)",
			"check the APN and the data plan in the web UI; the SMS command 'modem reconnect' re-dials"})
	}
	bars := "?"
	if st.Bars >= 0 {
		bars = strconv.Itoa(st.Bars)
	}
	sig := fmt.Sprintf("network %s, signal %s/5, operator %s, %s dBm", orBlank(st.Network), bars, orBlank(st.Operator), orBlank(st.SignalDB))
	switch {
	case st.Network == "no service" || st.Network == "" && st.Bars == 0:
		d.add(check{"signal", levelFail, sig + ": no mobile network, no SMS can arrive",
			"move the modem or its antenna, check the SIM is active; the web UI shows the network"})
	case st.Bars == 0 || st.Bars == 1:
		d.add(check{"signal", levelWarn, sig + ": weak", "move the modem nearer a window or add an antenna"})
	default:
		d.add(check{"signal", levelOK, sig, ""})
	}
}

// sendTest sends the test SMS when asked.
func (d *doctor) sendTest(ctx context.Context, m modemPort) {
	if d.cfg.sendTest == "" {
		return
	}
	text := "smsgate doctor: test message, " + time.Now().Format("2006-01-02 15:04")
	start := time.Now()
	if err := m.Send(ctx, d.cfg.sendTest, text); err != nil {
		d.add(check{"send", levelFail, "the test SMS was not sent: " + err.Error(),
			"check the SIM's credit and that it may send SMS; run doctor -capture FILE and attach the file to a bug report"})
		return
	}
	d.add(check{"send", levelOK, fmt.Sprintf("test SMS to %s: the modem reports it sent (%.1f s)", d.cfg.sendTest, time.Since(start).Seconds()), ""})
}
