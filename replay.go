//go:build !nosim

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// A replay is the simulator playing a personality derived from a doctor
// capture: its versions, login scheme, AD form, cookie name and quirks, and
// the values it gave for keys that do not change. It is a simulator, not a
// table of answers, so the real client can log in, poll, list and send
// against it: any user's modem becomes a test fixture.

// replaySpec is what a capture tells about the modem that answered it.
type replaySpec struct {
	p        simPersonality
	capacity int
	ppp      string
	signal   string
	msgs     []simMsg
	faults   SimFaults
	// notes say where a trait came from, for the person running the replay.
	notes []string
	// otherKey: another web login's AES key is registered at start, so the
	// inbox comes sealed with a key the client does not have (ubus).
	otherKey bool
}

// dynamicKeys are computed by the simulator from its state (session,
// inbox, link); a captured value would freeze them.
var dynamicKeys = map[string]bool{
	"loginfo": true, "psw_fail_num_str": true, "login_lock_time": true, "LD": true, "RD": true,
	"sms_unread_num": true, "sms_dev_unread_num": true, "sms_sim_unread_num": true, "ppp_status": true,
	"wa_inner_version": true, "cr_version": true, "hardware_version": true, "signalbar": true,
	"network_type": true, "wan_ipaddr": true,
}

// sessionKeySet are keys no firmware answers without a session: an answer
// with one of them filled in came from a session.
var sessionKeySet = map[string]bool{"sms_unread_num": true, "ppp_status": true, "sms_dev_unread_num": true,
	"sms_sim_unread_num": true, "signalbar": true, "network_type": true}

func loadReplay(path string) (*replaySpec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	c, err := ReadCapture(b)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", path, err)
	}
	return replayFromCapture(c), nil
}

func bodyObject(e Exchange) map[string]any {
	if e.Body == nil {
		return nil
	}
	var v map[string]any
	if err := json.Unmarshal(e.Body, &v); err != nil {
		return nil
	}
	return v
}

func isTrue(s string) bool { return s == "true" }

// replayFromCapture derives the personality. What the client detected
// (and confirmed) comes first; what the exchanges show fills the rest.
func replayFromCapture(c *Capture) *replaySpec {
	if isUbusCapture(c) {
		return replayUbus(c) // replay_ubus.go
	}
	det := c.Detected
	r := &replaySpec{p: simPersonality{name: "replay", model: det["hardware_version"], inner: det["wa_inner_version"],
		cr: det["cr_version"], keys: map[string]string{}}}
	note := func(format string, a ...any) { r.notes = append(r.notes, fmt.Sprintf(format, a...)) }

	rd := &captureReading{r: r, loggedIn: det["login"] == schemeNone}
	for _, e := range c.Exchanges {
		rd.read(e)
	}
	r.nameMessages()
	r.setLoginScheme(det, rd, note)
	r.p.userForm = rd.loginForm
	r.p.rdNeedsSession = rd.rdBlankBefore && rd.rdSeenAfter
	r.p.stuckAttempts = isTrue(det["counter_stuck"]) || rd.stuck
	r.setAD(det, rd.adShapes, note)
	r.replayNewer(c, note)
	if r.p.cookie != "" {
		note("session cookie %s", r.p.cookie)
	} else if !r.p.noLogin {
		note("no session cookie: the session is tied to the client's address")
	}
	return r
}

// captureReading walks a capture's exchanges in order, filling r and
// keeping what only the sequence shows: whether a login was refused or
// accepted, RD before and after it, a refusal the counter did not count.
type captureReading struct {
	r                          *replaySpec
	loggedIn                   bool
	rdBlankBefore, rdSeenAfter bool
	// A refusal that did not lower the next psw_fail_num_str read shows a
	// stuck counter.
	leftBefore            string
	justRefused, refused  bool
	stuck                 bool
	loginShape, loginForm string
	adShapes              []string
}

