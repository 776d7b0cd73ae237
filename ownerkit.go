package main

import (
	"bytes"
	"context"
	"encoding/json"
	"time"
)

// OwnerConfig is what the owner asked for beyond commands: forwarding
// (forward.go), a program for every SMS (onsms.go), USSD (ussd.go), a SIM
// keep-alive (keepalive.go), longer replies (replyparts.go) and pausing
// (pause.go). The zero value turns all of it off.
type OwnerConfig struct {
	Forward     forwardMode
	ForwardMax  int      // forwarded SMS in any 24 hours; 0 means 20
	OnSMS       *program // -on-sms, nil without
	USSDAllow   ussdCharset
	Keepalive   time.Duration // 0: off; at least a day
	BalanceUSSD string        // added to the keep-alive, "" none
	ReplyParts  int           // 1 to 4; 0 means 1
	DryRun      bool          // -on-sms is logged, not run
	OnCall      *Command      // -on-call: oncall.go; nil without
}

// ownerState is what the owner's features must remember across restarts,
// kept in the state file under "owner" (an older file has none: all zero).
type ownerState struct {
	// Forwarded holds the messages forwarded (or refused by -forward-max),
	// by content fingerprint, for a week: a copy, the same message under a
	// new id, or a restart never forwards it again.
	Forwarded map[string]time.Time `json:"forwarded,omitempty"`
	// ForwardSent is when forwards went out in the last 24 hours.
	ForwardSent []time.Time `json:"forward_sent,omitempty"`
	// ForwardSuppressed counts what -forward-max held back since the last
	// forward that went out: the next one says so.
	ForwardSuppressed int `json:"forward_suppressed,omitempty"`
	// ForwardQueue are the forwards waiting for a modem that can send.
	ForwardQueue []forwardItem `json:"forward_queue,omitempty"`
	// LastSent is when smsgate last sent an SMS, for -keepalive;
	// KeepaliveFrom is when it began counting (the first start with it).
	LastSent       time.Time `json:"last_sent,omitzero"`
	KeepaliveFrom  time.Time `json:"keepalive_from,omitzero"`
	KeepaliveTried time.Time `json:"keepalive_tried,omitzero"`
	// PausedUntil: no modem logins before this (pause command).
	PausedUntil time.Time `json:"paused_until,omitzero"`
}

// bound keeps the owner's saved times within their rules from now (see
// timebound.go): a pause at most maxPause ahead, everything else that
// happened no later than now.
func (o *ownerState) bound(b *bounder) {
	if o == nil {
		return
	}
	o.PausedUntil = b.within(o.PausedUntil, maxPause)
	for k, t := range o.Forwarded {
		o.Forwarded[k] = b.notAfter(t)
	}
	b.all(o.ForwardSent)
	o.LastSent = b.notAfter(o.LastSent)
	o.KeepaliveFrom = b.notAfter(o.KeepaliveFrom)
	o.KeepaliveTried = b.notAfter(o.KeepaliveTried)
}

// ownerKit carries the owner's features for one gateway. Every method is
// called from the gateway's loop goroutine, except what onSMSRunner runs
// on its own.
type ownerKit struct {
	g     *Gateway
	cfg   OwnerConfig
	fwd   *forwarder
	hook  *onSMSRunner
	pause pauseState
	busy  busyCount
	saved time.Time // LastSent as last saved
}

// newOwnerKit wires the owner's features into g.
func newOwnerKit(g *Gateway) *ownerKit {
	k := &ownerKit{g: g, cfg: g.cfg.Owner}
	if k.cfg.ReplyParts < 1 {
		k.cfg.ReplyParts = 1
	}
	k.fwd = newForwarder(k.cfg.Forward, k.cfg.ForwardMax, g.cfg.AlertTo, g.log)
	if k.cfg.OnSMS != nil {
		k.hook = newOnSMSRunner(k.cfg.OnSMS, k.cfg.DryRun, g.log)
	}
	g.led = &pauseIndicator{inner: g.led, k: k}
	return k
}

