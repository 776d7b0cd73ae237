package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// maxBody bounds every answer: the largest honest answer (a page of 100
// merged messages) is well under this.
const maxBody = 2 << 20

var (
	// errBlank is the modem's way of saying "not authorised": HTTP 200 with
	// every value empty.
	errBlank = errors.New("blank answer (no session)")
	// errSessionPage is the other way some firmware says it: the login
	// page (HTML) or a redirect to index.html instead of JSON.
	errSessionPage = errors.New("HTML answer or redirect instead of JSON (no session)")
	// errRefused is a {"result":"failure"} or empty answer to an action.
	errRefused = errors.New("modem refused the action")
	// errSendUnconfirmed: the modem took a SEND_SMS but did not report it
	// sent. Trying again may cost the owner another SMS.
	errSendUnconfirmed = errors.New("sms taken but not reported sent")
	// errInboxBound is an inbox read that outgrew what the modem's
	// capacity allows: the modem is answering nonsense.
	errInboxBound = errors.New("inbox larger than the modem can hold")
)

// noSession says whether err means the session is gone: one re-login.
func noSession(err error) bool {
	return errors.Is(err, errBlank) || errors.Is(err, errSessionPage)
}

// LoginError says why smsgate is not logging in, and until when it will not
// try again. The LED shows it; the log says it loudly once.
type LoginError struct {
	Reason       string
	AttemptsLeft int // -1 when the modem does not say
	RetryAfter   time.Time
	// Busy: another user is logged in to the web UI; no attempt is at
	// stake, and it passes by itself.
	Busy bool
	// Unjudged: the attempt is counted as spent, but the refusal may not
	// be about the password (another login raced ours): not the owner's
	// to fix, so no alert.
	Unjudged bool
}

func (e *LoginError) Error() string {
	s := "login refused: " + e.Reason
	if e.AttemptsLeft >= 0 {
		s += fmt.Sprintf(" (%d attempts left)", e.AttemptsLeft)
	}
	if !e.RetryAfter.IsZero() {
		s += ", next try after " + e.RetryAfter.Format(time.RFC3339)
	}
	return s
}

// SMS is one inbox record, decoded.
type SMS struct {
	ID       int64     `json:"id"`
	From     string    `json:"from"`
	Text     string    `json:"text"`
	Time     time.Time `json:"-"`
	RawDate  string    `json:"-"`
	Read     bool      `json:"read"`
	Complete bool      `json:"complete"`
	Store    string    `json:"store"` // "device" or "sim"
	// Problem is why the record did not decode cleanly, for the log.
	Problem string `json:"problem,omitempty"`
	// Unreadable says why smsgate cannot read the sender or the text (an
	// envelope under a key another client registered, a PDU that does not
	// decode); "" when it can. Such a record is never judged, marked,
	// deleted or chosen to make room: it may be the owner's command.
	Unreadable string `json:"unreadable,omitempty"`
	// Shared holds the other messages the modem lists under the same id
	// (dedupeByID): a delete by id may remove them all, or only one.
	Shared []SMS `json:"shared,omitempty"`
}

// MarshalJSON writes time as RFC 3339, or null when the modem's date was
// implausible.
func (m SMS) MarshalJSON() ([]byte, error) {
	type plain SMS
	var t any
	if !m.Time.IsZero() {
		t = m.Time.Format(time.RFC3339)
	}
	return json.Marshal(struct {
		plain
		Time any `json:"time"`
	}{plain(m), t})
}

// PollState is what one cheap read per poll tells: whether the inbox may have
// changed, and what the LED should show.
type PollState struct {
	Unread    string // dev+sim unread counters and the received flag, joined
	Connected bool   // mobile data up, with signal
	// What healing watches, from the same read.
	SIMReady   bool // modem_main_state: the SIM is in and unlocked
	Registered bool // on a network with signal: an SMS can go out
	DataUp     bool // ppp_status says up, in any of its forms
}

// Capacity is the device memory's SMS storage use.
type Capacity struct {
	Total, Used int
	SIMTotal    int // what the SIM holds besides, for the inbox read's bound
}

// dataUp says whether a ppp_status value means mobile data is up: the
// dual-stack firmware reports its own values for an up link.
func dataUp(ppp string) bool {
	switch ppp {
	case "ppp_connected", "ipv6_connected", "ipv4_ipv6_connected":
		return true
	}
	return false
}

// Password schemes of the LOGIN post (see ../shared/zte-goform.md).
const (
	schemeBase64       = "base64"
	schemeSHA256Base64 = "sha256(base64)"
	schemeSHA256LD     = "sha256+LD"
	schemeNone         = "none" // firmware without a login
)

// AD (anti-CSRF token) forms.
const (
	adNone        = "none"
	adMD5         = "md5"
	adSHA256      = "sha256"      // upper-case hex at both stages, as the web UI computes it
	adSHA256Lower = "sha256lower" // lower-case hex, as some third-party clients send it
)

// Detection is what the client found out about the firmware, and how it
// decided: what `smsgate doctor` prints.
type Detection struct {
	Model     string // hardware_version (read once logged in)
	Firmware  string // wa_inner_version
	CRVersion string // cr_version
	// ConfigJS is what /js/config/config.js said: "not served", or the
	// values found in it.
	ConfigJS string
	// Login is the password scheme (schemeBase64, ...), "" while unknown.
	Login     string
	LoginFrom string // why that scheme: config.js, the model, LD, or the modem accepting it
	// LoginForm is how the user name goes along: LOGIN, LOGIN_MULTI_USER,
	// LOGIN+username or LOGIN+user.
	LoginForm string
	// AD is the anti-CSRF form (adNone, adMD5, ...), "" while unknown.
	AD          string
	ADFrom      string
	ADConfirmed bool // an action was accepted with it
	// AttemptsLeft is psw_fail_num_str as last read, -1 when not reported.
	AttemptsLeft int
	// CounterStuck: the modem's count did not go down after a refusal, so
	// smsgate counts by itself.
	CounterStuck bool
	OwnRefusals  int // refused or lost logins since the last success
	LoggedIn     bool

	// Generation is which generation of the goform API the modem speaks
	// (generationName), Encrypted whether its SMS travel in RED envelopes.
	Generation string
	Encrypted  bool
}

// ModemConfig configures a Modem.
type ModemConfig struct {
	URL      string
	User     string
	Password string
	Timeout  time.Duration // per request
	Logger   *slog.Logger
}

// Modem is a client for the ZTE goform web API. In smsgate one goroutine
// owns each Modem: the gateway's poll loop, or doctor. Its exported methods
// are still safe for concurrent use, and send one request at a time (the
// modem's web server is too weak for more): each takes mu for the whole
// operation, network I/O included, so a second caller waits as long as
// the first one's operation takes (a send and its confirmation, up to
// about a minute). Unexported methods expect mu held, as readKeysLocked
// says in its name; one that takes mu itself says so.
type Modem struct {
	base     string
	referer  string
	user     string
	password string
	web      webTransport
	// timeout bounds each request, from dial to the answer's last byte.
	timeout time.Duration
	jarMu   sync.Mutex
	jar     cookieJar
	log     *slog.Logger
	now     func() time.Time
	// statusEvery is how often a pending send, delete or reconnect is polled.
	statusEvery time.Duration
	// sendSettle is the wait before the first status read after SEND_SMS:
	// asked at once, the modem reports the previous command's result.
	sendSettle time.Duration

	// mu guards everything below, and web and the pacing above once the
	// client is in use (tapWeb and paceStatus take it too).
	mu         sync.Mutex
	det        Detection
	versionsOK bool
	configRead bool
	configSays string // the scheme config.js names, "" when it does not
	noLogin    bool
	schemeTry  int // index into schemeCandidates of the next attempt
	// accepted is the scheme a login was accepted under, as chosen (the
	// salted one stays salted when LD was blank then: det.Login names
	// what was sent).
	accepted string
	// counterCounts: psw_fail_num_str went down after one of our refusals.
	counterCounts bool
	leftBefore    int // psw_fail_num_str before the last refused attempt
	loginHold     *LoginError
	// rejected counts refused (or lost) logins since the last success, for
	// firmware that does not say how many attempts are left. A login the
	// modem accepted counts too until a read that needs a session works
	// (unconfirmed): some firmware answers "0" to a wrong password.
	rejected    int
	unconfirmed bool
	// beforeLogin saves what a LOGIN about to be posted leaves if spent
	// (loginSaver); nil when nothing keeps it.
	beforeLogin loginRecorder
	capTotal    int  // nv + sim capacity last reported, 0 unknown
	capTried    bool // Inbox asked for the capacity once
	// uselessLogins counts the logins in a row after which the session
	// reads stayed blank; none is made for a blank read before reloginAt.
	uselessLogins int
	reloginAt     time.Time

	// contentForm is how the listing writes content (contentHex,
	// contentBase64), "" until a record shows it; contentHint is what the
	// modem's names say before that (zte_content.go).
	contentForm, contentHint string
	warnedNonBMP             bool // a send had characters beyond the BMP replaced (zte_send.go)
	red                      redState
	reqproc                  bool // the API is under /reqproc/ (ZXIC-based dongles, zte_reqproc.go)
	reqprocTried             bool
}

