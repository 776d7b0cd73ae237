package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// How a modem is addressed, the same for every subcommand:
//
//	-modem http://HOST[:PORT]          the family is detected (goform, HiLink, ubus)
//	-modem-type zte|hilink|ubus        ... or forced
//	-modem serial:/dev/ttyUSB2[?baud=N] an AT module
//
// Detection asks each HTTP family one cheap question that needs no login,
// so that it never costs a login attempt, and stops at the first family
// that answers as itself.

// portTarget is where and how a port is opened: -modem, -modem-type, -user,
// -password and -timeout, checked.
type portTarget struct {
	// Family is the forced family, or "" to detect it; a serial address
	// is always familyAT.
	Family string
	// Config holds what every family shares (user, password, timeout,
	// logger); its URL is the HTTP families' base, http://host[:port],
	// and "" for a serial line.
	Config ModemConfig
	Device string // serial: the tty, /dev/ttyUSB2
	Baud   int    // serial: ?baud=N, 0 for the family's default
}

// portOpener builds one family's adapter for t. It makes no request:
// detection, when there was one, is over.
type portOpener func(t portTarget) (modemPort, error)

// portOpeners holds every family built into this binary, filled by each
// family's file in an init (registerFamily): a build without a family's
// file still compiles and says the family is missing.
var portOpeners = map[string]portOpener{}

func registerFamily(family string, open portOpener) { portOpeners[family] = open }

// familyNames are the families -modem-type takes, in detection order.
var familyNames = []string{familyZTE, familyHiLink, familyUbus, familyAT}

// openFamily builds the adapter of a family known to be the right one.
func openFamily(family string, t portTarget) (modemPort, error) {
	open, ok := portOpeners[family]
	if !ok {
		return nil, badConfig(fmt.Errorf("modem family %s: not built into this smsgate", family))
	}
	p, err := open(t)
	if err != nil {
		return nil, fmt.Errorf("%s modem: %w", family, err)
	}
	return p, nil
}

// parseModemAddress checks -modem and -modem-type together.
func parseModemAddress(addr, typ string, cfg ModemConfig) (portTarget, error) {
	switch typ {
	case "", "auto":
		typ = ""
	case familyZTE, familyHiLink, familyUbus, familyAT:
	default:
		return portTarget{}, fmt.Errorf("-modem-type %q: want auto, %s", typ, strings.Join(familyNames, ", "))
	}
	if rest, ok := strings.CutPrefix(addr, "serial:"); ok {
		if typ != "" && typ != familyAT {
			return portTarget{}, fmt.Errorf("-modem %s is a serial line: only -modem-type at (or auto) talks to one, not %s", addr, typ)
		}
		return parseSerialAddress(rest, cfg)
	}
	if typ == familyAT {
		return portTarget{}, fmt.Errorf("-modem-type at: want -modem serial:/dev/ttyUSB2[?baud=N], not %q", addr)
	}
	u, err := url.Parse(addr)
	// Every family's API is at the web server's root: a path or a query
	// given here would be dropped, so it is refused rather than ignored;
	// the web UI's own start pages are what people copy from the browser.
	if err != nil || u.Scheme != "http" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		(u.Path != "" && u.Path != "/" && u.Path != "/index.html" && u.Path != "/html/index.html") {
		return portTarget{}, fmt.Errorf("modem url %q: want http://host[:port] or serial:/dev/ttyUSB2", addr)
	}
	cfg.URL = u.Scheme + "://" + u.Host
	return portTarget{Family: typ, Config: cfg}, nil
}

// parseSerialAddress reads the part after "serial:": an absolute device
// path and, optionally, ?baud=N.
func parseSerialAddress(rest string, cfg ModemConfig) (portTarget, error) {
	path, query, _ := strings.Cut(rest, "?")
	if path == "" || !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return portTarget{}, fmt.Errorf("-modem serial:%s: want an absolute device path, serial:/dev/ttyUSB2", rest)
	}
	t := portTarget{Family: familyAT, Config: cfg, Device: path}
	t.Config.URL = ""
	if query == "" {
		return t, nil
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return portTarget{}, fmt.Errorf("-modem serial:%s: %w", rest, err)
	}
	for k := range q {
		if k != "baud" {
			return portTarget{}, fmt.Errorf("-modem serial:%s: unknown option %q, want ?baud=N", rest, k)
		}
	}
	b, err := strconv.Atoi(q.Get("baud"))
	if err != nil || b < 300 || b > 4000000 {
		return portTarget{}, fmt.Errorf("-modem serial:%s: baud %q, want a rate such as 115200", rest, q.Get("baud"))
	}
	t.Baud = b
	return t, nil
}

