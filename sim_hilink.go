//go:build !nosim

package main

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// HiLinkSim plays a Huawei HiLink device from ../shared/hilink.md, on its
// own: its XML, tokens, hashing and CESU-8 are written here and call none
// of the client's code, so that where the two read the notes differently a
// test fails.
type HiLinkSim struct {
	URL string

	// Knobs: set before Start, or with Configure.
	LockAfter   int           // wrong passwords before the login locks (no HiLink source: 3 here)
	LockFor     time.Duration // how long it stays locked
	SessionIdle time.Duration // a session idle this long is logged out (§5: about 5 minutes)
	// TokensAfterLogin is the length of the '#' list after a type-4 login.
	TokensAfterLogin int
	// NoTokenInAnswers: answers to writes hand out no next token, so
	// that the client must fetch one (token exhaustion).
	NoTokenInAnswers bool
	CountIsPage      bool // sms-list Count is the page's count, not the box's
	Capacity         int  // LocalMax
	// BlankLoginAnswer: the login is judged, but its answer is empty.
	BlankLoginAnswer bool
	// Blank: every answer is an empty 200.
	Blank bool
	// SendFails: send-status reports every send failed.
	SendFails bool
	// MaxSessions is how many logged-in sessions the device keeps; a
	// login beyond them is refused with 108003 (§3.4: sessions pile up
	// without a logout).
	MaxSessions int
	// RebootFor is how long the device is unreachable after a reboot.
	RebootFor time.Duration

	p        hilinkSimPersonality
	password string
	srv      *http.Server
	now      func() time.Time

	mu         sync.Mutex
	sessions   map[string]*hsSession
	tokens     map[string]string // unused token -> session id
	msgs       []*hsMsg
	nextIndex  int64
	sent       []HiLinkSent
	actions    []string
	requests   []HiLinkRequest
	fails      int
	lockedTill time.Time
	dataOn     bool
	linkUp     bool
	sendState  hsSendState
	downTill   time.Time
	// dropped: the data connection fell (the radio stays registered);
	// stuck "reboot": only a device reboot brings it back, not the
	// data switch.
	dropped     bool
	stuck       string
	connecting  bool // the data link says "connecting" (900) and never settles
	failDeletes int  // the next n delete-sms are refused
	logins      int  // login attempts (type-4 posts and SCRAM challenges)

	// ussd: sim_hilink_ussd.go
	ussd hsUSSD
}

type hilinkSimPersonality struct {
	name, model, firmware string
	login                 string // "type4", "scram", "none"
	strict                bool   // order-sensitive, pretty-print refusing (100005)
	// noSesTokInfo: SesTokInfo answers 100002 ("~Valid for: B310s-22",
	// §2); the cookie comes from the home page.
	noSesTokInfo bool
}

var hilinkSimPersonalities = map[string]hilinkSimPersonality{
	"e3372h":        {name: "e3372h", model: "E3372h-320", firmware: "11.0.1.1(H697SP1C983)", login: "type4", strict: true},
	"b618":          {name: "b618", model: "B618s-22d", firmware: "11.0.2.1(H174SP5C983)", login: "scram", strict: true, noSesTokInfo: true},
	"e3372-nologin": {name: "e3372-nologin", model: "E3372h-153", firmware: "22.333.01.00.00", login: "none", strict: true},
}

type hsSession struct {
	loggedIn bool
	last     time.Time
	// challenge of a SCRAM login under way
	cnonce, snonce string
	salt           []byte
	iter           int
}

type hsMsg struct {
	index int64
	from  string
	text  string
	at    time.Time
	read  bool
	multi bool // SmsType 2: a long message the device is still merging
	sim   bool // stored on the SIM (BoxType 5)
}

type hsSendState struct {
	pending, suc, fail string
	reads              int
}

// HiLinkSent is one send-sms the simulator took.
type HiLinkSent struct {
	To, Text string
	Sent     bool // send-status reported it sent
}

// HiLinkRequest is one request the simulator received.
type HiLinkRequest struct {
	Method, Path, Token string
}