// A modem whose session reads stay blank even right after a successful
// login (firmware that wants something smsgate does not send, a web UI that
// takes the session back) is not logged in again at every poll: each login
// logs out a person using the web UI. The next re-login waits
// reloginBackoff: 1 min, doubled after each one that did not help, at most
// 8 min, until a read is answered. The bound is well under the
// default -max-age: a command that waited through the blank spell is read
// before it is too old to run.
var reloginBackoff = backoff{first: time.Minute, max: 8 * time.Minute}

// NewModem returns a client for the modem at cfg.URL. It does not contact the
// modem.
func NewModem(cfg ModemConfig) (*Modem, error) {
	u, err := url.Parse(cfg.URL)
	// The goform API is at the web server's root: a path or a query given
	// here would be dropped, so it is refused rather than ignored.
	if err != nil || u.Scheme != "http" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		(u.Path != "" && u.Path != "/" && u.Path != "/index.html") {
		return nil, fmt.Errorf("modem url %q: want http://host[:port]", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	base := u.Scheme + "://" + u.Host
	return &Modem{
		web:         newWebClient(u),
		timeout:     cfg.Timeout,
		base:        base,
		referer:     base + "/index.html",
		user:        cfg.User,
		password:    cfg.Password,
		log:         cfg.Logger,
		now:         time.Now,
		statusEvery: time.Second,
		sendSettle:  time.Second,
		det:         Detection{AttemptsLeft: -1},
	}, nil
}

// Detected returns what the client has found out about the firmware so far.
func (m *Modem) Detected() Detection {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.det
	d.OwnRefusals = m.rejected
	d.Generation, d.Encrypted = m.generationName(), m.red.on
	return d
}

// webTransport carries requests to the modem: the web client, or doctor's
// recorder around it.
type webTransport interface {
	exchange(ctx context.Context, req *webRequest) (*webAnswer, error)
}

// roundTrip sends one request and returns the bounded body. A redirect is
// the firmware's "log in first".
func (m *Modem) roundTrip(ctx context.Context, method, path string, form url.Values) ([]byte, error) {
	req := &webRequest{Method: method, Path: path,
		Header: [][2]string{{"Referer", m.referer}, {"X-Requested-With", "XMLHttpRequest"}}}
	if method == "GET" {
		req.Query = form
	} else {
		req.Form = form
		req.Header = append(req.Header, [2]string{"Content-Type", "application/x-www-form-urlencoded; charset=UTF-8"})
	}
	m.jarMu.Lock()
	if c := m.jar.header(path); c != "" {
		req.Header = append(req.Header, [2]string{"Cookie", c})
	}
	m.jarMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	ans, err := m.web.exchange(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	m.jarMu.Lock()
	for _, c := range ans.SetCookies {
		m.jar.set(c, path)
	}
	m.jarMu.Unlock()
	if ans.BodyErr != nil {
		return nil, fmt.Errorf("read answer: %w", ans.BodyErr)
	}
	if ans.Status >= 300 && ans.Status < 400 {
		return nil, fmt.Errorf("http status %s to %q: %w", ans.statusText(), ans.Header["location"], errSessionPage)
	}
	if ans.Status != 200 {
		return nil, &httpStatusError{ans.statusText()}
	}
	return ans.Body, nil
}

// httpStatusError is an answer other than 200 OK or a redirect.
type httpStatusError struct{ status string }

func (e *httpStatusError) Error() string { return "http status " + e.status }

// parseAnswer reads a goform answer; an HTML page means the session is gone.
func parseAnswer(b []byte) (map[string]any, error) {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '<' {
		return nil, errSessionPage
	}
	return parseLenientJSON(b)
}

func (m *Modem) getJSON(ctx context.Context, q url.Values) (map[string]any, error) {
	b, err := m.getRaw(ctx, q)
	if err != nil {
		return nil, err
	}
	v, err := parseAnswer(b)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", q.Get("cmd"), err)
	}
	return v, nil
}

func (m *Modem) getRaw(ctx context.Context, q url.Values) ([]byte, error) {
	q.Set("isTest", "false")
	q.Set("_", strconv.FormatInt(m.now().UnixMilli(), 10))
	b, err := m.roundTrip(ctx, "GET", m.getPath(), q)
	if err != nil && m.tryReqproc(ctx, err) {
		b, err = m.roundTrip(ctx, "GET", m.getPath(), q)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", q.Get("cmd"), err)
	}
	return b, nil
}

// preLoginKeys are answered without a session (with the Referer).
// network_provider is one: the web UI's timer reads it before login.
var preLoginKeys = map[string]bool{
	"loginfo": true, "LD": true, "RD": true, "wa_inner_version": true, "cr_version": true,
	"psw_fail_num_str": true, "login_lock_time": true, "modem_main_state": true, "network_provider": true,
}

// readKeysLocked reads status keys (multi_data=1) without logging in. The answer
// is blank, "no session", when every key that needs a session came back
// empty (or every key, when none needs one).
func (m *Modem) readKeysLocked(ctx context.Context, keys ...string) (map[string]string, error) {
	v, err := m.getJSON(ctx, url.Values{"cmd": {strings.Join(keys, ",")}, "multi_data": {"1"}})
	if err != nil {
		if errors.Is(err, errSessionPage) {
			m.det.LoggedIn = false
		}
		return nil, err
	}
	needSession := false
	for _, k := range keys {
		needSession = needSession || !preLoginKeys[k]
	}
	out := make(map[string]string, len(keys))
	blank := true
	for _, k := range keys {
		s, _ := v[k].(string)
		out[k] = strings.TrimSpace(s)
		if out[k] != "" && (!needSession || !preLoginKeys[k]) {
			blank = false
		}
	}
	if blank {
		if needSession {
			m.det.LoggedIn = false
		}
		return out, fmt.Errorf("get %s: %w", strings.Join(keys, ","), errBlank)
	}
	if needSession {
		m.det.LoggedIn = true
	}
	return out, nil
}

// readKeys is readKeysLocked for a caller that does not hold m.mu:
// doctor's checks, which run between the client's own methods.
func (m *Modem) readKeys(ctx context.Context, keys ...string) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.readKeysLocked(ctx, keys...)
}

// sessionKeys need a session on every firmware, and every firmware answers
// them when there is one (datacard sticks included).
var sessionKeys = []string{"sms_unread_num", "ppp_status"}

// sessionGone reads keys that need a session: blank means it is gone,
// answered confirms the login.
func (m *Modem) sessionGone(ctx context.Context) bool {
	_, err := m.readKeysLocked(ctx, sessionKeys...)
	if err == nil {
		m.confirmLogin()
	}
	return noSession(err)
}

// confirmLogin: a read that needs a session worked, so the login the
// modem accepted was not a spent attempt after all.
func (m *Modem) confirmLogin() {
	if !m.unconfirmed {
		return
	}
	m.unconfirmed, m.rejected, m.loginHold = false, 0, nil
}

// withSession runs op, and when the modem says the session is gone (blank
// JSON, the login page, a redirect), logs in once and runs op once more;
// not while re-logins back off (see reloginBackoff).
func (m *Modem) withSession(ctx context.Context, op func() error) error {
	err := op()
	if !noSession(err) {
		m.answered(err)
		return err
	}
	m.det.LoggedIn = false
	if m.reloginWaits() {
		return fmt.Errorf("%w; %s", err, m.reloginHeld())
	}
	if lerr := m.login(ctx); lerr != nil {
		return fmt.Errorf("%w (and %w)", err, lerr)
	}
	if err = op(); noSession(err) {
		// Only when the keys every session answers are blank too: a read
		// some firmware answers blank in a session says nothing of it.
		if !m.sessionGone(ctx) {
			return err
		}
		m.loginDidNotHelp()
		return fmt.Errorf("%w; %s", err, m.reloginHeld())
	}
	m.answered(err)
	return err
}

// loginDidNotHelp notes a successful login after which a session read
// stayed blank, and puts the next re-login off. Warned once per spell.
func (m *Modem) loginDidNotHelp() {
	wait := reloginBackoff.wait(m.uselessLogins)
	m.uselessLogins++
	m.reloginAt = m.now().Add(wait)
	if m.uselessLogins == 1 {
		m.log.Warn("modem answers blank right after a successful login; the login counts as a spent attempt (the password may be wrong), and the next waits the lock period and a back-off ("+reloginBackoff.String()+") until it answers",
			"next_login", m.reloginAt.Format(time.RFC3339), "own_refusals", m.rejected)
		return
	}
	m.log.Debug("modem still blank after login", "logins", m.uselessLogins, "next_login", m.reloginAt.Format(time.RFC3339))
}

// reloginWaits says whether a blank read must wait for its re-login.
func (m *Modem) reloginWaits() bool {
	return m.uselessLogins > 0 && m.now().Before(m.reloginAt)
}

// reloginHeld says why no login is made for a blank read.
func (m *Modem) reloginHeld() string {
	return fmt.Sprintf("reads blank right after a successful login (%d in a row); next login after %s",
		m.uselessLogins, m.reloginAt.Format(time.RFC3339))
}

// answered ends the re-login back-off once a session read is answered,
// and confirms the login that gave the session.
func (m *Modem) answered(err error) {
	if err != nil {
		return
	}
	m.confirmLogin()
	if m.uselessLogins == 0 {
		return
	}
	m.log.Warn("modem session reads answered again; re-login back-off over", "useless_logins", m.uselessLogins)
	m.uselessLogins, m.reloginAt = 0, time.Time{}
}

// EnsureSession logs in unless a session-only read already works: what a
// one-shot command does first, so that its action is posted once.
func (m *Modem) EnsureSession(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ensureSession(ctx)
}

func (m *Modem) ensureSession(ctx context.Context) error {
	if m.det.LoggedIn {
		return nil
	}
	_, err := m.readKeysLocked(ctx, sessionKeys...)
	if !noSession(err) {
		m.answered(err)
		return err
	}
	if m.reloginWaits() {
		return fmt.Errorf("%w; %s", err, m.reloginHeld())
	}
	if err := m.login(ctx); err != nil {
		return err
	}
	// What comes next (an action, a one-shot's read) needs the session:
	// checked now, so that a login the modem ignores is not made twice.
	if m.noLogin {
		return nil
	}
	_, err = m.readKeysLocked(ctx, sessionKeys...)
	if noSession(err) {
		m.loginDidNotHelp()
		return fmt.Errorf("session check after login: %w; %s", err, m.reloginHeld())
	}
	m.answered(err)
	return nil
}

// Keys reads status keys, logging in when needed.
func (m *Modem) Keys(ctx context.Context, keys ...string) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out map[string]string
	err := m.withSession(ctx, func() (err error) {
		out, err = m.readKeysLocked(ctx, keys...)
		return err
	})
	return out, err
}