// target checks the modem flags; the password comes from SMSGATE_PASSWORD
// when -password is not given (the caller fills it).
func (m *modemFlags) target(log *slog.Logger) (portTarget, error) {
	return parseModemAddress(m.url, m.family,
		ModemConfig{User: m.user, Password: m.password, Timeout: m.timeout, Logger: log})
}

// openModem opens the port the flags address: a serial line is an AT
// module; an HTTP address is detected, or its forced family checked
// against what it answers. Neither costs a login attempt.
func openModem(ctx context.Context, mf modemFlags, log *slog.Logger) (modemPort, error) {
	t, err := mf.target(log)
	if err != nil {
		return nil, badConfig(err)
	}
	return openTarget(ctx, t)
}

func openTarget(ctx context.Context, t portTarget) (modemPort, error) {
	p, _, err := openDetected(ctx, t, nil)
	return p, err
}

// openDetected is openTarget, saying also what the probes found; tap,
// when not nil, records the probes' requests (doctor -capture).
func openDetected(ctx context.Context, t portTarget, tap *recorder) (modemPort, detection, error) {
	if t.Family == familyAT {
		p, err := openFamily(familyAT, t)
		return p, detection{family: familyAT}, err
	}
	d := detectFamily(ctx, t, tap)
	switch {
	case t.Family == "" && d.family == "":
		return nil, d, d.err()
	case t.Family == "" || d.family == "" || d.family == t.Family:
		// Forced and not contradicted (the address may be down now, or
		// answer no probe): the forced family is what the owner knows.
		fam := d.family
		if t.Family != "" {
			fam = t.Family
		}
		p, err := openFamily(fam, t)
		return p, d, err
	}
	return nil, d, badConfig(fmt.Errorf("-modem-type %s: %s answers as a %s modem (%s), not %s; use -modem-type %s or auto",
		t.Family, t.Config.URL, d.family, d.saw[d.family], t.Family, d.family))
}

// describe says for doctor how the family was found.
func (d detection) describe(t portTarget, took time.Duration) string {
	switch {
	case t.Family == familyAT:
		return "serial line " + t.Device + ": AT module"
	case d.family == "":
		return fmt.Sprintf("%s: -modem-type %s, and no probe answered (%s)", t.Config.URL, t.Family, d.err())
	case t.Family != "":
		return fmt.Sprintf("%s answers as %s (%s, %d ms), as -modem-type says", t.Config.URL, d.family, d.saw[d.family], took.Milliseconds())
	}
	return fmt.Sprintf("%s answers as %s (%s, %d ms)", t.Config.URL, d.family, d.saw[d.family], took.Milliseconds())
}

// detection is what the probes found: the family that answered as itself
// ("" none), and what each probe saw.
type detection struct {
	url    string
	family string
	saw    map[string]string
	// down is the network error that stopped the probes: nothing answers.
	down error
	// goform is the goform probe's error, which doctor explains.
	goform error
}

func (d detection) err() error {
	if d.down != nil {
		return fmt.Errorf("detect the modem at %s: %w", d.url, d.down)
	}
	var parts []string
	for _, f := range familyNames {
		if s, ok := d.saw[f]; ok {
			parts = append(parts, f+": "+s)
		}
	}
	err := fmt.Errorf("%s answers as no modem smsgate knows (%s); give -modem-type if you know the family", d.url, strings.Join(parts, "; "))
	if d.goform != nil {
		err = fmt.Errorf("%w: %w", err, d.goform)
	}
	return err
}

// familyProbe asks an address one question only its family answers as
// itself; ok says it did, saw says what came back.
type familyProbe func(ctx context.Context, p *prober) (ok bool, saw string, err error)

var familyProbes = map[string]familyProbe{
	familyZTE:    probeGoform,
	familyHiLink: probeHiLink,
	familyUbus:   probeUbus,
}

// detectFamily runs the probes, the forced family's first, and stops at
// the first that answers as its family, or at a network error (nothing
// answers there: the other probes would only wait as long).
func detectFamily(ctx context.Context, t portTarget, tap *recorder) detection {
	d := detection{url: t.Config.URL, saw: map[string]string{}}
	u, _ := url.Parse(t.Config.URL)
	p := &prober{web: newWebClient(u), base: t.Config.URL, timeout: t.Config.Timeout}
	p.tr = p.web
	if tap != nil {
		tap.next, p.tr = p.web, tap
	}
	if p.timeout <= 0 {
		p.timeout = 10 * time.Second
	}
	defer p.web.closeIdle()
	order := []string{familyZTE, familyHiLink, familyUbus}
	if t.Family != "" {
		order = append([]string{t.Family}, order...)
	}
	for i, f := range order {
		if _, done := d.saw[f]; done || (i > 0 && f == t.Family) {
			continue
		}
		ok, saw, err := familyProbes[f](ctx, p)
		if err != nil {
			saw = err.Error()
			if f == familyZTE {
				d.goform = err
			}
			if unreachable(err) || ctx.Err() != nil {
				d.saw[f], d.down = saw, err
				return d
			}
		}
		d.saw[f] = saw
		if ok {
			d.family = f
			return d
		}
	}
	return d
}