// NewHiLinkSim makes a simulator with a personality: e3372h (password
// type 4), b618 (SCRAM) or e3372-nologin.
func NewHiLinkSim(personality, password string) (*HiLinkSim, error) {
	p, ok := hilinkSimPersonalities[personality]
	if !ok {
		names := make([]string, 0, len(hilinkSimPersonalities))
		for n := range hilinkSimPersonalities {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("hilink personality %q: want one of %s", personality, strings.Join(names, ", "))
	}
	return &HiLinkSim{
		LockAfter: 3, LockFor: 5 * time.Minute, SessionIdle: 300 * time.Second, TokensAfterLogin: 30, Capacity: 500,
		MaxSessions: 5,
		p:           p, password: password, now: time.Now,
		sessions: map[string]*hsSession{}, tokens: map[string]string{}, nextIndex: 40000, dataOn: true, linkUp: true,
	}, nil
}

// startHiLinkSim starts a simulator for `smsgate sim` and the demo.
func startHiLinkSim(personality, password, addr string) (string, io.Closer, error) {
	s, err := NewHiLinkSim(personality, password)
	if err != nil {
		return "", nil, err
	}
	if err := s.Start(addr); err != nil {
		return "", nil, err
	}
	return s.URL, s, nil
}

// Start serves on addr, which must be a loopback address.
func (s *HiLinkSim) Start(addr string) error {
	url, srv, err := serveLoopback("hilink sim", addr, s)
	s.URL, s.srv = url, srv
	return err
}

// Close stops the simulator.
func (s *HiLinkSim) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}

// Configure changes the knobs while the simulator serves.
func (s *HiLinkSim) Configure(f func(*HiLinkSim)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// Deliver puts a received SMS in the inbox and returns its Index.
func (s *HiLinkSim) Deliver(from, text string, at time.Time) int64 {
	return s.deliver(from, text, at, false)
}

// DeliverIncomplete puts a long message whose parts the device is still
// merging (SmsType 2; HiLink shows no "incomplete" flag, §6): GrowMessage
// adds the rest later.
func (s *HiLinkSim) DeliverIncomplete(from, text string, at time.Time) int64 {
	return s.deliver(from, text, at, true)
}

// DeliverSIM puts a received SMS in the SIM's inbox (BoxType 5).
func (s *HiLinkSim) DeliverSIM(from, text string, at time.Time) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextIndex++
	s.msgs = append(s.msgs, &hsMsg{index: s.nextIndex, from: from, text: text, at: at, sim: true})
	return s.nextIndex
}

func (s *HiLinkSim) deliver(from, text string, at time.Time, multi bool) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextIndex++
	s.msgs = append(s.msgs, &hsMsg{index: s.nextIndex, from: from, text: text, at: at, multi: multi})
	return s.nextIndex
}

// DeliverUnderIndex stores a message under an Index already listed, as a
// device database that lists one index twice would.
func (s *HiLinkSim) DeliverUnderIndex(index int64, from, text string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, &hsMsg{index: index, from: from, text: text, at: at})
}

// DeliverSIMUnderIndex puts a received SMS in the SIM's inbox under an
// Index the device inbox already lists (no source says both boxes share
// one numbering, nor that they do not).
func (s *HiLinkSim) DeliverSIMUnderIndex(index int64, from, text string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, &hsMsg{index: index, from: from, text: text, at: at, sim: true})
}

// GrowMessage appends a part to a long message.
func (s *HiLinkSim) GrowMessage(id int64, more string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m.index == id {
			m.text += more
		}
	}
}

// Inbox lists the stored indexes.
func (s *HiLinkSim) Inbox() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int64
	for _, m := range s.msgs {
		out = append(out, m.index)
	}
	return out
}

// Unread says whether the message is still unread.
func (s *HiLinkSim) Unread(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m.index == id {
			return !m.read
		}
	}
	return false
}

// Sent is what the simulator was asked to send, in order.
func (s *HiLinkSim) Sent() []HiLinkSent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]HiLinkSent(nil), s.sent...)
}

// Actions are the device actions taken, in order: "reboot", "data off",
// "data on", "logout".
func (s *HiLinkSim) Actions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.actions...)
}

// Requests is every request received, in order.
func (s *HiLinkSim) Requests() []HiLinkRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]HiLinkRequest(nil), s.requests...)
}

// Failures is how many wrong passwords the device has counted.
func (s *HiLinkSim) Failures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fails
}

// SetLink puts the radio link up or down.
func (s *HiLinkSim) SetLink(up bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.linkUp = up
}

