package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// hilinkModem is the adapter for Huawei HiLink sticks and routers: an XML
// API under /api/, a SessionID cookie and one-time tokens
// (../shared/hilink.md). Its methods send one request at a time.
type hilinkModem struct {
	base, referer  string
	user, password string
	web            webTransport
	timeout        time.Duration
	log            *slog.Logger
	now            func() time.Time
	// statusEvery is how often send-status and the link are read while a
	// send or a reconnect is pending; sendLimit and linkLimit bound them.
	statusEvery time.Duration
	sendLimit   time.Duration
	linkLimit   time.Duration
	// linkEvery is how often an idle poll also reads the link state
	// (monitoring/status): check-notifications does not tell it.
	linkEvery time.Duration
	// multipartGrace: a long message is left untouched this long after it
	// is first seen, while the device merges its parts (§6).
	multipartGrace time.Duration

	mu          sync.Mutex
	jar         cookieJar
	tokens      []string // one-time tokens handed out, oldest first
	info        PortInfo
	loginKnown  bool // hilink_login was read
	loginNeeded bool
	hold        *LoginError
	rejected    int // refused logins with this password since the last success
	unsure      int // login answers lost in a row
	// beforeLogin writes each login down before it is posted: HiLink
	// reports no attempts left (loginSaver).
	beforeLogin loginRecorder
	infoRead    bool
	link        PollState
	linkAt      time.Time
	capTotal    int
	simInbox    int
	multiSeen   map[int64]time.Time
	multiGen    int
	// uselessLogins counts logins after which the read still said "no
	// rights": the next is put off until reloginAt.
	uselessLogins int
	reloginAt     time.Time
}

func init() {
	registerFamily(familyHiLink, func(t portTarget) (modemPort, error) {
		m, err := newHiLinkModem(t.Config)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return m, nil
	})
}

// newHiLinkModem returns a client for the HiLink device at cfg.URL. It does
// not contact the device.
func newHiLinkModem(cfg ModemConfig) (*hilinkModem, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		(u.Path != "" && u.Path != "/" && u.Path != "/html/home.html") {
		return nil, fmt.Errorf("modem url %q: want http://host[:port]", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.User == "" {
		cfg.User = hilinkDefaultUser
	}
	base := u.Scheme + "://" + u.Host
	return &hilinkModem{
		base: base, referer: base + "/html/home.html",
		user: cfg.User, password: cfg.Password,
		web: newWebClient(u), timeout: cfg.Timeout, log: cfg.Logger, now: time.Now,
		statusEvery: time.Second, sendLimit: sendConfirmWait, linkLimit: hilinkLinkWait,
		linkEvery: time.Minute, multipartGrace: 15 * time.Second,
		info:      PortInfo{Family: familyHiLink, Can: Capabilities{MarkRead: true, Reconnect: true, Reboot: true, LinkState: true, USSD: true}},
		multiSeen: map[int64]time.Time{},
	}, nil
}

// exchange sends one request and returns its body, taking the cookies and
// tokens the answer hands out.
func (m *hilinkModem) exchange(ctx context.Context, method, path string, body []byte, token string) ([]byte, error) {
	req := &webRequest{Method: method, Path: path, Header: [][2]string{
		{"Referer", m.referer}, {"X-Requested-With", "XMLHttpRequest"}, {"_ResponseSource", "Broswer"}}}
	if method == "POST" {
		req.Body = body
		req.Header = append(req.Header, [2]string{"Content-Type", "application/x-www-form-urlencoded; charset=UTF-8"})
		if token != "" {
			req.Header = append(req.Header, [2]string{"__RequestVerificationToken", token})
		}
	}
	if c := m.jar.header(path); c != "" {
		req.Header = append(req.Header, [2]string{"Cookie", c})
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	ans, err := m.web.exchange(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	for _, c := range ans.SetCookies {
		m.jar.set(c, path)
	}
	if t := answerTokens(ans.Header); len(t) > 0 {
		// The newest tokens are surely unused; older ones may not be.
		m.tokens = t
	}
	if ans.BodyErr != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, ans.BodyErr)
	}
	if ans.Status != 200 {
		return nil, fmt.Errorf("%s %s: http status %s: %w", method, path, ans.statusText(), errNotHiLink)
	}
	return ans.Body, nil
}

// get reads one endpoint, without recovery.
func (m *hilinkModem) get(ctx context.Context, path string) (*xmlNode, error) {
	b, err := m.exchange(ctx, "GET", path, nil, "")
	if err != nil {
		return nil, err
	}
	n, err := parseHiLink(b)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	return n, nil
}

// postWith posts body with token, without recovery.
func (m *hilinkModem) postWith(ctx context.Context, path string, body []byte, token string) (*xmlNode, error) {
	b, err := m.exchange(ctx, "POST", path, body, token)
	if err != nil {
		return nil, err
	}
	n, err := parseHiLink(b)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", path, err)
	}
	return n, nil
}

// errNotSent: a write stopped before its request went out.
var errNotSent = errors.New("not sent")

// post posts with a fresh token: every write spends one (§2).
func (m *hilinkModem) post(ctx context.Context, path string, body []byte) (*xmlNode, error) {
	tok, err := m.token(ctx)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w: %w", path, errNotSent, err)
	}
	return m.postWith(ctx, path, body, tok)
}

