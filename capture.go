package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// captureFormat names the capture file layout; replay refuses others.
const captureFormat = "smsgate-capture/1"

// Capture is what `smsgate doctor -capture FILE` writes: every request the
// client made and every answer the modem gave, redacted so that it can be
// attached to a public bug report, and what the client detected. `smsgate
// sim -replay FILE` serves a modem that answers like it.
type Capture struct {
	Format string    `json:"format"`
	Taken  time.Time `json:"taken"`
	// Detected is what the client found out about the firmware (login
	// scheme, AD form, and how each was found).
	Detected  map[string]string `json:"detected,omitempty"`
	Exchanges []Exchange        `json:"exchanges"`
	// Report is doctor's output, scrubbed like the answers.
	Report []string `json:"report,omitempty"`
}

// Exchange is one request and the modem's answer.
type Exchange struct {
	Seq    int               `json:"seq"`
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Query  map[string]string `json:"query,omitempty"`
	Form   map[string]string `json:"form,omitempty"`
	// Sent is the body of a request that was XML (HiLink), redacted like
	// an XML answer.
	Sent string `json:"sent,omitempty"`
	// Call is a JSON-RPC request (ZTE ubus), redacted (capture_ubus.go).
	Call json.RawMessage `json:"call,omitempty"`
	// SentCookies are the names of the cookies the client sent.
	SentCookies []string `json:"sent_cookies,omitempty"`
	Status      int      `json:"status,omitempty"`
	// Header holds Content-Type, Server, Location (path only) and
	// Set-Cookie (cookie names only).
	Header map[string]string `json:"header,omitempty"`
	// Kind is how the answer looked: json, json-repaired (doubled quotes or
	// raw control characters), empty, html, malformed, cut (the connection
	// ended early), error (no answer).
	Kind string `json:"kind"`
	// Body is the answer with every value outside a list of harmless keys
	// replaced, when it parsed as JSON; Text is a scrubbed excerpt otherwise.
	Body   json.RawMessage `json:"body,omitempty"`
	Text   string          `json:"text,omitempty"`
	Error  string          `json:"error,omitempty"`
	Millis int64           `json:"ms"`
}

// errLoginBudget stops a second login attempt in a doctor run: doctor
// spends at most one of the owner's attempts.
var errLoginBudget = errors.New("doctor spends at most one login attempt; a second one was not sent")

// recorder sits between the client and the network. It records exchanges
// for a capture, and it refuses to send a login after one was refused.
type recorder struct {
	next    webTransport
	capture bool
	now     func() time.Time

	mu        sync.Mutex
	exchanges []Exchange
	// loginResults are the results of the logins sent, in order.
	loginResults []string
	// blocked counts logins not sent because one was already refused.
	blocked int
	// tokens are secrets seen on the wire that the structural redaction
	// leaves out (ubus sessions, salt, wrapped key...): MarshalCapture
	// removes them once more from the whole file.
	tokens []string
}

func newRecorder(next webTransport, capture bool) *recorder {
	return &recorder{next: next, capture: capture, now: time.Now}
}

func isLoginForm(form url.Values) bool {
	id := form.Get("goformId")
	return id == "LOGIN" || id == "LOGIN_MULTI_USER"
}

func (r *recorder) exchange(ctx context.Context, req *webRequest) (*webAnswer, error) {
	login := isLoginForm(req.Form) || isUbusLogin(req)
	r.mu.Lock()
	refused := 0
	for _, res := range r.loginResults {
		if res != "0" && res != "4" {
			refused++
		}
	}
	if login && refused > 0 {
		r.blocked++
		r.mu.Unlock()
		return nil, errLoginBudget
	}
	r.mu.Unlock()

	start := r.now()
	ans, err := r.next.exchange(ctx, req)
	r.mu.Lock()
	defer r.mu.Unlock()
	if login {
		res := "(no answer)"
		if err == nil && ans.BodyErr == nil {
			res = "(unreadable)"
			if req.Path == ubusPath {
				res = ubusLoginResult(ans.Body)
			} else if v, perr := parseLenientJSON(ans.Body); perr == nil {
				s, _ := v["result"].(string)
				res = strings.TrimSpace(s)
			} else if len(bytes.TrimSpace(ans.Body)) == 0 {
				res = ""
			}
		}
		// An attempt whose answer never came may still have been counted by
		// the modem: it counts as refused.
		r.loginResults = append(r.loginResults, res)
	}
	if r.capture {
		r.exchanges = append(r.exchanges, captureExchange(len(r.exchanges)+1, req, ans, err, r.now().Sub(start)))
		if req.Path == ubusPath {
			got := ans
			if err != nil {
				got = nil
			}
			r.tokens = append(r.tokens, ubusCaptureTokens(req, got)...)
		}
	}
	return ans, err
}

