//go:build !nosim

package main

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
)

// The simulator is a witness, not a mirror: it implements the firmware side
// of ../shared/zte-goform.md with its own hashing, password schemes and
// UTF-16 hex, and calls none of the client's functions for them. Where the
// two disagree, a test fails; the published vectors in modem_test.go pin
// both.

// simPersonality is one firmware family as the simulator plays it.
type simPersonality struct {
	name    string
	model   string // hardware_version (answered only with a session)
	inner   string // wa_inner_version
	cr      string // cr_version
	noLogin bool   // datacard sticks
	// scheme is the LOGIN password the firmware wants: 0 base64(pw),
	// 1 upper SHA256(base64(pw)), 2 upper SHA256(upper SHA256(pw) + LD).
	scheme int
	// servesLD: the firmware hands out LD (the web UI fetches it in every
	// mode, so LD is no proof of scheme 2).
	servesLD bool
	// configJS is /js/config/config.js, "" when the firmware serves none.
	configJS string
	cookie   string // session cookie name; "" = session bound to the client IP
	// ad is the anti-CSRF form: "" none, "md5", "sha256" (upper hex at both
	// stages, compared exactly), "sha256lower".
	ad string
	// rdNeedsSession: RD comes back blank before login though AD is used.
	rdNeedsSession bool
	// userForm is how a user name goes with the password: "LOGIN_MULTI_USER"
	// (goformId LOGIN_MULTI_USER, field user, with AD), "username" or "user"
	// (goformId LOGIN with that field). "" = no user names.
	userForm string
	// stuckAttempts: psw_fail_num_str stays "5" though the firmware counts
	// and locks (MC7010, MC888).
	stuckAttempts bool
	// noNVUsed: sms_capacity_info without sms_nvused_total (ufi family).
	noNVUsed bool
	// dupIDs: a list gives some records twice, a cut-short copy first.
	dupIDs bool
	// expiry is what a request without a session gets: "blank" JSON,
	// "html" (a login page) or "redirect" (302 to /index.html).
	expiry string
	// connected is the ppp_status of an up data link: ppp_connected, or a
	// dual-stack value.
	connected   string
	emptyRefuse bool // refuses an action with an empty body instead of {"result":"failure"}
	// numericResult: LOGIN's result is a bare JSON number, {"result":0}
	// (the stock F50 backend).
	numericResult bool
	// contentBase64: listed content is base64 of UTF-8 (F50 / U30 Air);
	// red: RED encryption (MC888/MC889), sim_zte_newer.go.
	contentBase64, red bool
	// reqproc: the goform parameters under /reqproc/proc_get and
	// /reqproc/proc_post (ZXIC-based dongles), sim_zte_newer.go.
	reqproc bool
	// ubus: no goform at all, JSON-RPC on /ubus/ (U60 Pro), sim_ubus.go.
	ubus bool
	// refuseLogins: every login is refused, whatever the password (the
	// replay of a capture whose login was refused, replay_ubus.go).
	refuseLogins bool
	// keys are answered as they are, before anything computed: a replayed
	// capture's values of the keys that do not change (replay.go).
	keys map[string]string
}

const simConfigJS = `define(function(){var config={WEBUI_TITLE:"4G Mobile Hotspot",HAS_SMS:true,%s,SMS_DATABASE_SORT_SUPPORT:true};return config});`

var simPersonalities = map[string]simPersonality{
	// MF920V, MF79RU-like ufi web UI: base64, no AD, session tied to the IP.
	"mf920v": {name: "mf920v", model: "MF920VV1.0.0", inner: "BD_MF920VV1.0.0B03", expiry: "blank", connected: "ppp_connected"},
	// MF286D: SHA256 of base64, MD5 AD, LD served though unused.
	"mf286d": {name: "mf286d", model: "MF286D", inner: "BD_MF286DV1.0.0B04", scheme: 1, servesLD: true,
		configJS: fmt.Sprintf(simConfigJS, `HAS_LOGIN:true,WEB_ATTR_IF_SUPPORT_SHA256:1`),
		cookie:   "stok", ad: "md5", expiry: "blank", connected: "ppp_connected"},
	// MF297D: salted SHA256, zsidn cookie, upper-case SHA256 AD, LOGIN_MULTI_USER.
	"mf297d": {name: "mf297d", model: "MF297D", inner: "BD_MF297DV1.0.0B02", scheme: 2, servesLD: true,
		configJS: fmt.Sprintf(simConfigJS, `HAS_LOGIN:true,WEB_ATTR_IF_SUPPORT_SHA256:"2"`),
		cookie:   "zsidn", ad: "sha256", userForm: "LOGIN_MULTI_USER", expiry: "blank", connected: "ipv4_ipv6_connected"},
	// MC801A: config.js answers the key blank; the model (or LD) tells.
	"mc801a": {name: "mc801a", model: "MC801A", inner: "BD_MC801AV1.0.0B08", scheme: 2, servesLD: true,
		configJS: fmt.Sprintf(simConfigJS, `HAS_LOGIN:true,WEB_ATTR_IF_SUPPORT_SHA256:""`),
		cookie:   "stok", ad: "md5", userForm: "username", expiry: "blank", connected: "ppp_connected", emptyRefuse: true},
	// MC7010: attempt counter stuck at 5, session expiry as a redirect.
	"mc7010": {name: "mc7010", model: "MC7010", inner: "BD_MC7010V1.0.0B11", scheme: 2, servesLD: true,
		cookie: "stok", ad: "md5", userForm: "username", stuckAttempts: true, expiry: "redirect", connected: "ipv6_connected"},
	// MC888: zsidn cookie, upper SHA256 AD with RD blank before login,
	// LOGIN+user, attempt counter stuck at 5, HTML on session expiry.
	"mc888": {name: "mc888", model: "MC888", inner: "BD_MC888V1.0.0B05", scheme: 2, servesLD: true,
		cookie: "zsidn", ad: "sha256", rdNeedsSession: true, userForm: "user", stuckAttempts: true, expiry: "html", connected: "ppp_connected"},
	// A ufi hotspot (MF79U B03): MD5 AD with a cr_version, capacity without
	// sms_nvused_total, duplicate ids, HTML on session expiry.
	"ufi": {name: "ufi", model: "MF79U", inner: "BD_MF79UV1.0.0B03", cr: "CR_MF79U_B03", scheme: 2, servesLD: true,
		// Duplicate ids come from a database without sorting: the web UI
		// copes only with SMS_DATABASE_SORT_SUPPORT false.
		configJS: strings.Replace(fmt.Sprintf(simConfigJS, `WEB_ATTR_IF_SUPPORT_SHA256:2,HAS_LOGIN:true`), "SMS_DATABASE_SORT_SUPPORT:true", "SMS_DATABASE_SORT_SUPPORT:false", 1),
		cookie:   "stok", ad: "md5", noNVUsed: true, dupIDs: true, expiry: "html", connected: "ppp_connected"},
	// A datacard stick: no login at all.
	"datacard": {name: "datacard", model: "MF833V", inner: "BD_MF833VV1.0.0B02", noLogin: true,
		configJS: fmt.Sprintf(simConfigJS, `HAS_LOGIN:false`), expiry: "blank", connected: "ppp_connected"},
}