// Poll is the cheap read done every poll: unread counters and the data link.
func (m *Modem) Poll(ctx context.Context) (PollState, error) {
	k, err := m.Keys(ctx, "sms_unread_num", "sms_dev_unread_num", "sms_sim_unread_num", "sms_received_flag",
		"ppp_status", "signalbar", "network_type", "modem_main_state")
	if err != nil {
		return PollState{}, fmt.Errorf("poll: %w", err)
	}
	ppp, state := k["ppp_status"], k["modem_main_state"]
	return PollState{
		Unread:    k["sms_unread_num"] + "/" + k["sms_dev_unread_num"] + "/" + k["sms_sim_unread_num"] + "/" + k["sms_received_flag"],
		Connected: dataUp(ppp) && k["signalbar"] != "0" && k["network_type"] != "no_service",
		// Blank: firmware that does not say; the other keys will tell.
		SIMReady:   state == "" || state == "modem_init_complete",
		Registered: k["network_type"] != "" && k["network_type"] != "no_service" && k["signalbar"] != "0",
		DataUp:     dataUp(ppp),
	}, nil
}

// statusKeys reads the goform keys a status report needs (Status maps them
// to the port's ModemStatus).
func (m *Modem) statusKeys(ctx context.Context) (map[string]string, error) {
	k, err := m.Keys(ctx, "modem_main_state", "ppp_status", "signalbar", "network_type", "network_provider",
		"wan_ipaddr", "lte_rsrp", "battery_vol_percent")
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return k, nil
}

// Capacity reads the device memory's SMS storage use.
func (m *Modem) Capacity(ctx context.Context) (Capacity, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var c Capacity
	err := m.withSession(ctx, func() (err error) {
		c, err = m.readCapacity(ctx)
		return err
	})
	return c, err
}

func (m *Modem) readCapacity(ctx context.Context) (Capacity, error) {
	v, err := m.getJSON(ctx, url.Values{"cmd": {"sms_capacity_info"}})
	if err != nil {
		return Capacity{}, err
	}
	c, err := parseCapacity(v)
	if err != nil {
		return c, err
	}
	m.capTotal = c.Total + c.SIMTotal
	return c, nil
}

// parseCapacity reads sms_capacity_info. Used is sms_nvused_total where
// the firmware says it, else the sum of the boxes, as the ufi web UI
// computes it.
func parseCapacity(v map[string]any) (Capacity, error) {
	get := func(k string) (int, bool) {
		s, _ := v[k].(string)
		n, err := strconv.Atoi(strings.TrimSpace(s))
		return n, err == nil && n >= 0
	}
	total, ok := get("sms_nv_total")
	if !ok {
		return Capacity{}, fmt.Errorf("sms capacity: %w", errBlank)
	}
	c := Capacity{Total: total}
	if used, ok := get("sms_nvused_total"); ok {
		c.Used = used
	} else {
		// The ufi family does not report it: the web UI adds up the boxes.
		for _, k := range []string{"sms_nv_rev_total", "sms_nv_send_total", "sms_nv_draftbox_total"} {
			n, _ := get(k)
			c.Used += n
		}
	}
	c.SIMTotal, _ = get("sms_sim_total")
	return c, nil
}

const inboxPage = 100

// inboxBound is how much one inbox read may hold: twice what the modem says
// it can store (a record can move between pages while listing), at most
// maxInboxRecords. A modem that reports nothing gets defaultInboxRecords.
// Each record may take recordBytes of answer; a merged 765-character
// message takes about 3.3 KB.
const (
	defaultInboxRecords = 1000
	maxInboxRecords     = 5000
	recordBytes         = 4 << 10
)

func (m *Modem) inboxBound() (records, bytes int) {
	records = defaultInboxRecords
	if m.capTotal > 0 {
		records = min(max(2*m.capTotal, inboxPage), maxInboxRecords)
	}
	return records, 64<<10 + records*recordBytes
}

// listInbox lists every message in device memory and on the SIM, oldest
// first. A read that outgrows the modem's capacity stops with
// errInboxBound. Inbox (zte_red.go) calls it.
func (m *Modem) listInbox(ctx context.Context) ([]SMS, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.capTotal == 0 && !m.capTried {
		// Once, so that the bound below is the modem's own.
		m.capTried = true
		if err := m.withSession(ctx, func() error { _, err := m.readCapacity(ctx); return err }); err != nil {
			m.log.Debug("capacity unknown, inbox read bounded by default", "err", err)
		}
	}
	maxRecords, maxBytes := m.inboxBound()
	var all []SMS
	read := 0
	for _, store := range []struct{ mem, name string }{{"1", "device"}, {"0", "sim"}} {
		for page := 0; ; page++ {
			var msgs []SMS
			var size int
			err := m.withSession(ctx, func() (err error) {
				msgs, size, err = m.listPage(ctx, store.mem, store.name, page, maxRecords-len(all))
				return err
			})
			read += size
			if err == nil && read > maxBytes {
				err = fmt.Errorf("%d bytes read, bound %d: %w", read, maxBytes, errInboxBound)
			}
			if err != nil {
				return nil, fmt.Errorf("list %s sms: %w", store.name, err)
			}
			all = append(all, msgs...)
			if len(msgs) < inboxPage {
				break
			}
		}
	}
	return dedupeByID(all), nil
}

// dedupeByID sorts by id and keeps one record per id and message. A
// firmware without a sorted database lists an id twice; a record that
// moves between pages too; and a long SMS still arriving may be listed
// with fewer parts beside the whole. Records of the same message (same
// sender, one text a prefix of the other) keep the complete one, then the
// longest, then the first seen. Different messages under one id are all
// kept: the first in the order the listing gave becomes the record, the
// others its Shared, so that none vanishes unseen (the gateway runs
// nothing from such an id: a delete by id could remove the other message
// too, or only one of them).
func dedupeByID(all []SMS) []SMS {
	sort.SliceStable(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	var out []SMS
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].ID == all[i].ID {
			j++
		}
		out = append(out, mergeSameID(all[i:j]))
		i = j
	}
	return out
}

