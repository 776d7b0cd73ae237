package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A ubus capture (ZTE U60 Pro / MU5250 family, zte-newer.md §2) holds each
// JSON-RPC call as Exchange.Call and each answer as Exchange.Body, both
// rebuilt from what they parse as, with only the parts that say what was
// asked and how the firmware answered:
//   - the session in a call is "<anon>" (the all-zero anonymous session,
//     no secret) or "<session>"; ubus_rpc_session in an answer is redacted;
//   - the login's password becomes its shape only, like goform's;
//   - the login salt (zte_web_sault) is redacted too. Decision: the salt
//     alone lets nobody test guesses, the salted hash does, and that hash
//     is never kept; but the salt is of no use to a reader or the replay
//     (which makes its own), and a salt kept beside a hash that some later
//     change forgot to redact would be exactly the offline-guessing pair.
//     So neither is kept, and both are removed again from the whole file
//     (recorder.tokens);
//   - web_enstr (the wrapped AES key) and web_crt_get's PEM are redacted;
//     the AES key itself never goes on the wire;
//   - number, message_body and content become <number>, <text>, or
//     <number:sealed>, <text:sealed> when the firmware or the client sent
//     an AES-GCM envelope there: the replay learns encryption was on, and
//     nothing of the envelope is kept.

// ubusPath is where the ubus API answers.
const ubusPath = "/ubus/"

// ubusArgsKept are call arguments that say what was asked, never who or
// what was written: kept, through the scrubber.
var ubusArgsKept = map[string]bool{
	"tags": true, "page": true, "data_per_page": true, "mem_store": true, "order_by": true, "sms_cmd": true,
	"encode_type": true, "sms_time": true, "id": true,
}

// ubusName is what an object or method name may be to be kept.
var ubusName = lazyRegexp(`^[A-Za-z][A-Za-z0-9_.]{0,63}$`)

// tapWeb puts doctor's recorder between the ubus client and the network,
// so that -capture holds the whole conversation, not only detection's
// probe.
func (m *ubusModem) tapWeb(r *recorder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.next = m.web
	m.web = r
}

// paceStatus replaces the waits between status reads (doctor's tests).
func (m *ubusModem) paceStatus(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.statusEvery, m.sendSettle = d, d
}

// CaptureDetected is what the ubus client found out, for the capture and
// sim -replay: whether sends needed envelopes, whether it registered a key.
func (m *ubusModem) CaptureDetected() map[string]string {
	inf := m.Info()
	m.mu.Lock()
	defer m.mu.Unlock()
	return map[string]string{"family": familyUbus, "generation": inf.Generation, "login": inf.Login,
		"encrypted": strconv.FormatBool(inf.Encrypted), "send_sealed": strconv.FormatBool(m.sealSend),
		"key_registered": strconv.FormatBool(m.aead != nil), "logged_in": strconv.FormatBool(inf.LoggedIn)}
}

// isUbusLogin tells a request that logs in to the ubus API.
func isUbusLogin(req *webRequest) bool {
	if req.Path != ubusPath || len(req.Body) == 0 {
		return false
	}
	for _, c := range ubusCalls(req.Body) {
		if len(c) == 4 && jsonString(c[1]) == "zwrt_web" && jsonString(c[2]) == "web_login" {
			return true
		}
	}
	return false
}

// ubusLoginResult is a ubus login's answer as the recorder counts it: "0"
// when it gave a session, else refused.
func ubusLoginResult(body []byte) string {
	p, err := parseUbusAnswer(body)
	if err != nil {
		return "(refused)"
	}
	if s, _ := p["ubus_rpc_session"].(string); s != "" {
		return "0"
	}
	return "(refused)"
}

