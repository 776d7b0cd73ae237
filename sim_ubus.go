//go:build !nosim

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The ubus family (U60 Pro / MU5250, zte-newer.md §2), played by the same
// simulator as the goform modems: POST /ubus/ JSON-RPC, the salted
// double-SHA256 login, zwrt_wms.* for SMS, and on this build (MU5250 B27)
// envelopes required on send. Written from the notes alone.

// simUbusPersonalities are kept apart from simPersonalities: the goform
// client's tests go through those.
var simUbusPersonalities = map[string]simPersonality{
	// U60 Pro / MU5250 B27 (2025-12): a plaintext send is refused with
	// status 2, the listing comes sealed once a key is registered.
	"u60pro": {name: "u60pro", model: "MU5250", inner: "CN_ZTE_MU5250V1.0.0B27", ubus: true, red: true},
}

func simUbusNames() []string { return []string{"u60pro"} }

const simUbusAnon = "00000000000000000000000000000000"

type simUbusCall struct {
	ID     any               `json:"id"`
	Params []json.RawMessage `json:"params"`
}

// simUbus answers POST /ubus/. Referer and Origin are mandatory: without
// them the firmware answers HTTP 400 (§2.5).
func (s *Sim) simUbus(r *http.Request) simAnswer {
	if r.Method != http.MethodPost || r.URL.Path != "/ubus/" {
		return simAnswer{status: http.StatusNotFound, ctype: "text/html", body: "<html><body>404</body></html>"}
	}
	if r.Header.Get("Referer") == "" || r.Header.Get("Origin") == "" {
		return simAnswer{status: http.StatusBadRequest, ctype: "text/plain", body: "Bad Request"}
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return simAnswer{status: http.StatusBadRequest}
	}
	var calls []simUbusCall
	if err := json.Unmarshal(b, &calls); err != nil || len(calls) == 0 {
		var one simUbusCall
		if json.Unmarshal(b, &one) != nil {
			return simAnswer{body: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`}
		}
		calls = []simUbusCall{one}
	}
	var out []string
	for _, c := range calls {
		out = append(out, s.simUbusOne(c))
	}
	return simAnswer{body: "[" + strings.Join(out, ",") + "]"}
}

func (s *Sim) simUbusOne(c simUbusCall) string {
	id, _ := json.Marshal(c.ID)
	reply := func(status int, payload any) string {
		p, _ := json.Marshal(payload)
		if status != 0 {
			return `{"jsonrpc":"2.0","id":` + string(id) + `,"result":[` + strconv.Itoa(status) + `]}`
		}
		return `{"jsonrpc":"2.0","id":` + string(id) + `,"result":[0,` + string(p) + `]}`
	}
	if len(c.Params) != 4 {
		return `{"jsonrpc":"2.0","id":` + string(id) + `,"error":{"code":-32602,"message":"Invalid params"}}`
	}
	var session, object, method string
	json.Unmarshal(c.Params[0], &session)
	json.Unmarshal(c.Params[1], &object)
	json.Unmarshal(c.Params[2], &method)
	args := map[string]any{}
	json.Unmarshal(c.Params[3], &args)
	arg := func(k string) string {
		switch v := args[k].(type) {
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return ""
	}
	switch object + "." + method {
	case "zwrt_web.web_login_info":
		s.ld = simRandomHex(16)
		return reply(0, map[string]string{"zte_web_sault": s.ld})
	case "zwrt_web.web_login":
		salt := s.ld
		s.ld = "" // one salt, one login
		if salt == "" || s.p.refuseLogins || arg("password") != simUpperSHA256(simUpperSHA256(s.password)+salt) {
			s.rec.Logins = append(s.rec.Logins, SimLogin{At: s.now(), Result: "3"})
			return reply(0, map[string]string{"result": "3"})
		}
		tok := strings.ToLower(simRandomHex(16))
		s.sessions["ubus:"+tok] = s.now()
		s.rec.Logins = append(s.rec.Logins, SimLogin{At: s.now(), Result: "0"})
		return reply(0, map[string]string{"ubus_rpc_session": tok})
	}
	last, ok := s.sessions["ubus:"+session]
	if session == simUbusAnon || !ok || s.now().Sub(last) > s.SessionTTL {
		return `{"jsonrpc":"2.0","id":` + string(id) + `,"error":{"code":-32002,"message":"Access denied"}}`
	}
	s.sessions["ubus:"+session] = s.now()
	switch object + "." + method {
	case "zwrt_web.web_crt_get":
		return reply(0, map[string]string{"result": simPEMOneLine()})
	case "zwrt_web.web_http_enstr_set":
		if !s.simEnstrSet(url.Values{"web_enstr": {arg("web_enstr")}}) {
			return reply(2, nil)
		}
		return reply(0, map[string]string{"result": "success"})
	case "zwrt_wms.zte_libwms_get_sms_data":
		var v map[string]any
		json.Unmarshal([]byte(s.list(url.Values{"mem_store": {arg("mem_store")}, "page": {arg("page")},
			"data_per_page": {arg("data_per_page")}, "tags": {arg("tags")}})), &v)
		return reply(0, v)
	case "zwrt_wms.zte_libwms_send_sms":
		q := url.Values{"Number": {arg("number")}, "MessageBody": {arg("message_body")}}
		number, text, ok := s.simSentFields(q)
		if !ok || strings.Contains(arg("sms_time"), ",") {
			return reply(2, nil) // UBUS_STATUS_INVALID_ARGUMENT, as B27 answers a plaintext send
		}
		form := url.Values{}
		for k := range args {
			form.Set(k, arg(k))
		}
		s.rec.Sent = append(s.rec.Sent, SimSent{Number: number, Text: text, Encoding: arg("encode_type"), SMSTime: arg("sms_time"), Form: form})
		s.rec.Events = append(s.rec.Events, "sent "+number+": "+text)
		s.rec.Posts = append(s.rec.Posts, SimPost{GoformID: "zte_libwms_send_sms", Authed: true, Result: "success"})
		s.startCmd("4")
		return reply(0, map[string]string{"result": "success"})
	case "zwrt_wms.zwrt_wms_get_cmd_status":
		c := arg("sms_cmd")
		res := s.cmdStatus[c]
		if time.Since(s.cmdAt[c]) < s.CmdSettle {
			res = s.cmdPrev[c]
		} else if res == "1" {
			s.cmdStatus[c] = "3"
			if c == "4" && s.faults.SendFails {
				s.cmdStatus[c] = "2"
			}
		}
		return reply(0, map[string]string{"sms_cmd": c, "sms_cmd_status_result": res})
	case "zwrt_wms.zwrt_wms_delete_sms":
		if s.faults.FailTimes["DELETE_SMS"] > 0 { // the goform action's name: one knob for both APIs
			s.faults.FailTimes["DELETE_SMS"]--
			return reply(0, map[string]string{"result": "failure"})
		}
		ids := parseIDList(arg("id"))
		keep := s.msgs[:0]
		for _, m := range s.msgs {
			if ids[m.id] && !s.faults.DeleteSilentlyFails {
				s.rec.Deleted = append(s.rec.Deleted, m.id)
				continue
			}
			keep = append(keep, m)
		}
		s.msgs = keep
		s.startCmd("6")
		return reply(0, map[string]string{"result": "success"})
	case "zwrt_wms.zwrt_wms_get_wms_capacity":
		used := 0
		for _, m := range s.msgs {
			if m.mem == "1" {
				used++
			}
		}
		return reply(0, map[string]string{"sms_nv_total": strconv.Itoa(s.Capacity), "sms_nvused_total": strconv.Itoa(used),
			"sms_nv_rev_total": strconv.Itoa(used), "sms_nv_send_total": "0", "sms_nv_draftbox_total": "0",
			"sms_sim_total": "30", "sms_sim_rev_total": "0"})
	}
	return reply(3, nil) // UBUS_STATUS_METHOD_NOT_FOUND
}
