package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// alertQueueSize bounds the alerts waiting for the modem to be able to send:
// a dead tower for days must not grow memory, and the newest say most.
const alertQueueSize = 8

// pendingAlert is one alert, and who has yet to get it.
type pendingAlert struct {
	at      time.Time // what it tells happened then
	text    string
	to      []string
	counted bool      // against the daily limit, and its text final
	tries   int       // sends that failed
	retryAt time.Time // not tried again before
	// notBefore: not sent, nor counted, before; lost if smsgate stops
	// first.
	notBefore time.Time
	// w, when set, is told whether it went out (AddWatched).
	w *alertWatch
}

// alertWatch is told what became of one alert: sent to every number, or
// dropped (tries spent, over -alert-max, pushed out of a full queue).
// Either is called once, from Flush or Add.
type alertWatch struct {
	sent, dropped func()
}

func (w *alertWatch) done(sent bool) {
	switch {
	case w == nil:
	case sent && w.sent != nil:
		w.sent()
	case !sent && w.dropped != nil:
		w.dropped()
	}
}

// An alert the modem was asked to send and did not report sent (refused
// it, reported it failed, never confirmed it) is tried again after
// alertBackoff, doubled each time, and dropped after alertTries: a SIM out
// of credit or a modem that refuses every send must not cost an SMS, a
// minute's wait and (RED firmware) a new key at every poll. Only a send
// that reached no modem able to take it is not a try (sendTried).
const (
	alertTries   = 3
	alertBackoff = 5 * time.Minute
)

var alertRetry = backoff{first: alertBackoff}

// Alerts is the queue of SMS smsgate sends of its own accord. Alerts wait
// until the modem can send; at most max go out in any 24 hours, and the
// next one after a gap says how many were suppressed.
type Alerts struct {
	to    []string
	max   int
	log   *slog.Logger
	queue []pendingAlert
	sent  []time.Time // when alerts went out, within 24h
	// suppressed counts alerts dropped since the last one that went out:
	// over the daily limit, or pushed out of a full queue.
	suppressed int
	// onCount, when set, keeps the count (sent) before an alert goes out.
	onCount func(sent []time.Time)
}

// NewAlerts returns a queue for the numbers in to (none: alerts are only
// logged) with at most max a day: the caller's, checked (-alert-max,
// GatewayConfig.checkLimits), not defaulted here.
func NewAlerts(to []string, max int, log *slog.Logger) *Alerts {
	return &Alerts{to: to, max: max, log: log}
}

// Add queues an alert about something that happened at at.
func (a *Alerts) Add(at time.Time, text string) { a.AddAfter(at, text, time.Time{}) }

// AddAfter queues an alert that is sent no sooner than notBefore (the
// clock Flush is given).
func (a *Alerts) AddAfter(at time.Time, text string, notBefore time.Time) {
	a.add(pendingAlert{at: at, text: text, notBefore: notBefore})
}

// AddWatched queues an alert, and tells w what became of it: a caller
// that says something once a day stamps the day when it went out, not
// when it was queued (a send refused for an hour drops it unsaid).
// Without numbers to send to it counts as sent at once: logged is all
// it can be.
func (a *Alerts) AddWatched(at time.Time, text string, w *alertWatch) {
	a.add(pendingAlert{at: at, text: text, w: w})
}

func (a *Alerts) add(p pendingAlert) {
	a.log.Info("alert", "text", "smsgate "+p.at.Format("15:04")+": "+p.text, "to", len(a.to))
	if len(a.to) == 0 {
		p.w.done(true)
		return
	}
	if len(a.queue) == alertQueueSize {
		a.log.Warn("alert queue full; dropping the oldest", "text", a.queue[0].text)
		a.queue[0].w.done(false)
		a.queue = a.queue[1:]
		a.suppressed++
	}
	p.to = append([]string(nil), a.to...)
	a.queue = append(a.queue, p)
}

// Sent is when alerts went out in the last 24 hours, to save.
func (a *Alerts) Sent() []time.Time { return append([]time.Time(nil), a.sent...) }

// Pending is how many alerts wait.
func (a *Alerts) Pending() int { return len(a.queue) }