// mergeSameID makes one listed SMS of the records listed under one id.
func mergeSameID(recs []SMS) SMS {
	var msgs []SMS // one per message, in listing order
	for _, s := range recs {
		s.Shared = nil
		k := slices.IndexFunc(msgs, func(o SMS) bool { return sameMessage(o, s) })
		if k < 0 {
			msgs = append(msgs, s)
			continue
		}
		if b := msgs[k]; (s.Complete && !b.Complete) ||
			(s.Complete == b.Complete && utf8.RuneCountInString(s.Text) > utf8.RuneCountInString(b.Text)) {
			msgs[k] = s
		}
	}
	out := msgs[0]
	if len(msgs) == 1 {
		return out
	}
	out.Shared = msgs[1:]
	for _, o := range out.Shared {
		// Decided as one: unreadable when one is. Each keeps its own
		// Complete: none runs, and a stranger's message still arriving
		// must not hold back the owner's refusal (decideShared).
		if out.Unreadable == "" && o.Unreadable != "" {
			out.Unreadable = "another message under its id: " + o.Unreadable
		}
	}
	return out
}

// sameMessage says whether two records under one id are one message: the
// same sender and date (a long SMS still arriving keeps its date), and one
// text the other's beginning (parts still arriving). The same text at
// another date is another message: what "send it again" makes.
func sameMessage(a, b SMS) bool {
	return a.From == b.From && a.RawDate == b.RawDate && (a.Unreadable == "") == (b.Unreadable == "") &&
		(strings.HasPrefix(a.Text, b.Text) || strings.HasPrefix(b.Text, a.Text))
}

// listPage reads one page; budget is how many more records the read may
// hold. It returns the answer's size for the read's byte bound.
func (m *Modem) listPage(ctx context.Context, mem, store string, page, budget int) ([]SMS, int, error) {
	b, err := m.getRaw(ctx, url.Values{
		"cmd":           {"sms_data_total"},
		"page":          {strconv.Itoa(page)},
		"data_per_page": {strconv.Itoa(inboxPage)},
		"mem_store":     {mem},
		"tags":          {"10"},
		"order_by":      {"order by id desc"},
	})
	if err != nil {
		return nil, 0, err
	}
	v, err := parseAnswer(b)
	if err != nil {
		return nil, len(b), fmt.Errorf("get sms_data_total: %w", err)
	}
	raw, ok := v["messages"]
	if !ok {
		return nil, len(b), errBlank
	}
	list, _ := raw.([]any)
	if len(list) > budget {
		return nil, len(b), fmt.Errorf("page %d holds %d records, %d more allowed: %w", page, len(list), budget, errInboxBound)
	}
	out := make([]SMS, 0, len(list))
	for _, item := range list {
		rec, _ := item.(map[string]any)
		if rec == nil {
			continue
		}
		problem, unreadable := m.prepareListed(rec)
		if s, ok := listedRecord(rec, store, problem, unreadable); ok {
			out = append(out, s)
		}
	}
	return out, len(b), nil
}

// listedRecord decodes a record its client prepared (envelopes opened),
// with the client's problem for the log; unreadable: the client could not
// open its sender or text.
func listedRecord(rec map[string]any, store, problem string, unreadable bool) (SMS, bool) {
	s, ok := decodeRecord(rec, store)
	if !ok {
		return s, false
	}
	if problem != "" {
		s.Problem = strings.TrimPrefix(s.Problem+"; "+problem, "; ")
	}
	if unreadable {
		s.Unreadable = problem
	}
	return s, true
}

// decodeRecord turns one list entry into an SMS. Sent messages, drafts and
// records without a usable id are skipped.
func decodeRecord(rec map[string]any, store string) (SMS, bool) {
	get := func(k string) string { s, _ := rec[k].(string); return strings.TrimSpace(s) }
	id, err := strconv.ParseInt(get("id"), 10, 64)
	if err != nil || id < 0 {
		return SMS{}, false
	}
	tag := get("tag")
	if tag != "0" && tag != "1" {
		return SMS{}, false
	}
	s := SMS{ID: id, From: decodeNumber(get("number")), Read: tag == "0", Store: store, RawDate: get("date")}
	var problems []string
	s.Text, err = decodeContent(get("content"))
	if err != nil {
		problems = append(problems, err.Error())
	}
	if s.Time, err = parseSMSDate(s.RawDate); err != nil {
		problems = append(problems, err.Error())
	}
	// Firmware without concatenation support leaves the field empty: such a
	// record is whole.
	s.Complete = get("received_all_concat_sms") != "0"
	if total, recv := get("concat_sms_total"), get("concat_sms_received"); total != "" && total != "0" && recv != total {
		s.Complete = false
	}
	s.Problem = strings.Join(problems, "; ")
	return s, true
}

// post sends an action, with the anti-CSRF token where the firmware wants
// one, and reads its {"result": ...}. The web UI adds AD to every post
// but LOGIN (LOGIN_MULTI_USER carries it).
func (m *Modem) post(ctx context.Context, goformID string, form url.Values) (string, error) {
	if goformID != "LOGIN" {
		ad, err := m.adValue(ctx, goformID != "LOGIN_MULTI_USER")
		if err != nil {
			return "", fmt.Errorf("%s: %w", goformID, err)
		}
		if ad != "" {
			form.Set("AD", ad)
		}
	}
	return m.postForm(ctx, goformID, form)
}

// postForm sends form as it is: everything that can fail before the modem
// sees it has been done.
func (m *Modem) postForm(ctx context.Context, goformID string, form url.Values) (string, error) {
	form.Set("isTest", "false")
	form.Set("goformId", goformID)
	b, err := m.roundTrip(ctx, "POST", m.setPath(), form)
	if err != nil {
		return "", fmt.Errorf("%s: %w", goformID, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return "", fmt.Errorf("%s: empty answer: %w", goformID, errRefused)
	}
	v, err := parseAnswer(b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", goformID, err)
	}
	res, _ := v["result"].(string)
	return strings.TrimSpace(res), nil
}

// action posts goformID and requires "success". It logs in first where the
// modem needs it, so that the action is posted once. A refusal is judged
// with the session checked first: no session means one re-login; a refusal
// made while logged in, with an AD form not yet confirmed, means the
// firmware wants another form, which is learnt and kept. No AD refusal
// ever leads to a login.
func (m *Modem) action(ctx context.Context, goformID string, form url.Values) error {
	if err := m.ensureSession(ctx); err != nil {
		return fmt.Errorf("%s: %w", goformID, err)
	}
	return m.withSession(ctx, func() error {
		res, err := m.post(ctx, goformID, cloneValues(form))
		if err == nil && res == "success" {
			m.confirmAD()
			return nil
		}
		if err != nil && !errors.Is(err, errRefused) {
			return err
		}
		if m.sessionGone(ctx) {
			return fmt.Errorf("%s: refused: %w", goformID, errBlank)
		}
		if !m.det.ADConfirmed {
			prev := m.det.AD
			for _, f := range []string{adMD5, adSHA256, adSHA256Lower, adNone} {
				if f == prev {
					continue
				}
				m.det.AD, m.det.ADFrom = f, "refusal of "+prev+" while logged in"
				res, err = m.post(ctx, goformID, cloneValues(form))
				if err == nil && res == "success" {
					m.confirmAD()
					m.log.Info("modem wants another AD form", "ad", f, "refused", prev)
					return nil
				}
				if err != nil && !errors.Is(err, errRefused) {
					m.det.AD = prev
					return err
				}
			}
			m.det.AD, m.det.ADFrom = prev, "unconfirmed"
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("%s: result %q: %w", goformID, res, errRefused)
	})
}

func (m *Modem) confirmAD() {
	if m.det.AD != "" && !m.det.ADConfirmed {
		m.det.ADConfirmed = true
		m.log.Info("modem AD form", "ad", m.det.AD, "from", m.det.ADFrom)
	}
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+3)
	for k, s := range v {
		out[k] = append([]string(nil), s...)
	}
	return out
}

// noteVersions keeps the versions a pre-login read gave.
func (m *Modem) noteVersions(k map[string]string) {
	if k["wa_inner_version"] != "" {
		m.det.Firmware, m.det.CRVersion, m.versionsOK = k["wa_inner_version"], k["cr_version"], true
	}
	if k["hardware_version"] != "" {
		m.det.Model = k["hardware_version"]
	}
	if h := contentFormHint("", m.det.Model+" "+m.det.Firmware); h != "" {
		m.contentHint = h
	}
}

func (m *Modem) loadVersions(ctx context.Context) error {
	if m.versionsOK {
		return nil
	}
	k, err := m.readKeysLocked(ctx, "wa_inner_version", "cr_version")
	if err != nil && !errors.Is(err, errBlank) {
		return err
	}
	m.noteVersions(k)
	return nil
}

// modelName is what model tables match against: hardware_version needs a
// session on some firmware, wa_inner_version names the model too.
func (m *Modem) modelName() string {
	return strings.ToUpper(m.det.Model + " " + m.det.Firmware)
}

// adValue returns the AD for the next post, or "" where the firmware uses
// none. An RD that is blank says "no AD" only in a session: it is checked
// first, and without one the post is not made (errBlank). needSession is
// false for LOGIN_MULTI_USER, which is posted without one.
func (m *Modem) adValue(ctx context.Context, needSession bool) (string, error) {
	if m.det.AD == adNone {
		return "", nil
	}
	v, err := m.getJSON(ctx, url.Values{"cmd": {"RD"}})
	if err != nil {
		return "", fmt.Errorf("read RD: %w", err)
	}
	rd, _ := v["RD"].(string)
	rd = strings.TrimSpace(rd)
	if rd == "" {
		if !needSession {
			return "", nil
		}
		if m.sessionGone(ctx) {
			return "", fmt.Errorf("RD blank: %w", errBlank)
		}
		m.det.AD, m.det.ADFrom, m.det.ADConfirmed = adNone, "RD blank while logged in", true
		m.log.Info("modem AD form", "ad", adNone, "from", m.det.ADFrom)
		return "", nil
	}
	if err := m.loadVersions(ctx); err != nil {
		return "", err
	}
	if m.det.AD == "" || m.det.AD == adNone {
		m.det.AD, m.det.ADFrom = adMD5, "RD served; MD5 unless the model says SHA256"
		for _, model := range []string{"MC888", "MC889", "MF297D"} {
			if strings.Contains(m.modelName(), model) {
				m.det.AD, m.det.ADFrom = adSHA256, "RD served; model "+model+" uses SHA256"
			}
		}
		if m.contentHint == contentBase64 {
			m.det.AD, m.det.ADFrom = adSHA256, "RD served; the U30 Air (F50) web UI build uses SHA256"
		}
	}
	return adToken(m.det.AD, m.det.Firmware, m.det.CRVersion, rd), nil
}

// adToken is hash(hash(wa_inner_version + cr_version) + RD): lower-case
// hex for MD5, upper-case hex at both stages for SHA256 (as the web UI's
// util.js computes it), lower-case for adSHA256Lower.
func adToken(form, inner, cr, rd string) string {
	h := func(s string) string {
		switch form {
		case adSHA256:
			sum := sha256.Sum256([]byte(s))
			return strings.ToUpper(hex.EncodeToString(sum[:]))
		case adSHA256Lower:
			sum := sha256.Sum256([]byte(s))
			return hex.EncodeToString(sum[:])
		}
		sum := md5.Sum([]byte(s))
		return hex.EncodeToString(sum[:])
	}
	return h(h(inner+cr) + rd)
}

// loginPassword is the LOGIN password field under a scheme. With an empty
// LD the salted scheme falls back to base64, as the firmware does.
func loginPassword(scheme, password, ld string) string {
	b64 := base64.StdEncoding.EncodeToString([]byte(password))
	upperSHA := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return strings.ToUpper(hex.EncodeToString(sum[:]))
	}
	switch scheme {
	case schemeSHA256Base64:
		return upperSHA(b64)
	case schemeSHA256LD:
		if ld == "" {
			return b64
		}
		return upperSHA(upperSHA(password) + ld)
	}
	return b64
}