func (m *hilinkModem) hasSession() bool {
	return m.jar.has("SessionID")
}

// token is an unused one-time token: one handed out by the last answer,
// else a fresh one from SesTokInfo.
func (m *hilinkModem) token(ctx context.Context) (string, error) {
	if len(m.tokens) == 0 {
		if err := m.newSession(ctx); err != nil {
			return "", err
		}
	}
	if len(m.tokens) == 0 {
		return "", fmt.Errorf("no token handed out: %w", errNotHiLink)
	}
	t := m.tokens[0]
	m.tokens = m.tokens[1:]
	return t, nil
}

// newSession reads SesTokInfo (§2): a token, and the SessionID unless a
// logged-in session holds one (a fresh anonymous one would end it).
// Firmware without SesTokInfo gets its cookie from the home page and its
// token from webserver/token, as huawei-lte-api falls back.
func (m *hilinkModem) newSession(ctx context.Context) error {
	n, err := m.get(ctx, "/api/webserver/SesTokInfo")
	if err == nil {
		if sid, ok := strings.CutPrefix(strings.TrimSpace(n.field("SesInfo")), "SessionID="); ok && (!m.info.LoggedIn || !m.hasSession()) {
			m.jar.set("SessionID="+sid+"; Path=/", "/") // from a body: the session is the whole API's
		}
		if t := strings.TrimSpace(n.field("TokInfo")); validToken(t) {
			m.tokens = []string{t}
			return nil
		}
	} else if hilinkCode(err) == 0 && !errors.Is(err, errNotHiLink) {
		return fmt.Errorf("read SesTokInfo: %w", err)
	}
	if !m.hasSession() {
		if _, herr := m.exchange(ctx, "GET", "/", nil, ""); herr != nil {
			return fmt.Errorf("read the home page for a session: %w", herr)
		}
	}
	t, terr := m.serverToken(ctx)
	if terr != nil {
		return fmt.Errorf("no token from SesTokInfo (%v) nor webserver/token: %w", err, terr)
	}
	m.tokens = []string{t}
	return nil
}

// serverToken reads webserver/token; of its 64 characters the last 32 are
// the token (§2, mkorz, jinxo13).
func (m *hilinkModem) serverToken(ctx context.Context) (string, error) {
	n, err := m.get(ctx, "/api/webserver/token")
	if err != nil {
		return "", fmt.Errorf("read webserver/token: %w", err)
	}
	t := strings.TrimSpace(n.field("token"))
	if len(t) == 64 {
		t = t[32:]
	}
	if !validToken(t) {
		return "", fmt.Errorf("webserver/token: no usable token: %w", errNotHiLink)
	}
	return t, nil
}

