//go:build !nosim

package main

import (
	"context"
	"crypto/rand"
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
)

// simPersonality is one firmware family as the simulator plays it.
type simPersonality struct {
	name        string
	model       string // hardware_version
	inner       string // wa_inner_version
	noLogin     bool   // datacard sticks
	salted      bool   // LD salt, SHA256
	cookie      string // session cookie name; "" = session bound to the client IP
	ad          string // "", "md5", "sha256"
	emptyRefuse bool   // refuses an action with an empty body instead of {"result":"failure"}
}

var simPersonalities = map[string]simPersonality{
	"mf920v":   {name: "mf920v", model: "MF920VV1.0.0", inner: "BD_MF920VV1.0.0B03"},
	"mc801a":   {name: "mc801a", model: "MC801A", inner: "BD_MC801AV1.0.0B08", salted: true, cookie: "stok", ad: "md5", emptyRefuse: true},
	"mc888":    {name: "mc888", model: "MC888", inner: "BD_MC888V1.0.0B05", salted: true, cookie: "stok", ad: "sha256"},
	"mf286d":   {name: "mf286d", model: "MF286D", inner: "BD_MF286DV1.0.0B04", cookie: "stok"},
	"mf297d":   {name: "mf297d", model: "MF297D", inner: "BD_MF297DV1.0.0B02", salted: true, cookie: "zsidn", ad: "sha256"},
	"datacard": {name: "datacard", model: "MF833V", inner: "BD_MF833VV1.0.0B02", noLogin: true},
}

// SimFaults are defects the simulator can be told to show.
type SimFaults struct {
	HexNumbers  bool              // senders as UTF-16BE hex
	Malformed   bool              // doubled quotes and raw control characters
	HTML        bool              // every answer is an HTML page
	Slow        time.Duration     // every answer is this late
	DropEvery   int               // every Nth request is cut off half-way
	FailActions map[string]string // goformId -> "failure" or "empty"
	Unreachable bool              // connections are dropped
	// HideAttempts leaves psw_fail_num_str blank, as firmware that does
	// not count for the client.
	HideAttempts bool
	// ExpireAfterList ends every session right after an inbox listing, so
	// that the next action meets an expired session.
	ExpireAfterList bool
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

// SimRecord is what the client did to the simulated modem.
type SimRecord struct {
	Deleted     []int64
	MarkedRead  []int64
	Sent        []SimSent
	Logins      []SimLogin
	Reboots     int
	Connects    int
	Disconnects int
	Requests    int
	Dropped     int // deliveries lost to a full inbox
	MaxInFlight int // the most requests the client had open at once
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
	now        func() time.Time

	mu          sync.Mutex
	faults      SimFaults
	msgs        []*simMsg
	nextID      int64
	sessions    map[string]time.Time
	failLeft    int
	lockedUntil time.Time
	ld, rd      string
	cmdStatus   map[string]string
	ppp         string
	pppNext     string
	signal      string
	rebootUntil time.Time
	stuck       string // "": a reconnect brings data up; "reboot": only a modem reboot; "never"
	rec         SimRecord
	inFlight    int

	srv *http.Server
	URL string
}

// NewSim returns a simulator of the named personality with the given web UI
// password. Start it with Start.
func NewSim(personality, password string) (*Sim, error) {
	p, ok := simPersonalities[personality]
	if !ok {
		names := make([]string, 0, len(simPersonalities))
		for n := range simPersonalities {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("sim personality %q: want one of %s", personality, strings.Join(names, ", "))
	}
	return &Sim{
		p: p, password: password, user: "admin",
		LockTime: 300 * time.Second, SessionTTL: 5 * time.Minute, RebootTime: 20 * time.Second,
		Capacity: 100, now: time.Now,
		nextID: 100, sessions: map[string]time.Time{}, failLeft: 5,
		cmdStatus: map[string]string{}, ppp: "ppp_connected", signal: "4",
	}, nil
}

// Start serves on addr, which must be a loopback address.
func (s *Sim) Start(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("sim listen %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("sim listen %q: only loopback addresses are allowed", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sim listen: %w", err)
	}
	s.URL = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
	return nil
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
	r.Events = append([]string(nil), r.Events...)
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
	if parts := smsParts(text); parts > 1 {
		m.partsTotal, m.partsRecv = parts, parts
		if incomplete {
			m.partsRecv = parts - 1
		}
	}
	s.msgs = append(s.msgs, m)
	return m.id
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
		fmt.Fprint(w, "<html><head><title>Login</title></head><body>Please log in</body></html>")
		return
	}
	_ = r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/goform/goform_get_cmd_process":
		fmt.Fprint(w, s.get(r))
	case r.Method == http.MethodPost && r.URL.Path == "/goform/goform_set_cmd_process":
		fmt.Fprint(w, s.set(w, r))
	default:
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>ZTE</body></html>")
	}
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
		c, err := r.Cookie(s.p.cookie)
		if err != nil {
			return ""
		}
		return "cookie:" + c.Value
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

