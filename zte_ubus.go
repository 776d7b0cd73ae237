package main

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ubusModem is the adapter for ZTE's goform-less firmware (U60 Pro /
// MU5250, MU5252, G5 Ultra, zte-newer.md §2): JSON-RPC on POST /ubus/,
// a salted double-SHA256 login, SMS through zwrt_wms.*, and on recent
// builds (MU5250 B27, MU5252) the same AES-256-GCM envelopes as RED.
//
// What the notes do not give, it does not pretend: the link state, reboot,
// reconnect and marking read have no documented ubus methods here, so
// Reboot, Reconnect and MarkRead answer errUnsupported, and Poll reports
// the link as up (unknown), so that healing never acts on a guess.
type ubusModem struct {
	base     string
	web      webTransport
	password string
	timeout  time.Duration
	log      *slog.Logger
	now      func() time.Time
	// statusEvery is how often a pending send or delete is looked at;
	// sendSettle the wait before the first look after a send.
	statusEvery, sendSettle time.Duration

	mu      sync.Mutex
	seq     int
	session string // ubus_rpc_session, "" logged out
	// failed counts logins that gave no session since the last that did;
	// holdUntil is when the next may be made (zero: until a restart).
	failed    int
	holdUntil time.Time
	held      bool
	// unjudged: the last refusal may have been a race (the salt changed),
	// not a wrong password; its hold alerts no one.
	unjudged bool
	// beforeLogin saves what a login about to be posted leaves if it
	// gives no session (loginSaver).
	beforeLogin loginRecorder
	// unrecorded holds logins that could not be written down first.
	unrecorded *LoginError
	// sealSend: the firmware refused a plaintext send; aead is the key
	// registered with web_http_enstr_set, nil none.
	sealSend bool
	aead     cipher.AEAD
	stale    int // records of the last listing that did not open
}

// ubusAnon is the session every ubus client starts with.
const ubusAnon = "00000000000000000000000000000000"

var (
	errUbusSession    = errors.New("ubus: no session (access denied)")
	errUbusInvalidArg = errors.New("ubus: invalid argument (status 2)")
)

// newUbusModem returns a client for the ubus firmware at cfg.URL. It does
// not contact the modem.
func init() {
	registerFamily(familyUbus, func(t portTarget) (modemPort, error) {
		m, err := newUbusModem(t.Config)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return m, nil
	})
}

func newUbusModem(cfg ModemConfig) (*ubusModem, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		(u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("modem url %q: want http://host[:port]", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &ubusModem{base: u.Scheme + "://" + u.Host, web: newWebClient(u), password: cfg.Password, timeout: cfg.Timeout,
		log: cfg.Logger, now: time.Now, statusEvery: time.Second, sendSettle: time.Second}, nil
}

// call makes one ubus call and returns its payload; status 0 only.
func (m *ubusModem) call(ctx context.Context, session, object, method string, args map[string]any) (map[string]any, error) {
	m.seq++
	body, err := json.Marshal([]any{map[string]any{"jsonrpc": "2.0", "id": m.seq, "method": "call",
		"params": []any{session, object, method, args}}})
	if err != nil {
		return nil, fmt.Errorf("ubus %s.%s: %w", object, method, err)
	}
	req := &webRequest{Method: "POST", Path: "/ubus/", Query: url.Values{"t": {strconv.FormatInt(m.now().UnixMilli(), 10)}},
		Body: body, Header: [][2]string{{"Content-Type", "application/json"}, {"Referer", m.base + "/"}, {"Origin", m.base}}}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	ans, err := m.web.exchange(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("ubus %s.%s: %w", object, method, err)
	}
	if ans.BodyErr != nil {
		return nil, fmt.Errorf("ubus %s.%s: read answer: %w", object, method, ans.BodyErr)
	}
	if ans.Status != 200 {
		return nil, fmt.Errorf("ubus %s.%s: %w", object, method, &httpStatusError{ans.statusText()})
	}
	payload, err := parseUbusAnswer(ans.Body)
	if err != nil {
		return nil, fmt.Errorf("ubus %s.%s: %w", object, method, err)
	}
	return payload, nil
}

// parseUbusAnswer reads a JSON-RPC batch answer of one call:
// [{"result":[status, payload]}] or [{"error":{...}}]. Numbers read as
// their text, as in the goform answers.
func parseUbusAnswer(b []byte) (map[string]any, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		b = append(append([]byte(`{"batch":`), b...), '}')
	} else {
		b = append(append([]byte(`{"batch":[`), b...), ']', '}')
	}
	v, err := decodeJSONObject(b)
	if err != nil {
		return nil, fmt.Errorf("malformed JSON-RPC answer: %w", err)
	}
	batch, _ := v["batch"].([]any)
	if len(batch) == 0 {
		return nil, errors.New("empty JSON-RPC answer")
	}
	first, _ := batch[0].(map[string]any)
	if e, ok := first["error"].(map[string]any); ok {
		code, _ := e["code"].(string)
		msg, _ := e["message"].(string)
		if code == "-32002" || strings.Contains(strings.ToLower(msg), "access denied") {
			return nil, errUbusSession
		}
		return nil, fmt.Errorf("ubus error %s %q", clip(code, 12), clip(msg, 60))
	}
	res, _ := first["result"].([]any)
	if len(res) == 0 {
		return nil, errors.New("JSON-RPC answer without a result")
	}
	status, _ := res[0].(string)
	switch status {
	case "0":
	case "2":
		return nil, errUbusInvalidArg
	case "6":
		return nil, errUbusSession // UBUS_STATUS_PERMISSION_DENIED
	default:
		return nil, fmt.Errorf("ubus status %q", clip(status, 12))
	}
	payload := map[string]any{}
	if len(res) > 1 {
		if p, ok := res[1].(map[string]any); ok {
			payload = p
		}
	}
	return payload, nil
}

// ubusPassword is SHA256U(SHA256U(password) + salt), upper-case hex.
func ubusPassword(password, salt string) string {
	up := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return strings.ToUpper(hex.EncodeToString(sum[:]))
	}
	return up(up(password) + salt)
}