// simPersonalityNames lists the personalities, sorted.
// simDataUp says whether ppp_status value ppp is one some firmware
// reports for an up data link: the personalities' own connected values,
// not the client's list.
func simDataUp(ppp string) bool {
	for _, p := range simPersonalities {
		if ppp != "" && p.connected == ppp {
			return true
		}
	}
	return false
}

func simPersonalityNames() []string {
	names := make([]string, 0, len(simPersonalities))
	for n := range simPersonalities {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// simPreLogin are the keys the firmware answers without a session.
var simPreLogin = map[string]bool{
	"loginfo": true, "LD": true, "RD": true, "wa_inner_version": true, "cr_version": true,
	"psw_fail_num_str": true, "login_lock_time": true, "modem_main_state": true, "network_provider": true,
	"Language": true,
}

// SimFaults are defects the simulator can be told to show.
type SimFaults struct {
	HexNumbers  bool              // senders as UTF-16BE hex
	Malformed   bool              // doubled quotes and raw control characters
	HTML        bool              // every answer is an HTML page
	Slow        time.Duration     // every answer is this late
	DropEvery   int               // every Nth request is cut off half-way
	FailActions map[string]string // goformId -> "failure" or "empty"
	// FailTimes refuses the next N requests of a goformId, then obeys.
	FailTimes   map[string]int
	Unreachable bool // connections are dropped
	// HideAttempts leaves psw_fail_num_str blank, as firmware that does
	// not count for the client.
	HideAttempts bool
	// ExpireAfterList ends every session right after an inbox listing, so
	// that the next action meets an expired session.
	ExpireAfterList bool
	// LoseLogin loses the answer to every LOGIN after the modem has
	// judged it: "cut" (connection dropped half-way), "empty", "html", or
	// "slow" (no answer until the client gives up).
	LoseLogin string
	// OverfillPages makes every inbox page hold this many records,
	// whatever data_per_page asked.
	OverfillPages int
	// DeleteSilentlyFails answers DELETE_SMS with success, and sms_cmd=6
	// says done, but the messages stay in the inbox: "success" only means
	// accepted.
	DeleteSilentlyFails bool
	// DeleteKeeps: these ids are kept the same way, the others deleted.
	DeleteKeeps map[int64]bool
	// SendFails accepts SEND_SMS, but sms_cmd=4 then reports "2"
	// (failed), as with a SIM out of credit.
	SendFails bool
	// RefuseAsZero answers a refused LOGIN with "0" all the same: no
	// session follows, and the attempt is spent (a witness's MC889 with
	// psw_fail_num_str blank).
	RefuseAsZero bool
}

// SimSent is a message the client sent through the simulator.
type SimSent struct {
	Number, Text, Encoding, SMSTime string
	Form                            url.Values
}

// SimLogin is one login attempt the simulator saw.
type SimLogin struct {
	At     time.Time
	Result string
}

// SimPost is one action the simulator was asked for.
type SimPost struct {
	GoformID string
	Authed   bool   // a session was there
	AD       string // "" none, "ok", "bad"
	Result   string
}

// SimCmdRead is one read of sms_cmd_status_info.
type SimCmdRead struct {
	Cmd string
	// SinceAction is the real time since the action that set the
	// command's status.
	SinceAction time.Duration
	Result      string
}

// SimRecord is what the client did to the simulated modem.
type SimRecord struct {
	Deleted     []int64
	MarkedRead  []int64
	Sent        []SimSent
	Logins      []SimLogin
	Posts       []SimPost
	CmdReads    []SimCmdRead
	Reboots     int
	Connects    int
	Disconnects int
	Requests    int
	Dropped     int // deliveries lost to a full inbox
	MaxInFlight int // the most requests the client had open at once
	// RedKeys are the AES keys registered, by a client or another web
	// login, in order (the capture tests look for each).
	RedKeys [][]byte
	// Events are the actions and sends in the order they came:
	// "disconnect", "connect", "modem reboot", "sent NUMBER: TEXT".
	Events []string
}

type simMsg struct {
	id         int64
	number     string
	text       string
	tag        string
	date       string
	mem        string
	partsTotal int
	partsRecv  int
	incomplete bool
}

// Sim is a simulated ZTE hotspot speaking the goform API with its defects.
// It is the fixture of the tests and the engine of `smsgate demo`.
type Sim struct {
	p        simPersonality
	password string
	user     string
	// LockTime is how long 5 wrong passwords lock the login.
	LockTime time.Duration
	// SessionTTL is how long an idle session lives.
	SessionTTL time.Duration
	// RebootTime is how long the modem is gone after REBOOT_DEVICE.
	RebootTime time.Duration
	Capacity   int
	// CmdSettle is how long (real time) after an action
	// sms_cmd_status_info still reports the previous command's result.
	CmdSettle time.Duration
	now       func() time.Time

	mu          sync.Mutex
	faults      SimFaults
	msgs        []*simMsg
	nextID      int64
	sessions    map[string]time.Time
	failLeft    int
	lockedUntil time.Time
	ld, rd      string
	cmdStatus   map[string]string
	cmdPrev     map[string]string
	cmdAt       map[string]time.Time
	ppp         string
	pppNext     string
	signal      string
	rebootUntil time.Time
	stuck       string // "": a reconnect brings data up; "reboot": only a modem reboot; "never"
	rec         SimRecord
	inFlight    int
	own         simOwnerExt // USSD, another web UI user: sim_zte_ussd.go
	redKey      []byte      // the AES key a client registered (RED), device-wide
	keyFight    bool        // another client re-keys after each registration (FightKey)

	srv *http.Server
	URL string
}

// NewSim returns a simulator of the named personality with the given web UI
// password. Start it with Start.
func NewSim(personality, password string) (*Sim, error) {
	p, ok := simPersonalities[personality]
	if !ok {
		p, ok = simUbusPersonalities[personality]
	}
	if !ok {
		return nil, fmt.Errorf("sim personality %q: want one of %s", personality, strings.Join(append(simPersonalityNames(), simUbusNames()...), ", "))
	}
	return newSim(p, password), nil
}

// newSim returns a simulator playing p, which need not be a named
// personality (a replayed capture, a test's variant).
func newSim(p simPersonality, password string) *Sim {
	if p.expiry == "" {
		p.expiry = "blank"
	}
	if p.connected == "" {
		p.connected = "ppp_connected"
	}
	return &Sim{
		p: p, password: password, user: "admin",
		LockTime: 300 * time.Second, SessionTTL: 5 * time.Minute, RebootTime: 20 * time.Second,
		Capacity: 100, now: time.Now,
		nextID: 100, sessions: map[string]time.Time{}, failLeft: 5,
		cmdStatus: map[string]string{}, cmdPrev: map[string]string{}, cmdAt: map[string]time.Time{},
		ppp: "ppp_connected", signal: "4",
	}
}

// Start serves on addr, which must be a loopback address.
func (s *Sim) Start(addr string) error {
	url, srv, err := serveLoopback("sim", addr, s)
	s.URL, s.srv = url, srv
	return err
}

// Close stops the simulator.
func (s *Sim) Close() error {
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

// SetFaults changes the defects the simulator shows.
func (s *Sim) SetFaults(f func(*SimFaults)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.faults)
}

// SetLink sets the data connection and signal the modem reports.
// "ppp_connected" means up, shown as the personality shows an up link.
func (s *Sim) SetLink(ppp, signal string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ppp, s.pppNext, s.signal = ppp, "", signal
}

// SetStuck says what brings mobile data back once it is down: "" a
// reconnect (as by default), "reboot" only a modem reboot, "never" nothing.
func (s *Sim) SetStuck(mode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stuck = mode
}

// Reboot makes the modem reboot by itself: gone for RebootTime, sessions
// lost. It is not recorded as the client's doing.
func (s *Sim) Reboot() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rebootUntil = s.now().Add(s.RebootTime)
	clear(s.sessions)
}

// Record returns a copy of what the client did.
func (s *Sim) Record() SimRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rec
	r.Deleted = append([]int64(nil), r.Deleted...)
	r.MarkedRead = append([]int64(nil), r.MarkedRead...)
	r.Sent = append([]SimSent(nil), r.Sent...)
	r.Logins = append([]SimLogin(nil), r.Logins...)
	r.Posts = append([]SimPost(nil), r.Posts...)
	r.CmdReads = append([]SimCmdRead(nil), r.CmdReads...)
	r.Events = append([]string(nil), r.Events...)
	r.RedKeys = append([][]byte(nil), r.RedKeys...)
	return r
}

