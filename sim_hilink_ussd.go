//go:build !nosim

package main

// The simulator's USSD, written from ../shared/hilink.md §7 and the
// sources named in hilink_ussd.go's notes: POST /api/ussd/send (content,
// codeType, timeout, in that order on strict firmware) answers OK and
// starts the request; GET /api/ussd/get answers 111019 while the network
// works, then <content>; GET /api/ussd/status says 1 while a request or a
// menu is open; GET /api/ussd/release ends the session. A send while a
// session is open is refused (111019 here: the device has one USSD channel).

// HiLinkUSSDAnswer is how the simulated network answers one code.
type HiLinkUSSDAnswer struct {
	Text string
	Menu bool // the network keeps the session open for a reply
	// PendingReads is how many ussd/get say "not yet" before the answer.
	PendingReads int
	// Code, when set, is the error ussd/get answers instead (111022: the
	// network does not support USSD).
	Code int
}

type hsUSSD struct {
	answers  map[string]HiLinkUSSDAnswer
	sent     []string
	releases int
	open     bool // a request or a menu waits for a release
	answer   HiLinkUSSDAnswer
	known    bool
	pending  int
}

// SetUSSD sets the network's answers per code; a code not in it is never
// answered.
func (s *HiLinkSim) SetUSSD(answers map[string]HiLinkUSSDAnswer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ussd.answers = answers
}

// USSDRecord is what the client asked for: codes sent, releases, and
// whether a session is still open.
func (s *HiLinkSim) USSDRecord() (sent []string, releases int, open bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ussd.sent...), s.ussd.releases, s.ussd.open
}

// ussdPost handles ussd/send; ok is false for any other path.
func (s *HiLinkSim) ussdPost(path string, f map[string]string, names []string) (hsAnswer, bool) {
	if path != "/api/ussd/send" {
		return hsAnswer{}, false
	}
	u := &s.ussd
	code := hsUnescape(f["content"])
	switch {
	case s.p.strict && !hsSameOrder(names, []string{"content", "codeType", "timeout"}):
		return hsErr(100005), true
	case code == "":
		return hsErr(100006), true
	case u.open:
		return hsErr(111019), true // the one channel is busy
	}
	u.sent = append(u.sent, code)
	u.answer, u.known = u.answers[code]
	u.pending, u.open = u.answer.PendingReads, true
	return hsOK(), true
}

// ussdGet answers ussd/get, ussd/status and ussd/release; ok is false for
// any other path.
func (s *HiLinkSim) ussdGet(path string) (hsAnswer, bool) {
	u := &s.ussd
	switch path {
	case "/api/ussd/get":
		switch {
		case !u.open || !u.known:
			return hsErr(111019), true
		case u.pending > 0:
			u.pending--
			return hsErr(111019), true
		case u.answer.Code != 0:
			u.open = false
			return hsErr(u.answer.Code), true
		}
		if !u.answer.Menu {
			u.open = false // the network ended it with its answer
		}
		return hsResp("content", u.answer.Text), true
	case "/api/ussd/status":
		if u.open {
			return hsResp("result", "1"), true
		}
		return hsResp("result", "0"), true
	case "/api/ussd/release":
		u.releases++
		u.open = false
		return hsOK(), true
	}
	return hsAnswer{}, false
}
