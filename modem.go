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
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxBody bounds every answer: the largest honest answer (a page of 100
// merged messages) is well under this.
const maxBody = 2 << 20

var (
	// errBlank is the modem's way of saying "not authorised": HTTP 200 with
	// every value empty.
	errBlank = errors.New("blank answer (no session)")
	// errRefused is a {"result":"failure"} or empty answer to an action.
	errRefused = errors.New("modem refused the action")
)

// LoginError says why smsgate is not logging in, and until when it will not
// try again. The LED shows it; the log says it loudly once.
type LoginError struct {
	Reason       string
	AttemptsLeft int // -1 when the modem does not say
	RetryAfter   time.Time
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
type Capacity struct{ Total, Used int }

// ModemConfig configures a Modem.
type ModemConfig struct {
	URL      string
	User     string
	Password string
	Timeout  time.Duration // per request
	Logger   *slog.Logger
}

// Modem is a client for the ZTE goform web API. Its methods are safe for
// concurrent use and send one request at a time: the modem's web server is
// too weak for more.
type Modem struct {
	base     string
	referer  string
	user     string
	password string
	http     *http.Client
	log      *slog.Logger
	now      func() time.Time
	// statusEvery is how often a pending send, delete or reconnect is polled.
	statusEvery time.Duration

	mu        sync.Mutex
	versions  map[string]string // wa_inner_version, cr_version, hardware_version
	adHash    string            // "" undetected, "none", "md5", "sha256"
	loginHold *LoginError
	// rejected counts refused logins since the last success, for firmware
	// that does not say how many attempts are left.
	rejected int
}

// NewModem returns a client for the modem at cfg.URL. It does not contact the
// modem.
func NewModem(cfg ModemConfig) (*Modem, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("modem url %q: want http://host[:port]", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	jar, _ := cookiejar.New(nil)
	base := u.Scheme + "://" + u.Host
	return &Modem{
		base:     base,
		referer:  base + "/index.html",
		user:     cfg.User,
		password: cfg.Password,
		http: &http.Client{
			Timeout: cfg.Timeout,
			Jar:     jar,
			Transport: &http.Transport{
				// Never through a proxy from the environment: the modem is on
				// the LAN, and its answers must come from it alone.
				Proxy:                  nil,
				DialContext:            (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
				DisableKeepAlives:      true,
				ResponseHeaderTimeout:  cfg.Timeout,
				MaxResponseHeaderBytes: 64 << 10,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		log:         cfg.Logger,
		now:         time.Now,
		statusEvery: time.Second,
	}, nil
}

// roundTrip sends one request and returns the bounded body.
func (m *Modem) roundTrip(ctx context.Context, method, path string, form url.Values) ([]byte, error) {
	var body io.Reader
	target := m.base + path
	if method == http.MethodGet {
		target += "?" + form.Encode()
	} else {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Referer", m.referer)
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("answer larger than %d bytes", maxBody)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("http status %s", resp.Status)
	}
	return b, nil
}

func (m *Modem) getJSON(ctx context.Context, q url.Values) (map[string]any, error) {
	q.Set("isTest", "false")
	q.Set("_", strconv.FormatInt(m.now().UnixMilli(), 10))
	b, err := m.roundTrip(ctx, http.MethodGet, "/goform/goform_get_cmd_process", q)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", q.Get("cmd"), err)
	}
	v, err := parseLenientJSON(b)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", q.Get("cmd"), err)
	}
	return v, nil
}

// preLoginKeys are answered without a session (with the Referer).
var preLoginKeys = map[string]bool{
	"loginfo": true, "LD": true, "RD": true, "wa_inner_version": true, "cr_version": true,
	"psw_fail_num_str": true, "login_lock_time": true, "modem_main_state": true, "hardware_version": true,
}

// readKeys reads status keys (multi_data=1) without logging in. The answer
// is blank, "no session", when every key that needs a session came back
// empty (or every key, when none needs one).
func (m *Modem) readKeys(ctx context.Context, keys ...string) (map[string]string, error) {
	v, err := m.getJSON(ctx, url.Values{"cmd": {strings.Join(keys, ",")}, "multi_data": {"1"}})
	if err != nil {
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
		return out, fmt.Errorf("get %s: %w", strings.Join(keys, ","), errBlank)
	}
	return out, nil
}

// withSession runs op, and when the modem answers blank, logs in once and
// runs op once more.
func (m *Modem) withSession(ctx context.Context, op func() error) error {
	err := op()
	if !errors.Is(err, errBlank) && !errors.Is(err, errRefused) {
		return err
	}
	if errors.Is(err, errRefused) {
		// A refused action is a session problem only if the session is gone,
		// which keys that need a session tell: they come back blank. (Not
		// loginfo: datacard sticks never say "ok" there.)
		if _, ierr := m.readKeys(ctx, "sms_unread_num", "ppp_status"); !errors.Is(ierr, errBlank) {
			return err
		}
	}
	if lerr := m.login(ctx); lerr != nil {
		return fmt.Errorf("%w (and %w)", err, lerr)
	}
	return op()
}

// Keys reads status keys, logging in when needed.
func (m *Modem) Keys(ctx context.Context, keys ...string) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out map[string]string
	err := m.withSession(ctx, func() (err error) {
		out, err = m.readKeys(ctx, keys...)
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
		Connected: k["ppp_status"] == "ppp_connected" && k["signalbar"] != "0" && k["network_type"] != "no_service",
		// Blank: firmware that does not say; the other keys will tell.
		SIMReady:   state == "" || state == "modem_init_complete",
		Registered: k["network_type"] != "" && k["network_type"] != "no_service" && k["signalbar"] != "0",
		DataUp:     ppp == "ppp_connected" || ppp == "ipv6_connected" || ppp == "ipv4_ipv6_connected",
	}, nil
}

// Status reads what a status report needs.
func (m *Modem) Status(ctx context.Context) (map[string]string, error) {
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
	err := m.withSession(ctx, func() error {
		v, err := m.getJSON(ctx, url.Values{"cmd": {"sms_capacity_info"}})
		if err != nil {
			return err
		}
		total, _ := v["sms_nv_total"].(string)
		used, _ := v["sms_nvused_total"].(string)
		if total == "" && used == "" {
			return fmt.Errorf("sms capacity: %w", errBlank)
		}
		c.Total, _ = strconv.Atoi(strings.TrimSpace(total))
		c.Used, _ = strconv.Atoi(strings.TrimSpace(used))
		return nil
	})
	return c, err
}

const inboxPage = 100

// Inbox lists every message in device memory and on the SIM, oldest first.
func (m *Modem) Inbox(ctx context.Context) ([]SMS, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []SMS
	for _, store := range []struct{ mem, name string }{{"1", "device"}, {"0", "sim"}} {
		// A full device holds a few hundred records; more pages than this
		// means the modem is answering nonsense.
		for page := 0; page < 20; page++ {
			var msgs []SMS
			err := m.withSession(ctx, func() (err error) {
				msgs, err = m.listPage(ctx, store.mem, store.name, page)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("list %s sms: %w", store.name, err)
			}
			all = append(all, msgs...)
			if len(msgs) < inboxPage {
				break
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	// A record that moved between pages while listing shows up twice.
	out := all[:0]
	for i, s := range all {
		if i == 0 || s.ID != all[i-1].ID {
			out = append(out, s)
		}
	}
	return out, nil
}

func (m *Modem) listPage(ctx context.Context, mem, store string, page int) ([]SMS, error) {
	v, err := m.getJSON(ctx, url.Values{
		"cmd":           {"sms_data_total"},
		"page":          {strconv.Itoa(page)},
		"data_per_page": {strconv.Itoa(inboxPage)},
		"mem_store":     {mem},
		"tags":          {"10"},
		"order_by":      {"order by id desc"},
	})
	if err != nil {
		return nil, err
	}
	raw, ok := v["messages"]
	if !ok {
		return nil, errBlank
	}
	list, _ := raw.([]any)
	out := make([]SMS, 0, len(list))
	for _, item := range list {
		rec, _ := item.(map[string]any)
		if rec == nil {
			continue
		}
		if s, ok := decodeRecord(rec, store); ok {
			out = append(out, s)
		}
	}
	return out, nil
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
// one, and reads its {"result": ...}.
func (m *Modem) post(ctx context.Context, goformID string, form url.Values) (string, error) {
	form.Set("isTest", "false")
	form.Set("goformId", goformID)
	if goformID != "LOGIN" && goformID != "LOGIN_MULTI_USER" {
		ad, err := m.adToken(ctx)
		if err != nil {
			return "", fmt.Errorf("%s: %w", goformID, err)
		}
		if ad != "" {
			form.Set("AD", ad)
		}
	}
	b, err := m.roundTrip(ctx, http.MethodPost, "/goform/goform_set_cmd_process", form)
	if err != nil {
		return "", fmt.Errorf("%s: %w", goformID, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return "", fmt.Errorf("%s: empty answer: %w", goformID, errRefused)
	}
	v, err := parseLenientJSON(b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", goformID, err)
	}
	res, _ := v["result"].(string)
	return strings.TrimSpace(res), nil
}

// action posts goformID and requires "success". Firmware that wants an AD
// token may want it as MD5 or SHA256; a refusal under one form is retried
// once under the other, and the form that works is kept.
func (m *Modem) action(ctx context.Context, goformID string, form url.Values) error {
	return m.withSession(ctx, func() error {
		res, err := m.post(ctx, goformID, cloneValues(form))
		if err == nil && res == "success" {
			return nil
		}
		if (m.adHash == "md5" || m.adHash == "sha256") && (err == nil || errors.Is(err, errRefused)) {
			prev := m.adHash
			m.adHash = map[string]string{"md5": "sha256", "sha256": "md5"}[prev]
			res, err = m.post(ctx, goformID, cloneValues(form))
			if err == nil && res == "success" {
				m.log.Info("modem wants the other AD token form", "ad", m.adHash)
				return nil
			}
			m.adHash = prev
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("%s: result %q: %w", goformID, res, errRefused)
	})
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+3)
	for k, s := range v {
		out[k] = append([]string(nil), s...)
	}
	return out
}

func (m *Modem) loadVersions(ctx context.Context) error {
	if m.versions != nil {
		return nil
	}
	k, err := m.readKeys(ctx, "wa_inner_version", "cr_version", "hardware_version")
	if err != nil && !errors.Is(err, errBlank) {
		return err
	}
	m.versions = k
	return nil
}

// adToken returns the AD value for the next action, or "" where the firmware
// uses none (it hands out no RD).
func (m *Modem) adToken(ctx context.Context) (string, error) {
	if m.adHash == "none" {
		return "", nil
	}
	v, err := m.getJSON(ctx, url.Values{"cmd": {"RD"}})
	if err != nil {
		return "", fmt.Errorf("read RD: %w", err)
	}
	rd, _ := v["RD"].(string)
	if rd == "" {
		m.adHash = "none"
		return "", nil
	}
	if err := m.loadVersions(ctx); err != nil {
		return "", err
	}
	if m.adHash == "" {
		m.adHash = "md5"
		for _, model := range []string{"MC888", "MC889", "MF297D"} {
			if strings.Contains(strings.ToUpper(m.versions["wa_inner_version"]+m.versions["hardware_version"]), model) {
				m.adHash = "sha256"
			}
		}
	}
	return adToken(m.adHash, m.versions["wa_inner_version"], m.versions["cr_version"], rd), nil
}

// adToken is hash(hash(wa_inner_version + cr_version) + RD), lower-case hex.
func adToken(hash, inner, cr, rd string) string {
	h := func(s string) string {
		if hash == "sha256" {
			sum := sha256.Sum256([]byte(s))
			return hex.EncodeToString(sum[:])
		}
		sum := md5.Sum([]byte(s))
		return hex.EncodeToString(sum[:])
	}
	return h(h(inner+cr) + rd)
}

// loginPassword is the password field for the detected firmware: salted with
// LD where the modem hands one out, SHA256 of base64 on MF286D, base64
// otherwise.
func loginPassword(password, ld, model string) (value, scheme string) {
	b64 := base64.StdEncoding.EncodeToString([]byte(password))
	upperSHA := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return strings.ToUpper(hex.EncodeToString(sum[:]))
	}
	switch {
	case ld != "":
		return upperSHA(upperSHA(password) + ld), "sha256+LD"
	case strings.Contains(strings.ToUpper(model), "MF286"):
		return upperSHA(b64), "sha256(base64)"
	}
	return b64, "base64"
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

func (m *Modem) login(ctx context.Context) error {
	if h := m.loginHold; h != nil && (h.RetryAfter.IsZero() || m.now().Before(h.RetryAfter)) {
		return h
	}
	k, err := m.readKeys(ctx, "loginfo", "psw_fail_num_str", "login_lock_time", "wa_inner_version", "cr_version", "hardware_version")
	if err != nil && !errors.Is(err, errBlank) {
		return fmt.Errorf("login: %w", err)
	}
	m.versions = map[string]string{"wa_inner_version": k["wa_inner_version"], "cr_version": k["cr_version"], "hardware_version": k["hardware_version"]}
	if k["loginfo"] == "ok" {
		m.loginHold = nil
		return nil
	}
	lock := defaultLockPeriod
	if s, err := strconv.Atoi(k["login_lock_time"]); err == nil && s > 0 {
		lock = time.Duration(s) * time.Second
	}
	left := -1
	if n, err := strconv.Atoi(k["psw_fail_num_str"]); err == nil {
		left = n
	}
	hold := func(reason string, after time.Duration, loud bool) error {
		m.loginHold = &LoginError{Reason: reason, AttemptsLeft: left, RetryAfter: m.now().Add(after)}
		if loud {
			m.log.Error("MODEM LOGIN HELD: fix -password; smsgate will not spend the owner's attempts",
				"reason", reason, "attempts_left", left, "retry_after", m.loginHold.RetryAfter.Format(time.RFC3339))
		}
		return m.loginHold
	}
	if m.password == "" {
		return hold("the modem asks for a password and none is set (-password or SMSGATE_PASSWORD)", lock, true)
	}
	if left >= 0 && left <= reservedAttempts {
		return hold(fmt.Sprintf("only %d attempts left, kept for the owner", left), lock, true)
	}
	if left < 0 && m.rejected >= maxAttempts-reservedAttempts {
		// The modem does not count for us: stop before what would be the
		// owner's last two attempts, until smsgate is restarted.
		m.loginHold = &LoginError{Reason: fmt.Sprintf("%d refused logins and the modem does not say how many attempts are left; restart smsgate after fixing -password", m.rejected), AttemptsLeft: -1}
		m.log.Error("MODEM LOGIN HELD", "reason", m.loginHold.Reason)
		return m.loginHold
	}
	ldv, err := m.getJSON(ctx, url.Values{"cmd": {"LD"}})
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	ld, _ := ldv["LD"].(string)
	pw, scheme := loginPassword(m.password, strings.TrimSpace(ld), k["hardware_version"]+" "+k["wa_inner_version"])
	form := url.Values{"password": {pw}}
	id := "LOGIN"
	if m.user != "" {
		id = "LOGIN_MULTI_USER"
		form.Set("user", m.user)
	}
	res, err := m.post(ctx, id, form)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	switch res {
	case "0", "4":
		m.loginHold, m.rejected = nil, 0
		m.log.Info("modem login", "scheme", scheme, "user", m.user)
		return nil
	case "2":
		return hold("another user is logged in to the modem's web UI", time.Minute, false)
	case "3":
		m.rejected++
		if left > 0 {
			left--
		}
		return hold("wrong password", lock, true)
	}
	m.rejected++
	if left > 0 {
		left--
	}
	return hold(fmt.Sprintf("modem answered %q", res), lock, true)
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
	if err := m.waitCmdStatus(ctx, "6", 15*time.Second); err != nil {
		return fmt.Errorf("delete sms %s: %w", idList(ids), err)
	}
	return nil
}

// Send sends an SMS and returns once the modem reports it sent.
func (m *Modem) Send(ctx context.Context, number, text string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	form := url.Values{
		"notCallback": {"true"},
		"Number":      {number},
		"sms_time":    {formatSMSTime(m.now())},
		"MessageBody": {encodeContent(text)},
		"ID":          {"-1"},
		"encode_type": {smsEncoding(text)},
	}
	if err := m.action(ctx, "SEND_SMS", form); err != nil {
		return fmt.Errorf("send sms to %s: %w", number, err)
	}
	if err := m.waitCmdStatus(ctx, "4", 60*time.Second); err != nil {
		return fmt.Errorf("send sms to %s: %w", number, err)
	}
	return nil
}

// waitCmdStatus polls sms_cmd_status_info until the command is done: "3"
// means done, "2" failed.
func (m *Modem) waitCmdStatus(ctx context.Context, cmd string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
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
		case <-time.After(m.statusEvery):
		}
	}
}

// Reboot asks the modem to reboot.
func (m *Modem) Reboot(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.action(ctx, "REBOOT_DEVICE", url.Values{"notCallback": {"true"}}); err != nil {
		return fmt.Errorf("reboot modem: %w", err)
	}
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
	if _, err := m.waitPPP(ctx, "ppp_disconnected", 10*time.Second); err != nil {
		m.log.Warn("modem did not report disconnected", "err", err)
	}
	if err := m.action(ctx, "CONNECT_NETWORK", url.Values{"notCallback": {"true"}}); err != nil {
		return "", fmt.Errorf("reconnect: %w", err)
	}
	return m.waitPPP(ctx, "ppp_connected", 20*time.Second)
}

func (m *Modem) waitPPP(ctx context.Context, want string, limit time.Duration) (string, error) {
	deadline := m.now().Add(limit)
	for {
		var k map[string]string
		err := m.withSession(ctx, func() (err error) {
			k, err = m.readKeys(ctx, "ppp_status")
			return err
		})
		if err == nil && k["ppp_status"] == want {
			return want, nil
		}
		if m.now().After(deadline) {
			last := ""
			if k != nil {
				last = k["ppp_status"]
			}
			return last, fmt.Errorf("ppp_status %q after %s, want %s", last, limit, want)
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
// `"$1"` does, written out because package regexp costs the arm binary
// about 260 KB (BENCHMARKS.md; FuzzUndoubleQuotes checks they agree).
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
	var v map[string]any
	if err := json.Unmarshal(b, &v); err == nil {
		return v, nil
	}
	fixed := bytes.Map(func(r rune) rune {
		if r < 0x20 {
			return ' '
		}
		return r
	}, b)
	fixed = undoubleQuotes(fixed)
	if err := json.Unmarshal(fixed, &v); err != nil {
		return nil, fmt.Errorf("malformed JSON answer: %w", err)
	}
	return v, nil
}