// ResetRecord forgets what the client did, so that a long benchmark measures
// the client's memory, not the simulator's record.
func (s *Sim) ResetRecord() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec = SimRecord{Requests: s.rec.Requests}
}

// ExpireSessions logs every client out, as a modem does after idling.
func (s *Sim) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.sessions)
}

// Deliver puts a received message in the inbox and returns its id, or 0 when
// the inbox is full (the message is lost, as on the real modem).
func (s *Sim) Deliver(from, text string, at time.Time) int64 {
	return s.deliver(from, text, at, false, "1")
}

// DeliverIncomplete stores a long message of which parts are still missing.
func (s *Sim) DeliverIncomplete(from, text string, at time.Time) int64 {
	return s.deliver(from, text, at, true, "1")
}

// DeliverSIM stores a message on the SIM rather than in device memory.
func (s *Sim) DeliverSIM(from, text string, at time.Time) int64 {
	return s.deliver(from, text, at, false, "0")
}

func (s *Sim) deliver(from, text string, at time.Time, incomplete bool, mem string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) >= s.Capacity {
		s.rec.Dropped++
		return 0
	}
	s.nextID++
	m := &simMsg{id: s.nextID, number: from, text: text, tag: "1", mem: mem, date: simDate(at), incomplete: incomplete}
	if parts := simParts(text); parts > 1 {
		m.partsTotal, m.partsRecv = parts, parts
		if incomplete {
			m.partsRecv = parts - 1
		}
	}
	s.msgs = append(s.msgs, m)
	return m.id
}