// Logins returns the results of the logins sent, and how many were held
// back.
func (r *recorder) Logins() (results []string, blocked int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.loginResults...), r.blocked
}

// Tokens returns the secrets seen on the wire that MarshalCapture removes
// once more.
func (r *recorder) Tokens() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.tokens...)
}

// Exchanges returns the recorded exchanges.
func (r *recorder) Exchanges() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Exchange(nil), r.exchanges...)
}

func captureExchange(seq int, req *webRequest, ans *webAnswer, err error, took time.Duration) Exchange {
	e := Exchange{Seq: seq, Method: req.Method, Path: req.Path, Millis: took.Milliseconds()}
	e.Query = redactParams(req.Query)
	e.Form = redactParams(req.Form)
	for _, h := range req.Header {
		if h[0] == "Cookie" {
			for _, c := range strings.Split(h[1], ";") {
				name, _, _ := strings.Cut(strings.TrimSpace(c), "=")
				e.SentCookies = append(e.SentCookies, scrubText(name))
			}
		}
	}
	if err != nil {
		captureXML(&e, req, nil)
		captureUbus(&e, req, nil)
		e.Kind, e.Error = "error", scrubText(err.Error())
		return e
	}
	e.Status = ans.Status
	e.Header = map[string]string{}
	for h, name := range map[string]string{"content-type": "Content-Type", "server": "Server"} {
		if v := ans.Header[h]; v != "" {
			e.Header[name] = scrubText(v)
		}
	}
	if loc := ans.Header["location"]; loc != "" {
		if u, err := url.Parse(loc); err == nil {
			e.Header["Location"] = scrubText(u.Path)
		} else {
			e.Header["Location"] = "<redacted>"
		}
	}
	var names []string
	for _, c := range ans.SetCookies {
		name, _, _ := strings.Cut(c, "=")
		names = append(names, scrubText(strings.TrimSpace(name)))
	}
	if len(names) > 0 {
		e.Header["Set-Cookie"] = strings.Join(names, ",")
	}
	e.Kind, e.Body, e.Text = redactBody(ans.Body)
	if req.Path == configJSPath && e.Kind != "html" && e.Kind != "empty" && ans.Status == 200 {
		// The web UI's settings file: only the login settings are kept.
		e.Kind, e.Body, e.Text = "config.js", nil, configJSSettings(ans.Body)
	}
	captureXML(&e, req, ans)
	captureUbus(&e, req, ans)
	if ans.BodyErr != nil {
		e.Kind = "cut"
		e.Error = scrubText(ans.BodyErr.Error())
	}
	return e
}

// paramsKept are request parameters whose values say nothing about the
// owner: what was asked, never who or what was written.
var paramsKept = map[string]bool{
	"cmd": true, "multi_data": true, "isTest": true, "page": true, "data_per_page": true, "mem_store": true,
	"tags": true, "order_by": true, "sms_cmd": true, "goformId": true, "notCallback": true, "encode_type": true,
	"ID": true, "_": true, "AD": true, "msg_id": true, "tag": true, "sms_time": true,
}

func redactParams(v url.Values) map[string]string {
	if len(v) == 0 {
		return nil
	}
	out := make(map[string]string, len(v))
	for k, vs := range v {
		val := strings.Join(vs, ",")
		key := k
		if !paramsKept[k] && scrubText(k) != k {
			key = "<redacted key>"
		}
		switch {
		case val == "":
			out[key] = ""
		case k == "password":
			// The shape tells which scheme the client used; the value is
			// the owner's password, or as good as it.
			out[key] = "<redacted:" + passwordShape(val) + ">"
		case k == "Number":
			out[key] = "<number>"
		case k == "MessageBody":
			out[key] = "<text>"
		case tokenKeys[k]:
			out[key] = redactValue(k, val)
		case k == "_" && strings.Trim(val, "0123456789") == "":
			out[key] = val // the client's cache-buster: a time in ms
		case paramsKept[k]:
			out[key] = scrubText(val)
		default:
			out[key] = "<redacted>"
		}
	}
	return out
}

