//go:build !nosim

package main

import "net/url"

// The simulator's USSD, written from docs/ussd-sources.md (the firmware's
// web UI): USSD_PROCESS with USSD_operator ussd_send / ussd_reply /
// ussd_cancel; ussd_write_flag "15" while the network works, "16" once
// ussd_data_info holds the answer (UTF-16BE hex in ussd_data, ussd_action
// "1" when the network waits for a reply), "13" after a cancel.

// SimUSSDAnswer is how the simulated network answers one code.
type SimUSSDAnswer struct {
	Text string
	Menu bool // the network keeps the session open for a reply
	// Flag, when set, is the final ussd_write_flag instead of "16" (an
	// error: "1" no service, "99" unsupported, ...).
	Flag string
}

// simOwnerExt is the simulator's side of the owner's features.
type simOwnerExt struct {
	// USSD maps a code to its answer; a code not in it is never answered
	// (ussd_write_flag stays "15").
	USSD map[string]SimUSSDAnswer
	// PendingReads is how many reads of ussd_write_flag say "15" before
	// the answer is there.
	PendingReads int
	// OtherUser: LOGIN answers "2", another user is logged in.
	OtherUser bool

	flag     string
	answer   SimUSSDAnswer
	pending  int
	open     bool // a session waits for a reply or a cancel
	sent     []string
	cancels  int
	flagRead int
}

// SetOwner changes the owner-feature behaviour under the lock.
func (s *Sim) SetOwner(f func(*simOwnerExt)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.own)
}

// USSDRecord is what USSD the client asked for: the codes sent, the
// cancels, and whether a session is still open.
func (s *Sim) USSDRecord() (sent []string, cancels int, open bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.own.sent...), s.own.cancels, s.own.open
}

// ussdSet handles USSD_PROCESS; ok is false for any other goformId.
func (s *Sim) ussdSet(id string, q url.Values) (simAnswer, bool) {
	if id != "USSD_PROCESS" {
		return simAnswer{}, false
	}
	o := &s.own
	switch q.Get("USSD_operator") {
	case "ussd_send", "ussd_reply":
		code := q.Get("USSD_send_number")
		if q.Get("USSD_operator") == "ussd_reply" {
			code = q.Get("USSD_reply_number")
		}
		if code == "" {
			return simAnswer{body: `{"result":"failure"}`}, true
		}
		o.sent = append(o.sent, code)
		o.flag, o.pending = "15", o.PendingReads
		a, known := o.USSD[code]
		o.answer = a
		if !known {
			o.pending = -1 // never
		}
		o.open = true
	case "ussd_cancel":
		o.cancels++
		o.flag, o.open = "13", false
	default:
		return simAnswer{body: `{"result":"failure"}`}, true
	}
	return simAnswer{body: `{"result":"success"}`}, true
}

// ussdGet answers the USSD reads; ok is false for any other cmd.
func (s *Sim) ussdGet(cmd string) (simAnswer, bool) {
	o := &s.own
	switch cmd {
	case "ussd_write_flag":
		o.flagRead++
		if o.flag == "15" && o.pending == 0 {
			o.flag = "16"
			if o.answer.Flag != "" {
				o.flag, o.open = o.answer.Flag, false
			} else if !o.answer.Menu {
				o.open = false // the network ended it with its answer
			}
		} else if o.flag == "15" && o.pending > 0 {
			o.pending--
		}
		return s.json("ussd_write_flag", o.flag), true
	case "ussd_data_info":
		data, action := "", "0"
		if o.flag == "16" {
			data = simHexUTF16(o.answer.Text)
			if o.answer.Menu {
				action = "1"
			}
		}
		return s.json("ussd_data", data, "ussd_action", action, "ussd_dcs", "72"), true
	}
	return simAnswer{}, false
}