// dropSession forgets the session and its tokens: the device ended it.
func (m *hilinkModem) dropSession() {
	m.tokens, m.jar, m.info.LoggedIn = nil, cookieJar{}, false
}

// recoverable are the refusals after which nothing was done and a fresh
// token, session or login may help (§4).
func recoverable(code int) bool {
	switch code {
	case 100003, 125001, 125002, 125003:
		return true
	}
	return false
}

// withRecovery runs op; when the device refuses it for its token, session
// or rights (an error answer: nothing was done), it gets a fresh token,
// session or login and runs op once more.
func (m *hilinkModem) withRecovery(ctx context.Context, op func() (*xmlNode, error)) (*xmlNode, error) {
	n, err := op()
	code := hilinkCode(err)
	if !recoverable(code) {
		return n, err
	}
	if rerr := m.recoverFrom(ctx, code); rerr != nil {
		return nil, fmt.Errorf("%w (and %w)", err, rerr)
	}
	n, err = op()
	if c := hilinkCode(err); c == 100003 || c == 125002 || c == 125003 {
		m.loginDidNotHelp()
	} else if err == nil {
		m.uselessLogins = 0
	}
	return n, err
}

func (m *hilinkModem) recoverFrom(ctx context.Context, code int) error {
	if code == 125001 {
		m.tokens = nil
		return nil
	}
	if h := m.hold; h != nil && m.loginNeeded && (h.RetryAfter.IsZero() || m.now().Before(h.RetryAfter)) {
		return h // held: no new session either, one request per poll
	}
	if m.uselessLogins > 0 && m.now().Before(m.reloginAt) {
		return fmt.Errorf("%d logins in a row did not give a working session; next after %s", m.uselessLogins, m.reloginAt.Format(time.RFC3339))
	}
	m.dropSession()
	if err := m.learnLoginNeeded(ctx); err != nil {
		return err
	}
	if !m.loginNeeded {
		return m.newSession(ctx)
	}
	if err := m.newSession(ctx); err != nil {
		return err
	}
	return m.login(ctx)
}

// loginDidNotHelp puts the next re-login off (1 min, doubling to 8 min):
// each login may end the owner's web UI session (§5).
func (m *hilinkModem) loginDidNotHelp() {
	wait := reloginBackoff.wait(m.uselessLogins) // the same as the ZTE's
	m.uselessLogins++
	m.reloginAt = m.now().Add(wait)
	m.log.Warn("modem still refuses reads right after a new session; re-login backs off", "family", familyHiLink, "next", m.reloginAt.Format(time.RFC3339))
}

// read is a GET with recovery.
func (m *hilinkModem) read(ctx context.Context, path string) (*xmlNode, error) {
	return m.withRecovery(ctx, func() (*xmlNode, error) { return m.get(ctx, path) })
}

// write is a POST with a fresh token, with recovery: only an error answer
// is retried, never a lost one, which may have acted.
func (m *hilinkModem) write(ctx context.Context, path string, body func() []byte) (*xmlNode, error) {
	return m.withRecovery(ctx, func() (*xmlNode, error) { return m.post(ctx, path, body()) })
}

// writeOK is a write whose answer must be <response>OK</response>.
func (m *hilinkModem) writeOK(ctx context.Context, path string, body func() []byte) error {
	n, err := m.write(ctx, path, body)
	if err != nil {
		return err
	}
	if strings.TrimSpace(n.Text) != "OK" {
		return fmt.Errorf("POST %s: answer is not OK: %w", path, errNotHiLink)
	}
	return nil
}

// Info says what the adapter found out; it makes no request.
func (m *hilinkModem) Info() PortInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.info
}