// ubusCalls are the params of each call in a JSON-RPC request body (a
// batch or one call); nil when it is not one.
func ubusCalls(body []byte) [][]json.RawMessage {
	var batch []struct {
		Params []json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(body, &batch); err != nil {
		var one struct {
			Params []json.RawMessage `json:"params"`
		}
		if json.Unmarshal(body, &one) != nil {
			return nil
		}
		batch = append(batch[:0], one)
	}
	out := make([][]json.RawMessage, 0, len(batch))
	for _, c := range batch {
		out = append(out, c.Params)
	}
	return out
}

func jsonString(b json.RawMessage) string {
	var s string
	json.Unmarshal(b, &s)
	return s
}

// captureUbus fills e with the redacted call and answer of a ubus
// exchange.
func captureUbus(e *Exchange, req *webRequest, ans *webAnswer) {
	if req.Path != ubusPath || len(req.Body) == 0 {
		return
	}
	e.Call = redactUbusCall(req.Body)
	if ans == nil || ans.BodyErr != nil {
		return
	}
	if body, ok := redactUbusAnswer(ans.Body); ok {
		e.Kind, e.Body, e.Text = "json", body, ""
	}
}

// marshalCapJSON renders v as a capture keeps JSON: no HTML escaping, so
// that "<redacted>" reads as written.
func marshalCapJSON(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return json.RawMessage(`"<redacted>"`)
	}
	return bytes.TrimSpace(buf.Bytes())
}

// redactUbusCall is a JSON-RPC request as a capture keeps it: method and
// id, the session as <anon> or <session>, object and method names, and
// the arguments redacted one by one. A body that is not JSON-RPC is kept
// as "<redacted>" only.
func redactUbusCall(body []byte) json.RawMessage {
	var batch []map[string]json.RawMessage
	if err := json.Unmarshal(body, &batch); err != nil {
		var one map[string]json.RawMessage
		if json.Unmarshal(body, &one) != nil {
			return json.RawMessage(`"<redacted>"`)
		}
		batch = append(batch[:0], one)
	}
	out := make([]any, 0, len(batch))
	for _, c := range batch {
		call := map[string]any{}
		if jsonString(c["jsonrpc"]) == "2.0" {
			call["jsonrpc"] = "2.0"
		}
		if m := jsonString(c["method"]); m != "" {
			call["method"] = ubusKeptName(m)
		}
		if id, ok := ubusSmallNumber(c["id"]); ok {
			call["id"] = id
		}
		var params []json.RawMessage
		if json.Unmarshal(c["params"], &params) == nil {
			call["params"] = redactUbusParams(params)
		}
		out = append(out, call)
	}
	return marshalCapJSON(out)
}

func ubusKeptName(s string) string {
	if ubusName().MatchString(s) && scrubText(s) == s {
		return s
	}
	return "<redacted>"
}

// ubusSmallNumber is an integer from -99999 to 9999 (a call id, a status,
// a JSON-RPC error code), as a JSON number or the string of one, kept in
// its type: nothing a phone number fits.
func ubusSmallNumber(b json.RawMessage) (any, bool) {
	b = bytes.TrimSpace(b)
	quoted := len(b) > 0 && b[0] == '"'
	text := string(b)
	if quoted {
		text = jsonString(b)
	}
	i, err := strconv.ParseInt(text, 10, 64)
	if err != nil || i < -99999 || i > 9999 {
		return nil, false
	}
	if quoted {
		return strconv.FormatInt(i, 10), true
	}
	return json.Number(strconv.FormatInt(i, 10)), true
}

// redactUbusParams keeps of [session, object, method, args] the session's
// kind, the names, and the arguments as the rules above say.
func redactUbusParams(params []json.RawMessage) []any {
	out := make([]any, len(params))
	for i, p := range params {
		switch i {
		case 0:
			out[i] = "<session>"
			if jsonString(p) == ubusAnon {
				out[i] = "<anon>"
			}
		case 1, 2:
			out[i] = ubusKeptName(jsonString(p))
		case 3:
			var args map[string]any
			if json.Unmarshal(p, &args) != nil {
				out[i] = "<redacted>"
				continue
			}
			out[i] = redactUbusArgs(args)
		default:
			out[i] = "<redacted>"
		}
	}
	return out
}