// st is the owner's part of the gateway's state, created on first use.
func (k *ownerKit) st() *ownerState {
	if k.g.st.Owner == nil {
		k.g.st.Owner = &ownerState{}
	}
	o := k.g.st.Owner
	if o.Forwarded == nil {
		o.Forwarded = map[string]time.Time{}
	}
	return o
}

func (k *ownerKit) now() time.Time { return k.g.now() }

// decided is told of every message decided (one log line written): it may
// be forwarded, and the -on-sms program hears of it.
func (k *ownerKit) decided(m SMS, v verdict) {
	if k == nil {
		return
	}
	allowed := k.g.allow[normalizeNumber(m.From, k.g.cfg.CountryCode)]
	if k.hook != nil {
		k.hook.enqueue(onSMSJob{from: sanitizeText(m.From), date: smsDateText(m), text: k.g.logText(m),
			decision: v.verdict, allowed: allowed})
	}
	if v.stranger && !allowed {
		if k.fwd.consider(k.st(), m, k.now()) {
			// The queue is saved before anything is sent from it: a
			// restart must neither lose nor repeat it.
			k.g.store.Save(k.g.st)
		}
	}
}

// tend runs after every poll that reached the modem: forwards wait for a
// modem that can send, and so does the keep-alive.
func (k *ownerKit) tend(ctx context.Context) {
	if k == nil || ctx.Err() != nil {
		return
	}
	k.noteSent()
	if !k.g.canSend {
		return
	}
	if k.g.st.Owner != nil && len(k.g.st.Owner.ForwardQueue) > 0 {
		o := k.st()
		if k.fwd.flush(ctx, o, k.now(), k.send, func() { k.g.store.Save(k.g.st) }) {
			k.g.store.Save(k.g.st)
		}
	}
	k.keepalive(ctx)
}

// noteSent keeps, for -keepalive, when smsgate last sent an SMS (an
// alert counts too), written within stateLazy: a keep-alive counts in days.
func (k *ownerKit) noteSent() {
	if k.cfg.Keepalive <= 0 {
		return
	}
	o := k.st()
	if n := len(k.g.st.AlertsSent); n > 0 && k.g.st.AlertsSent[n-1].After(o.LastSent) {
		o.LastSent = k.g.st.AlertsSent[n-1]
	}
	if o.LastSent.Equal(k.saved) {
		return
	}
	k.g.store.SaveSoon(k.g.st)
	if b, err := json.Marshal(k.g.st); k.g.store.dir == "" || err == nil && bytes.Equal(b, k.g.store.last) {
		k.saved = o.LastSent
	}
}

// send sends one SMS of smsgate's own and notes when, for -keepalive.
func (k *ownerKit) send(ctx context.Context, number, text string) error {
	err := k.g.modem.Send(ctx, number, text)
	if err == nil && k.cfg.Keepalive > 0 {
		// Only a send the modem reported: a SIM out of credit is not kept
		// alive by trying.
		k.st().LastSent = k.now()
	}
	return err
}

// sendReply sends the reply to m: up to -reply-parts parts for the
// commands that may use them (cmd is the command's name), one otherwise.
// A message that is itself an smsgate's reply or alert is not answered:
// two boxes that allow each other would answer each other without end.
func (g *Gateway) sendReply(ctx context.Context, m SMS, text, cmd string) error {
	if smsgateReply(m.Text) {
		g.log.Info("reply not sent: the message is an smsgate's own; answering could loop", "id", m.ID, "to", m.From)
		return nil
	}
	to := g.replyTo(m)
	k := g.own
	if k == nil {
		return g.modem.Send(ctx, to, fitOneSMS(text))
	}
	return k.send(ctx, to, fitParts(text, k.partsFor(cmd)))
}

// close stops the -on-sms runner, letting the program running finish
// within its timeout.
func (k *ownerKit) close() {
	if k != nil && k.hook != nil {
		k.hook.close()
	}
}

// smsDateText is m's date for a program: RFC 3339 when it could be read,
// the modem's own form otherwise.
func smsDateText(m SMS) string {
	if !m.Time.IsZero() {
		return m.Time.Format(time.RFC3339)
	}
	return sanitizeText(m.RawDate)
}