// webConfig is what /js/config/config.js says about the login.
type webConfig struct {
	SHA256      string // WEB_ATTR_IF_SUPPORT_SHA256 as written, "" when absent
	SHA256Found bool
	HasLogin    string // HAS_LOGIN as written ("true", "false", "!0", "!1")
}

// parseConfigJS reads the two login settings out of the web UI's minified
// config.js. It never fails: what it cannot read, it does not report.
// (Written out rather than with package regexp, which costs the arm
// binary about 260 KB.)
func parseConfigJS(b []byte) webConfig {
	var c webConfig
	c.SHA256, c.SHA256Found = configValue(b, "WEB_ATTR_IF_SUPPORT_SHA256")
	c.HasLogin, _ = configValue(b, "HAS_LOGIN")
	return c
}

// configValue finds `key: value` (the key maybe quoted) in minified
// JavaScript and returns the value: a quoted string's content, or a bare
// token such as 2, true or !0.
func configValue(b []byte, key string) (string, bool) {
	isIdent := func(c byte) bool {
		return c == '_' || c == '$' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	skipSpace := func(i int) int {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
		return i
	}
	// A key named but unreadable (a file cut short) is "named, no value":
	// not the same as absent, which means the web UI's default.
	seen := false
	for from := 0; ; {
		at := bytes.Index(b[from:], []byte(key))
		if at < 0 {
			return "", seen
		}
		start, i := from+at, from+at+len(key)
		from = start + 1
		if start > 0 && isIdent(b[start-1]) || i < len(b) && isIdent(b[i]) {
			continue // part of a longer name
		}
		seen = true
		if i < len(b) && (b[i] == '"' || b[i] == '\'') {
			i++
		}
		if i = skipSpace(i); i >= len(b) || b[i] != ':' {
			continue
		}
		if i = skipSpace(i + 1); i >= len(b) {
			return "", true
		}
		if q := b[i]; q == '"' || q == '\'' {
			end := bytes.IndexByte(b[i+1:], q)
			if end < 0 {
				return "", true
			}
			return strings.TrimSpace(string(b[i+1 : i+1+end])), true
		}
		j := i
		if b[j] == '!' {
			j++
		}
		for j < len(b) && (isIdent(b[j]) || b[j] == '.') {
			j++
		}
		return string(b[i:j]), true
	}
}

// scheme is the password scheme config.js names, "" when it names none
// (key blank or unknown value); noLogin when HAS_LOGIN is false.
func (c webConfig) scheme() (scheme string, noLogin bool) {
	switch strings.ToLower(c.HasLogin) {
	case "false", "!1", "0":
		return schemeNone, true
	}
	if !c.SHA256Found {
		return schemeBase64, false // absent: the web UI's default
	}
	switch c.SHA256 {
	case "0", "false", "!1":
		return schemeBase64, false
	case "1":
		return schemeSHA256Base64, false
	case "2":
		return schemeSHA256LD, false
	}
	return "", false
}

// readConfigJS fetches config.js once. A transport failure is not "not
// served": it is tried again at the next login.
func (m *Modem) readConfigJS(ctx context.Context) {
	if m.configRead {
		return
	}
	b, err := m.roundTrip(ctx, "GET", "/js/config/config.js", nil)
	var statusErr *httpStatusError
	httpErr := errors.As(err, &statusErr) || errors.Is(err, errSessionPage)
	if err != nil && !httpErr {
		return
	}
	m.configRead = true
	if httpErr || len(bytes.TrimSpace(b)) == 0 || bytes.TrimSpace(b)[0] == '<' {
		m.det.ConfigJS = "not served"
		return
	}
	c := parseConfigJS(b)
	m.contentHint = contentFormHint(string(b), "")
	var says []string
	if c.SHA256Found {
		says = append(says, fmt.Sprintf("WEB_ATTR_IF_SUPPORT_SHA256=%q", c.SHA256))
	}
	if c.HasLogin != "" {
		says = append(says, "HAS_LOGIN="+c.HasLogin)
	}
	if says == nil {
		says = append(says, "served, no login settings")
	}
	m.det.ConfigJS = strings.Join(says, " ")
	m.configSays, m.noLogin = c.scheme()
	if m.noLogin {
		m.det.Login, m.det.LoginFrom = schemeNone, "config.js "+m.det.ConfigJS
	}
}

// schemeByModel is the password scheme of the models the notes name.
func schemeByModel(model string) (scheme, name string) {
	for _, e := range []struct{ model, scheme string }{
		{"MF286", schemeSHA256Base64},
		{"MF297D", schemeSHA256LD}, {"MF266", schemeSHA256LD}, {"MC801", schemeSHA256LD},
		{"MC7010", schemeSHA256LD}, {"MC888", schemeSHA256LD}, {"MC889", schemeSHA256LD},
		{"MF920V", schemeBase64}, {"MF79RU", schemeBase64}, {"MF823", schemeBase64},
	} {
		if strings.Contains(model, e.model) {
			return e.scheme, e.model
		}
	}
	return "", ""
}

// How sure a scheme choice is. A refusal under a model's scheme lets the
// next lock period try another; under a mere hint, another is tried at
// once, while attempts allow. config.js is never second-guessed.
const (
	fromHint = iota
	fromModel
	fromConfig
)

// chooseScheme decides the password scheme: config.js where it names one,
// else the model, and only when neither tells, whether LD is handed out.
func chooseScheme(configSays, configDesc, model, ld string) (scheme, from string, sureness int) {
	if configSays != "" {
		return configSays, "config.js " + configDesc, fromConfig
	}
	if s, name := schemeByModel(model); s != "" {
		return s, "model " + name, fromModel
	}
	if ld != "" {
		return schemeSHA256LD, "LD handed out (neither config.js nor the model tells)", fromHint
	}
	return schemeBase64, "no LD (neither config.js nor the model tells)", fromHint
}

// onWire is the scheme a LOGIN under scheme really sends: the salted
// scheme with no LD is base64 (loginPassword, as the firmware does), and
// the log and doctor must name what was sent, not what was chosen.
func onWire(scheme, from, ld string) (string, string) {
	if scheme == schemeSHA256LD && ld == "" {
		return schemeBase64, from + ", which with LD blank sends base64"
	}
	return scheme, from
}

// loginForm is the goformId and user field for -user on this model.
func loginForm(user, model string) (goformID, field, name string) {
	switch {
	case user == "":
		return "LOGIN", "", "LOGIN"
	case strings.Contains(model, "MC801"), strings.Contains(model, "MC7010"):
		return "LOGIN", "username", "LOGIN+username"
	case strings.Contains(model, "MC888"), strings.Contains(model, "MC889"):
		return "LOGIN", "user", "LOGIN+user"
	}
	return "LOGIN_MULTI_USER", "user", "LOGIN_MULTI_USER"
}

// defaultLockPeriod is how long a login refusal holds further attempts
// when the modem does not say (login_lock_time).
const defaultLockPeriod = 300 * time.Second

// reservedAttempts are never spent automatically: they are the owner's.
// maxAttempts is what the firmware allows before it locks the login.
const (
	reservedAttempts = 2
	maxAttempts      = 5
)

// Login logs in now unless a refusal holds it.
func (m *Modem) Login(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.login(ctx)
}

// Probe reads what the modem tells before login (versions, attempts left,
// config.js) and decides the login scheme, without logging in.
func (m *Modem) Probe(ctx context.Context) (Detection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, err := m.readKeysLocked(ctx, "loginfo", "psw_fail_num_str", "login_lock_time", "wa_inner_version", "cr_version")
	if err != nil && !errors.Is(err, errBlank) {
		return m.det, fmt.Errorf("probe: %w", err)
	}
	m.noteVersions(k)
	m.noteAttempts(k["psw_fail_num_str"])
	m.readConfigJS(ctx)
	if m.det.Login == "" || m.det.LoginFrom == "" {
		ld, ldRead := "", false
		if !m.noLogin && m.configSays == "" {
			if v, err := m.getJSON(ctx, url.Values{"cmd": {"LD"}}); err == nil {
				ld, _ = v["LD"].(string)
				ld, ldRead = strings.TrimSpace(ld), true
			}
		}
		if !m.noLogin {
			scheme, from, _ := chooseScheme(m.configSays, m.det.ConfigJS, m.modelName(), ld)
			if ldRead {
				// Named as it would be sent with the LD read now.
				scheme, from = onWire(scheme, from, ld)
			}
			m.det.Login, m.det.LoginFrom = scheme, from
		}
	}
	_, _, m.det.LoginForm = loginForm(m.user, m.modelName())
	d := m.det
	d.OwnRefusals = m.rejected
	return d, nil
}

// noteAttempts keeps psw_fail_num_str and learns whether the modem counts:
// a refusal that did not lower it means it does not.
func (m *Modem) noteAttempts(s string) int {
	left := -1
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		left = n
	}
	m.det.AttemptsLeft = left
	if m.leftBefore >= 0 && left >= 0 && m.rejected > 0 {
		if left < m.leftBefore {
			m.counterCounts = true
		} else if !m.counterCounts {
			m.det.CounterStuck = true
		}
	}
	return left
}