// ubusLoginHold is how long a login that gave no session holds the next,
// and ubusMaxFailed how many such logins smsgate makes before it stops
// until a restart: the firmware's refusal and lock-out are not in the
// notes, so every login that gave no session counts as a spent attempt,
// whatever the answer said.
const (
	ubusLoginHold = 5 * time.Minute
	ubusMaxFailed = 3
)

func (m *ubusModem) login(ctx context.Context) error {
	if h := m.unrecorded; h != nil && (h.RetryAfter.IsZero() || m.now().Before(h.RetryAfter)) {
		return h
	}
	if m.held {
		return &LoginError{Reason: fmt.Sprintf("%d ubus logins in a row gave no session: fix -password and restart smsgate", m.failed), AttemptsLeft: -1}
	}
	if m.now().Before(m.holdUntil) {
		return &LoginError{Reason: fmt.Sprintf("%d ubus logins gave no session", m.failed), AttemptsLeft: -1, RetryAfter: m.holdUntil,
			Unjudged: m.unjudged}
	}
	if m.password == "" {
		return &LoginError{Reason: "the modem asks for a password and none is set (-password or SMSGATE_PASSWORD)", AttemptsLeft: -1}
	}
	// Two requests that must not have another client's salt between them.
	release, alone := hostLoginLock(ctx, ubusLoginKey(m.base), 3*m.timeout)
	defer release()
	info, err := m.call(ctx, ubusAnon, "zwrt_web", "web_login_info", map[string]any{})
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	salt, _ := info["zte_web_sault"].(string)
	// ubus reports no attempts left: the login is written down first.
	r := LoginRefusals{Password: passwordFingerprint(m.password), Count: m.failed + 1, Until: m.now().Add(ubusLoginHold)}
	if reason, hold, ok := m.beforeLogin.record(r); !ok {
		return m.holdUnrecorded(reason, hold)
	}
	res, err := m.call(ctx, ubusAnon, "zwrt_web", "web_login", map[string]any{"password": ubusPassword(m.password, salt)})
	sess := ""
	if err == nil {
		sess, _ = res["ubus_rpc_session"].(string)
	}
	if sess == "" {
		return m.refused(ctx, salt, alone, err)
	}
	m.session, m.failed, m.holdUntil, m.unjudged = sess, 0, time.Time{}, false
	m.log.Info("modem login (ubus)", "scheme", "sha256(sha256(pw)+salt)")
	return nil
}