func redactUbusArgs(args map[string]any) map[string]any {
	out := make(map[string]any, len(args))
	n := 0
	for k, v := range args {
		name := k
		if !ubusArgsKept[k] && scrubText(k) != k {
			n++
			name = "<redacted key " + strconv.Itoa(n) + ">"
		}
		s, isStr := v.(string)
		switch {
		case isStr && s == "":
			out[name] = ""
		case k == "password" && isStr:
			out[name] = "<redacted:" + passwordShape(s) + ">"
		case k == "number":
			out[name] = sealedMark("<number", s)
		case k == "message_body" || k == "content":
			out[name] = sealedMark("<text", s)
		case ubusArgsKept[k] && isStr:
			out[name] = scrubText(s)
		case ubusArgsKept[k]:
			out[name] = redactJSON("id", v) // a number kept only when the scrubber keeps its text
		default:
			out[name] = "<redacted>"
		}
	}
	return out
}

// sealedMark is the mark of a redacted number or text: sealed when it was
// an AES-GCM envelope.
func sealedMark(mark, v string) string {
	if looksSealed(v) {
		return mark + ":sealed>"
	}
	return mark + ">"
}

// redactUbusAnswer is a JSON-RPC answer as a capture keeps it: jsonrpc,
// id, the status of each result and its payload redacted like a goform
// answer (with sealed marks), an error's code and scrubbed message. ok is
// false for what is not a JSON-RPC answer (redactBody takes it).
func redactUbusAnswer(body []byte) (json.RawMessage, bool) {
	var batch []map[string]json.RawMessage
	t := bytes.TrimSpace(body)
	if err := json.Unmarshal(t, &batch); err != nil {
		var one map[string]json.RawMessage
		if json.Unmarshal(t, &one) != nil {
			return nil, false
		}
		batch = append(batch[:0], one)
	}
	out := make([]any, 0, len(batch))
	for _, a := range batch {
		if a == nil {
			return nil, false
		}
		ans := map[string]any{}
		if jsonString(a["jsonrpc"]) == "2.0" {
			ans["jsonrpc"] = "2.0"
		}
		if id, ok := ubusSmallNumber(a["id"]); ok {
			ans["id"] = id
		}
		if r, ok := a["result"]; ok {
			ans["result"] = redactUbusResult(r)
		}
		if e, ok := a["error"]; ok {
			ans["error"] = redactUbusError(e)
		}
		if len(ans) == 0 {
			return nil, false
		}
		out = append(out, ans)
	}
	return marshalCapJSON(out), true
}

// redactUbusResult keeps [status, payload]: the status when it is a small
// number, the payload as redactJSON leaves it, sealed values marked.
func redactUbusResult(r json.RawMessage) any {
	var res []json.RawMessage
	if json.Unmarshal(r, &res) != nil {
		return "<redacted>"
	}
	out := make([]any, len(res))
	for i, v := range res {
		if i == 0 {
			if n, ok := ubusSmallNumber(v); ok {
				out[i] = n
				continue
			}
			out[i] = "<redacted>"
			continue
		}
		var payload any
		if json.Unmarshal(v, &payload) != nil {
			out[i] = "<redacted>"
			continue
		}
		out[i] = markSealed(payload, redactJSON("", payload))
	}
	return out
}

// markSealed walks the payload and its redacted copy together, and marks
// number and content that were envelopes in the copy.
func markSealed(orig, red any) any {
	switch o := orig.(type) {
	case map[string]any:
		r, ok := red.(map[string]any)
		if !ok {
			return red
		}
		for k, v := range o {
			if _, kept := r[k]; !kept {
				continue // a renamed key: nothing to mark
			}
			if s, isStr := v.(string); isStr && (k == "number" || k == "content") && looksSealed(s) {
				r[k] = map[string]string{"number": "<number", "content": "<text"}[k] + ":sealed>"
				continue
			}
			r[k] = markSealed(v, r[k])
		}
		return r
	case []any:
		r, ok := red.([]any)
		if !ok || len(r) != len(o) {
			return red
		}
		for i := range o {
			r[i] = markSealed(o[i], r[i])
		}
		return r
	}
	return red
}

