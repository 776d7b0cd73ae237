package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Many prepaid SIMs expire after months without an outgoing SMS: then the
// box is deaf. -keepalive sends the owner a short status when smsgate sent
// nothing for that long.
const (
	minKeepalive = 24 * time.Hour
	// keepaliveRetry is the least time between two tries: a SIM out of
	// credit must not be asked every poll.
	keepaliveRetry = time.Hour
)

// dayDuration is a flag duration that also takes days: "30d", "36h".
type dayDuration struct{ d time.Duration }

func (f *dayDuration) String() string {
	if f == nil || f.d == 0 {
		return "0"
	}
	if f.d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(f.d/(24*time.Hour))) + "d"
	}
	return f.d.String()
}

func (f *dayDuration) Set(s string) error {
	d, err := parseDayDuration(s)
	if err != nil {
		return err
	}
	f.d = d
	return nil
}

func parseDayDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("%q: want a number of days like 30d, or a duration like 36h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want a number of days like 30d, or a duration like 36h", s)
	}
	return d, nil
}

// keepalive sends the status when nothing was sent for -keepalive. Called
// from tend, with a modem that can send.
func (k *ownerKit) keepalive(ctx context.Context) {
	if k.cfg.Keepalive <= 0 {
		return
	}
	o, now := k.st(), k.now()
	if !plausible(now) {
		return // a day cannot be counted without a clock
	}
	if o.KeepaliveFrom.IsZero() || o.KeepaliveFrom.After(now) {
		// Counted from the first start with -keepalive: never at once.
		o.KeepaliveFrom = now
		k.g.store.Save(k.g.st)
		return
	}
	last := o.KeepaliveFrom
	if o.LastSent.After(last) && !o.LastSent.After(now) {
		last = o.LastSent
	}
	if now.Sub(last) < k.cfg.Keepalive || (!o.KeepaliveTried.IsZero() && now.Sub(o.KeepaliveTried) < keepaliveRetry && !o.KeepaliveTried.After(now)) {
		return
	}
	o.KeepaliveTried = now
	k.g.store.Save(k.g.st) // before it costs anything: a crash must not make it twice
	text := k.keepaliveText(ctx, now.Sub(last))
	sent := false
	for _, n := range k.keepaliveTo() {
		err := k.send(ctx, n, text)
		k.g.log.Info("keep-alive", "to", n, "text", text, "err", err)
		sent = sent || err == nil
	}
	if sent {
		o.LastSent = now
	}
	k.g.store.Save(k.g.st)
}

// keepaliveTo is who gets it: the -alert numbers, or the first -allow
// number when alerts go to nobody.
func (k *ownerKit) keepaliveTo() []string {
	if len(k.g.cfg.AlertTo) > 0 {
		return k.g.cfg.AlertTo
	}
	return []string{string(k.g.cfg.Allow[0])}
}

func (k *ownerKit) keepaliveText(ctx context.Context, idle time.Duration) string {
	text := "smsgate keep-alive (nothing sent for " + shortDuration(idle) + ")"
	if code := k.cfg.BalanceUSSD; code != "" {
		ans, err := runUSSD(ctx, k.g.modem, k.cfg.USSDAllow, code)
		if err != nil {
			ans = shortErr(err)
		}
		text += "; " + code + ": " + ans
	}
	text += "; " + k.g.actions.status(ctx)
	return fitOneSMS(text)
}