// DeliverUnderID stores a message under an id already listed, as a
// firmware without a sorted database that lists one id twice
// (zte-goform.md; docs/modems.md). A delete of that id removes both.
func (s *Sim) DeliverUnderID(id int64, from, text string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, &simMsg{id: id, number: from, text: text, tag: "1", mem: "1", date: simDate(at)})
}

// DeliverIncompleteUnderID stores, under an id already listed, a long
// message of which a part is still missing.
func (s *Sim) DeliverIncompleteUnderID(id int64, from, text string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &simMsg{id: id, number: from, text: text, tag: "1", mem: "1", date: simDate(at), incomplete: true}
	if parts := simParts(text); parts > 1 {
		m.partsTotal, m.partsRecv = parts, parts-1
	}
	s.msgs = append(s.msgs, m)
}

// ReuseIDs makes the next message take the lowest free id, as a modem whose
// database reuses the ids of deleted rows.
func (s *Sim) ReuseIDs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID = 100
	for _, m := range s.msgs {
		s.nextID = max(s.nextID, m.id)
	}
}

// CompleteMessage delivers the missing parts of an incomplete message.
func (s *Sim) CompleteMessage(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m.id == id {
			m.incomplete, m.partsRecv = false, m.partsTotal
		}
	}
}

// Inbox returns the ids of the stored received messages.
func (s *Sim) Inbox() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int64
	for _, m := range s.msgs {
		if m.tag == "0" || m.tag == "1" {
			ids = append(ids, m.id)
		}
	}
	return ids
}

func simDate(t time.Time) string {
	_, off := t.Zone()
	return fmt.Sprintf("%02d,%02d,%02d,%02d,%02d,%02d,%+d", t.Year()%100, int(t.Month()), t.Day(),
		t.Hour(), t.Minute(), t.Second(), off/900)
}

// simAnswer is what the modem will say to one request.
type simAnswer struct {
	status   int
	location string
	ctype    string
	body     string
	// setCookie is the Set-Cookie header a successful login hands out.
	setCookie string
	lose      string // "", or how the answer is lost (see SimFaults.LoseLogin)
}

func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.rec.Requests++
	s.inFlight++
	s.rec.MaxInFlight = max(s.rec.MaxInFlight, s.inFlight)
	f := s.faults
	n := s.rec.Requests
	rebooting := s.now().Before(s.rebootUntil)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	if f.Slow > 0 {
		select {
		case <-time.After(f.Slow):
		case <-r.Context().Done():
			return
		}
	}
	if rebooting || f.Unreachable {
		drop(w, "")
		return
	}
	if f.DropEvery > 0 && n%f.DropEvery == 0 {
		drop(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"messages\":[{\"id\":\"")
		return
	}
	if f.HTML {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, simLoginPage)
		return
	}
	_ = r.ParseForm()
	s.mu.Lock()
	a := s.answer(r)
	s.mu.Unlock()
	switch a.lose {
	case "cut":
		drop(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"res")
		return
	case "empty":
		w.Header().Set("Content-Type", "application/json")
		return
	case "html":
		a = simAnswer{ctype: "text/html", body: simLoginPage}
	case "garbled", "noresult", "strange":
		// Judged, session and all, but answered in a way no note describes.
		a.body = map[string]string{"garbled": `{"result":{"0":1}}`, "noresult": `{"res":"0"}`, "strange": `{"result":"maybe"}`}[a.lose]
	case "slow":
		<-r.Context().Done()
		return
	}
	if a.ctype == "" {
		a.ctype = "application/json"
	}
	w.Header().Set("Content-Type", a.ctype)
	if a.location != "" {
		w.Header().Set("Location", a.location)
	}
	if a.setCookie != "" {
		w.Header().Add("Set-Cookie", a.setCookie)
	}
	if a.status != 0 {
		w.WriteHeader(a.status)
	}
	fmt.Fprint(w, a.body)
}

const simLoginPage = "<html><head><title>Login</title></head><body>Please log in</body></html>"