// unreachable says whether err means nothing answers at the address.
func unreachable(err error) bool {
	var oe *net.OpError
	var ne net.Error
	return errors.As(err, &oe) && oe.Op == "dial" || errors.As(err, &ne) && ne.Timeout() ||
		errors.Is(err, context.DeadlineExceeded)
}

// prober carries the probes' requests over one web client.
type prober struct {
	web     *webClient
	tr      webTransport // web, or doctor's recorder around it
	base    string
	timeout time.Duration
}

// probeGoform is the ZTE client's own first read, made before any login:
// JSON (blank or not) is a goform modem.
func probeGoform(ctx context.Context, p *prober) (bool, string, error) {
	m, err := NewModem(ModemConfig{URL: p.base, Timeout: p.timeout})
	if err != nil {
		return false, "", err
	}
	m.web = p.tr
	// The keys doctor reads first: the attempts left come before anything
	// that could cost one.
	_, err = m.readKeys(ctx, preLoginKeysRead...)
	switch {
	case err == nil:
		return true, "goform JSON", nil
	case errors.Is(err, errBlank):
		return true, "goform JSON, blank", nil
	}
	return false, "", err
}

// probeHiLink asks GET /api/webserver/SesTokInfo, which a HiLink device
// answers with <response><SesInfo>..<TokInfo>.. or an <error><code>
// (../shared/hilink.md §1, §2). It hands out a session cookie, not a login.
func probeHiLink(ctx context.Context, p *prober) (bool, string, error) {
	ans, err := p.do(ctx, &webRequest{Method: "GET", Path: "/api/webserver/SesTokInfo",
		Header: [][2]string{{"X-Requested-With", "XMLHttpRequest"}}})
	if err != nil {
		return false, "", err
	}
	if ans.Status != 200 {
		return false, "http status " + ans.statusText(), nil
	}
	ok, saw := hilinkProbeAnswer(ans.Body)
	return ok, saw, nil
}

// hilinkProbeAnswer says whether a SesTokInfo answer is HiLink's, read by
// the HiLink adapter's own XML reader (hilink_xml.go).
func hilinkProbeAnswer(body []byte) (bool, string) {
	n, err := parseHiLink(body)
	switch {
	case err != nil && hilinkCode(err) != 0:
		return true, fmt.Sprintf("HiLink error %d", hilinkCode(err))
	case err != nil:
		return false, "not HiLink XML: " + answerKind(body)
	case n.has("SesInfo") || n.has("TokInfo"):
		return true, "SesTokInfo XML"
	}
	return false, "XML without SesInfo or TokInfo"
}

// probeUbus posts one anonymous JSON-RPC call that the web UI makes before
// logging in (zwrt_web.web_login_info, which gives the login's salt): a
// JSON-RPC answer, even an error, is ubus (../shared/zte-newer.md §2.5).
func probeUbus(ctx context.Context, p *prober) (bool, string, error) {
	body := `[{"jsonrpc":"2.0","id":1,"method":"call","params":["00000000000000000000000000000000","zwrt_web","web_login_info",{}]}]`
	// The call replaces the login salt on ubus firmware: not in the middle
	// of another smsgate's login (zte_ubus_login.go).
	release, _ := hostLoginLock(ctx, ubusLoginKey(p.base), 3*p.timeout)
	defer release()
	ans, err := p.post(ctx, "/ubus/", "application/json", []byte(body))
	if err != nil {
		return false, "", err
	}
	if ans.Status != 200 {
		return false, "http status " + ans.statusText(), nil
	}
	ok, saw := ubusProbeAnswer(ans.Body)
	return ok, saw, nil
}

// ubusProbeAnswer says whether an answer to the probe's call is ubus
// JSON-RPC: a batch (or one answer) with a result or an error.
func ubusProbeAnswer(body []byte) (bool, string) {
	var batch []map[string]json.RawMessage
	if err := json.Unmarshal(body, &batch); err != nil {
		var one map[string]json.RawMessage
		if json.Unmarshal(body, &one) != nil {
			return false, "not JSON-RPC: " + answerKind(body)
		}
		batch = append(batch, one)
	}
	for _, r := range batch {
		_, res := r["result"]
		_, e := r["error"]
		if string(r["jsonrpc"]) == `"2.0"` && (res || e) {
			return true, "ubus JSON-RPC"
		}
	}
	return false, "JSON, not JSON-RPC"
}