// read takes in one exchange.
func (rd *captureReading) read(e Exchange) {
	r := rd.r
	v := bodyObject(e)
	cmd := e.Query["cmd"]
	switch {
	case e.Path == configJSPath:
		if e.Kind == "config.js" {
			r.p.configJS = fmt.Sprintf(simConfigJS, e.Text)
			if e.Text == "" {
				r.p.configJS = fmt.Sprintf(simConfigJS, `WEBUI_SIGN:1`)
			}
		}
	case e.Method == "POST" && (e.Form["goformId"] == "LOGIN" || e.Form["goformId"] == "LOGIN_MULTI_USER"):
		rd.readLogin(e, v)
	case e.Method == "POST":
		res, _ := bodyString(v, "result")
		if e.Kind == "empty" {
			r.p.emptyRefuse = true
		}
		if res == "success" {
			rd.adShapes = append(rd.adShapes, adShape(e.Form["AD"]))
		}
	case cmd == "LD":
		if ld, _ := bodyString(v, "LD"); ld != "" {
			r.p.servesLD = true
		}
	case cmd == "RD":
		rdv, _ := bodyString(v, "RD")
		if rdv == "" && !rd.loggedIn {
			rd.rdBlankBefore = true
		}
		if rdv != "" && rd.loggedIn {
			rd.rdSeenAfter = true
		}
	case cmd == "sms_capacity_info" && v != nil:
		if _, ok := v["sms_nvused_total"]; !ok {
			r.p.noNVUsed = true
		}
		if n, err := strconv.Atoi(fmt.Sprint(v["sms_nv_total"])); err == nil && n > 0 {
			r.capacity = n
		}
	case cmd == "sms_data_total" && v != nil && e.Query["mem_store"] != "":
		r.addMessages(v, e.Query["mem_store"])
	case e.Query["multi_data"] == "1" && v != nil:
		rd.readKeys(v)
	}
	if e.Kind == "html" && e.Path == "/goform/goform_get_cmd_process" {
		r.p.expiry = "html"
	}
	if e.Status == 302 && r.p.expiry == "" {
		r.p.expiry = "redirect"
	}
	if e.Kind == "json-repaired" {
		r.faults.Malformed = true
	}
}

// bodyString is the string value of key k in a JSON answer's object.
func bodyString(v map[string]any, k string) (string, bool) {
	s, ok := v[k].(string)
	return s, ok
}

// readLogin takes in a LOGIN post: the password's shape, the form's user
// field, the session cookie, and whether the modem took it.
func (rd *captureReading) readLogin(e Exchange, v map[string]any) {
	r := rd.r
	rd.loginShape = strings.TrimSuffix(strings.TrimPrefix(e.Form["password"], "<redacted:"), ">")
	switch {
	case e.Form["goformId"] == "LOGIN_MULTI_USER":
		rd.loginForm = "LOGIN_MULTI_USER"
	case hasKey(e.Form, "username"):
		rd.loginForm = "username"
	case hasKey(e.Form, "user"):
		rd.loginForm = "user"
	}
	res, _ := bodyString(v, "result")
	if names := e.Header["Set-Cookie"]; names != "" {
		r.p.cookie, _, _ = strings.Cut(names, ",")
	}
	switch res {
	case "0", "4":
		rd.loggedIn, rd.justRefused = true, false
	default:
		rd.refused, rd.justRefused = true, true
	}
}

// readKeys takes in a multi_data read: the counter, versions and link
// state, and the keys the simulator serves as they were.
func (rd *captureReading) readKeys(v map[string]any) {
	r := rd.r
	session := false
	for k := range sessionKeySet {
		if s, _ := bodyString(v, k); s != "" {
			session = true
		}
	}
	for k, val := range v {
		s, ok := val.(string)
		if !ok || strings.HasPrefix(k, "<") {
			continue
		}
		switch k {
		case "psw_fail_num_str":
			if rd.justRefused && rd.leftBefore != "" && s == rd.leftBefore {
				rd.stuck = true
			}
			rd.justRefused, rd.leftBefore = false, s
		case "hardware_version", "wa_inner_version", "cr_version":
			if s != "" {
				setIfEmpty(&r.p.model, k == "hardware_version", s)
				setIfEmpty(&r.p.inner, k == "wa_inner_version", s)
				setIfEmpty(&r.p.cr, k == "cr_version", s)
			}
		case "ppp_status":
			if s != "" {
				r.ppp = s
				if simDataUp(s) {
					r.p.connected = s
				}
			}
		case "signalbar":
			if s != "" {
				r.signal = s
			}
		}
		if dynamicKeys[k] || (!session && !simPreLogin[k]) {
			continue
		}
		r.p.keys[k] = replayValue(k, s)
	}
}

// nameMessages orders the captured messages and gives them made-up
// numbers and texts (the capture keeps neither).
func (r *replaySpec) nameMessages() {
	sort.Slice(r.msgs, func(i, j int) bool { return r.msgs[i].id < r.msgs[j].id })
	for i := range r.msgs {
		m := &r.msgs[i]
		m.number, m.text = fmt.Sprintf("+1555010%04d", i+1), fmt.Sprintf("replayed message %d", i+1)
		if m.partsTotal > 1 {
			m.text = strings.Repeat(fmt.Sprintf("replayed long message %d. ", i+1), 8*m.partsTotal)
		}
	}
}