func (s *Sim) answer(r *http.Request) simAnswer {
	if s.p.ubus {
		return s.simUbus(r)
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == s.simGetPath():
		return s.get(r)
	case r.Method == http.MethodPost && r.URL.Path == s.simSetPath():
		return s.set(r)
	case r.Method == http.MethodGet && r.URL.Path == "/js/config/config.js" && s.p.configJS != "":
		return simAnswer{ctype: "application/javascript", body: s.p.configJS}
	}
	return simAnswer{status: http.StatusNotFound, ctype: "text/html", body: "<html><body>404 ZTE</body></html>"}
}

// drop cuts the connection after writing partial, as a crashing or
// rebooting modem does.
func drop(w http.ResponseWriter, partial string) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	buf.WriteString(partial)
	buf.Flush()
	conn.Close()
}

func (s *Sim) refererOK(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Referer"), "http://"+r.Host+"/")
}

func (s *Sim) sessionKey(r *http.Request) string {
	if s.p.cookie != "" {
		// Compared as sent, quotes and all: net/http's r.Cookie would
		// take them off, and a client that drops them has no session.
		for _, line := range r.Header["Cookie"] {
			for _, c := range strings.Split(line, ";") {
				if name, value, ok := strings.Cut(strings.TrimSpace(c), "="); ok && name == s.p.cookie {
					return "cookie:" + value
				}
			}
		}
		return ""
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	return "ip:" + host
}

func (s *Sim) authorised(r *http.Request) bool {
	if !s.refererOK(r) {
		return false
	}
	if s.p.noLogin {
		return true
	}
	k := s.sessionKey(r)
	last, ok := s.sessions[k]
	if !ok || s.now().Sub(last) > s.SessionTTL {
		delete(s.sessions, k)
		return false
	}
	s.sessions[k] = s.now()
	return true
}

// expired is the answer to a request that needs a session and has none.
func (s *Sim) expired(blank simAnswer) simAnswer {
	switch s.p.expiry {
	case "html":
		return simAnswer{ctype: "text/html", body: simLoginPage}
	case "redirect":
		return simAnswer{status: http.StatusFound, location: "/index.html", ctype: "text/html", body: "<html><body>302</body></html>"}
	}
	return blank
}

func (s *Sim) json(pairs ...string) simAnswer {
	return simAnswer{body: s.jsonObject(pairs...)}
}

// jsonObject renders string pairs the way the modem does, defects included.
func (s *Sim) jsonObject(pairs ...string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(pairs[i]) + ":" + s.jsonValue(pairs[i+1]))
	}
	b.WriteByte('}')
	return b.String()
}

func (s *Sim) jsonValue(v string) string {
	if strings.HasPrefix(v, "[") || strings.HasPrefix(v, "{") {
		return v
	}
	if s.faults.Malformed && v != "" && !strings.ContainsAny(v, `",:{}[]`) {
		return `""` + v + `""`
	}
	return strconv.Quote(v)
}

func (s *Sim) get(r *http.Request) simAnswer {
	q := r.Form
	cmd := q.Get("cmd")
	ok := s.authorised(r)
	referer := s.refererOK(r)
	if q.Get("multi_data") == "1" {
		var pairs []string
		needsSession := false
		for _, k := range strings.Split(cmd, ",") {
			v := ""
			if referer && (ok || simPreLogin[k]) {
				v = s.key(k, ok)
			}
			needsSession = needsSession || !simPreLogin[k]
			pairs = append(pairs, k, v)
		}
		// The web UIs' own reads before login are answered as JSON, hidden
		// keys blank (sim_zte_newer.go); only a read of session keys
		// alone meets the firmware's expiry answer.
		if referer && !ok && needsSession && !simAsksUIPreLogin(cmd) {
			return s.expired(s.json(pairs...))
		}
		return s.json(pairs...)
	}
	if a, done := s.simNewerGet(cmd, ok); done {
		return a
	}
	switch cmd {
	case "LD":
		v := ""
		if referer && s.p.servesLD {
			v = simRandomHex(32)
			s.ld = v // the salt for the next LOGIN
		}
		return s.json("LD", v)
	case "RD":
		v := ""
		if referer && s.p.ad != "" && (ok || !s.p.rdNeedsSession) {
			v = simRandomHex(4)
			s.rd = v
		}
		return s.json("RD", v)
	}
	if !ok {
		if referer {
			return s.expired(s.json(cmd, ""))
		}
		return s.json(cmd, "")
	}
	switch cmd {
	case "sms_data_total":
		out := s.list(q)
		if s.faults.ExpireAfterList {
			clear(s.sessions)
		}
		return simAnswer{body: out}
	case "sms_capacity_info":
		used := 0
		for _, m := range s.msgs {
			if m.mem == "1" {
				used++
			}
		}
		pairs := []string{"sms_nv_total", strconv.Itoa(s.Capacity)}
		if !s.p.noNVUsed {
			pairs = append(pairs, "sms_nvused_total", strconv.Itoa(used))
		}
		pairs = append(pairs, "sms_nv_rev_total", strconv.Itoa(used), "sms_nv_send_total", "0",
			"sms_nv_draftbox_total", "0", "sms_sim_total", "30", "sms_sim_rev_total", "0",
			"sms_sim_send_total", "0", "sms_sim_draftbox_total", "0")
		if !s.p.noNVUsed {
			pairs = append(pairs, "sms_simused_total", "0")
		}
		return s.json(pairs...)
	case "pbm_init_flag":
		return s.json("pbm_init_flag", s.key("pbm_init_flag", true))
	case "sms_cmd_status_info":
		c := q.Get("sms_cmd")
		res := s.cmdStatus[c]
		since := time.Since(s.cmdAt[c])
		if since < s.CmdSettle {
			// Too early: the modem still reports the previous command.
			res = s.cmdPrev[c]
		} else if res == "1" {
			// Reported as pending once, then done, like a modem that takes
			// a moment to reach the network.
			s.cmdStatus[c] = "3"
			if c == "4" && s.faults.SendFails {
				s.cmdStatus[c] = "2"
			}
		}
		s.rec.CmdReads = append(s.rec.CmdReads, SimCmdRead{Cmd: c, SinceAction: since, Result: res})
		return s.json("sms_cmd", c, "sms_cmd_status_result", res)
	}
	if a, ok := s.ussdGet(cmd); ok {
		return a
	}
	return s.json(cmd, "")
}