// redactUbusError keeps an error's code (when small) and its message
// through the scrubber, cut to 80 bytes.
func redactUbusError(e json.RawMessage) any {
	var v map[string]json.RawMessage
	if json.Unmarshal(e, &v) != nil {
		return "<redacted>"
	}
	out := map[string]any{}
	if n, ok := ubusSmallNumber(v["code"]); ok {
		out["code"] = n
	}
	if m := jsonString(v["message"]); m != "" {
		out["message"] = strings.ToValidUTF8(clip(scrubText(m), 80), "")
	}
	return out
}

// ubusCaptureTokens are the secrets of one ubus exchange that the
// structural redaction above already leaves out: session ids, the salt,
// the salted password, the wrapped key, the PEM's body, envelopes. They
// are removed once more from the whole file, in case a firmware echoes
// one where no rule expects it.
func ubusCaptureTokens(req *webRequest, ans *webAnswer) []string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if len(s) >= 8 && s != ubusAnon {
			out = append(out, s)
		}
	}
	for _, c := range ubusCalls(req.Body) {
		if len(c) > 0 {
			add(jsonString(c[0]))
		}
		if len(c) > 3 {
			var args map[string]any
			json.Unmarshal(c[3], &args)
			for _, k := range []string{"password", "web_enstr", "number", "message_body"} {
				if s, ok := args[k].(string); ok && (k != "number" && k != "message_body" || looksSealed(s)) {
					add(s)
				}
			}
		}
	}
	if ans == nil {
		return out
	}
	p, err := parseUbusAnswer(ans.Body)
	if err != nil {
		return out
	}
	for _, k := range []string{"zte_web_sault", "ubus_rpc_session"} {
		if s, ok := p[k].(string); ok {
			add(s)
		}
	}
	if s, ok := p["result"].(string); ok && redactedPEM(s) {
		add(pemBody(s))
	}
	if list, ok := p["messages"].([]any); ok {
		for _, item := range list {
			rec, _ := item.(map[string]any)
			for _, k := range []string{"number", "content"} {
				if s, ok := rec[k].(string); ok && looksSealed(s) {
					add(s)
				}
			}
		}
	}
	return out
}

// pemBody is the base64 between a PEM's header and footer, with no line
// breaks: the part that is the key.
func pemBody(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.ReplaceAll(s, "-----", "\n-----"), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "-----") {
			if _, rest, ok := strings.Cut(line[5:], "-----"); ok {
				line = rest
			} else {
				continue
			}
		}
		b.WriteString(line)
	}
	return b.String()
}

// tokenForms are the ways a token can be written into a capture: as is,
// JSON-escaped, base64, hex of its bytes.
func tokenForms(tokens []string) []string {
	var out []string
	for _, t := range tokens {
		esc := strings.TrimSuffix(strings.TrimPrefix(string(marshalCapJSON(t)), `"`), `"`)
		out = append(out, esc, base64.StdEncoding.EncodeToString([]byte(t)), hex.EncodeToString([]byte(t)))
		if !strings.ContainsAny(t, `\"`) {
			// As is only where that cannot cut through the file's
			// structure: the escaped form covers the rest.
			out = append(out, t)
		}
	}
	return out
}

// redactTokens replaces every form of every token, in any case, in s.
func redactTokens(s string, tokens []string) string {
	forms := tokenForms(tokens)
	// Longest first: a token's base64 may hold a shorter one.
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	for _, f := range forms {
		if len(f) < 8 {
			continue
		}
		s = replaceFold(s, f, "<redacted>")
	}
	return s
}

// replaceFold replaces old in s, matched without regard to ASCII case.
func replaceFold(s, old, repl string) string {
	low, lowOld := strings.ToLower(s), strings.ToLower(old)
	if len(low) != len(s) || len(lowOld) != len(old) {
		return strings.ReplaceAll(s, old, repl) // a case change altered the length: exact only
	}
	var b strings.Builder
	for {
		i := strings.Index(low, lowOld)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(repl)
		s, low = s[i+len(old):], low[i+len(old):]
	}
}

// passwordHashes are the password's salt-free hashes a client computes:
// SHA256 upper and lower hex (ubus's and goform's inner hash; with it
// anyone can log in, whatever the salt).
func passwordHashes(password string) []string {
	if password == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(password))
	h := hex.EncodeToString(sum[:])
	return []string{h, strings.ToUpper(h)}
}