// attemptsLeft is what smsgate believes is left: the modem's count where
// it is seen to count, else its own count of refusals (and the smaller of
// the two while it is not known whether the modem counts).
func (m *Modem) attemptsLeft(reported int) int {
	own := maxAttempts - m.rejected
	switch {
	case reported < 0 || m.det.CounterStuck:
		return own
	case m.counterCounts:
		return reported
	}
	return min(reported, own)
}

// LoginRefusals is the client's own count of refused (or lost) logins
// since the last success, with a fingerprint of the password they were
// counted against. It must outlive a restart: firmware that does not count
// (or whose counter is stuck) would otherwise get three fresh attempts from
// every start of smsgate, and lock the owner out by the second.
type LoginRefusals struct {
	// Password is passwordFingerprint of the password refused; another
	// password starts a fresh count.
	Password string `json:"password"`
	Count    int    `json:"count"`
	// Until is when the hold after the last refusal ends: a restart waits
	// it out instead of logging in at once (zero: none, or until a
	// restart). Bounded on load by loginHoldBound (timebound.go).
	Until time.Time `json:"until,omitzero"`
}

// loginHoldBound is the longest a hold read back from the state file may
// still last from now: the longest an adapter holds by itself (HiLink's
// back-off after lost answers reaches an hour), so that a state written
// while the clock was ahead holds no login for days.
const loginHoldBound = time.Hour

// same says whether r and o keep the same thing (time.Time compares its
// location too, and a time read back from JSON has another one).
func (r LoginRefusals) same(o LoginRefusals) bool {
	return r.Password == o.Password && r.Count == o.Count && r.Until.Equal(o.Until)
}

// any says whether r keeps anything.
func (r LoginRefusals) any() bool { return r.Count > 0 || !r.Until.IsZero() }

// holdFrom is the hold r asks for at now: nothing once over, and never
// beyond loginHoldBound from now.
func (r LoginRefusals) holdFrom(now time.Time) time.Time {
	if !r.Until.After(now) {
		return time.Time{}
	}
	return notAfter(r.Until, now.Add(loginHoldBound))
}

// passwordFingerprint names a password without revealing it: 8 bytes of
// SHA-256, enough to tell a changed password from the same one.
func passwordFingerprint(pw string) string {
	sum := sha256.Sum256([]byte("smsgate login refusals\x00" + pw))
	return hex.EncodeToString(sum[:8])
}

// Refusals is what to keep across a restart: the client's own count, or
// none where the modem is seen to count (its count is the one that
// holds, and it comes back to 5 after a lock period; ours would not).
//
// The hold after the last refusal is kept either way: a restart must not
// log in again before the modem's lock period is over.
func (m *Modem) Refusals() LoginRefusals {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := LoginRefusals{Password: passwordFingerprint(m.password)}
	if !m.counterCounts {
		r.Count = m.rejected
	}
	if h := m.loginHold; h != nil && !h.Busy && h.RetryAfter.After(m.now()) {
		r.Until = h.RetryAfter
	}
	if !r.any() {
		return LoginRefusals{}
	}
	return r
}

// SetRefusals seeds the client's own count from before a restart. A count
// for another password is not this one's: it reports false and changes
// nothing.
func (m *Modem) SetRefusals(r LoginRefusals) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !r.any() || r.Password != passwordFingerprint(m.password) {
		return false
	}
	if r.Count > 0 {
		// Unknown before the restart's first refusal: whether the modem
		// counts is learnt again.
		m.rejected, m.leftBefore = min(r.Count, maxAttempts), -1
	}
	if until := r.holdFrom(m.now()); !until.IsZero() {
		m.loginHold = &LoginError{Reason: "a login refused (or not confirmed by a session) before a restart: waiting out its hold",
			AttemptsLeft: -1, RetryAfter: until}
	}
	return true
}

// SaveBeforeLogin: f is told, before each LOGIN, what the refusals will
// be if it is spent (see loginSaver).
func (m *Modem) SaveBeforeLogin(f loginRecorder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.beforeLogin = f
}

// saveIfSpent tells beforeLogin what Refusals will say once the LOGIN
// about to go out is counted, with the hold of lock after it. Where the
// modem's own count is not the memory (deviceCounts), a LOGIN that could
// not be written down is not posted: ok false, with the hold to keep.
func (m *Modem) saveIfSpent(b loginBudget) (reason string, hold time.Duration, ok bool) {
	r := LoginRefusals{Password: passwordFingerprint(m.password), Until: m.now().Add(b.lock)}
	if !m.counterCounts {
		r.Count = m.rejected + 1
	}
	reason, hold, ok = m.beforeLogin.record(r)
	return reason, hold, ok || b.deviceCounts()
}

// deviceCounts: the modem reports the attempts left and nothing says its
// count is stuck, so that count, read before every LOGIN, outlives any
// restart of smsgate.
func (b loginBudget) deviceCounts() bool {
	return b.reported >= 0 && !b.m.det.CounterStuck && !counterKnownStuck(b.m.modelName())
}

// login logs in, spending at most the attempts the owner can spare: one
// per lock period, and a second (another password scheme) at once only
// when the scheme was a guess and attempts allow it.
func (m *Modem) login(ctx context.Context) error {
	if h := m.loginHold; h != nil && (h.RetryAfter.IsZero() || m.now().Before(h.RetryAfter)) {
		return h
	}
	for try := 0; ; try++ {
		done, err := m.loginAttempt(ctx, try)
		if done {
			return err
		}
	}
}