func (s *Sim) key(k string, authed bool) string {
	unread := func(mem string) int {
		n := 0
		for _, m := range s.msgs {
			if m.tag == "1" && (mem == "" || m.mem == mem) {
				n++
			}
		}
		return n
	}
	if v, ok := s.p.keys[k]; ok {
		return v
	}
	switch k {
	case "loginfo":
		if authed && !s.p.noLogin {
			return "ok"
		}
		return ""
	case "psw_fail_num_str":
		if s.faults.HideAttempts || s.p.noLogin {
			return ""
		}
		if s.p.stuckAttempts {
			return "5"
		}
		if s.now().Before(s.lockedUntil) {
			return "0"
		}
		return strconv.Itoa(s.failLeft)
	case "login_lock_time":
		return strconv.Itoa(int(s.LockTime / time.Second))
	case "wa_inner_version":
		return s.p.inner
	case "cr_version":
		return s.p.cr
	case "hardware_version":
		return s.p.model
	case "modem_main_state":
		return "modem_init_complete"
	case "Language":
		return "en"
	case "pbm_init_flag":
		return "6" // no phonebook here: the web UI goes on without one"
	case "sms_unread_num":
		return strconv.Itoa(unread(""))
	case "sms_dev_unread_num":
		return strconv.Itoa(unread("1"))
	case "sms_sim_unread_num":
		return strconv.Itoa(unread("0"))
	case "sms_received_flag":
		return "" // always blank on some firmware
	case "ppp_status":
		v := s.ppp
		if s.pppNext != "" {
			s.ppp, s.pppNext = s.pppNext, ""
		}
		if v == "ppp_connected" {
			v = s.p.connected
		}
		return v
	case "signalbar":
		return s.signal
	case "network_type":
		if s.signal == "0" {
			return "no_service"
		}
		return "LTE"
	case "network_provider":
		return "SimTel"
	case "wan_ipaddr":
		if s.ppp == "ppp_connected" {
			return "100.64.12.34"
		}
		return ""
	case "lan_ipaddr":
		return "192.168.0.1"
	case "lte_rsrp":
		return "-95"
	case "battery_vol_percent":
		return "87"
	}
	return ""
}

func (s *Sim) list(q url.Values) string {
	mem := q.Get("mem_store")
	page, _ := strconv.Atoi(q.Get("page"))
	per, _ := strconv.Atoi(q.Get("data_per_page"))
	if per <= 0 || per > 500 {
		per = 500
	}
	var b strings.Builder
	b.WriteString(`{"messages":[`)
	if n := s.faults.OverfillPages; n > 0 {
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			id := 1_000_000 + int64(page*n+i)
			b.WriteString(s.record(&simMsg{id: id, number: "+1555", text: "x", tag: "1", date: "26,03,14,12,00,00,+0"}, false))
		}
		b.WriteString(`]}`)
		return b.String()
	}
	tags := q.Get("tags")
	var sel []*simMsg
	for i := len(s.msgs) - 1; i >= 0; i-- { // order by id desc
		m := s.msgs[i]
		if m.mem == mem && (tags == "10" || tags == m.tag) {
			sel = append(sel, m)
		}
	}
	start := min(page*per, len(sel))
	end := min(start+per, len(sel))
	for i, m := range sel[start:end] {
		if i > 0 {
			b.WriteByte(',')
		}
		if s.p.dupIDs {
			// An unsorted database gives a stale, shorter copy first.
			b.WriteString(s.record(m, true) + ",")
		}
		b.WriteString(s.record(m, false))
	}
	b.WriteString(`]}`)
	return b.String()
}

// simRecordConcat reads back the three concatenation fields record writes
// (received_all_concat_sms, concat_sms_total, concat_sms_received), for a
// replay that lists what a real modem's capture listed: record then
// writes the same three fields again. It judges nothing about the
// message: the fields are the modem's word on it, and the client reads
// them its own way (zte-goform.md, "Long messages"; the simulator never
// calls the client's parsing).
func simRecordConcat(all, total, recv string) (partsTotal, partsRecv int, incomplete bool) {
	t, _ := strconv.Atoi(total)
	r, _ := strconv.Atoi(recv)
	if t > 1 { // record writes "0" for a message of one part
		partsTotal, partsRecv = t, r
	}
	return partsTotal, partsRecv, all == "0"
}