// passwordShape is the form of a LOGIN password field: enough to tell the
// schemes apart, nothing of the password.
func passwordShape(v string) string {
	switch {
	case len(v) == 64 && isHex(v) && strings.ToUpper(v) == v:
		return "sha256-upper"
	case len(v) == 64 && isHex(v):
		return "sha256-lower"
	}
	if _, err := base64.StdEncoding.DecodeString(v); err == nil {
		return "base64"
	}
	return "other"
}

// answerKept are answer keys whose values are about the firmware and the
// link, never about the owner. Every other value is replaced.
var answerKept = map[string]bool{
	"loginfo": true, "psw_fail_num_str": true, "login_lock_time": true, "wa_inner_version": true,
	"cr_version": true, "hardware_version": true, "modem_main_state": true, "ppp_status": true,
	"signalbar": true, "network_type": true, "network_provider": true, "lte_rsrp": true, "lte_rsrq": true,
	"lte_snr": true, "battery_vol_percent": true, "battery_charging": true, "simcard_roam": true,
	"sms_received_flag": true, "sms_unread_num": true, "sms_dev_unread_num": true, "sms_sim_unread_num": true,
	"sms_cmd": true, "sms_cmd_status_result": true, "sms_nv_total": true, "sms_nvused_total": true,
	"sms_nv_rev_total": true, "sms_nv_send_total": true, "sms_nv_draftbox_total": true, "sms_sim_total": true,
	"sms_simused_total": true, "sms_sim_rev_total": true, "sms_sim_send_total": true,
	"sms_sim_draftbox_total": true, "result": true, "id": true, "tag": true, "date": true,
	"draft_group_id": true, "received_all_concat_sms": true, "concat_sms_total": true,
	"concat_sms_received": true, "sms_class": true, "sms_mem": true, "WEB_ATTR_IF_SUPPORT_SHA256": true,
	"HAS_LOGIN": true,
}

// tokenKeys hold random hex tokens: kept when they are nothing else.
var tokenKeys = map[string]bool{"LD": true, "RD": true, "AD": true}

// redactBody turns an answer into what a capture may hold.
func redactBody(b []byte) (kind string, body json.RawMessage, text string) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return "empty", nil, ""
	}
	var v any
	kind = "json"
	if err := json.Unmarshal(t, &v); err != nil {
		m, lerr := parseLenientJSON(t)
		if lerr != nil {
			kind = "malformed"
			if t[0] == '<' {
				kind = "html"
			}
			return kind, nil, scrubUnstructured(string(t))
		}
		v, kind = m, "json-repaired"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(redactJSON("", v)); err != nil {
		return "malformed", nil, scrubUnstructured(string(t))
	}
	return kind, bytes.TrimSpace(buf.Bytes()), ""
}

func redactJSON(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		n := 0
		for k, vv := range x {
			name := k
			if !answerKept[k] && !tokenKeys[k] && scrubText(k) != k {
				n++
				name = fmt.Sprintf("<redacted key %d>", n)
			}
			out[name] = redactJSON(k, vv)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = redactJSON(key, x[i])
		}
		return out
	case string:
		return redactValue(key, x)
	case nil, bool:
		return x
	case float64:
		// A kept key's number is checked as its text would be: an "id" of
		// 21612345678 is a phone number whatever its JSON type.
		if answerKept[key] {
			if t := strconv.FormatFloat(x, 'f', -1, 64); scrubText(t) == t {
				return x
			}
		}
	}
	return "<redacted>"
}

func redactValue(key, s string) string {
	switch {
	case s == "":
		return ""
	case key == "number":
		if t := strings.TrimSpace(s); len(t) >= 8 && len(t)%4 == 0 && isHex(t) {
			return "<number:hex>"
		}
		return "<number>"
	case key == "content":
		return "<text>"
	case key == "result" && redactedPEM(s):
		return "<redacted:pem>"
	case tokenKeys[key]:
		if len(s) <= 128 && isHex(strings.TrimSpace(s)) {
			return s
		}
		return "<redacted>"
	case answerKept[key]:
		return scrubText(s)
	}
	return "<redacted>"
}

