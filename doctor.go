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

// doctorConfig is what doctor is told: the modem flags of the one-shot
// commands and the daemon's hardware and allowlist flags.
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
}

func (c *doctorConfig) register(fs *flag.FlagSet) {
	c.modem.register(fs)
	fs.StringVar(&c.led, "led", "", "status LED to blink once: a GPIO pin (GPIO17) or an onboard LED (ACT)")
	fs.BoolVar(&c.ledActiveLow, "led-active-low", false, "the LED lights when the pin is low")
	fs.StringVar(&c.ir, "ir", "", "IR transmitter to open: a LIRC device (/dev/lirc0) or a GPIO pin (GPIO18)")
	fs.Var(&c.irCodes, "ir-code", "`NAME=CODE` as the daemon takes it; repeat per code")
	fs.StringVar(&c.irTest, "ir-test", "", "send the -ir-code `NAME` once")
	fs.StringVar(&c.watchdog, "watchdog", "/dev/watchdog", "hardware watchdog device to look at (never opened: opening arms it)")
	fs.DurationVar(&c.wdTimeout, "watchdog-timeout", 15*time.Second, "the watchdog timeout the daemon will ask for")
	fs.Var(&c.allow, "allow", "the daemon's -allow `number`s, to check that they parse")
	fs.StringVar(&c.countryCode, "country-code", "", "the daemon's -country-code")
	fs.StringVar(&c.sendTest, "send-test", "", "also send one SMS to `NUMBER` and wait until the modem reports it sent")
	fs.StringVar(&c.capture, "capture", "", "write every request and answer, redacted for a bug report, to `FILE`")
}

func runDoctor(args []string, stdout, stderr io.Writer) error {
	var c doctorConfig
	fs := newFlagSet("doctor", "doctor [flags]", stderr)
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return badConfig(err)
	}
	if fs.NArg() > 0 {
		return badConfig(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d := newDoctor(c, stdout)
	return d.run(ctx)
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
}

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
	fmt.Fprintf(d.out, "smsgate doctor: modem %s\n", d.cfg.modem.url)
	d.checkFlags()
	det := d.checkModem(ctx)
	fmt.Fprintln(d.out, "smsgate doctor: this machine")
	d.checkHost(ctx)
	var werr error
	if d.cfg.capture != "" {
		werr = d.writeCapture(det)
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
	b, err := MarshalCapture(c, d.cfg.modem.password, d.secrets)
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

// checkFlags checks the flags the daemon would refuse.
func (d *doctor) checkFlags() {
	cc := d.cfg.countryCode
	if cc != "" && strings.Trim(cc, "0123456789") != "" || strings.HasPrefix(cc, "0") {
		d.add(check{"allow", levelFail, fmt.Sprintf("-country-code %q is not a calling code", cc),
			"give digits only, without + or 00: -country-code=216"})
		return
	}
	if len(d.cfg.allow) == 0 {
		d.add(check{"allow", levelFail, "no -allow numbers: smsgate refuses to start, it would obey nobody",
			"give the owner's number: -allow=+21612345678"})
		return
	}
	var keys []string
	for _, a := range d.cfg.allow {
		k := normalizeNumber(a, cc)
		if !k.international() {
			d.add(check{"allow", levelFail, fmt.Sprintf("-allow %q is not an international number", a),
				"write it as the modem shows senders: +21612345678, or set -country-code for 0-numbers"})
			return
		}
		keys = append(keys, string(k))
	}
	d.add(check{"allow", levelOK, fmt.Sprintf("%d number(s): %s", len(keys), strings.Join(keys, ", ")), ""})
}

// modemProblem says in a person's words why the modem did not answer as a
// goform modem does, and what to do.
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
		return url + " answers an HTML page, not the goform API's JSON",
			"point -modem at the ZTE web UI (the page that shows the modem's login); a captive portal, a router or a firmware without /goform/ answers like this"
	case strings.Contains(s, "http status"):
		return url + " answers the goform API with an error: " + s,
			"this is not a ZTE goform web UI, or its firmware has no /goform/goform_get_cmd_process; run doctor -capture and attach the file to a bug report"
	}
	return url + " answered something that is not the goform API: " + s,
		"run doctor -capture FILE and attach the file to a bug report"
}