// readInfo reads the model once (device/information).
func (m *hilinkModem) readInfo(ctx context.Context) {
	if m.infoRead {
		return
	}
	// Tried once (and once more after each login: some firmware answers
	// it only in a session), not at every poll.
	m.infoRead = true
	m.learnLoginNeeded(ctx) // Info says "none" for a device without a login
	n, err := m.get(ctx, "/api/device/information")
	if err != nil {
		return
	}
	m.info.Model = strings.TrimSpace(n.field("DeviceName"))
	m.info.Firmware = strings.TrimSpace(n.field("SoftwareVersion"))
	// Classify says what kind of device: "hilink" (a stick), "cpe" (a
	// router), "mobile-wifi" (a pocket hotspot).
	m.info.Generation = strings.TrimSpace(n.field("Classify"))
	if strings.EqualFold(m.info.Generation, "hilink") {
		m.info.Generation = "stick"
	}
}

// Poll reads sms-count: one request per idle poll, no token, no login
// while the session lasts. It is chosen over check-notifications because
// besides the unread count it has the inbox's total, which a new message
// raises even when another was read meanwhile (in the web UI). The link
// state comes from monitoring/status, read at most every linkEvery.
func (m *hilinkModem) Poll(ctx context.Context) (PollState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := m.readCount(ctx)
	if err != nil {
		return PollState{}, fmt.Errorf("poll: %w", err)
	}
	m.readInfo(ctx)
	if m.linkAt.IsZero() || m.now().Sub(m.linkAt) >= m.linkEvery {
		if err := m.readLink(ctx); err != nil {
			return PollState{}, fmt.Errorf("poll: %w", err)
		}
	}
	m.multipartDue()
	st := m.link
	st.Unread = fmt.Sprintf("%d/%d/%d/%d/%d", c.localInbox, c.localUnread, c.simInbox, c.simUnread, m.multiGen)
	return st, nil
}

// multipartDue changes the poll's Unread when a long message's grace is
// over, so that the gateway lists the inbox again and takes it.
func (m *hilinkModem) multipartDue() {
	for id, at := range m.multiSeen {
		if at.IsZero() {
			continue
		}
		if m.now().Sub(at) >= m.multipartGrace {
			m.multiSeen[id] = time.Time{}
			m.multiGen++
		}
	}
}

// linkFacts is what monitoring/status says of the link.
type linkFacts struct {
	conn, netType string
	bars          int
	wanIP, batt   string
}

func parseLinkFacts(n *xmlNode) linkFacts {
	f := linkFacts{conn: strings.TrimSpace(n.field("ConnectionStatus")), netType: strings.TrimSpace(n.field("CurrentNetworkType")),
		bars: -1, wanIP: strings.TrimSpace(n.field("WanIPAddress")), batt: strings.TrimSpace(n.field("BatteryPercent"))}
	if b, err := strconv.Atoi(strings.TrimSpace(n.field("SignalIcon"))); err == nil && b >= 0 && b <= 5 {
		f.bars = b
	}
	return f
}

// dataUp: 901 is connected (§7).
func (f linkFacts) dataUp() bool { return f.conn == "901" }

// registered: on a network with signal; unknown counts as yes, so that a
// firmware that does not say is not "healed".
func (f linkFacts) registered() bool { return f.bars != 0 && f.netType != "0" }

var hilinkConnNames = map[string]string{"900": "connecting", "901": "connected", "902": "disconnected", "903": "disconnecting",
	"201": "bandwidth exceeded"}

func (f linkFacts) dataName() string {
	if s, ok := hilinkConnNames[f.conn]; ok {
		return s
	}
	if f.conn == "" {
		return "unknown"
	}
	return "connection status " + clip(f.conn, 8)
}

// networkName: 19 is LTE (§7); 0 read as no service (inference).
func (f linkFacts) networkName() string {
	switch f.netType {
	case "19", "101":
		return "LTE"
	case "0":
		return "no service"
	case "":
		return ""
	}
	return "network type " + clip(f.netType, 8)
}

// simReady reads pin/status SimState (§7): 257 ready, 258 PIN disabled.
// An unreadable answer is no evidence of a missing SIM.
func simReadyState(n *xmlNode, err error) bool {
	if err != nil {
		return true
	}
	switch strings.TrimSpace(n.field("SimState")) {
	case "255", "256", "259", "260", "261":
		return false
	}
	return true
}