// answerKind names an unexpected answer for a person.
func answerKind(b []byte) string {
	t := bytes.TrimSpace(b)
	switch {
	case len(t) == 0:
		return "empty"
	case bytes.HasPrefix(bytes.ToLower(t), []byte("<!doctype html")) || bytes.HasPrefix(bytes.ToLower(t), []byte("<html")):
		return "an HTML page"
	case t[0] == '{' || t[0] == '[':
		return "JSON"
	}
	return fmt.Sprintf("%d bytes", len(t))
}

func (p *prober) do(ctx context.Context, req *webRequest) (*webAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req.Header = append(req.Header, [2]string{"Referer", p.base + "/"})
	ans, err := p.tr.exchange(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
	}
	if ans.BodyErr != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", req.Method, req.Path, ans.BodyErr)
	}
	return ans, nil
}

// post sends a POST with a body of its own type (webRequest carries only
// forms), on a connection of its own as every POST.
func (p *prober) post(ctx context.Context, path, ctype string, body []byte) (*webAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var wire bytes.Buffer
	fmt.Fprintf(&wire, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: smsgate\r\nReferer: %s/\r\nOrigin: %s\r\n"+
		"Content-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", path, p.web.host, p.base, p.base, ctype, len(body))
	wire.Write(body)
	c, err := p.web.dial(ctx, "tcp", p.web.addr)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", path, err)
	}
	defer c.Close()
	conn := &webConn{c: c, br: bufio.NewReaderSize(c, 4096)}
	ans, _, err := conn.roundTrip(ctx, wire.Bytes())
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", path, unstale(err))
	}
	if ans.BodyErr != nil {
		return nil, fmt.Errorf("POST %s: read answer: %w", path, ans.BodyErr)
	}
	return ans, nil
}

// closeIdle closes the connection kept for the next request: the probes'
// client is dropped once the family is known.
func (w *webClient) closeIdle() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.idle != nil {
		w.idle.c.Close()
		w.idle = nil
	}
}

// sessionOpener is a port that can log in ahead of the first request: a
// one-shot command logs in first, so that a wrong password is the error
// and the command itself is sent once.
type sessionOpener interface {
	EnsureSession(ctx context.Context) error
}

// sessionCloser is an adapter whose sessions pile up on the modem unless
// they are ended (HiLink refuses a login beyond a few open sessions).
type sessionCloser interface {
	Logout(ctx context.Context) error
}

// releasePort ends what a one-shot command opened: the web session, the
// serial port. The command's outcome is already decided: a failure here is
// only logged.
func releasePort(port modemPort, log *slog.Logger) {
	p := adapterOf(port)
	if s, ok := p.(sessionCloser); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Logout(ctx); err != nil {
			log.Debug("modem logout", "err", err)
		}
	}
	if c, ok := p.(io.Closer); ok {
		if err := c.Close(); err != nil {
			log.Debug("modem close", "err", err)
		}
	}
}

// daemonPort is the daemon's port. An HTTP modem is detected on first use,
// so that smsgate starts, and supervises itself, before the modem is up;
// a serial line is opened at once.
func daemonPort(ctx context.Context, cfg validConfig, log *slog.Logger) (modemPort, error) {
	mc := cfg.modem
	mc.Logger = log
	t, err := parseModemAddress(mc.URL, cfg.modemType, mc)
	if err != nil {
		return nil, badConfig(err)
	}
	if t.Family == familyAT {
		return openTarget(ctx, t)
	}
	return newDetectingPort(t, log), nil
}

// printStatus writes the status one-shot's lines.
func printStatus(w io.Writer, info PortInfo, st ModemStatus) {
	line := func(k, v string) { fmt.Fprintf(w, "%-12s %s\n", k, v) }
	line("family", strings.TrimSpace(info.Family+" "+info.Generation))
	line("model", info.Model)
	line("sim", map[bool]string{true: "ready", false: "not ready"}[st.SIMReady])
	line("network", st.Network)
	bars := ""
	if st.Bars >= 0 {
		bars = strconv.Itoa(st.Bars) + "/5"
	}
	if st.SignalDB != "" {
		bars = strings.TrimSpace(bars + " " + st.SignalDB + " dBm")
	}
	line("signal", bars)
	line("operator", st.Operator)
	if st.DataUp {
		line("data", "up "+st.WANIP)
	} else {
		line("data", orNone(st.Data))
	}
	if st.Battery != "" {
		line("battery", st.Battery+"%")
	}
}