// record renders one list entry; stale is a cut-short copy of it.
func (s *Sim) record(m *simMsg, stale bool) string {
	number := m.number
	if s.faults.HexNumbers {
		number = simHexUTF16(number)
	}
	text := m.text
	total, recv, all := "0", "0", "1"
	if m.partsTotal > 0 {
		total, recv = strconv.Itoa(m.partsTotal), strconv.Itoa(m.partsRecv)
	}
	if m.incomplete {
		all = "0"
		// Some firmware holds only the parts it has: here, the first.
		text = string([]rune(text)[:min(len([]rune(text)), 67)])
	}
	if stale {
		text = string([]rune(text)[:len([]rune(text))/2])
	}
	obj := s.jsonObject("id", strconv.FormatInt(m.id, 10), "number", s.simWireField(number), "content", s.simWireContent(text),
		"tag", m.tag, "date", m.date, "draft_group_id", "", "received_all_concat_sms", all,
		"concat_sms_total", total, "concat_sms_received", recv, "sms_class", "4")
	if s.faults.Malformed {
		obj = strings.Replace(obj, `"sms_class"`, "\"sms_class\x01\"", 1)
	}
	return obj
}

func (s *Sim) refuse() simAnswer {
	if s.p.emptyRefuse {
		return simAnswer{}
	}
	return simAnswer{body: `{"result":"failure"}`}
}

// checkAD consumes the current RD and says whether the form's AD is right.
func (s *Sim) checkAD(q url.Values) string {
	if s.p.ad == "" {
		return ""
	}
	rd := s.rd
	s.rd = "" // one token, one action
	if rd == "" || q.Get("AD") != simAD(s.p.ad, s.p.inner, s.p.cr, rd) {
		return "bad"
	}
	return "ok"
}

func (s *Sim) set(r *http.Request) simAnswer {
	q := r.Form
	id := q.Get("goformId")
	if id == "LOGIN" || (id == "LOGIN_MULTI_USER" && s.p.userForm == "LOGIN_MULTI_USER") {
		a := s.login(r)
		a.lose = s.faults.LoseLogin
		return a
	}
	post := SimPost{GoformID: id, Authed: s.authorised(r)}
	defer func() { s.rec.Posts = append(s.rec.Posts, post) }()
	if !post.Authed {
		post.Result = "no session"
		if s.refererOK(r) {
			return s.expired(s.refuse())
		}
		return s.refuse()
	}
	if post.AD = s.checkAD(q); post.AD == "bad" {
		post.Result = "bad AD"
		return s.refuse()
	}
	if s.faults.FailTimes[id] > 0 {
		s.faults.FailTimes[id]--
		post.Result = "failure"
		return simAnswer{body: `{"result":"failure"}`}
	}
	switch s.faults.FailActions[id] {
	case "failure":
		post.Result = "failure"
		return simAnswer{body: `{"result":"failure"}`}
	case "empty":
		post.Result = "empty"
		return simAnswer{}
	}
	post.Result = "success"
	switch id {
	case "DELETE_SMS":
		ids := parseIDList(q.Get("msg_id"))
		if s.faults.DeleteSilentlyFails {
			ids = nil
		}
		for id := range s.faults.DeleteKeeps {
			delete(ids, id)
		}
		keep := s.msgs[:0]
		for _, m := range s.msgs {
			if ids[m.id] {
				s.rec.Deleted = append(s.rec.Deleted, m.id)
				continue
			}
			keep = append(keep, m)
		}
		s.msgs = keep
		s.startCmd("6")
	case "SET_MSG_READ":
		ids := parseIDList(q.Get("msg_id"))
		for _, m := range s.msgs {
			if ids[m.id] && m.tag == "1" {
				m.tag = "0"
				s.rec.MarkedRead = append(s.rec.MarkedRead, m.id)
			}
		}
	case "SEND_SMS":
		number, text, ok := s.simSentFields(q)
		if !ok {
			post.Result = "failure"
			return simAnswer{body: `{"result":"failure"}`}
		}
		form := make(url.Values, len(q))
		for k, v := range q {
			form[k] = append([]string(nil), v...)
		}
		s.rec.Sent = append(s.rec.Sent, SimSent{Number: number, Text: text,
			Encoding: q.Get("encode_type"), SMSTime: q.Get("sms_time"), Form: form})
		s.startCmd("4")
		s.rec.Events = append(s.rec.Events, "sent "+number+": "+text)
	case "web_http_enstr_set":
		if !s.simEnstrSet(q) {
			post.Result = "failure"
			return simAnswer{body: `{"result":"failure"}`}
		}
	case "REBOOT_DEVICE":
		s.rec.Reboots++
		s.rec.Events = append(s.rec.Events, "modem reboot")
		s.rebootUntil = s.now().Add(s.RebootTime)
		clear(s.sessions)
		if s.stuck == "reboot" {
			s.stuck = ""
		}
		if s.stuck == "" && s.signal != "0" {
			s.ppp, s.pppNext = "ppp_connected", "" // it dials again as it boots
		}
	case "DISCONNECT_NETWORK":
		s.rec.Disconnects++
		s.rec.Events = append(s.rec.Events, "disconnect")
		s.ppp, s.pppNext = "ppp_disconnecting", "ppp_disconnected"
	case "CONNECT_NETWORK":
		s.rec.Connects++
		s.rec.Events = append(s.rec.Events, "connect")
		s.ppp, s.pppNext = "ppp_connecting", "ppp_connected"
		if s.stuck != "" || s.signal == "0" {
			s.pppNext = "ppp_disconnected"
		}
	default:
		if a, ok := s.ussdSet(id, q); ok {
			return a
		}
		post.Result = "unknown action"
		return simAnswer{body: `{"result":"failure"}`}
	}
	return simAnswer{body: `{"result":"success"}`}
}