// DropData makes the data connection fall (true) while the radio stays
// registered, or brings it back (false); SMS still come and go.
func (s *HiLinkSim) DropData(drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropped = drop
}

// SetConnecting makes the data link answer "connecting" (900) for as long
// as it is set, whatever the switch does: a link that never settles.
func (s *HiLinkSim) SetConnecting(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connecting = on
}

// SetStuck: "" the data switch brings a fallen connection back; "reboot"
// only a device reboot does.
func (s *HiLinkSim) SetStuck(mode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stuck = mode
}

// FailDeletes refuses the next n delete-sms, then obeys.
func (s *HiLinkSim) FailDeletes(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failDeletes = n
}

// Logins counts the login attempts made.
func (s *HiLinkSim) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// CompleteMessage ends the merging of a long message (SmsType 1 again).
func (s *HiLinkSim) CompleteMessage(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m.index == id {
			m.multi = false
		}
	}
}

// SetUnreachable makes the device drop every connection (a power cut, a
// pulled cable) until called with false.
func (s *HiLinkSim) SetUnreachable(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.downTill = time.Time{}
	if down {
		s.downTill = time.Unix(1<<40, 0)
	}
}

// Reboot restarts the device: every session and token is gone.
func (s *HiLinkSim) Reboot() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reboot()
}

func (s *HiLinkSim) reboot() {
	s.sessions, s.tokens = map[string]*hsSession{}, map[string]string{}
	s.dataOn, s.dropped = true, false
}

// ExpireSessions forgets every session, as the device does after an idle
// spell or a reboot.
func (s *HiLinkSim) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions, s.tokens = map[string]*hsSession{}, map[string]string{}
}

// hsAnswer is what one request gets.
type hsAnswer struct {
	body    string
	headers [][2]string
	blank   bool
}

func (s *HiLinkSim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	s.mu.Lock()
	s.requests = append(s.requests, HiLinkRequest{Method: r.Method, Path: r.URL.Path, Token: r.Header.Get("__RequestVerificationToken")})
	if len(s.requests) > 100000 {
		s.requests = s.requests[50000:]
	}
	var a hsAnswer
	down := s.now().Before(s.downTill)
	if s.Blank {
		a.blank = true
	} else if !down {
		a = s.answer(r, body)
	}
	s.mu.Unlock()
	if down {
		// Rebooting: the connection is dropped without an answer.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	for _, h := range a.headers {
		w.Header().Add(h[0], h[1])
	}
	if a.blank {
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("Content-Type", "text/html")
		if a.body == "" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
	} else {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8") // as the devices label their XML
	}
	io.WriteString(w, a.body)
}

const hsHead = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

func hsOK() hsAnswer { return hsAnswer{body: hsHead + "<response>OK</response>"} }

func hsErr(code int) hsAnswer {
	return hsAnswer{body: hsHead + "<error>\n<code>" + strconv.Itoa(code) + "</code>\n<message></message>\n</error>"}
}

// hsResp writes a <response> of name/value pairs, one per line as the
// devices write them; values are escaped here.
func hsResp(pairs ...string) hsAnswer {
	var b strings.Builder
	b.WriteString(hsHead + "<response>\n")
	for i := 0; i+1 < len(pairs); i += 2 {
		b.WriteString("<" + pairs[i] + ">" + hsEscape(pairs[i+1]) + "</" + pairs[i] + ">\n")
	}
	b.WriteString("</response>")
	return hsAnswer{body: b.String()}
}

func hsEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
	return r.Replace(s)
}