// preLoginKeysRead are read first, before anything that could cost a login
// attempt. Every firmware answers them without a session.
var preLoginKeysRead = []string{"loginfo", "psw_fail_num_str", "login_lock_time", "wa_inner_version",
	"cr_version", "modem_main_state"}

// checkModem checks everything smsgate needs of the modem and returns what
// the client detected, for the capture.
func (d *doctor) checkModem(ctx context.Context) map[string]string {
	mf := d.cfg.modem
	m, err := NewModem(ModemConfig{URL: mf.url, User: mf.user, Password: mf.password, Timeout: mf.timeout,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		d.add(check{"modem", levelFail, err.Error(), "give the web UI's address: -modem=http://192.168.0.1"})
		return nil
	}
	if d.statusEvery > 0 {
		m.statusEvery, m.sendSettle = d.statusEvery, d.statusEvery
	}
	d.rec.next = m.web
	m.web = d.rec
	defer func() { d.detected = m.Detected() }()

	start := time.Now()
	pre, err := m.readKeys(ctx, preLoginKeysRead...)
	if err != nil && !errors.Is(err, errBlank) {
		detail, fix := modemProblem(mf.url, err)
		d.add(check{"modem", levelFail, detail, fix})
		return detectionMap(m.Detected())
	}
	if errors.Is(err, errBlank) {
		d.add(check{"modem", levelWarn, fmt.Sprintf("%s answers, but blank even for the keys every firmware gives before login", mf.url),
			"run doctor -capture FILE and attach the file to a bug report"})
	} else {
		d.add(check{"modem", levelOK, fmt.Sprintf("%s answers the goform API (%d ms)", mf.url, time.Since(start).Milliseconds()), ""})
	}
	switch st := pre["modem_main_state"]; st {
	case "modem_init_complete", "":
	case "modem_sim_undetected", "modem_sim_destroy", "modem_imsi_waitnck":
		d.add(check{"sim", levelFail, "modem_main_state " + st + ": no usable SIM, no SMS",
			"insert the SIM (power the hotspot off first) and check it in the web UI"})
	case "modem_waitpin", "modem_waitpuk":
		d.add(check{"sim", levelFail, "modem_main_state " + st + ": the SIM waits for its PIN, no SMS until it gets it",
			"enter the SIM PIN in the web UI and let it remember it, or disable the SIM PIN"})
	default:
		d.add(check{"sim", levelWarn, "modem_main_state " + st, "wait until the web UI shows the modem ready, then run doctor again"})
	}
	// config.js and LD cost no attempt: the scheme is decided before the
	// one login doctor allows itself.
	if _, err := m.Probe(ctx); err != nil {
		d.add(check{"scheme", levelWarn, "the login scheme could not be probed: " + err.Error(), ""})
	}

	session := d.checkLogin(ctx, m, pre)
	det := m.Detected()
	model := det.Model
	if session && model == "" {
		if k, err := m.Keys(ctx, "hardware_version"); err == nil {
			model = k["hardware_version"]
		}
	}
	if model == "" && det.Firmware == "" {
		d.add(check{"firmware", levelWarn, "the modem does not say its model or firmware",
			"smsgate detects the firmware from its answers; if it misbehaves, attach doctor -capture FILE to a bug report"})
	} else {
		d.add(check{"firmware", levelOK, fmt.Sprintf("hardware_version %s, wa_inner_version %s, cr_version %s",
			orBlank(model), orBlank(det.Firmware), orBlank(det.CRVersion)), ""})
	}
	switch {
	case det.Login == schemeNone:
		d.add(check{"scheme", levelOK, "no login (" + det.LoginFrom + ")", ""})
	case det.Login != "":
		detail := fmt.Sprintf("password %s (%s), goformId %s", det.Login, det.LoginFrom, orBlank(det.LoginForm))
		if !strings.HasPrefix(det.LoginFrom, "config.js") {
			detail += "; config.js: " + orBlank(det.ConfigJS)
		}
		d.add(check{"scheme", levelOK, detail, ""})
	}
	if !session {
		for _, n := range []string{"inbox", "capacity", "counters", "data", "signal", "ad"} {
			d.add(check{n, levelSkip, "not checked: no session", ""})
		}
		return detectionMap(m.Detected())
	}
	d.checkSession(ctx, m)
	d.checkGeneration(ctx, m)
	return detectionMap(m.Detected())
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

// checkLogin reads the attempts left first, then logs in at most once, and
// reports whether a session is there.
func (d *doctor) checkLogin(ctx context.Context, m *Modem, pre map[string]string) bool {
	if m.Detected().Login == schemeNone {
		d.add(check{"login", levelOK, "the firmware has no login", ""})
		return true
	}
	if pre["loginfo"] == "ok" {
		d.add(check{"login", levelWarn, "already logged in from this address: the password was not tested",
			"log out of the web UI (or wait 5 minutes), then run doctor again"})
		return true
	}
	if _, err := m.readKeys(ctx, sessionKeys...); err == nil {
		d.add(check{"login", levelOK, "the modem serves the SMS API without a login (datacard firmware)", ""})
		return true
	}
	left := -1
	if n, err := strconv.Atoi(pre["psw_fail_num_str"]); err == nil {
		left = n
	}
	lock := pre["login_lock_time"]
	if lock == "" {
		lock = "300"
	}
	switch {
	case left < 0:
		d.add(check{"attempts", levelOK, "the modem does not say how many login attempts are left; doctor tries once", ""})
	case left <= reservedAttempts:
		d.add(check{"attempts", levelFail, fmt.Sprintf("only %d login attempts left: doctor, like smsgate, never spends the last %d", left, reservedAttempts),
			fmt.Sprintf("log in once at %s/index.html with the right password (a success resets the count), or wait %s s for the lock to end", d.cfg.modem.url, lock)})
		d.add(check{"login", levelSkip, "not tried: attempts kept for the owner", ""})
		return false
	default:
		d.add(check{"attempts", levelOK, fmt.Sprintf("%d login attempts left (the modem locks the login for %s s after 5 wrong ones)", left, lock), ""})
	}
	if d.cfg.modem.password == "" {
		d.add(check{"login", levelFail, "the modem asks for a password and none is set",
			"set SMSGATE_PASSWORD=the-web-UI-password (or -password)"})
		return false
	}
	lerr := m.Login(ctx)
	results, blocked := d.rec.Logins()
	refused := 0
	for _, r := range results {
		if r != "0" && r != "4" {
			refused++
		}
	}
	spent := fmt.Sprintf("doctor sent %d login(s), %d refused", len(results), refused)
	if blocked > 0 {
		spent += fmt.Sprintf("; %d more (another password scheme) held back to keep your attempts", blocked)
	}
	if after, err := m.readKeys(ctx, "psw_fail_num_str"); err == nil || errors.Is(err, errBlank) {
		if n, err := strconv.Atoi(after["psw_fail_num_str"]); err == nil {
			spent += fmt.Sprintf("; %d attempts left now", n)
			if left >= 0 && refused > 0 && n == left {
				spent += " (the modem's count did not go down: it does not count for clients, so smsgate counts its own refusals)"
			}
		}
	}
	if lerr != nil {
		reason := lerr.Error()
		var le *LoginError
		if errors.As(lerr, &le) {
			reason = "login refused: " + le.Reason
		}
		if refused > 0 && len(results) > 0 {
			reason = fmt.Sprintf("login refused: the modem answered %q", results[0])
			if results[0] == "3" {
				reason += " (wrong password)"
			}
		}
		det := m.Detected()
		fix := "set SMSGATE_PASSWORD (or -password) to the web UI's password; check it by logging in at " + d.cfg.modem.url + "/index.html"
		if d.cfg.modem.user != "" {
			fix += "; check -user too"
		}
		if blocked > 0 || !strings.HasPrefix(det.LoginFrom, "config.js") {
			fix += "; if the password is right, the firmware may want another password scheme than " + det.Login +
				": attach doctor -capture FILE to a bug report"
		}
		if le != nil && strings.Contains(le.Reason, "another user") {
			fix = "log out of the web UI in your browser, then run doctor again"
		}
		d.add(check{"login", levelFail, reason + "; " + spent, fix})
		return false
	}
	d.add(check{"login", levelOK, "logged in; " + spent, ""})
	return true
}

// checkSession checks what smsgate does every poll and with every command.
func (d *doctor) checkSession(ctx context.Context, m *Modem) {
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

	if k, err := m.Keys(ctx, "sms_unread_num", "sms_dev_unread_num", "sms_sim_unread_num", "sms_received_flag"); err != nil {
		d.add(check{"counters", levelWarn, "the unread counters cannot be read: " + err.Error(),
			"smsgate then notices new SMS only by listing the inbox; attach doctor -capture FILE to a bug report"})
	} else {
		d.add(check{"counters", levelOK, fmt.Sprintf("sms_unread_num %s, sms_dev_unread_num %s, sms_sim_unread_num %s, sms_received_flag %s",
			orBlank(k["sms_unread_num"]), orBlank(k["sms_dev_unread_num"]), orBlank(k["sms_sim_unread_num"]), orBlank(k["sms_received_flag"])), ""})
	}

	k, err := m.Keys(ctx, "ppp_status", "signalbar", "network_type", "network_provider", "lte_rsrp")
	if err != nil {
		d.add(check{"data", levelWarn, "ppp_status cannot be read: " + err.Error(), "attach doctor -capture FILE to a bug report"})
		d.add(check{"signal", levelWarn, "signal cannot be read", ""})
	} else {
		if dataUp(k["ppp_status"]) {
			d.add(check{"data", levelOK, "ppp_status " + k["ppp_status"], ""})
		} else {
			d.add(check{"data", levelWarn, "ppp_status " + orBlank(k["ppp_status"]) + ": mobile data is down (SMS still work)",
				"check the APN and the data plan in the web UI; the SMS command 'modem reconnect' re-dials"})
		}
		sig := fmt.Sprintf("network_type %s, signalbar %s/5, provider %s, lte_rsrp %s", orBlank(k["network_type"]),
			orBlank(k["signalbar"]), orBlank(k["network_provider"]), orBlank(k["lte_rsrp"]))
		switch {
		case k["network_type"] == "no_service" || k["network_type"] == "" && k["signalbar"] == "0":
			d.add(check{"signal", levelFail, sig + ": no mobile network, no SMS can arrive",
				"move the hotspot or its antenna, check the SIM is active; the web UI shows the network"})
		case k["signalbar"] == "0" || k["signalbar"] == "1":
			d.add(check{"signal", levelWarn, sig + ": weak", "move the hotspot nearer a window or add an antenna"})
		default:
			d.add(check{"signal", levelOK, sig, ""})
		}
	}

	d.sendTestAndAD(ctx, m, msgs)
}

// sendTestAndAD sends the test SMS when asked, and finds the AD form: an
// action must be accepted to know it. Without -send-test, the action is
// re-marking an already read message as read, which changes nothing.
func (d *doctor) sendTestAndAD(ctx context.Context, m *Modem, msgs []SMS) {
	how := ""
	if d.cfg.sendTest != "" {
		text := "smsgate doctor: test message, " + time.Now().Format("2006-01-02 15:04")
		start := time.Now()
		if err := m.Send(ctx, d.cfg.sendTest, text); err != nil {
			d.add(check{"send", levelFail, "the test SMS was not sent: " + err.Error(),
				"check the SIM's credit and that it may send SMS; run doctor -capture FILE and attach the file to a bug report"})
		} else {
			d.add(check{"send", levelOK, fmt.Sprintf("test SMS to %s: the modem reports it sent (%.1f s)", d.cfg.sendTest, time.Since(start).Seconds()), ""})
		}
		how = "the test SMS"
	} else {
		for _, s := range msgs {
			if s.Read && s.Complete {
				if err := m.MarkRead(ctx, s.ID); err != nil {
					d.add(check{"ad", levelWarn, fmt.Sprintf("re-marking read message %d as read was refused: %v", s.ID, err),
						"smsgate's actions (delete, send) may be refused the same way: run doctor -send-test NUMBER -capture FILE and attach the file to a bug report"})
					return
				}
				how = fmt.Sprintf("re-marking read message %d as read (changes nothing)", s.ID)
				break
			}
		}
	}
	det := m.Detected()
	switch {
	case how == "":
		d.add(check{"ad", levelOK, "anti-forgery (AD) form not known yet: the inbox has no read message to re-mark; smsgate learns it from its first action (doctor -send-test NUMBER shows it now)", ""})
	case det.ADConfirmed:
		d.add(check{"ad", levelOK, fmt.Sprintf("anti-forgery (AD) form %s (%s), confirmed by %s", det.AD, det.ADFrom, how), ""})
	default:
		d.add(check{"ad", levelWarn, fmt.Sprintf("anti-forgery (AD) form %s (%s) not confirmed by %s", orBlank(det.AD), orBlank(det.ADFrom), how),
			"run doctor -send-test NUMBER -capture FILE and attach the file to a bug report"})
	}
}
