package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
)

// forwardMode is -forward: which strangers' messages reach the owner.
type forwardMode int

const (
	forwardOff     forwardMode = iota
	forwardService             // alphanumeric senders and short codes: the operator, banks
	forwardAll                 // every stranger's message
)

func parseForwardMode(s string) (forwardMode, error) {
	switch s {
	case "", "off":
		return forwardOff, nil
	case "service":
		return forwardService, nil
	case "all":
		return forwardAll, nil
	}
	return forwardOff, fmt.Errorf("-forward %q: want off, service or all", s)
}

func (m forwardMode) String() string { return [...]string{"off", "service", "all"}[m] }

const (
	defaultForwardMax = 20
	// forwardKeep is how long a forwarded message is remembered: longer
	// than any modem keeps a copy of it unread in a second store.
	forwardKeep     = 7 * 24 * time.Hour
	forwardRemember = 1000 // fingerprints kept at most
	// forwardMarker starts every forwarded text: another smsgate (or this
	// one) never forwards a text that names smsgate, so that two boxes that
	// forward to each other cannot ping-pong.
	forwardMarker = "smsgate fwd "
	// shortCodeMax is the longest all-digit sender taken for a service
	// (a short code); longer ones are phone numbers.
	shortCodeMax = 6
	// forwardsPerFlush bounds the forwards sent after one poll.
	forwardsPerFlush = 3
)

// forwardItem is one forward waiting to be sent.
type forwardItem struct {
	FP   string   `json:"fp"`
	Text string   `json:"text"`
	To   []string `json:"to"`
	// Sending: a send was started. A restart that finds it so does not
	// send it again: the modem may have sent it (at most once).
	Sending bool `json:"sending,omitempty"`
	// Tries counts the sends the modem was asked for and failed; the
	// next is not before RetryAt (the alerts' back-off, alertRetry).
	Tries   int       `json:"tries,omitempty"`
	RetryAt time.Time `json:"retry_at,omitzero"`
	// Held is the -forward-max count its text carries: given back to
	// the next forward if this one is dropped.
	Held int `json:"held,omitempty"`
}

// forwarder decides which strangers' messages go to the owner and sends
// them, once each, at most max in any 24 hours.
type forwarder struct {
	mode forwardMode
	max  int
	to   []string
	own  map[phoneKey]bool // the -alert numbers: the owner's own messages are never forwarded
	log  *slog.Logger
	// restored: a queue loaded from the state file was looked at.
	restored bool
}

func newForwarder(mode forwardMode, max int, to []string, log *slog.Logger) *forwarder {
	if max <= 0 {
		max = defaultForwardMax
	}
	f := &forwarder{mode: mode, max: max, to: to, own: map[phoneKey]bool{}, log: log}
	for _, n := range to {
		f.own[normalizeNumber(n, "")] = true
	}
	return f
}