// startCmd marks an sms command pending, keeping what it said before for
// a client that asks too early.
func (s *Sim) startCmd(c string) {
	s.cmdPrev[c] = s.cmdStatus[c]
	s.cmdStatus[c] = "1"
	s.cmdAt[c] = time.Now()
}

func parseIDList(s string) map[int64]bool {
	ids := map[int64]bool{}
	for _, f := range strings.Split(s, ";") {
		if id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64); err == nil {
			ids[id] = true
		}
	}
	return ids
}

// login judges a LOGIN (or LOGIN_MULTI_USER) post.
func (s *Sim) login(r *http.Request) simAnswer {
	q := r.Form
	result := func(res string) simAnswer {
		s.rec.Logins = append(s.rec.Logins, SimLogin{At: s.now(), Result: res})
		if s.p.numericResult {
			if _, err := strconv.Atoi(res); err == nil {
				return simAnswer{body: `{"result":` + res + `}`}
			}
		}
		return s.json("result", res)
	}
	if !s.refererOK(r) {
		return s.json("result", "")
	}
	// The user name, in the form this firmware knows; another form is an
	// unknown field and the login is judged without it.
	user, hasUser := "", false
	switch s.p.userForm {
	case "LOGIN_MULTI_USER":
		if q.Get("goformId") == "LOGIN_MULTI_USER" {
			user, hasUser = q.Get("user"), true
			if s.checkAD(q) != "ok" {
				// Refused before the password is looked at: no attempt spent.
				return simAnswer{body: `{"result":"failure"}`}
			}
		}
	case "username", "user":
		if _, ok := q[s.p.userForm]; ok {
			user, hasUser = q.Get(s.p.userForm), true
		}
	}
	if s.now().Before(s.lockedUntil) {
		return result("1")
	}
	if !s.lockedUntil.IsZero() {
		s.lockedUntil, s.failLeft = time.Time{}, 5
	}
	want := simLoginPassword(s.p.scheme, s.password, s.ld)
	if s.p.scheme == 2 {
		s.ld = ""
	}
	if q.Get("password") != want || (hasUser && user != s.user) {
		s.failLeft--
		if s.failLeft <= 0 {
			s.failLeft = 0
			s.lockedUntil = s.now().Add(s.LockTime)
		}
		if s.faults.RefuseAsZero {
			return result("0")
		}
		return result("3")
	}
	if s.own.OtherUser {
		return result("2")
	}
	s.failLeft = 5
	a := result("0")
	if s.p.cookie != "" {
		// Quoted, as the firmware's WebServer-Webs writes it
		// (teixeluis/zte-lte-modem, README: `Set-Cookie:
		// stok="22D683012C615063AC6F49B5";path=/;HttpOnly`, and the same
		// quoted value in the Cookie header after).
		tok := `"` + simRandomHex(12) + `"`
		s.sessions["cookie:"+tok] = s.now()
		a.setCookie = s.p.cookie + "=" + tok + ";path=/;HttpOnly"
	} else {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		s.sessions["ip:"+host] = s.now()
	}
	return a
}

// The firmware's own arithmetic, written from the notes.

func simUpperSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func simLoginPassword(scheme int, pw, ld string) string {
	b64 := base64.StdEncoding.EncodeToString([]byte(pw))
	switch scheme {
	case 1:
		return simUpperSHA256(b64)
	case 2:
		if ld == "" {
			return b64 // no salt handed out: the firmware falls back to base64
		}
		return simUpperSHA256(simUpperSHA256(pw) + ld)
	}
	return b64
}

// simAD is the AD the firmware expects for RD.
func simAD(form, inner, cr, rd string) string {
	switch form {
	case "md5":
		h := func(s string) string { sum := md5.Sum([]byte(s)); return hex.EncodeToString(sum[:]) }
		return h(h(inner+cr) + rd)
	case "sha256":
		return simUpperSHA256(simUpperSHA256(inner+cr) + rd)
	case "sha256lower":
		return strings.ToLower(simUpperSHA256(strings.ToLower(simUpperSHA256(inner+cr)) + rd))
	}
	return ""
}

// simHexUTF16 is text as the modem stores it: UTF-16BE, 4 upper-case hex
// digits per code unit.
func simHexUTF16(text string) string {
	units := utf16.Encode([]rune(text))
	buf := make([]byte, 0, 2*len(units))
	for _, u := range units {
		buf = append(buf, byte(u>>8), byte(u))
	}
	return strings.ToUpper(hex.EncodeToString(buf))
}

// simUnhexUTF16 reads a MessageBody; ok is false for anything but whole
// UTF-16BE hex units.
func simUnhexUTF16(h string) (string, bool) {
	if len(h)%4 != 0 {
		return "", false
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return "", false
	}
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return string(utf16.Decode(units)), true
}

// simParts is how many SMS parts the network splits text into: 160/153
// characters when plain ASCII fits GSM-7 (near enough for a fixture),
// 70/67 UTF-16 units otherwise.
func simParts(text string) int {
	n, single, multi := len(text), 160, 153
	for _, r := range text {
		if r >= 0x80 || r < 0x20 && r != '\n' && r != '\r' {
			n, single, multi = len(utf16.Encode([]rune(text))), 70, 67
			break
		}
	}
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

func simRandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand crashes the program instead
	return strings.ToUpper(hex.EncodeToString(b))
}