// Flush sends what waits, in order (an alert held by AddAfter does not
// hold up the others), one SMS per alert and number. It stops
// at the first failure; what was not sent waits for the next flush after
// its back-off, or is dropped after alertTries failures (and counted as
// suppressed in the next alert's note).
func (a *Alerts) Flush(ctx context.Context, now time.Time, send func(ctx context.Context, number, text string) error) {
	for i := 0; i < len(a.queue); {
		p := &a.queue[i]
		if now.Before(p.notBefore) {
			i++ // held: the others do not wait for it
			continue
		}
		if !p.counted {
			a.sent = recent(a.sent, now, 24*time.Hour)
			if len(a.sent) >= a.max {
				a.log.Warn("alert suppressed: -alert-max reached", "text", p.text, "max", a.max)
				a.suppressed++
				p.w.done(false)
				a.queue = slices.Delete(a.queue, i, i+1)
				continue
			}
			// An alert that waited long (a dead tower) says the day too.
			when := p.at.Format("15:04")
			if now.Sub(p.at) > 12*time.Hour {
				when = p.at.Format("Jan 2 15:04")
			}
			p.text = "smsgate " + when + ": " + p.text
			if a.suppressed > 0 {
				p.text = fmt.Sprintf("(%d alerts suppressed) %s", a.suppressed, p.text)
				a.suppressed = 0
			}
			p.text = fitOneSMS(p.text)
			a.sent = append(a.sent, now)
			p.counted = true
			if a.onCount != nil {
				// Before the send: a restart while the modem sends
				// must find the alert counted (-alert-max).
				a.onCount(a.Sent())
			}
		}
		if now.Before(p.retryAt) {
			return
		}
		for len(p.to) > 0 {
			if err := send(ctx, p.to[0], p.text); err != nil {
				// One failed send per flush: the rest wait with it.
				if !sendTried(err) {
					// No modem saw it (a held login, a modem
					// rebooting): it cost nothing.
					a.log.Warn("alert not sent; will try again", "to", p.to[0], "err", err)
					return
				}
				p.tries++
				if p.tries >= alertTries {
					a.log.Error("alert dropped: not sent", "tries", p.tries, "to", p.to[0], "text", p.text, "err", err)
					a.suppressed++
					p.w.done(false)
					a.queue = slices.Delete(a.queue, i, i+1)
					return
				}
				p.retryAt = now.Add(alertRetry.wait(p.tries - 1))
				a.log.Warn("alert not sent; will try again", "to", p.to[0], "tries", p.tries, "retry_at", p.retryAt.Format("15:04"), "err", err)
				return
			}
			p.to = p.to[1:]
		}
		p.w.done(true)
		a.queue = slices.Delete(a.queue, i, i+1)
	}
}

// sendTried says whether a failed send was one the modem saw and did not
// send: it refused it (ZTE {"result":"failure"}, a HiLink error code or
// failed send-status, an AT +CMS ERROR: errRefused in every family) or
// took it without reporting it sent (errSendUnconfirmed), or a request
// that timed out once connected, which it may have taken as well. A send
// that reached no modem able to take it (a held login, a modem rebooting
// that refuses or drops the connection) is not a try: the poll that
// reaches the modem again flushes it.
func sendTried(err error) bool {
	return errors.Is(err, errRefused) || sendMayHaveGone(err)
}

// sendMayHaveGone says whether a failed send may have gone out all the
// same: the modem took it without reporting it sent, or the request timed
// out once connected. What must go at most once (a forward) is not sent
// again after it.
func sendMayHaveGone(err error) bool {
	if errors.Is(err, errSendUnconfirmed) {
		return true
	}
	var ne net.Error
	return !errIsDial(err) && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout())
}

// freshBoot is how soon after the Pi's boot a start counts as "after a
// boot" rather than a restart of smsgate alone.
const freshBoot = 10 * time.Minute

// bootCause is what is known of why the Pi last booted.
type bootCause struct {
	watchdogKnown, watchdogReset bool
	// asked is who asked for the reboot: "command", "healing", or "" when
	// nobody did or smsgate cannot know.
	asked string
	// stateKnown: a -state-dir says whether smsgate asked for the reboot.
	stateKnown bool
}