// The patterns of scrubText serve capture and doctor only: compiled on
// first use, so the daemon's start does not pay for them.
var (
	// Any dotted quad, also glued to a word ("A10.0.0.1"): a version string
	// with four numbers loses them, an address is never kept.
	ipv4Pattern = lazyRegexp(`\d{1,3}(\.\d{1,3}){3}`)
	ipv6Pattern = lazyRegexp(`(?i)[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}`)
	digitsRun   = lazyRegexp(`\d{5,}`)
	// spacedNumber is a phone number written with separators: +216 12 345 678.
	spacedNumber = lazyRegexp(`\+?\(?\d[\d \-.()/]{5,}\d`)
	hexRun       = lazyRegexp(`(?i)[0-9a-f]{8,}`)
	keyedValue   = lazyRegexp(`"([A-Za-z0-9_]{1,64})"\s*:\s*(""[^",:{}\[\]]+"{0,2}|"(?:[^"\\]|\\.)*"?|[^,}\]\s]*)`)
	wordPattern  = lazyRegexp(`[^\s{}\[\]",:<>=/;'()]+`)
	allHexPrefix = lazyRegexp(`(?i)^[0-9a-f]{4,}$`)
)

// lazyRegexp compiles expr on the first call of the function it returns.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// scrubText removes from free text what could be an address or a number:
// IP addresses, runs of 5 or more digits, runs of 8 or more hex digits.
func scrubText(s string) string {
	s = ipv4Pattern().ReplaceAllString(s, "<ip>")
	s = ipv6Pattern().ReplaceAllStringFunc(s, func(m string) string {
		if strings.Count(m, ":") >= 2 && strings.IndexFunc(m, func(r rune) bool { return r != ':' }) >= 0 {
			return "<ip6>"
		}
		return m
	})
	s = hexRun().ReplaceAllString(s, "<hex>")
	s = spacedNumber().ReplaceAllStringFunc(s, func(m string) string {
		if strings.Count(strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return 'd'
			}
			return -1
		}, m), "d") >= 7 {
			return "<num>"
		}
		return m
	})
	s = digitsRun().ReplaceAllString(s, "<num>")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// maxCapturedText bounds the excerpt of an answer that is not JSON.
const maxCapturedText = 2048

// scrubUnstructured keeps the shape of an answer that did not parse (HTML,
// a cut or garbled JSON) and nothing of its data: values after a key are
// replaced, then every word that holds a digit or looks like hex.
func scrubUnstructured(s string) string {
	s = keyedValue().ReplaceAllStringFunc(s, func(m string) string {
		sub := keyedValue().FindStringSubmatch(m)
		key, val := sub[1], sub[2]
		if (answerKept[key] || tokenKeys[key]) && !redactedPEM(val) {
			return m
		}
		return strings.TrimSuffix(m, val) + `"<redacted>"`
	})
	s = wordPattern().ReplaceAllStringFunc(s, func(w string) string {
		if w == "<redacted>" || strings.HasPrefix(w, "<") {
			return w
		}
		if strings.IndexFunc(w, unicode.IsDigit) >= 0 || allHexPrefix().MatchString(w) || hexRun().MatchString(w) || len(w) > 40 {
			return "#"
		}
		return w
	})
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxCapturedText {
		s = strings.ToValidUTF8(s[:maxCapturedText], "") + "…(cut)"
	}
	return s
}

// scrubMarks removes what the scrubber puts in, to tell how much of a
// string is left of its own.
var scrubMarks = strings.NewReplacer("<num>", "", "<hex>", "", "<ip>", "", "<ip6>", "")

// secretForms are the ways a secret can appear in an answer or a request:
// as is, and, for numbers and texts, as UTF-16BE hex and as bare digits.
func secretForms(password string, secrets []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string, min int) {
		if len(s) >= min && !seen[strings.ToLower(s)] {
			seen[strings.ToLower(s)] = true
			out = append(out, s)
		}
	}
	// The password goes in every form, plain too: it must not survive even
	// where it would break a key name.
	if password != "" {
		forms := []string{password, base64.StdEncoding.EncodeToString([]byte(password)), encodeContent(password),
			// URL-encoded, as a form or a path carries it ($ as %24,
			// space as + or %20): a firmware may echo it in a key, a
			// value or a header.
			url.QueryEscape(password), url.PathEscape(password)}
		for _, f := range forms {
			add(f, 4)
			// And as the scrubber leaves it: the scrubber runs first on
			// the firmware's strings, and its <num> and <hex> cut a
			// password's digits, so that the form above no longer
			// matches what is left of it.
			if sf := scrubText(f); sf != f && len(scrubMarks.Replace(sf)) >= 3 {
				add(sf, 6)
			}
		}
	}
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		// A plain word ("status") would hit key names: plain forms are
		// removed only when they carry a number. The structural redaction
		// covers the rest.
		if digitsRun().MatchString(s) {
			add(s, 6)
		}
		add(base64.StdEncoding.EncodeToString([]byte(s)), 8)
		add(encodeContent(s), 8)
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
		add(digits, 5)
		add(encodeContent(digits), 8)
	}
	// Longest first, so that a hex form is not half-replaced by a shorter
	// secret inside it.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// redactSecrets replaces every known secret, in any of its forms and in