func hsRandom(n int) string {
	b := make([]byte, n/2+1)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// session is the request's session, nil when it has none the device knows.
func (s *HiLinkSim) session(r *http.Request) (string, *hsSession) {
	c, err := r.Cookie("SessionID")
	if err != nil {
		return "", nil
	}
	ss := s.sessions[c.Value]
	if ss == nil {
		return "", nil
	}
	if ss.loggedIn && s.now().Sub(ss.last) > s.SessionIdle {
		ss.loggedIn = false
	}
	ss.last = s.now()
	return c.Value, ss
}

func (s *HiLinkSim) newSession(loggedIn bool) string {
	id := hsRandom(64)
	s.sessions[id] = &hsSession{loggedIn: loggedIn, last: s.now()}
	return id
}

func (s *HiLinkSim) issue(sid string) string {
	t := hsRandom(32)
	s.tokens[t] = sid
	return t
}

// open are the reads that need no login.
var hsOpen = map[string]bool{"/api/webserver/SesTokInfo": true, "/api/webserver/token": true,
	"/api/user/state-login": true, "/api/user/hilink_login": true}

func (s *HiLinkSim) answer(r *http.Request, body []byte) hsAnswer {
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		if r.URL.Path == "/" || r.URL.Path == "/html/home.html" {
			sid := s.newSession(false)
			return hsAnswer{body: "<html><head><meta name=\"csrf_token\" content=\"" + s.issue(sid) + "\"></head></html>",
				headers: [][2]string{{"Set-Cookie", "SessionID=" + sid + "; path=/; HttpOnly"}}}
		}
		return hsAnswer{} // 404: /goform/... and the rest
	}
	sid, ss := s.session(r)
	if r.Method == http.MethodPost {
		return s.post(r, body, sid, ss)
	}
	if s.p.login != "none" && !hsOpen[r.URL.Path] && (ss == nil || !ss.loggedIn) {
		return hsErr(100003)
	}
	return s.get(r.URL.Path, sid, ss)
}

func (s *HiLinkSim) get(path, sid string, ss *hsSession) hsAnswer {
	switch path {
	case "/api/webserver/SesTokInfo":
		if s.p.noSesTokInfo {
			return hsErr(100002)
		}
		if ss == nil {
			sid = s.newSession(false)
		}
		return hsResp("SesInfo", "SessionID="+sid, "TokInfo", s.issue(sid))
	case "/api/webserver/token":
		if ss == nil {
			return hsErr(125002)
		}
		t := s.issue(sid) // the last 32 of the 64 are the token (§2)
		return hsResp("token", hsRandom(32)+t)
	case "/api/user/hilink_login":
		if s.p.login == "none" {
			return hsResp("hilink_login", "0")
		}
		return hsResp("hilink_login", "1")
	case "/api/user/state-login":
		return s.stateLogin(ss)
	case "/api/monitoring/check-notifications":
		unread := 0
		for _, m := range s.msgs {
			if !m.read {
				unread++
			}
		}
		full := "0"
		if len(s.msgs) >= s.Capacity {
			full = "1"
		}
		return hsResp("UnreadMessage", strconv.Itoa(unread), "SmsStorageFull", full, "OnlineUpdateStatus", "10")
	case "/api/sms/sms-count":
		unread := 0
		for _, m := range s.msgs {
			if !m.read {
				unread++
			}
		}
		local, simIn, simUnread := 0, 0, 0
		for _, m := range s.msgs {
			if m.sim {
				simIn++
				if !m.read {
					simUnread++
					unread--
				}
			} else {
				local++
			}
		}
		return hsResp("LocalUnread", strconv.Itoa(unread), "LocalInbox", strconv.Itoa(local), "LocalOutbox", strconv.Itoa(len(s.sent)),
			"LocalDraft", "0", "LocalDeleted", "0", "SimUnread", strconv.Itoa(simUnread), "SimInbox", strconv.Itoa(simIn), "SimOutbox", "0", "SimDraft", "0",
			"LocalMax", strconv.Itoa(s.Capacity), "SimMax", "0", "SimUsed", "0", "NewMsg", "0")
	case "/api/sms/send-status":
		st := &s.sendState
		st.reads++
		if st.pending != "" && st.reads >= 2 {
			if s.SendFails {
				st.fail = st.pending
			} else {
				st.suc = st.pending
				for i := range s.sent {
					if !s.sent[i].Sent && s.sent[i].To == st.pending {
						s.sent[i].Sent = true
					}
				}
			}
			st.pending = ""
		}
		return hsResp("Phone", st.pending, "SucPhone", st.suc, "FailPhone", st.fail, "TotalCount", "1", "CurIndex", "0")
	case "/api/monitoring/status":
		conn, icon, nt := "902", "0", "0"
		if s.linkUp {
			icon, nt = "4", "19"
			if s.dataOn && !s.dropped {
				conn = "901"
			}
			if s.connecting {
				conn = "900"
			}
		}
		return hsResp("ConnectionStatus", conn, "WifiConnectionStatus", "", "SignalStrength", "", "SignalIcon", icon,
			"CurrentNetworkType", nt, "CurrentServiceDomain", "3", "RoamingStatus", "0", "BatteryStatus", "", "BatteryLevel", "",
			"BatteryPercent", "", "simlockStatus", "0", "WanIPAddress", "10.64.64.64", "PrimaryDns", "10.11.12.13",
			"SecondaryDns", "10.11.12.14", "CurrentWifiUser", "0", "TotalWifiUser", "0", "ServiceStatus", "2", "SimStatus", "1",
			"WifiStatus", "", "CurrentNetworkTypeEx", "101", "maxsignal", "5", "flymode", "0")
	case "/api/pin/status":
		return hsResp("SimState", "257", "PinOptState", "258", "SimPinTimes", "3", "SimPukTimes", "10")
	case "/api/net/current-plmn":
		return hsResp("State", "0", "FullName", "Sim Telecom", "ShortName", "SimTel", "Numeric", "00101", "Rat", "7")
	case "/api/device/signal":
		return hsResp("pci", "12", "cell_id", "1234", "rssi", "-65dBm", "rsrp", "-95dBm", "rsrq", "-10dB", "sinr", "8dB")
	case "/api/device/information":
		return hsResp("DeviceName", s.p.model, "SerialNumber", "L8FDW1234567890", "Imei", "861234567890123", "Imsi", "001010123456789",
			"Iccid", "8901010123456789012", "Msisdn", "", "HardwareVersion", "CL2E3372HM", "SoftwareVersion", s.p.firmware,
			"WebUIVersion", "17.100.13.01.03-Mod1.2", "MacAddress1", "00:1E:10:1F:00:00", "ProductFamily", "LTE", "Classify", "hilink",
			"workmode", "LTE")
	case "/api/dialup/mobile-dataswitch":
		if s.dataOn {
			return hsResp("dataswitch", "1")
		}
		return hsResp("dataswitch", "0")
	}
	if a, ok := s.ussdGet(path); ok {
		return a
	}
	return hsErr(100002)
}