// jsonObject renders string pairs the way the modem does, defects included.
func (s *Sim) jsonObject(pairs ...string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s.jsonString(pairs[i]) + ":" + s.jsonValue(pairs[i+1]))
	}
	b.WriteByte('}')
	return b.String()
}

func (s *Sim) jsonString(v string) string {
	return strconv.Quote(v)
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

func (s *Sim) get(r *http.Request) string {
	q := r.Form
	cmd := q.Get("cmd")
	ok := s.authorised(r)
	referer := s.refererOK(r)
	if q.Get("multi_data") == "1" {
		var pairs []string
		for _, k := range strings.Split(cmd, ",") {
			v := ""
			if referer && (ok || preLoginKeys[k]) {
				v = s.key(k, ok)
			}
			pairs = append(pairs, k, v)
		}
		return s.jsonObject(pairs...)
	}
	switch cmd {
	case "LD":
		v := ""
		if referer && s.p.salted {
			v = randomHex(32)
			s.ld = v // the salt for the next LOGIN
		}
		return s.jsonObject("LD", v)
	case "RD":
		v := ""
		if referer && s.p.ad != "" {
			v = randomHex(4)
			s.rd = v
		}
		return s.jsonObject("RD", v)
	}
	if !ok {
		return s.jsonObject(cmd, "")
	}
	switch cmd {
	case "sms_data_total":
		out := s.list(q)
		if s.faults.ExpireAfterList {
			clear(s.sessions)
		}
		return out
	case "sms_capacity_info":
		used := 0
		for _, m := range s.msgs {
			if m.mem == "1" {
				used++
			}
		}
		return s.jsonObject("sms_nv_total", strconv.Itoa(s.Capacity), "sms_nvused_total", strconv.Itoa(used),
			"sms_nv_rev_total", strconv.Itoa(used), "sms_sim_total", "30", "sms_simused_total", "0")
	case "sms_cmd_status_info":
		c := q.Get("sms_cmd")
		res := s.cmdStatus[c]
		if res == "1" {
			// Reported as pending once, then done, like a modem that takes
			// a moment to reach the network.
			s.cmdStatus[c] = "3"
		}
		return s.jsonObject("sms_cmd", c, "sms_cmd_status_result", res)
	}
	return s.jsonObject(cmd, "")
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
	switch k {
	case "loginfo":
		if authed && !s.p.noLogin {
			return "ok"
		}
		return ""
	case "psw_fail_num_str":
		if s.faults.HideAttempts {
			return ""
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
		return ""
	case "hardware_version":
		return s.p.model
	case "modem_main_state":
		return "modem_init_complete"
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
	tags := q.Get("tags")
	var sel []*simMsg
	for i := len(s.msgs) - 1; i >= 0; i-- { // order by id desc
		m := s.msgs[i]
		if m.mem == mem && (tags == "10" || tags == m.tag) {
			sel = append(sel, m)
		}
	}
	start := page * per
	if start > len(sel) {
		start = len(sel)
	}
	end := min(start+per, len(sel))
	var b strings.Builder
	b.WriteString(`{"messages":[`)
	for i, m := range sel[start:end] {
		if i > 0 {
			b.WriteByte(',')
		}
		number := m.number
		if s.faults.HexNumbers {
			number = encodeContent(number)
		}
		content := encodeContent(m.text)
		total, recv, all := "0", "0", "1"
		if m.partsTotal > 0 {
			total, recv = strconv.Itoa(m.partsTotal), strconv.Itoa(m.partsRecv)
		}
		if m.incomplete {
			all = "0"
			// Some firmware holds only the parts it has: here, the first.
			content = encodeContent(string([]rune(m.text)[:min(len([]rune(m.text)), 67)]))
		}
		obj := s.jsonObject("id", strconv.FormatInt(m.id, 10), "number", number, "content", content,
			"tag", m.tag, "date", m.date, "draft_group_id", "", "received_all_concat_sms", all,
			"concat_sms_total", total, "concat_sms_received", recv, "sms_class", "4")
		if s.faults.Malformed {
			obj = strings.Replace(obj, `"sms_class"`, "\"sms_class\x01\"", 1)
		}
		b.WriteString(obj)
	}
	b.WriteString(`]}`)
	return b.String()
}

func (s *Sim) refuse() string {
	if s.p.emptyRefuse {
		return ""
	}
	return `{"result":"failure"}`
}

func (s *Sim) set(w http.ResponseWriter, r *http.Request) string {
	q := r.Form
	id := q.Get("goformId")
	if id == "LOGIN" || id == "LOGIN_MULTI_USER" {
		return s.login(w, r)
	}
	if !s.authorised(r) {
		return s.refuse()
	}
	if s.p.ad != "" {
		want := adToken(s.p.ad, s.p.inner, "", s.rd)
		if s.rd == "" || q.Get("AD") != want {
			return s.refuse()
		}
		s.rd = "" // one token, one action
	}
	switch s.faults.FailActions[id] {
	case "failure":
		return `{"result":"failure"}`
	case "empty":
		return ""
	}
	switch id {
	case "DELETE_SMS":
		ids := parseIDList(q.Get("msg_id"))
		keep := s.msgs[:0]
		for _, m := range s.msgs {
			if ids[m.id] {
				s.rec.Deleted = append(s.rec.Deleted, m.id)
				continue
			}
			keep = append(keep, m)
		}
		s.msgs = keep
		s.cmdStatus["6"] = "1"
	case "SET_MSG_READ":
		ids := parseIDList(q.Get("msg_id"))
		for _, m := range s.msgs {
			if ids[m.id] && m.tag == "1" {
				m.tag = "0"
				s.rec.MarkedRead = append(s.rec.MarkedRead, m.id)
			}
		}
	case "SEND_SMS":
		text, err := decodeContent(q.Get("MessageBody"))
		if err != nil || q.Get("Number") == "" {
			return `{"result":"failure"}`
		}
		s.rec.Sent = append(s.rec.Sent, SimSent{Number: q.Get("Number"), Text: text,
			Encoding: q.Get("encode_type"), SMSTime: q.Get("sms_time"), Form: cloneValues(q)})
		s.cmdStatus["4"] = "1"
		s.rec.Events = append(s.rec.Events, "sent "+q.Get("Number")+": "+text)
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
		return `{"result":"failure"}`
	}
	return `{"result":"success"}`
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

func (s *Sim) login(w http.ResponseWriter, r *http.Request) string {
	result := func(res string) string {
		s.rec.Logins = append(s.rec.Logins, SimLogin{At: s.now(), Result: res})
		return s.jsonObject("result", res)
	}
	if !s.refererOK(r) {
		return s.jsonObject("result", "")
	}
	if s.now().Before(s.lockedUntil) {
		return result("1")
	}
	if !s.lockedUntil.IsZero() {
		s.lockedUntil, s.failLeft = time.Time{}, 5
	}
	want, _ := loginPassword(s.password, "", s.p.model)
	if s.p.salted {
		want, _ = loginPassword(s.password, s.ld, s.p.model)
		s.ld = ""
	}
	if r.Form.Get("password") != want || (r.Form.Get("goformId") == "LOGIN_MULTI_USER" && r.Form.Get("user") != s.user) {
		s.failLeft--
		if s.failLeft <= 0 {
			s.failLeft = 0
			s.lockedUntil = s.now().Add(s.LockTime)
		}
		return result("3")
	}
	s.failLeft = 5
	if s.p.cookie != "" {
		tok := randomHex(16)
		http.SetCookie(w, &http.Cookie{Name: s.p.cookie, Value: tok, Path: "/"})
		s.sessions["cookie:"+tok] = s.now()
	} else {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		s.sessions["ip:"+host] = s.now()
	}
	return result("0")
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand crashes the program instead
	return strings.ToUpper(hex.EncodeToString(b))
}