// any case, in s.
func redactSecrets(s, password string, secrets []string) string {
	for _, f := range secretForms(password, secrets) {
		re := regexp.MustCompile(`(?i)` + regexp.QuoteMeta(f))
		s = re.ReplaceAllString(s, "<redacted>")
	}
	// A number written in groups (+216 12 345 678, 8612 3456 7890 123).
	for _, sec := range secrets {
		if re := spacedDigits(sec); re != nil {
			s = re.ReplaceAllString(s, "<redacted>")
		}
	}
	return s
}

// spacedDigits matches the digits of secret with any separators between
// them; nil when it has fewer than 5 digits.
func spacedDigits(secret string) *regexp.Regexp {
	var parts []string
	for _, r := range secret {
		if r >= '0' && r <= '9' {
			parts = append(parts, string(r))
		}
	}
	if len(parts) < 5 {
		return nil
	}
	return regexp.MustCompile(strings.Join(parts, `[\s\-.()/]*`))
}

// scrubCaptureStrings puts through scrubText every string of c that
// captureExchange did not already: what the client detected (keys and
// values), doctor's report, the kept headers. The firmware's version
// strings reach the detected block as they came.
func scrubCaptureStrings(c *Capture) *Capture {
	out := *c
	if c.Detected != nil {
		out.Detected = make(map[string]string, len(c.Detected))
		for k, v := range c.Detected {
			out.Detected[scrubText(k)] = scrubText(v)
		}
	}
	out.Report = make([]string, len(c.Report))
	for i, l := range c.Report {
		out.Report[i] = scrubText(l)
	}
	out.Exchanges = make([]Exchange, len(c.Exchanges))
	for i, e := range c.Exchanges {
		if e.Header != nil {
			h := make(map[string]string, len(e.Header))
			for k, v := range e.Header {
				h[k] = scrubText(v)
			}
			e.Header = h
		}
		out.Exchanges[i] = e
	}
	return &out
}

// MarshalCapture renders a capture, with the known secrets (password,
// numbers and texts doctor saw) removed once more from the whole file.
func MarshalCapture(c *Capture, password string, secrets []string) ([]byte, error) {
	return marshalCaptureTokens(c, password, secrets, nil)
}

// marshalCaptureTokens is MarshalCapture that also removes tokens (the
// recorder's, and the password's hashes) in every form they could be
// written in.
func marshalCaptureTokens(c *Capture, password string, secrets, tokens []string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(scrubCaptureStrings(c)); err != nil {
		return nil, err
	}
	out := redactSecrets(buf.String(), password, secrets)
	out = redactTokens(out, append(tokens, passwordHashes(password)...))
	// The replacement must leave valid JSON: a secret is never a JSON
	// delimiter, but check rather than hand the user a broken file.
	if !json.Valid([]byte(out)) {
		return nil, errors.New("capture: redaction broke the JSON")
	}
	return []byte(out), nil
}

// ReadCapture reads a capture file.
func ReadCapture(b []byte) (*Capture, error) {
	var c Capture
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	if c.Format != captureFormat {
		return nil, fmt.Errorf("capture: format %q, want %q", c.Format, captureFormat)
	}
	return &c, nil
}

const configJSPath = "/js/config/config.js"

// configToken is what a login setting in config.js may be: 2, "2", true, !0.
var configToken = lazyRegexp(`^!?[A-Za-z0-9]{0,8}$`)

// configJSSettings keeps of config.js the settings that decide the login,
// as the firmware wrote them: WEB_ATTR_IF_SUPPORT_SHA256:"2",HAS_LOGIN:true.
func configJSSettings(b []byte) string {
	var out []string
	for _, key := range []string{"WEB_ATTR_IF_SUPPORT_SHA256", "HAS_LOGIN"} {
		v, ok := configValue(b, key)
		if !ok {
			continue
		}
		if !configToken().MatchString(v) {
			v = "<redacted>"
		}
		if _, err := strconv.Atoi(strings.TrimPrefix(v, "!")); err != nil && v != "true" && v != "false" {
			v = strconv.Quote(v)
		}
		out = append(out, key+":"+v)
	}
	return strings.Join(out, ",")
}