// loginAttempt reads the pre-login keys and, where allowed, posts one
// LOGIN. done is false when another scheme should be tried at once.
func (m *Modem) loginAttempt(ctx context.Context, try int) (done bool, err error) {
	k, err := m.readKeysLocked(ctx, "loginfo", "psw_fail_num_str", "login_lock_time", "wa_inner_version", "cr_version")
	if err != nil && !errors.Is(err, errBlank) {
		// An HTML page or nothing: this is no goform API to send a
		// password to.
		return true, fmt.Errorf("login: %w", err)
	}
	m.noteVersions(k)
	if k["loginfo"] == "ok" {
		m.loginHold, m.rejected, m.unconfirmed, m.det.LoggedIn = nil, 0, false, true
		return true, nil
	}
	m.readConfigJS(ctx)
	if m.noLogin {
		// The firmware has no login: a blank answer is not a session matter.
		return true, nil
	}
	b := m.newLoginBudget(k)
	if err := b.refuseToSpend(); err != nil {
		return true, err
	}
	ld := ""
	if v, err := m.getJSON(ctx, url.Values{"cmd": {"LD"}}); err == nil {
		ld, _ = v["LD"].(string)
		ld = strings.TrimSpace(ld)
	} else if !errors.Is(err, errBlank) {
		return true, fmt.Errorf("login: %w", err)
	}
	cands, from, sureness := m.schemeCandidates(ld)
	scheme := cands[m.schemeTry%len(cands)]
	wire, _ := onWire(scheme, "", ld)
	id, form, formName, err := m.loginPost(ctx, scheme, ld)
	if err != nil {
		return true, err
	}
	if reason, hold, ok := m.saveIfSpent(b); !ok {
		err := b.hold(reason, hold, false)
		holdUnrecorded(m.log, reason, m.loginHold.RetryAfter)
		return true, err
	}
	m.leftBefore = b.reported
	res, err := b.post(ctx, id, form)
	if err != nil {
		return true, err
	}
	switch res {
	case "0", "4":
		m.accepted = scheme
		m.loginAccepted(ctx, b, wire, from, formName, sureness)
		return true, nil
	case "2":
		err := b.hold("another user is logged in to the modem's web UI", time.Minute, false)
		m.loginHold.Busy = true
		return true, err
	}
	m.rejected++
	if sureness != fromConfig && len(cands) > 1 {
		m.schemeTry++
		if try == 0 && sureness == fromHint {
			m.log.Warn("modem refused the login; trying another password scheme", "scheme", wire, "from", from)
			m.loginHold = &LoginError{Reason: "refused under " + wire, AttemptsLeft: m.attemptsLeft(b.reported), RetryAfter: m.now().Add(b.lock)}
			return false, nil
		}
	}
	if res == "3" {
		return true, b.hold("wrong password", b.lock, true)
	}
	return true, b.hold(fmt.Sprintf("modem answered %q", res), b.lock, true)
}

// loginBudget is what one login attempt may spend: the modem's lock period
// and the attempts it reports left (-1: it does not say).
type loginBudget struct {
	m        *Modem
	lock     time.Duration
	reported int
}

func (m *Modem) newLoginBudget(k map[string]string) loginBudget {
	return loginBudget{m: m, lock: loginLockPeriod(k), reported: m.noteAttempts(k["psw_fail_num_str"])}
}

// loginLockPeriod is how long the modem locks its login after
// maxAttempts refusals: its login_lock_time in seconds, else
// defaultLockPeriod. The client and doctor both say this one.
func loginLockPeriod(k map[string]string) time.Duration {
	if s, err := strconv.Atoi(k["login_lock_time"]); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return defaultLockPeriod
}

// hold stops logins for after (0: until restart) and returns why; loud
// says it is the owner's to fix.
func (b loginBudget) hold(reason string, after time.Duration, loud bool) error {
	m := b.m
	m.loginHold = &LoginError{Reason: reason, AttemptsLeft: m.attemptsLeft(b.reported), RetryAfter: m.now().Add(after)}
	if after == 0 {
		m.loginHold.RetryAfter = time.Time{}
	}
	if loud {
		m.log.Error("MODEM LOGIN HELD: fix -password; smsgate will not spend the owner's attempts",
			"reason", reason, "attempts_left", m.loginHold.AttemptsLeft, "retry_after", m.loginHold.RetryAfter.Format(time.RFC3339))
	}
	return m.loginHold
}

// refuseToSpend holds the login, before any password is sent, when there
// is none to send or the attempts left are the owner's.
func (b loginBudget) refuseToSpend() error {
	m := b.m
	left := m.attemptsLeft(b.reported)
	if m.password == "" {
		return b.hold("the modem asks for a password and none is set (-password or SMSGATE_PASSWORD)", b.lock, true)
	}
	if left <= reservedAttempts {
		if b.reported >= 0 && !m.det.CounterStuck && left == b.reported {
			return b.hold(fmt.Sprintf("only %d attempts left, kept for the owner", left), b.lock, true)
		}
		// The modem does not count for us: stop before what would be the
		// owner's last two attempts, until smsgate is restarted.
		return b.hold(fmt.Sprintf("%d refused logins and the modem does not count them; fix -password and restart smsgate (with -state-dir the count is kept for this password)", m.rejected), 0, true)
	}
	return nil
}

// loginPost builds the LOGIN post for this modem and scheme: its goformId,
// its form, and the name of the form's shape.
func (m *Modem) loginPost(ctx context.Context, scheme, ld string) (id string, form url.Values, formName string, err error) {
	id, field, formName := loginForm(m.user, m.modelName())
	m.det.LoginForm = formName
	form = url.Values{"password": {loginPassword(scheme, m.password, ld)}}
	if field != "" {
		form.Set(field, m.user)
	}
	if id == "LOGIN_MULTI_USER" {
		ad, err := m.adValue(ctx, false)
		if err != nil {
			return "", nil, "", fmt.Errorf("login: %w", err)
		}
		if ad != "" {
			form.Set("AD", ad)
		}
	}
	return id, form, formName, nil
}

// post sends the LOGIN and returns the modem's result. An answer lost or
// not understood is settled by a session-only read: one that works means
// the password was taken ("0"); else the attempt is counted as spent and
// the login held (the error).
func (b loginBudget) post(ctx context.Context, id string, form url.Values) (string, error) {
	m := b.m
	res, err := m.postForm(ctx, id, form)
	if err != nil {
		var nerr *net.OpError
		if errors.As(err, &nerr) && nerr.Op == "dial" {
			return "", fmt.Errorf("login: %w", err) // never reached the modem
		}
		// The answer is lost (cut off, empty, HTML, too slow): the modem
		// may have judged the password all the same. A session-only read
		// that works says it took it (a session bound to the client's
		// address); anything else counts as refused.
		if _, rerr := m.readKeysLocked(ctx, sessionKeys...); rerr != nil {
			m.rejected++
			m.det.LoggedIn = false
			return "", fmt.Errorf("login answer lost, counted as a spent attempt (not as a wrong password): %w", b.hold("login answer lost ("+err.Error()+")", b.lock, true))
		}
		m.log.Info("modem login answer lost, but a session-only read works: the login was accepted", "err", err)
		res = "0"
	}
	if !loginResultKnown(res) {
		// Not an answer the notes describe ({"result":true}, no result,
		// a word): the modem did not say "refused". A session-only read
		// that works says it took the password; else the attempt is spent
		// for the budget's sake, but no other scheme is tried on it.
		if _, rerr := m.readKeysLocked(ctx, sessionKeys...); rerr != nil {
			m.rejected++
			m.det.LoggedIn = false
			return "", b.hold(fmt.Sprintf("modem's answer to %s not understood (result %q); counted as a spent attempt, the password not judged", id, clip(res, 40)), b.lock, true)
		}
		m.log.Info("modem login answer not understood, but a session-only read works: the login was accepted", "result", clip(res, 40))
		res = "0"
	}
	return res, nil
}

// loginAccepted records a session and how its scheme was found. The
// attempt still counts as spent, and holds the next login for the lock
// period, until a read that needs a session works (confirmLogin): some
// firmware answers "0" to a wrong password and gives no session
// (zte-goform.md: psw_fail_num_str blank or stuck), and a restart must
// not make that one more attempt each time.
func (m *Modem) loginAccepted(ctx context.Context, b loginBudget, scheme, from, formName string, sureness int) {
	m.rejected++
	m.unconfirmed, m.leftBefore, m.det.LoggedIn = true, -1, true
	m.loginHold = &LoginError{Reason: "the modem accepted a login but no read needing a session has worked since; counted as a spent attempt (the password may be wrong)",
		AttemptsLeft: m.attemptsLeft(b.reported), RetryAfter: m.now().Add(b.lock)}
	if sureness != fromConfig {
		from = "accepted by the modem (guessed from " + from + ")"
	}
	m.det.Login, m.det.LoginFrom = scheme, from
	m.log.Info("modem login", "scheme", scheme, "from", from, "form", formName, "user", m.user)
	// hardware_version needs a session on some firmware: read it now.
	if k, err := m.readKeysLocked(ctx, "hardware_version"); err == nil {
		m.noteVersions(k)
	}
}

