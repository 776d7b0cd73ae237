package main

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Login schemes of HiLink (../shared/hilink.md §3), as PortInfo.Login says.
const (
	hilinkSchemeNone   = "none"            // hilink_login 0: no login at all
	hilinkSchemeType4  = "password_type 4" // salted SHA-256
	hilinkSchemePlain  = "password_type 0" // base64 of the password
	hilinkSchemeSCRAM  = "scram"           // extern_password_type 1
	hilinkDefaultUser  = "admin"
	hilinkLockFallback = 5 * time.Minute
)

// HiLink tells nothing of the attempts left (§5), and no source gives a
// stick's policy; the strictest policy any Huawei source states is three
// attempts (eA380). smsgate keeps the last two for the owner whatever the
// device's policy, so it spends one refused (or unanswered) login per
// password on its own, then waits for a restart with another password.
const (
	hilinkLoginLimit = 3
	hilinkReserved   = 2
)

// hilinkType4Password is the password_type 4 field (§3.2):
// base64(sha256hex(user + base64(sha256hex(password)) + token)).
func hilinkType4Password(user, password, token string) string {
	inner := sha256.Sum256([]byte(password))
	inner64 := base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(inner[:])))
	outer := sha256.Sum256([]byte(user + inner64 + token))
	return base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(outer[:])))
}

// scramProof is the SCRAM client proof and the server signature to expect
// (§3.3), from the challenge's salt (hex) and iterations.
func scramProof(password, clientNonce, serverNonce, saltHex string, iterations int) (proof, serverSig string, err error) {
	salt, err := hex.DecodeString(saltHex)
	if err != nil {
		return "", "", fmt.Errorf("scram salt: %w", err)
	}
	if iterations < 1 || iterations > 1_000_000 {
		return "", "", fmt.Errorf("scram iterations %d out of range", iterations)
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, 32)
	if err != nil {
		return "", "", fmt.Errorf("scram: %w", err)
	}
	clientKey := hmacSHA256([]byte("Client Key"), salted)
	stored := sha256.Sum256(clientKey)
	auth := []byte(clientNonce + "," + serverNonce + "," + serverNonce)
	sig := hmacSHA256(auth, stored[:])
	for i := range clientKey {
		clientKey[i] ^= sig[i]
	}
	serverKey := hmacSHA256([]byte("Server Key"), salted)
	return hex.EncodeToString(clientKey), hex.EncodeToString(hmacSHA256(auth, serverKey)), nil
}