func (s *HiLinkSim) stateLogin(ss *hsSession) hsAnswer {
	state := "-1"
	if ss != nil && ss.loggedIn {
		state = "0"
	}
	lock, wait := "0", "0"
	if s.now().Before(s.lockedTill) {
		lock, wait = "1", strconv.Itoa(int(s.lockedTill.Sub(s.now()).Minutes())+1)
	}
	ptype, extern := "4", "0"
	if s.p.login == "scram" {
		extern = "1"
	}
	return hsResp("State", state, "Username", "", "password_type", ptype, "extern_password_type", extern, "firstlogin", "1",
		"history_login_flag", "0", "lockstatus", lock, "accounts_number", "1", "rsapadingtype", "1", "remainwaittime", wait,
		"wifipwdsamewithwebpwd", "0", "userlevel", "")
}

// hsOrder is the element order strict firmware expects (§1, §6, §3).
var hsOrder = map[string][]string{
	"/api/user/login":                {"Username", "Password", "password_type"},
	"/api/user/challenge_login":      {"username", "firstnonce", "mode"},
	"/api/user/authentication_login": {"clientproof", "finalnonce"},
	"/api/sms/sms-list":              {"PageIndex", "ReadCount", "BoxType", "SortType", "Ascending", "UnreadPreferred"},
	"/api/sms/send-sms":              {"Index", "Phones", "Sca", "Content", "Length", "Reserved", "Date"},
}

// hsFields reads a request body's <request> children, in order. ok is
// false for what strict firmware refuses: pretty-printing or no <request>.
func (s *HiLinkSim) hsFields(body string) (names, values []string, ok bool) {
	if s.p.strict {
		for i := strings.IndexByte(body, '>'); i >= 0 && i+1 < len(body); {
			j := i + 1
			for j < len(body) && strings.IndexByte(" \t\r\n", body[j]) >= 0 {
				j++
			}
			if j > i+1 && j < len(body) && body[j] == '<' {
				return nil, nil, false
			}
			next := strings.IndexByte(body[j:], '>')
			if next < 0 {
				break
			}
			i = j + next
		}
	}
	start := strings.Index(body, "<request>")
	end := strings.LastIndex(body, "</request>")
	if start < 0 || end < start {
		return nil, nil, false
	}
	in := body[start+len("<request>") : end]
	for len(in) > 0 {
		in = strings.TrimLeft(in, " \t\r\n")
		if in == "" || in[0] != '<' {
			break
		}
		gt := strings.IndexByte(in, '>')
		if gt < 0 {
			return nil, nil, false
		}
		name := in[1:gt]
		if strings.HasSuffix(name, "/") {
			names, values = append(names, strings.TrimSuffix(name, "/")), append(values, "")
			in = in[gt+1:]
			continue
		}
		closeTag := "</" + name + ">"
		ce := strings.Index(in, closeTag)
		if ce < 0 {
			return nil, nil, false
		}
		names, values = append(names, name), append(values, in[gt+1:ce])
		in = in[ce+len(closeTag):]
	}
	return names, values, true
}

func hsUnescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&apos;", "'", "&amp;", "&").Replace(s)
}

func (s *HiLinkSim) post(r *http.Request, raw []byte, sid string, ss *hsSession) hsAnswer {
	names, values, ok := s.hsFields(string(raw))
	if !ok {
		return hsErr(100005)
	}
	if want, has := hsOrder[r.URL.Path]; has && s.p.strict && !hsSameOrder(names, want) {
		return hsErr(100005)
	}
	f := map[string]string{}
	for i, n := range names {
		f[n] = values[i]
	}
	if ss == nil {
		return hsErr(125003)
	}
	tok := r.Header.Get("__RequestVerificationToken")
	if tok == "" {
		return hsErr(125001)
	}
	if s.tokens[tok] != sid {
		return hsErr(125002) // used, or never handed out for this session
	}
	delete(s.tokens, tok)
	var a hsAnswer
	switch r.URL.Path {
	case "/api/user/login":
		s.logins++
		return s.loginType4(f, tok)
	case "/api/user/challenge_login":
		s.logins++
		return s.challenge(f, sid, ss)
	case "/api/user/authentication_login":
		return s.authenticate(f, sid, ss)
	case "/api/user/logout":
		ss.loggedIn = false
		s.actions = append(s.actions, "logout")
		a = hsOK()
	default:
		if s.p.login != "none" && !ss.loggedIn {
			return hsErr(100003)
		}
		a = s.act(r.URL.Path, f, names, values)
	}
	if !s.NoTokenInAnswers {
		a.headers = append(a.headers, [2]string{"__RequestVerificationToken", s.issue(sid)})
	}
	return a
}