// contentFP identifies a message by what it says, not where the modem
// keeps it: the copy on the SIM and the one in the device memory, or the
// same message listed under a new id, are one.
func contentFP(m SMS) string {
	h := sha256.New()
	for _, s := range []string{m.From, m.RawDate, m.Text} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// isService says whether from is an alphanumeric sender or a short code.
func isService(from string) bool {
	from = strings.TrimSpace(from)
	if from == "" {
		return false
	}
	digits := 0
	for _, r := range from {
		switch {
		case unicode.IsLetter(r):
			return true
		case r >= '0' && r <= '9':
			digits++
		}
	}
	return !strings.HasPrefix(from, "+") && digits > 0 && digits <= shortCodeMax
}

// smsgateReplies start the replies smsgate sends: a text that starts so
// came from another smsgate and is never forwarded.
var smsgateReplies = []string{unknownCommandReply, badArgumentPrefix, "wrong pin", "wrong code", "code already used", "not executed:", "reboot refused", "pong, up "}

// smsgateReply says whether text starts as an smsgate's reply, alert,
// forward or keep-alive does: narrower than fromSmsgate, since an owner's
// command may name smsgate anywhere but at its start.
func smsgateReply(text string) bool {
	t := strings.ToLower(strings.TrimSpace(text))
	if strings.HasPrefix(t, "(") {
		// "(3 alerts suppressed) smsgate ...", "(2 not forwarded: ...) smsgate fwd ..."
		if _, rest, ok := strings.Cut(t, ") "); ok {
			t = rest
		}
	}
	if strings.HasPrefix(t, "smsgate") || strings.HasPrefix(t, "pin first, e.g.") || strings.HasPrefix(t, "code first, e.g.") {
		return true
	}
	for _, p := range smsgateReplies {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// fromSmsgate says whether text looks like something an smsgate sent: a
// forward, an alert, help, a keep-alive or a refusal.
func fromSmsgate(text string) bool {
	t := strings.ToLower(strings.TrimSpace(text))
	if strings.Contains(t, "smsgate") {
		return true
	}
	for _, p := range smsgateReplies {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// why says why a stranger's message m is not forwarded, or "".
func (f *forwarder) why(m SMS) string {
	switch {
	case f.mode == forwardOff:
		return "off"
	case len(f.to) == 0:
		return "no -alert number"
	case f.own[normalizeNumber(m.From, "")]:
		return "from an -alert number"
	case m.Read:
		return "read before smsgate saw it"
	case f.mode == forwardService && !isService(m.From):
		return "not a service sender (-forward=service)"
	case fromSmsgate(m.Text):
		return "sent by an smsgate: forwarding it could loop"
	}
	return ""
}

// consider queues a stranger's decided message for forwarding, once, and
// reports whether the state changed (to be saved at once).
func (f *forwarder) consider(o *ownerState, m SMS, now time.Time) bool {
	if why := f.why(m); why != "" {
		return false
	}
	fp := contentFP(m)
	if _, done := o.Forwarded[fp]; done {
		return false // a copy, or judged again after a restart
	}
	f.prune(o, now)
	o.Forwarded[fp] = now
	if len(o.ForwardSent)+len(o.ForwardQueue) >= f.max {
		o.ForwardSuppressed++
		f.log.Warn("not forwarded: -forward-max reached", "id", m.ID, "from", m.From, "max", f.max,
			"suppressed", o.ForwardSuppressed)
		return true
	}
	when := m.RawDate
	if !m.Time.IsZero() {
		when = m.Time.Format("Jan 2 15:04")
	}
	text := fmt.Sprintf("%sfrom %s %s: %s", forwardMarker, sanitizeText(m.From), sanitizeText(when), sanitizeText(m.Text))
	o.ForwardQueue = append(o.ForwardQueue, forwardItem{FP: fp, Text: text, To: slices.Clone(f.to)})
	return true
}

// prune forgets what no longer matters at now.
func (f *forwarder) prune(o *ownerState, now time.Time) {
	o.ForwardSent = recent(o.ForwardSent, now, 24*time.Hour)
	for fp, t := range o.Forwarded {
		if now.Sub(t) > forwardKeep || t.After(now.Add(24*time.Hour)) {
			delete(o.Forwarded, fp)
		}
	}
	for fp := range o.Forwarded {
		if len(o.Forwarded) <= forwardRemember {
			break
		}
		delete(o.Forwarded, fp)
	}
}

// flush sends what waits, in order, and reports whether the state
// changed. save makes the state durable; it is called before each send.
// One failure a flush: the rest waits for the next.
func (f *forwarder) flush(ctx context.Context, o *ownerState, now time.Time,
	send func(ctx context.Context, number, text string) error, save func()) (changed bool) {
	if !f.restored {
		f.restored = true
		keep := o.ForwardQueue[:0]
		for _, it := range o.ForwardQueue {
			if it.Sending {
				// smsgate stopped during its send: the modem may have
				// sent it. Not again.
				f.log.Warn("forward interrupted by a restart; not sent again (it may have gone out)", "text", it.Text)
				changed = true
				continue
			}
			keep = append(keep, it)
		}
		o.ForwardQueue = keep
	}
	// A few per poll: each send may wait a minute for the modem's
	// confirmation, and the poll must end well within its -timeout bound.
	for n := 0; len(o.ForwardQueue) > 0 && n < forwardsPerFlush; n++ {
		it := &o.ForwardQueue[0]
		if now.Before(it.RetryAt) && !it.RetryAt.After(now.Add(alertRetry.wait(alertTries))) {
			return changed // its back-off; one set by a clock far ahead is not waited for
		}
		if !it.Sending && it.Held == 0 && o.ForwardSuppressed > 0 {
			it.Text = fmt.Sprintf("(%d not forwarded: -forward-max) %s", o.ForwardSuppressed, it.Text)
			it.Held, o.ForwardSuppressed = o.ForwardSuppressed, 0
		}
		it.Text = fitOneSMS(it.Text)
		it.Sending = true
		save()
		dropped := false
		for len(it.To) > 0 && !dropped {
			err := send(ctx, it.To[0], it.Text)
			if err != nil && !sendMayHaveGone(err) {
				it.Sending = false
				if dropped = f.failed(o, it, now, err); !dropped {
					return true
				}
				changed = true
				continue // the next one may go
			}
			if err != nil {
				// Taken, not confirmed, or timed out once the modem had
				// it: trying again could cost the owner a second SMS.
				f.log.Warn("forward may have gone out but was not reported sent; not sent again", "to", it.To[0], "err", err)
			} else {
				f.log.Info("forwarded", "to", it.To[0], "text", it.Text)
			}
			it.To = it.To[1:]
		}
		if dropped {
			continue
		}
		o.ForwardSent = append(o.ForwardSent, now)
		o.ForwardQueue = o.ForwardQueue[1:]
		changed = true
	}
	return changed
}

// failed notes a send of it that the modem did not take, and reports
// whether it was dropped from the queue. A send that reached no modem
// (not sendTried) costs nothing and waits for the next flush; one the
// modem refused is a try: tried again after the alerts' back-off, dropped after
// alertTries, so that a modem refusing every send is not asked at every
// poll for ever.
func (f *forwarder) failed(o *ownerState, it *forwardItem, now time.Time, err error) bool {
	if !sendTried(err) {
		f.log.Warn("forward not sent; will try again", "to", it.To[0], "err", err)
		return false
	}
	it.Tries++
	if it.Tries >= alertTries {
		f.log.Error("forward dropped: not sent", "tries", it.Tries, "to", it.To[0], "text", it.Text, "err", err)
		o.ForwardQueue = o.ForwardQueue[1:]
		o.ForwardSuppressed += it.Held // the note it carried goes with the next
		return true
	}
	it.RetryAt = now.Add(alertRetry.wait(it.Tries - 1))
	f.log.Warn("forward not sent; will try again", "to", it.To[0], "tries", it.Tries,
		"retry_at", it.RetryAt.Format("15:04"), "err", err)
	return false
}