func hmacSHA256(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

// loginState is what GET /api/user/state-login says (§3.1).
type loginState struct {
	State        string
	PasswordType string
	Extern       string
	Locked       bool
	Wait         time.Duration
}

func parseLoginState(n *xmlNode) loginState {
	st := loginState{State: strings.TrimSpace(n.field("State")), PasswordType: strings.TrimSpace(n.field("password_type")),
		Extern: strings.TrimSpace(n.field("extern_password_type"))}
	st.Locked = strings.TrimSpace(n.field("lockstatus")) == "1"
	// remainwaittime's unit is not known (§5): read in minutes, the longer
	// wait, so that smsgate never tries while the device still holds.
	if w, err := strconv.Atoi(strings.TrimSpace(n.field("remainwaittime"))); err == nil && w > 0 {
		st.Locked = true
		st.Wait = time.Duration(min(w, 24*60)) * time.Minute
	}
	return st
}

// scheme names the login the state asks for. A missing password_type
// (E5776s-32) is read as 4, as RaspAP does: it is what sticks use.
func (st loginState) scheme() (scheme, from string) {
	switch {
	case st.Extern == "1":
		return hilinkSchemeSCRAM, "state-login extern_password_type 1"
	case st.PasswordType == "4":
		return hilinkSchemeType4, "state-login password_type 4"
	case st.PasswordType == "0" || st.PasswordType == "3":
		return hilinkSchemePlain, "state-login password_type " + st.PasswordType
	case st.PasswordType == "":
		return hilinkSchemeType4, "state-login without password_type (taken as 4)"
	}
	return hilinkSchemeType4, "state-login password_type " + clip(st.PasswordType, 8) + " (unknown, taken as 4)"
}

// login logs in, within the attempts smsgate may spend. The caller holds mu.
func (m *hilinkModem) login(ctx context.Context) error {
	if h := m.hold; h != nil && (h.RetryAfter.IsZero() || m.now().Before(h.RetryAfter)) {
		return h
	}
	if err := m.learnLoginNeeded(ctx); err != nil {
		return err
	}
	if !m.loginNeeded {
		return nil
	}
	n, err := m.get(ctx, "/api/user/state-login")
	if err != nil {
		// Nothing was sent that could count against the password.
		return fmt.Errorf("login: read state-login (no login attempted): %w", err)
	}
	st := parseLoginState(n)
	scheme, from := st.scheme()
	m.info.Login = scheme
	if st.State == "0" {
		m.loggedIn(scheme, from)
		return nil
	}
	if st.Locked {
		wait := max(st.Wait, hilinkLockFallback)
		return m.holdLogin("the modem reports its login locked (lockstatus/remainwaittime)", wait)
	}
	if m.password == "" {
		return m.holdLogin("the modem asks for a password and none is set (-password or SMSGATE_PASSWORD)", hilinkLockFallback)
	}
	if m.rejected >= hilinkLoginLimit-hilinkReserved {
		return m.holdLogin(fmt.Sprintf("%d login(s) refused with this password; HiLink does not say how many attempts are left, so the rest are kept for the owner: fix -password and restart smsgate", m.rejected), 0)
	}
	if err := m.recordLogin(); err != nil {
		return err
	}
	for retry := 0; ; retry++ {
		if scheme == hilinkSchemeSCRAM {
			err = m.loginSCRAM(ctx)
		} else {
			err = m.loginPassword(ctx, scheme)
		}
		code := hilinkCode(err)
		if retry == 0 && (code == 125001 || code == 125002 || code == 125003) {
			// The token or session was refused before the password was
			// looked at: a fresh one, and the login once more.
			m.dropSession()
			continue
		}
		break
	}
	return m.judgeLogin(ctx, err, scheme, from)
}

// learnLoginNeeded reads hilink_login once: 0 means the device has no login.
func (m *hilinkModem) learnLoginNeeded(ctx context.Context) error {
	if m.loginKnown {
		return nil
	}
	n, err := m.get(ctx, "/api/user/hilink_login")
	switch {
	case err == nil:
		m.loginNeeded = strings.TrimSpace(n.field("hilink_login")) != "0"
	case hilinkCode(err) != 0 || errors.Is(err, errNotHiLink):
		m.loginNeeded = true // no such endpoint: the login is not known to be off
	default:
		return fmt.Errorf("login: read hilink_login: %w", err)
	}
	m.loginKnown = true
	if !m.loginNeeded {
		m.info.Login = hilinkSchemeNone
	}
	return nil
}

// judgeLogin turns a login's outcome into the client's state: a session,
// a count of refusals, or a hold.
func (m *hilinkModem) judgeLogin(ctx context.Context, err error, scheme, from string) error {
	if err == nil {
		m.loggedIn(scheme, from)
		return nil
	}
	var he *hilinkError
	if errors.As(err, &he) && he.Wait != "" {
		// A locked SCRAM challenge: no password went out this time.
		w, _ := strconv.Atoi(he.Wait)
		return m.holdLogin("the modem reports its login locked (challenge waittime "+clip(he.Wait, 8)+" min)",
			max(time.Duration(min(max(w, 0), 24*60))*time.Minute, hilinkLockFallback))
	}
	code := hilinkCode(err)
	switch code {
	case 108003, 108005:
		h := m.holdLogin("the modem has too many web UI sessions ("+err.Error()+")", time.Minute)
		m.hold.Busy = true
		return h
	case 108007, 108010:
		m.rejected++
		return m.holdLogin("the modem locked its login after too many attempts", hilinkLockFallback)
	case 108001, 108002, 108006:
		m.rejected++
		return m.holdLogin("wrong password ("+err.Error()+")"+m.noneLeft(), m.afterRefusal())
	case 0:
	default:
		m.rejected++
		return m.holdLogin("login refused: "+err.Error()+m.noneLeft(), m.afterRefusal())
	}
	var nerr *net.OpError
	if errors.As(err, &nerr) && nerr.Op == "dial" {
		return fmt.Errorf("login: %w", err) // never reached the modem
	}
	if errors.Is(err, errLoginNotSent) {
		return fmt.Errorf("login: %w", err)
	}
	// The answer was lost or unreadable: the device may have judged the
	// password all the same. If the session says logged in, it took it.
	if n, rerr := m.get(ctx, "/api/user/state-login"); rerr == nil && strings.TrimSpace(n.field("State")) == "0" {
		m.log.Info("modem login answer lost, but state-login says logged in", "err", err)
		m.loggedIn(scheme, from)
		return nil
	}
	// Not a refused password, so it is not counted as one (a restart must
	// not hold a right password for good over a cut-off answer). But the
	// device may have counted it: the next login waits, longer each time
	// (5, 10, 20 ... 60 min), and no policy any source states locks a
	// login tried that seldom.
	m.unsure++
	wait := m.lostAnswerWait(m.unsure)
	return m.holdLogin("login answer lost or unreadable ("+err.Error()+"); not counted as a wrong password, next try after a wait", wait)
}

// recordLogin writes the login about to be posted down as a SIGKILL would
// leave it: an answer never read, which holds the next login a while (see
// judgeLogin) but is not counted as a wrong password, so that a kill
// during a right password's login cannot hold it until the password
// changes. Not written down, it is not posted.
func (m *hilinkModem) recordLogin() error {
	r := LoginRefusals{Password: passwordFingerprint(m.password), Count: m.rejected,
		Until: m.now().Add(m.lostAnswerWait(m.unsure + 1))}
	reason, hold, ok := m.beforeLogin.record(r)
	if ok {
		return nil
	}
	h := &LoginError{Reason: reason, AttemptsLeft: -1}
	if hold > 0 {
		h.RetryAfter = m.now().Add(hold)
	}
	m.hold, m.info.LoggedIn = h, false
	holdUnrecorded(m.log, reason, h.RetryAfter)
	return h
}

// lostAnswerWait is the hold after the nth login answer in a row that was
// lost: 5, 10, 20 ... 60 minutes.
func (m *hilinkModem) lostAnswerWait(n int) time.Duration {
	return backoff{first: hilinkLockFallback, max: time.Hour}.wait(n - 1)
}

// SaveBeforeLogin: f writes each login down before it is posted.
func (m *hilinkModem) SaveBeforeLogin(f loginRecorder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.beforeLogin = f
}

// errLoginNotSent: the login stopped before its password went out.
var errLoginNotSent = errors.New("login not sent")

// noneLeft says so when no attempt is left for smsgate to spend.
func (m *hilinkModem) noneLeft() string {
	if m.rejected >= hilinkLoginLimit-hilinkReserved {
		return "; the remaining attempts are kept for the owner: fix -password and restart smsgate"
	}
	return ""
}

// afterRefusal is how long a hold lasts after a refusal: until a restart
// when no attempt is left to spend.
func (m *hilinkModem) afterRefusal() time.Duration {
	if m.rejected >= hilinkLoginLimit-hilinkReserved {
		return 0
	}
	return hilinkLockFallback
}

func (m *hilinkModem) loggedIn(scheme, from string) {
	if !m.info.LoggedIn {
		m.infoRead = m.info.Model != ""
		m.log.Info("modem login", "family", familyHiLink, "scheme", scheme, "from", from, "user", m.user)
	}
	m.hold, m.rejected, m.unsure, m.info.LoggedIn, m.info.Login = nil, 0, 0, true, scheme
}

// holdLogin stops logins for after (0: until a restart) and says so loudly.
func (m *hilinkModem) holdLogin(reason string, after time.Duration) error {
	h := &LoginError{Reason: reason, AttemptsLeft: -1}
	if after > 0 {
		h.RetryAfter = m.now().Add(after)
	}
	m.hold = h
	m.info.LoggedIn = false
	m.log.Error("MODEM LOGIN HELD: smsgate will not spend the owner's attempts", "reason", reason,
		"refused", m.rejected, "retry_after", h.RetryAfter.Format(time.RFC3339))
	return h
}

// loginPassword posts /api/user/login (§3.2), its token in the header and
// in the salted password.
func (m *hilinkModem) loginPassword(ctx context.Context, scheme string) error {
	tok, err := m.token(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", errLoginNotSent, err)
	}
	pw, ptype := base64.StdEncoding.EncodeToString([]byte(m.password)), "0"
	if scheme == hilinkSchemeType4 {
		pw, ptype = hilinkType4Password(m.user, m.password, tok), "4"
	}
	body := xmlRequest(xf("Username", m.user), xf("Password", pw), xf("password_type", ptype))
	_, err = m.postWith(ctx, "/api/user/login", body, tok)
	return err
}

// loginSCRAM runs challenge_login and authentication_login (§3.3).
func (m *hilinkModem) loginSCRAM(ctx context.Context) error {
	tok, err := m.scramToken(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", errLoginNotSent, err)
	}
	nonce := make([]byte, 32)
	rand.Read(nonce)
	cnonce := hex.EncodeToString(nonce)
	ch, err := m.postWith(ctx, "/api/user/challenge_login",
		xmlRequest(xf("username", m.user), xf("firstnonce", cnonce), xf("mode", "1")), tok)
	if err != nil {
		if code := hilinkCode(err); code != 0 {
			return err
		}
		// The challenge carries no password: a lost answer costs nothing.
		return fmt.Errorf("%w: challenge: %w", errLoginNotSent, err)
	}
	snonce, salt := strings.TrimSpace(ch.field("servernonce")), strings.TrimSpace(ch.field("salt"))
	iter, _ := strconv.Atoi(strings.TrimSpace(ch.field("iterations")))
	if !strings.HasPrefix(snonce, cnonce) {
		return fmt.Errorf("%w: challenge answer's servernonce does not extend ours", errLoginNotSent)
	}
	proof, wantSig, err := scramProof(m.password, cnonce, snonce, salt, iter)
	if err != nil {
		return fmt.Errorf("%w: %w", errLoginNotSent, err)
	}
	tok, err = m.token(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", errLoginNotSent, err)
	}
	ans, err := m.postWith(ctx, "/api/user/authentication_login",
		xmlRequest(xf("clientproof", proof), xf("finalnonce", snonce)), tok)
	if err != nil {
		return err
	}
	// No real-device vector pins the server signature (§3.3, open point
	// 6): a mismatch is logged, not fatal.
	if sig := strings.TrimSpace(ans.field("serversignature")); sig != "" && !strings.EqualFold(sig, wantSig) {
		m.log.Warn("modem SCRAM server signature does not verify", "family", familyHiLink)
	}
	return nil
}

// scramToken is a token for the challenge: the session cookie first, then
// the last 32 characters of webserver/token (§3.3).
func (m *hilinkModem) scramToken(ctx context.Context) (string, error) {
	if !m.hasSession() {
		if err := m.newSession(ctx); err != nil {
			return "", err
		}
	}
	m.tokens = nil
	return m.serverToken(ctx)
}

// Refusals is the own count of refused (or unanswered) logins, for the
// state file: HiLink never says how many attempts are left.
func (m *hilinkModem) Refusals() LoginRefusals {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := LoginRefusals{Password: passwordFingerprint(m.password), Count: m.rejected}
	// The hold too (after a lost answer it is not counted as a refusal,
	// but the device may have counted it): a restart waits it out.
	if h := m.hold; h != nil && !h.Busy && h.RetryAfter.After(m.now()) {
		r.Until = h.RetryAfter
	}
	if !r.any() {
		return LoginRefusals{}
	}
	return r
}

// SetRefusals seeds the count from before a restart; one counted against
// another password is not this one's.
func (m *hilinkModem) SetRefusals(r LoginRefusals) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !r.any() || r.Password != passwordFingerprint(m.password) {
		return false
	}
	m.rejected = min(max(r.Count, 0), hilinkLoginLimit)
	if until := r.holdFrom(m.now()); !until.IsZero() {
		m.hold = &LoginError{Reason: "a login held before a restart: waiting out its hold", AttemptsLeft: -1, RetryAfter: until}
	}
	return true
}