func hsSameOrder(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// act carries out the writes every personality shares.
func (s *HiLinkSim) act(path string, f map[string]string, names, values []string) hsAnswer {
	switch path {
	case "/api/sms/sms-list":
		return s.list(f)
	case "/api/sms/delete-sms", "/api/sms/set-read":
		id, err := strconv.ParseInt(f["Index"], 10, 64)
		if err != nil {
			return hsErr(100006)
		}
		if path == "/api/sms/delete-sms" && s.failDeletes > 0 {
			s.failDeletes--
			return hsErr(100001) // unknown error: the device refused
		}
		for i, m := range s.msgs {
			if m.index == id {
				if path == "/api/sms/set-read" {
					m.read = true
				} else {
					s.msgs = append(s.msgs[:i], s.msgs[i+1:]...)
				}
				return hsOK()
			}
		}
		return hsErr(113036)
	case "/api/sms/send-sms":
		to := f["Phones"]
		to = strings.TrimSuffix(strings.TrimPrefix(to, "<Phone>"), "</Phone>")
		text, ok := hsFromCESU8(hsUnescape(f["Content"]))
		if !ok || to == "" {
			return hsErr(100006)
		}
		s.sent = append(s.sent, HiLinkSent{To: hsUnescape(to), Text: text})
		s.sendState = hsSendState{pending: hsUnescape(to)}
		return hsOK()
	case "/api/device/control":
		if f["Control"] != "1" {
			return hsErr(100006)
		}
		s.actions = append(s.actions, "reboot")
		s.reboot()
		s.downTill = s.now().Add(s.RebootFor)
		return hsOK()
	case "/api/dialup/mobile-dataswitch":
		switch f["dataswitch"] {
		case "0":
			s.dataOn = false
			s.actions = append(s.actions, "data off")
		case "1":
			s.dataOn = true
			s.dropped = s.dropped && s.stuck == "reboot"
			s.actions = append(s.actions, "data on")
		default:
			return hsErr(100006)
		}
		return hsOK()
	}
	if a, ok := s.ussdPost(path, f, names); ok {
		return a
	}
	return hsErr(100002)
}

// list answers sms-list for the local inbox (BoxType 1); other boxes are
// empty here.
func (s *HiLinkSim) list(f map[string]string) hsAnswer {
	page, _ := strconv.Atoi(f["PageIndex"])
	count, _ := strconv.Atoi(f["ReadCount"])
	if page < 1 || count < 1 || count > 50 {
		return hsErr(100006)
	}
	var box []*hsMsg
	for _, m := range s.msgs {
		if (f["BoxType"] == "1" && !m.sim) || (f["BoxType"] == "5" && m.sim) {
			box = append(box, m)
		}
	}
	sort.SliceStable(box, func(i, j int) bool { return box[i].at.After(box[j].at) })
	from := min((page-1)*count, len(box))
	pg := box[from:min(from+count, len(box))]
	total := len(box)
	if s.CountIsPage {
		total = len(pg)
	}
	var b strings.Builder
	b.WriteString(hsHead + "<response>\n<Count>" + strconv.Itoa(total) + "</Count>\n<Messages>\n")
	for _, m := range pg {
		stat, typ := "0", "1"
		if m.read {
			stat = "1"
		}
		if m.multi {
			typ = "2"
		}
		fmt.Fprintf(&b, "<Message>\n<Smstat>%s</Smstat>\n<Index>%d</Index>\n<Phone>%s</Phone>\n<Content>%s</Content>\n<Date>%s</Date>\n<Sca></Sca>\n<SaveType>4</SaveType>\n<Priority>0</Priority>\n<SmsType>%s</SmsType>\n</Message>\n",
			stat, m.index, hsEscape(m.from), hsToCESU8(hsEscape(m.text)), m.at.Format("2006-01-02 15:04:05"), typ)
	}
	b.WriteString("</Messages>\n</response>")
	return hsAnswer{body: b.String()}
}

// hsToCESU8 writes characters beyond the BMP as two 3-byte surrogates,
// as the devices do (§1).
func hsToCESU8(s string) string {
	var out []byte
	for _, c := range s {
		if c < 0x10000 {
			out = utf8.AppendRune(out, c)
			continue
		}
		hi, lo := utf16.EncodeRune(c)
		for _, u := range [2]rune{hi, lo} {
			out = append(out, byte(0xE0|u>>12), byte(0x80|(u>>6)&0x3F), byte(0x80|u&0x3F))
		}
	}
	return string(out)
}

// hsFromCESU8 reads what a client sent: UTF-8, with surrogate pairs
// written as CESU-8 joined back. ok is false for other invalid bytes.
func hsFromCESU8(s string) (string, bool) {
	b := []byte(s)
	var out []rune
	for i := 0; i < len(b); {
		if i+6 <= len(b) && b[i] == 0xED && b[i+1]&0xF0 == 0xA0 && b[i+3] == 0xED && b[i+4]&0xF0 == 0xB0 {
			hi := rune(b[i]&0x0F)<<12 | rune(b[i+1]&0x3F)<<6 | rune(b[i+2]&0x3F)
			lo := rune(b[i+3]&0x0F)<<12 | rune(b[i+4]&0x3F)<<6 | rune(b[i+5]&0x3F)
			out = append(out, utf16.DecodeRune(hi, lo))
			i += 6
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return "", false
		}
		out = append(out, r)
		i += n
	}
	return string(out), true
}

// locked says whether the login is locked now.
func (s *HiLinkSim) locked() bool { return s.now().Before(s.lockedTill) }

// refuse counts a wrong password and locks after LockAfter of them.
func (s *HiLinkSim) refuse() hsAnswer {
	s.fails++
	if s.fails >= s.LockAfter {
		s.lockedTill = s.now().Add(s.LockFor)
	}
	return hsErr(108006)
}

func (s *HiLinkSim) loggedInAs(headers [][2]string) hsAnswer {
	s.fails = 0
	return hsAnswer{body: hsHead + "<response>OK</response>", headers: headers}
}

// loginType4 checks base64(sha256hex(user + base64(sha256hex(pw)) + token)) (§3.2).
func (s *HiLinkSim) loginType4(f map[string]string, tok string) hsAnswer {
	if s.p.login != "type4" {
		return hsErr(100002)
	}
	if s.locked() {
		return hsErr(108007)
	}
	h1 := sha256.Sum256([]byte(s.password))
	inner := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%x", h1)))
	h2 := sha256.Sum256([]byte("admin" + inner + tok))
	want := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%x", h2)))
	if f["password_type"] != "4" || f["Username"] != "admin" || hsUnescape(f["Password"]) != want {
		a := s.refuse()
		if s.BlankLoginAnswer {
			return hsAnswer{blank: true}
		}
		return a
	}
	if s.sessionsFull() {
		return hsErr(108003)
	}
	sid := s.newSession(true) // the session ID changes at login (§2)
	var list strings.Builder
	for i := 0; i < s.TokensAfterLogin; i++ {
		list.WriteString(s.issue(sid) + "#")
	}
	a := s.loggedInAs([][2]string{{"Set-Cookie", "SessionID=" + sid + "; path=/; HttpOnly"}, {"__RequestVerificationToken", list.String()}})
	if s.BlankLoginAnswer {
		return hsAnswer{blank: true, headers: a.headers[:1]}
	}
	return a
}

func (s *HiLinkSim) challenge(f map[string]string, sid string, ss *hsSession) hsAnswer {
	if s.p.login != "scram" {
		return hsErr(100002)
	}
	if s.locked() {
		return hsAnswer{body: hsHead + "<error><code>108007</code><message></message><waittime>" +
			strconv.Itoa(int(s.lockedTill.Sub(s.now()).Minutes())+1) + "</waittime></error>"}
	}
	if f["username"] != "admin" || len(f["firstnonce"]) < 32 || f["mode"] != "1" {
		return hsErr(100006)
	}
	ss.cnonce, ss.snonce = f["firstnonce"], f["firstnonce"]+hsRandom(32)
	ss.salt = make([]byte, 32)
	rand.Read(ss.salt)
	ss.iter = 100
	a := hsResp("salt", hex.EncodeToString(ss.salt), "iterations", strconv.Itoa(ss.iter), "servernonce", ss.snonce,
		"modeselected", "1", "newType", "0")
	a.headers = [][2]string{{"__RequestVerificationToken", s.issue(sid)}}
	return a
}

func (s *HiLinkSim) authenticate(f map[string]string, sid string, ss *hsSession) hsAnswer {
	if s.p.login != "scram" || ss.snonce == "" || f["finalnonce"] != ss.snonce {
		return hsErr(100006)
	}
	if s.locked() {
		return hsErr(108007)
	}
	salted, _ := pbkdf2.Key(sha256.New, s.password, ss.salt, ss.iter, 32)
	mac := func(key, msg []byte) []byte { h := hmac.New(sha256.New, key); h.Write(msg); return h.Sum(nil) }
	ck := mac([]byte("Client Key"), salted)
	sk := sha256.Sum256(ck)
	auth := []byte(ss.cnonce + "," + ss.snonce + "," + ss.snonce)
	sig := mac(auth, sk[:])
	want := make([]byte, len(ck))
	for i := range ck {
		want[i] = ck[i] ^ sig[i]
	}
	ss.snonce = ""
	got, err := hex.DecodeString(f["clientproof"])
	if err != nil || !hmac.Equal(got, want) {
		return s.refuse()
	}
	if s.sessionsFull() {
		return hsErr(108003)
	}
	nsid := s.newSession(true)
	serverSig := hex.EncodeToString(mac(auth, mac([]byte("Server Key"), salted)))
	a := hsResp("rsan", hsRandom(64), "rsae", "010001", "serversignature", serverSig, "rsapubkeysignature", hsRandom(64))
	a.headers = [][2]string{{"Set-Cookie", "SessionID=" + nsid + "; path=/; HttpOnly"},
		{"__RequestVerificationTokenone", s.issue(nsid)}, {"__RequestVerificationTokentwo", s.issue(nsid)}}
	s.fails = 0
	_ = sid
	return a
}

// sessionsFull says whether MaxSessions logged-in sessions are live.
func (s *HiLinkSim) sessionsFull() bool {
	n := 0
	for _, ss := range s.sessions {
		if ss.loggedIn && s.now().Sub(ss.last) <= s.SessionIdle {
			n++
		}
	}
	return s.MaxSessions > 0 && n >= s.MaxSessions
}