// askedReboot says who asked for the reboot that started the Pi uptime ago,
// from the state smsgate saved before it: a reboot asked for in the few
// minutes before the boot. "" when none, or when the clock cannot tell.
func askedReboot(st *State, now time.Time, uptime time.Duration) string {
	if st.LastReboot.IsZero() || now.Year() < plausibleEpoch {
		return ""
	}
	boot := now.Add(-uptime)
	if st.LastReboot.After(boot) || boot.Sub(st.LastReboot) > rebootTakes {
		return ""
	}
	if st.RebootBy == "" {
		return "command" // saved before RebootBy was
	}
	return st.RebootBy
}

// rebootTakes is the longest from asking for a reboot to the new boot:
// init's grace, the shutdown, the firmware.
const rebootTakes = 10 * time.Minute

func (b bootCause) String() string {
	switch {
	case b.watchdogKnown && b.watchdogReset:
		return "watchdog reset"
	case b.asked != "":
		return "reboot by " + b.asked
	case b.watchdogKnown && b.stateKnown:
		return "power cut or reset (not the watchdog, not asked for)"
	case b.watchdogKnown:
		return "power or reset, not the watchdog"
	case b.stateKnown:
		return "not asked for by smsgate"
	}
	return "cause unknown"
}

// startAlert is the "smsgate up" alert, and whether it is due: after a
// boot nobody asked for by command, or after every start with always.
func startAlert(now time.Time, uptime time.Duration, cause bootCause, always bool) (string, bool) {
	if uptime >= freshBoot {
		return fmt.Sprintf("up (restarted; the Pi has been up %s)", shortDuration(uptime)), always
	}
	text := fmt.Sprintf("up; the Pi booted %s: %s", now.Add(-uptime).Format("15:04"), cause)
	return text, always || cause.asked != "command"
}

// watchdogBootStatus reads, without opening the device (opening arms it),
// whether the watchdog at dev caused the last boot; sysRoot is /sys.
func watchdogBootStatus(sysRoot, dev string) (reset, known bool) {
	if dev == "" {
		return false, false
	}
	dir, ok := watchdogSysfs(sysRoot, dev)
	if !ok {
		return false, false
	}
	b, err := os.ReadFile(filepath.Join(dir, "bootstatus"))
	if err != nil {
		return false, false
	}
	return sysfsBootStatus(string(b))
}

// sysfsBootStatus reads the text of a watchdog's sysfs bootstatus (a
// number, "32" or "0x20"): whether the watchdog caused the last boot, and
// whether the text said.
func sysfsBootStatus(text string) (reset, known bool) {
	v, err := strconv.ParseUint(strings.TrimSpace(text), 0, 32)
	if err != nil {
		return false, false
	}
	return watchdogCardReset(v), true
}

// floodDates holds the SMS dates of strangers' messages, sorted, as far
// back as a recent flood can reach. A flood is judged by when the messages
// were sent, not by when smsgate read them: an old backlog found at start
// (a modem off for days, a restart) is no flood, however many it holds.
type floodDates []time.Time

// floodKeep bounds floodDates: a flood needs only strangerFlood of them.
const floodKeep = 8 * strangerFlood

// add notes a stranger's SMS dated at, and reports whether the inbox now
// shows a flood: strangerFlood or more strangers' SMS dated within one
// hour of each other, the newest of them within the hour before now (the
// Pi's clock, or the newest SMS date when the Pi has none). A date that
// cannot be judged (none, implausible, a day ahead of now) is not counted.
func (f *floodDates) add(at, now time.Time) bool {
	if at.Year() < plausibleEpoch || at.After(now.Add(24*time.Hour)) {
		return false
	}
	// What the window can still reach: its newest is within the last
	// hour, its oldest an hour before that.
	from := now.Add(-2 * time.Hour)
	d := slices.DeleteFunc(*f, func(t time.Time) bool { return t.Before(from) })
	if at.Before(from) {
		*f = d
		return false
	}
	i, _ := slices.BinarySearchFunc(d, at, time.Time.Compare)
	d = slices.Insert(d, i, at)
	if len(d) > floodKeep {
		d = d[len(d)-floodKeep:]
	}
	*f = d
	lo := 0
	for hi, t := range d {
		for t.Sub(d[lo]) > time.Hour {
			lo++
		}
		if hi-lo+1 >= strangerFlood && !t.Before(now.Add(-time.Hour)) {
			return true
		}
	}
	return false
}