// refused counts a login that gave no session as a spent attempt and holds
// the next, whatever the answer said: the notes give no meaning to it
// (the sim's "3" is borrowed from goform's "wrong password") nor any
// lock-out policy. Whether it is said to be a wrong password depends on
// the salt: read again (still under the login lock, so no smsgate waits
// on it), one that changed means another client's login, or firmware
// that makes a salt per call, came between ours: the refusal is not
// judged, and nobody is told to fix -password. Either way it counts, so a
// wrong password never costs more than ubusMaxFailed attempts, one per
// hold, and then none until a restart, with the owner told.
func (m *ubusModem) refused(ctx context.Context, salt string, alone bool, err error) error {
	m.failed++
	m.holdUntil = m.now().Add(ubusLoginHold)
	reason := "login gave no session, counted as a spent attempt"
	if err != nil {
		reason += " (" + err.Error() + ")"
	}
	raced := !alone
	if alone {
		info, ierr := m.call(ctx, ubusAnon, "zwrt_web", "web_login_info", map[string]any{})
		now, _ := info["zte_web_sault"].(string)
		raced = ierr != nil || now != salt
	}
	m.unjudged = raced
	if m.failed >= ubusMaxFailed {
		m.held, m.unjudged = true, false
		reason += fmt.Sprintf("; %d in a row: fix -password and restart smsgate", m.failed)
		m.log.Error("MODEM LOGIN HELD: fix -password; smsgate will not spend the owner's attempts", "reason", reason)
		return &LoginError{Reason: reason, AttemptsLeft: -1, RetryAfter: m.holdUntil}
	}
	if raced {
		reason += "; not judged a wrong password: the login salt changed before the answer (another login came between, or the firmware makes one per call)"
		m.log.Warn("modem login refused, perhaps a race with another login; held, not judged", "reason", reason,
			"refused", m.failed, "retry_after", m.holdUntil.Format(time.RFC3339))
		return &LoginError{Reason: reason, AttemptsLeft: -1, RetryAfter: m.holdUntil, Unjudged: true}
	}
	m.log.Error("MODEM LOGIN HELD: fix -password; smsgate will not spend the owner's attempts", "reason", reason)
	return &LoginError{Reason: reason, AttemptsLeft: -1, RetryAfter: m.holdUntil}
}

// holdUnrecorded holds logins that could not be written down (0: until a
// restart), without counting one as spent.
func (m *ubusModem) holdUnrecorded(reason string, hold time.Duration) error {
	h := &LoginError{Reason: reason, AttemptsLeft: -1}
	if hold > 0 {
		h.RetryAfter = m.now().Add(hold)
	}
	m.unrecorded = h
	holdUnrecorded(m.log, reason, h.RetryAfter)
	return h
}

// SaveBeforeLogin: f is told, before each web_login, what the refusals
// will be if it gives no session (see loginSaver).
func (m *ubusModem) SaveBeforeLogin(f loginRecorder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.beforeLogin = f
}

// Refusals is the count of logins that gave no session, for the state
// file: a restart must not make each wrong password one more attempt
// (witness: seven restarts, seven attempts).
func (m *ubusModem) Refusals() LoginRefusals {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failed == 0 {
		return LoginRefusals{}
	}
	r := LoginRefusals{Password: passwordFingerprint(m.password), Count: m.failed}
	if !m.held && m.holdUntil.After(m.now()) {
		r.Until = m.holdUntil
	}
	return r
}

// SetRefusals seeds the count from before a restart, for this password
// only; the next login then waits its hold as if smsgate had not stopped.
func (m *ubusModem) SetRefusals(r LoginRefusals) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.Count <= 0 || r.Password != passwordFingerprint(m.password) {
		return false
	}
	m.failed = min(r.Count, ubusMaxFailed)
	m.held = m.failed >= ubusMaxFailed
	// The hold saved, bounded; a state from before it was saved holds a
	// whole period from now.
	m.holdUntil = r.holdFrom(m.now())
	if r.Until.IsZero() {
		m.holdUntil = m.now().Add(ubusLoginHold)
	}
	return true
}

// withSession runs op with a session, logging in once when there is none
// or the modem says it is gone.
func (m *ubusModem) withSession(ctx context.Context, op func() error) error {
	if m.session == "" {
		if err := m.login(ctx); err != nil {
			return err
		}
	}
	err := op()
	if !errors.Is(err, errUbusSession) {
		return err
	}
	m.session = ""
	if lerr := m.login(ctx); lerr != nil {
		return fmt.Errorf("%w (and %w)", err, lerr)
	}
	return op()
}

func (m *ubusModem) wms(ctx context.Context, method string, args map[string]any) (map[string]any, error) {
	var out map[string]any
	err := m.withSession(ctx, func() (err error) {
		out, err = m.call(ctx, m.session, "zwrt_wms", method, args)
		return err
	})
	return out, err
}