// schemeCandidates lists the schemes to try in order: the chosen one, and
// when it was only a guess, the others.
//
// det.Login names the scheme as sent (onWire), and the list holds no two
// that send the same password: with LD blank the salted scheme is base64,
// and a refusal under it must not spend an attempt on base64 again.
func (m *Modem) schemeCandidates(ld string) (cands []string, from string, sureness int) {
	if m.accepted != "" {
		m.det.Login, _ = onWire(m.accepted, "", ld)
		return []string{m.accepted}, m.det.LoginFrom, fromConfig
	}
	scheme, from, sureness := chooseScheme(m.configSays, m.det.ConfigJS, m.modelName(), ld)
	m.det.Login, m.det.LoginFrom = onWire(scheme, from, ld)
	if sureness == fromConfig {
		return []string{scheme}, m.det.LoginFrom, fromConfig
	}
	cands = []string{scheme}
	sent := map[string]bool{m.det.Login: true}
	for _, s := range []string{schemeSHA256LD, schemeBase64, schemeSHA256Base64} {
		if w, _ := onWire(s, "", ld); !sent[w] {
			sent[w] = true
			cands = append(cands, s)
		}
	}
	return cands, m.det.LoginFrom, sureness
}

func idList(ids []int64) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(strconv.FormatInt(id, 10))
		b.WriteByte(';')
	}
	return b.String()
}

// MarkRead marks messages read.
func (m *Modem) MarkRead(ctx context.Context, ids ...int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.action(ctx, "SET_MSG_READ", url.Values{"msg_id": {idList(ids)}, "tag": {"0"}, "notCallback": {"true"}}); err != nil {
		return fmt.Errorf("mark read sms %s: %w", idList(ids), err)
	}
	return nil
}

// Delete deletes messages and returns only once the modem confirms it.
func (m *Modem) Delete(ctx context.Context, ids ...int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.action(ctx, "DELETE_SMS", url.Values{"msg_id": {idList(ids)}, "notCallback": {"true"}}); err != nil {
		return fmt.Errorf("delete sms %s: %w", idList(ids), err)
	}
	if err := m.waitCmdStatus(ctx, "6", deleteConfirmWait); err != nil {
		return fmt.Errorf("delete sms %s: %w", idList(ids), err)
	}
	return nil
}

// Send sends an SMS and returns once the modem reports it sent.
func (m *Modem) Send(ctx context.Context, number, text string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	text = m.sendable(text)
	form := url.Values{
		"notCallback": {"true"},
		"Number":      {number},
		"sms_time":    {formatSMSTime(m.now())},
		"MessageBody": {encodeContent(text)},
		"ID":          {"-1"},
		"encode_type": {smsEncoding(text)},
	}
	if err := m.sendForm(ctx, form); err != nil {
		return fmt.Errorf("send sms to %s: %w", number, err)
	}
	// As the web UI does: asked at once, the modem may still report the
	// previous command's result.
	select {
	case <-ctx.Done():
		// The modem accepted it: it may go out (a SIGTERM restart must
		// not send it again).
		return fmt.Errorf("send sms to %s: %w: %w", number, errSendUnconfirmed, ctx.Err())
	case <-time.After(m.sendSettle):
	}
	if err := m.waitCmdStatus(ctx, "4", sendConfirmWait); err != nil {
		return fmt.Errorf("send sms to %s: %w: %w", number, errSendUnconfirmed, err)
	}
	return nil
}

// waitCmdStatus polls sms_cmd_status_info until the command is done: "3"
// means done, "2" failed.
func (m *Modem) waitCmdStatus(ctx context.Context, cmd string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	// The command waits on this (an SMS command runs only once its deletion
	// is confirmed), and a modem may be done within a fraction of a second:
	// look again soon, then less often, up to statusEvery. That is a few
	// more small reads per command, never more than one in flight.
	wait := m.statusEvery / 16
	for {
		var res string
		err := m.withSession(ctx, func() error {
			v, err := m.getJSON(ctx, url.Values{"cmd": {"sms_cmd_status_info"}, "sms_cmd": {cmd}})
			if err != nil {
				return err
			}
			r, ok := v["sms_cmd_status_result"].(string)
			if !ok {
				return errBlank
			}
			res = strings.TrimSpace(r)
			return nil
		})
		if err != nil {
			return fmt.Errorf("status of sms command %s: %w", cmd, err)
		}
		switch res {
		case "3":
			return nil
		case "2":
			return fmt.Errorf("modem reports sms command %s failed: %w", cmd, errRefused)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sms command %s not confirmed (last %q): %w", cmd, res, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, m.statusEvery)
	}
}

// Reboot asks the modem to reboot.
func (m *Modem) Reboot(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.action(ctx, "REBOOT_DEVICE", url.Values{"notCallback": {"true"}}); err != nil {
		return fmt.Errorf("reboot modem: %w", err)
	}
	m.det.LoggedIn = false
	return nil
}

// Reconnect drops and re-establishes mobile data, and returns the final
// ppp_status.
func (m *Modem) Reconnect(ctx context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.action(ctx, "DISCONNECT_NETWORK", url.Values{"notCallback": {"true"}}); err != nil {
		return "", fmt.Errorf("reconnect: %w", err)
	}
	// The web UI waits up to 10 s for each transition; so do we.
	down := func(ppp string) bool { return ppp == "ppp_disconnected" }
	if _, err := m.waitPPP(ctx, down, "ppp_disconnected", zteLinkDownWait); err != nil {
		m.log.Warn("modem did not report disconnected", "err", err)
	}
	if err := m.action(ctx, "CONNECT_NETWORK", url.Values{"notCallback": {"true"}}); err != nil {
		return "", fmt.Errorf("reconnect: %w", err)
	}
	return m.waitPPP(ctx, dataUp, "data up", zteLinkUpWait)
}

func (m *Modem) waitPPP(ctx context.Context, want func(string) bool, wantName string, limit time.Duration) (string, error) {
	// Real time, as the timer below and hilinkModem.waitConn: this waits
	// on the device, and must end however the client's clock is set.
	deadline := time.Now().Add(limit)
	for {
		var k map[string]string
		err := m.withSession(ctx, func() (err error) {
			k, err = m.readKeysLocked(ctx, "ppp_status")
			return err
		})
		if err == nil && want(k["ppp_status"]) {
			return k["ppp_status"], nil
		}
		if time.Now().After(deadline) {
			last := ""
			if k != nil {
				last = k["ppp_status"]
			}
			return last, fmt.Errorf("ppp_status %q after %s, want %s", last, limit, wantName)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(m.statusEvery):
		}
	}
}

// undoubleQuotes repairs ""31321"" into "31321", a defect of some GoAhead
// builds: what the regular expression `""([^",:{}\[\]]+)""` replaced by
// `"$1"` does, written out so that the path of every modem answer needs no
// regexp (the binary links package regexp anyway, for capture and doctor;
// FuzzUndoubleQuotes checks the two agree).
func undoubleQuotes(b []byte) []byte {
	var out []byte
	done := 0 // b[:done] is in out
	for i := 0; i+1 < len(b); {
		if b[i] != '"' || b[i+1] != '"' {
			i++
			continue
		}
		j := i + 2
		for j < len(b) && strings.IndexByte(`",:{}[]`, b[j]) < 0 {
			j++
		}
		if j == i+2 || j+1 >= len(b) || b[j] != '"' || b[j+1] != '"' {
			i++
			continue
		}
		out = append(out, b[done:i]...)
		out = append(out, '"')
		out = append(out, b[i+2:j]...)
		out = append(out, '"')
		i, done = j+2, j+2
	}
	if out == nil {
		return b
	}
	return append(out, b[done:]...)
}

// parseLenientJSON reads the modem's JSON, repairing its known defects:
// doubled quotes around values and raw control characters in strings.
func parseLenientJSON(b []byte) (map[string]any, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, errors.New("empty answer")
	}
	if b[0] == '<' {
		return nil, errors.New("HTML answer instead of JSON")
	}
	if v, err := decodeJSONObject(b); err == nil {
		return v, nil
	}
	fixed := bytes.Map(func(r rune) rune {
		if r < 0x20 {
			return ' '
		}
		return r
	}, b)
	fixed = undoubleQuotes(fixed)
	v, err := decodeJSONObject(fixed)
	if err != nil {
		return nil, fmt.Errorf("malformed JSON answer: %w", err)
	}
	return v, nil
}
