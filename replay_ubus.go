//go:build !nosim

package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// A capture of a ZTE ubus device (U60 Pro / MU5250 family) replays as the
// simulator's ubus personality with what the capture shows: whether the
// device wanted AES-GCM envelopes, whether it took the captured login, its
// storage size and its inbox (made-up senders and texts). Session ids,
// salt, RSA key and AES key are the simulator's own, made afresh. Read
// from the capture alone: the client's code is not called.

// replayUbusFamily is the family name a ubus capture's detected block holds.
const replayUbusFamily = "ubus"

// replayUbusCall is one recorded call: params [session, object, method, args].
type replayUbusCall struct {
	Params []json.RawMessage `json:"params"`
}

// isUbusCapture tells a capture of a ubus device: the client said so, or
// a call on /ubus/ was answered JSON-RPC (not only the detection probe
// refused).
func isUbusCapture(c *Capture) bool {
	if c.Detected["family"] != "" {
		return c.Detected["family"] == replayUbusFamily
	}
	for _, e := range c.Exchanges {
		if e.Path == "/ubus/" && e.Status == 200 && e.Kind == "json" && strings.Contains(string(e.Body), `"jsonrpc"`) {
			return true
		}
	}
	return false
}

// replayUbusObjectMethod is the object.method of an exchange's first call,
// and its arguments; "" when the exchange holds none.
func replayUbusObjectMethod(e Exchange) (string, map[string]any) {
	var calls []replayUbusCall
	if json.Unmarshal(e.Call, &calls) != nil || len(calls) == 0 || len(calls[0].Params) < 3 {
		return "", nil
	}
	var obj, method string
	json.Unmarshal(calls[0].Params[1], &obj)
	json.Unmarshal(calls[0].Params[2], &method)
	args := map[string]any{}
	if len(calls[0].Params) > 3 {
		json.Unmarshal(calls[0].Params[3], &args)
	}
	return obj + "." + method, args
}

// replayUbusAnswer is the status and payload of an exchange's first
// answer; status -1 when there is none (an error object, no JSON).
func replayUbusAnswer(e Exchange) (int, map[string]any) {
	var batch []struct {
		Result []json.RawMessage `json:"result"`
	}
	if json.Unmarshal(e.Body, &batch) != nil || len(batch) == 0 || len(batch[0].Result) == 0 {
		return -1, nil
	}
	var status json.Number
	if json.Unmarshal(batch[0].Result[0], &status) != nil {
		return -1, nil
	}
	n, err := strconv.Atoi(status.String())
	if err != nil {
		return -1, nil
	}
	payload := map[string]any{}
	if len(batch[0].Result) > 1 {
		json.Unmarshal(batch[0].Result[1], &payload)
	}
	return n, payload
}

// ubusReading is what the walk through a ubus capture found.
type ubusReading struct {
	accepted, refused int
	sealed            []string // why the capture shows envelopes
	plainSendTaken    bool
	// keyTaken: the capture's client registered a key; sealedFirst: a
	// listing came sealed before it did (another login's key was there).
	keyTaken, sealedFirst bool
}

// replayUbus derives the replay of a ubus capture.
func replayUbus(c *Capture) *replaySpec {
	p := simUbusPersonalities["u60pro"]
	p.name, p.red = "replay", false
	r := &replaySpec{p: p}
	note := func(format string, a ...any) { r.notes = append(r.notes, fmt.Sprintf(format, a...)) }
	rd := &ubusReading{}
	for _, e := range c.Exchanges {
		r.readUbus(e, rd)
	}
	if isTrue(c.Detected["send_sealed"]) {
		rd.sealed = append(rd.sealed, "the client found plaintext sends refused")
	}
	r.nameMessages()
	note("ZTE ubus (U60 Pro / MU5250 family): JSON-RPC on POST /ubus/, salted SHA256 login, zwrt_wms SMS")
	switch {
	case len(rd.sealed) > 0:
		r.p.red = true
		note("encryption ON: sends need AES-256-GCM envelopes (a plaintext send is refused with status 2), the inbox is sealed once a key is registered (%s)",
			strings.Join(dedupeStrings(rd.sealed), "; "))
	case rd.plainSendTaken:
		note("encryption off: the device took a plaintext send")
	default:
		note("encryption unknown: the capture holds no send and no sealed value (doctor -send-test shows it); the replay takes plaintext")
	}
	if r.p.red && rd.sealedFirst {
		r.otherKey = true
		note("the inbox came sealed before the client registered a key: another login's key is in place at start")
	}
	if rd.refused > 0 && rd.accepted == 0 {
		r.p.refuseLogins = true
		note("the captured login was refused: the replay refuses every login, as a device with another password")
	}
	if r.capacity > 0 {
		note("device storage of %d SMS", r.capacity)
	}
	note("inbox: %d message(s) with made-up senders and texts", len(r.msgs))
	return r
}

// readUbus takes in one exchange of a ubus capture.
func (r *replaySpec) readUbus(e Exchange, rd *ubusReading) {
	call, args := replayUbusObjectMethod(e)
	status, payload := replayUbusAnswer(e)
	if strings.Contains(string(e.Body), ":sealed>") {
		rd.sealed = append(rd.sealed, "the device listed sealed values")
		rd.sealedFirst = rd.sealedFirst || !rd.keyTaken
	}
	switch call {
	case "zwrt_web.web_login":
		if s, _ := payload["ubus_rpc_session"].(string); status == 0 && s != "" {
			rd.accepted++
		} else {
			rd.refused++
		}
	case "zwrt_web.web_http_enstr_set":
		if status == 0 {
			rd.sealed = append(rd.sealed, "the device took a key")
			rd.keyTaken = true
		}
	case "zwrt_wms.zte_libwms_send_sms":
		number, _ := args["number"].(string)
		switch {
		case status == 0 && strings.HasSuffix(number, ":sealed>"):
			rd.sealed = append(rd.sealed, "the device took a sealed send")
		case status == 0:
			rd.plainSendTaken = true
		case status == 2 && !strings.HasSuffix(number, ":sealed>"):
			rd.sealed = append(rd.sealed, "the device refused a plaintext send")
		}
	case "zwrt_wms.zte_libwms_get_sms_data":
		if status == 0 {
			r.addMessages(replayTextValues(payload), replayArg(args["mem_store"]))
		}
	case "zwrt_wms.zwrt_wms_get_wms_capacity":
		if n, err := strconv.Atoi(replayArg(payload["sms_nv_total"])); err == nil && n > 0 {
			r.capacity = n
		}
	}
}

// replayArg is a recorded argument or value as text: "1" for 1 or "1".
func replayArg(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

// replayTextValues is a listing's payload with the messages' numbers as
// their text: firmware may write an id as 12 or "12".
func replayTextValues(payload map[string]any) map[string]any {
	list, _ := payload["messages"].([]any)
	for _, item := range list {
		rec, _ := item.(map[string]any)
		for k, v := range rec {
			if _, ok := v.(float64); ok {
				rec[k] = replayArg(v)
			}
		}
	}
	return payload
}

func dedupeStrings(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