// setLoginScheme decides the password scheme: the client's detection, else
// the shape of the password it sent.
func (r *replaySpec) setLoginScheme(det map[string]string, rd *captureReading, note func(string, ...any)) {
	switch det["login"] {
	case schemeNone:
		r.p.noLogin = true
		note("no login (%s)", det["login_from"])
	case schemeBase64:
		r.p.scheme = 0
	case schemeSHA256Base64:
		r.p.scheme = 1
	case schemeSHA256LD:
		r.p.scheme = 2
	default:
		// The client did not say: the shape of the password it sent.
		switch {
		case rd.loginShape == "base64":
			r.p.scheme = 0
		case strings.HasPrefix(rd.loginShape, "sha256") && r.p.servesLD:
			r.p.scheme = 2
		case strings.HasPrefix(rd.loginShape, "sha256"):
			r.p.scheme = 1
		case rd.loginShape == "" && !rd.refused:
			r.p.noLogin = true
		}
	}
	if !r.p.noLogin {
		how := det["login_from"]
		if rd.refused && !rd.loggedIn {
			how += "; the captured login was refused, so the scheme is the client's guess"
		}
		note("password scheme %d (%s)", r.p.scheme, how)
	}
}

// setAD decides the AD form: the form the client confirmed, else the form
// of the tokens that were accepted, else the client's unconfirmed guess.
func (r *replaySpec) setAD(det map[string]string, adShapes []string, note func(string, ...any)) {
	ad := ""
	switch {
	case isTrue(det["ad_confirmed"]):
		ad = det["ad"]
		note("AD %s, confirmed by the client (%s)", ad, det["ad_from"])
	case len(adShapes) > 0:
		ad = adShapes[len(adShapes)-1]
		note("AD %s, from the tokens the modem accepted", replayBlank(ad))
	default:
		ad = det["ad"]
		note("AD %s, not confirmed in the capture (%s)", replayBlank(ad), replayBlank(det["ad_from"]))
	}
	if ad == adNone {
		ad = ""
	}
	r.p.ad = ad
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

func setIfEmpty(dst *string, cond bool, v string) {
	if cond && *dst == "" {
		*dst = v
	}
}

// adShape names the AD form a token was written in.
func adShape(ad string) string {
	switch {
	case ad == "":
		return adNone
	case len(ad) == 32:
		return adMD5
	case len(ad) == 64 && strings.ToUpper(ad) == ad:
		return adSHA256
	case len(ad) == 64:
		return adSHA256Lower
	}
	return adMD5
}

// replayValue turns a redacted value back into something a client can
// parse: an address from the documentation range, a placeholder text.
func replayValue(k, v string) string {
	if !strings.Contains(v, "<") {
		return v
	}
	if strings.Contains(k, "ip") || strings.Contains(k, "addr") {
		return "192.0.2.1"
	}
	return "redacted"
}

// addMessages keeps the inbox a capture listed, with made-up senders and
// texts in place of the redacted ones.
func (r *replaySpec) addMessages(v map[string]any, mem string) {
	list, _ := v["messages"].([]any)
	seen := map[int64]bool{} // a duplicate within one listing; a later listing repeats them all
	for _, item := range list {
		rec, _ := item.(map[string]any)
		get := func(k string) string { s, _ := rec[k].(string); return s }
		id, err := strconv.ParseInt(get("id"), 10, 64)
		if err != nil {
			continue
		}
		dup := false
		for _, m := range r.msgs {
			if m.id == id && m.mem == mem {
				dup = true
				r.p.dupIDs = r.p.dupIDs || seen[id]
			}
		}
		seen[id] = true
		if dup {
			continue
		}
		// Senders and texts are made up once the inbox is in id order.
		m := simMsg{id: id, tag: get("tag"), date: get("date"), mem: mem}
		if strings.Contains(get("number"), "hex") {
			r.faults.HexNumbers = true
		}
		m.partsTotal, m.partsRecv, m.incomplete = simRecordConcat(get("received_all_concat_sms"),
			get("concat_sms_total"), get("concat_sms_received"))
		r.msgs = append(r.msgs, m)
	}
}

// newReplaySim builds the simulator for a replay.
func newReplaySim(r *replaySpec, password string) *Sim {
	s := newSim(r.p, password)
	if r.capacity > 0 {
		s.Capacity = r.capacity
	}
	if r.ppp != "" {
		ppp := r.ppp
		if simDataUp(ppp) {
			ppp = "ppp_connected" // the simulator's word for up; the personality says how it shows
		}
		s.ppp = ppp
	}
	if r.signal != "" {
		s.signal = r.signal
	}
	s.faults = r.faults
	if r.otherKey {
		s.OtherWebLogin()
	}
	for _, m := range r.msgs {
		m := m
		s.msgs = append(s.msgs, &m)
		s.nextID = max(s.nextID, m.id)
	}
	return s
}

// simCapacity is -capacity when it was given, else the replayed modem's
// capacity, else the flag's default.
func simCapacity(fs *flag.FlagSet, capacity int, r *replaySpec) int {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "capacity" })
	if !given && r != nil && r.capacity > 0 {
		return r.capacity
	}
	return capacity
}

// replayBlank shows an empty capture value in a note.
func replayBlank(s string) string {
	if s == "" {
		return "(blank)"
	}
	return s
}