// readLink reads monitoring/status into the cached link state.
func (m *hilinkModem) readLink(ctx context.Context) error {
	n, err := m.read(ctx, "/api/monitoring/status")
	if err != nil {
		return fmt.Errorf("link state: %w", err)
	}
	f := parseLinkFacts(n)
	m.link = PollState{DataUp: f.dataUp(), Registered: f.registered(), SIMReady: true, Connected: f.dataUp() && f.registered()}
	m.linkAt = m.now()
	return nil
}

// Status reads what a status reply says of the modem.
func (m *hilinkModem) Status(ctx context.Context) (ModemStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.read(ctx, "/api/monitoring/status")
	if err != nil {
		return ModemStatus{}, fmt.Errorf("status: %w", err)
	}
	f := parseLinkFacts(n)
	st := ModemStatus{Network: f.networkName(), Bars: f.bars, DataUp: f.dataUp(), WANIP: f.wanIP, Battery: f.batt}
	if !st.DataUp {
		st.Data = f.dataName()
	}
	pin, perr := m.read(ctx, "/api/pin/status")
	st.SIMReady = simReadyState(pin, perr)
	if p, err := m.read(ctx, "/api/net/current-plmn"); err == nil {
		st.Operator = strings.TrimSpace(p.field("FullName"))
		if st.Operator == "" {
			st.Operator = strings.TrimSpace(p.field("ShortName"))
		}
	}
	if s, err := m.read(ctx, "/api/device/signal"); err == nil {
		for _, k := range []string{"rsrp", "rscp", "rssi"} {
			if v := strings.TrimSpace(s.field(k)); v != "" {
				// "-95dBm": the unit is the port's to add.
				st.SignalDB = clip(strings.TrimSpace(strings.TrimSuffix(v, "dBm")), 16)
				break
			}
		}
	}
	m.readInfo(ctx)
	return st, nil
}

// smsCount is sms-count's answer (§6).
type smsCount struct {
	localMax, localUsed, simMax int
	localInbox, localUnread     int
	simInbox, simUnread         int
}

func parseSMSCount(n *xmlNode) (smsCount, error) {
	num := func(k string) int {
		v, err := strconv.Atoi(strings.TrimSpace(n.field(k)))
		if err != nil || v < 0 {
			return 0
		}
		return min(v, 1_000_000)
	}
	if !n.has("LocalMax") && !n.has("LocalInbox") {
		return smsCount{}, fmt.Errorf("sms-count without LocalMax or LocalInbox: %w", errNotHiLink)
	}
	return smsCount{localMax: num("LocalMax"), simMax: num("SimMax"), simInbox: num("SimInbox"), simUnread: num("SimUnread"),
		localInbox: num("LocalInbox"), localUnread: num("LocalUnread"),
		localUsed: num("LocalInbox") + num("LocalOutbox") + num("LocalDraft") + num("LocalDeleted")}, nil
}

func (m *hilinkModem) readCount(ctx context.Context) (smsCount, error) {
	n, err := m.read(ctx, "/api/sms/sms-count")
	if err != nil {
		return smsCount{}, err
	}
	c, err := parseSMSCount(n)
	if err != nil {
		return c, err
	}
	m.capTotal, m.simInbox = c.localMax+c.simMax, c.simInbox
	return c, nil
}

// Capacity is the device memory's use, from sms-count.
func (m *hilinkModem) Capacity(ctx context.Context) (Capacity, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := m.readCount(ctx)
	if err != nil {
		return Capacity{}, fmt.Errorf("capacity: %w", err)
	}
	return Capacity{Total: c.localMax, Used: c.localUsed, SIMTotal: c.simMax}, nil
}

// errIsDial: the request never reached the modem.
func errIsDial(err error) bool {
	var nerr *net.OpError
	return errors.As(err, &nerr) && nerr.Op == "dial"
}
