package main

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// A login the modem does not count for smsgate (HiLink, ubus, goform
// firmware whose psw_fail_num_str is blank or stuck) is written down
// before it is posted, so that no restart can make it free: a crash loop
// without that record spends one of the owner's attempts per start, and
// three SIGKILLed starts locked a HiLink stick (outside witness). Where it
// cannot be written down, it is not posted.

// errNoStateDir: the daemon keeps its state in memory only.
var errNoStateDir = errors.New("no -state-dir")

// loginRecorder writes down what a login about to be posted leaves if it
// is spent, durably, or says why it could not (the gateway's
// saveBeforeLogin). nil where nobody keeps a record: a one-shot, run by a
// person, spends at most one attempt and stops.
type loginRecorder func(LoginRefusals) error

// unrecordedRetry is how long a login waits when the state directory
// refused its record: the disk may take writes again (fsck, space freed).
const unrecordedRetry = 5 * time.Minute

// record writes r down. When that fails, it returns the hold to keep
// instead of posting (0: until a restart) and the reason to log.
func (f loginRecorder) record(r LoginRefusals) (reason string, hold time.Duration, ok bool) {
	if f == nil {
		return "", 0, true
	}
	err := f(r)
	if err == nil {
		return "", 0, true
	}
	const why = "login not sent: this modem does not report attempts left, so each login is written down first, lest restarts spend yours"
	if errors.Is(err, errNoStateDir) {
		return why + "; there is no -state-dir: set one and restart", 0, false
	}
	return fmt.Sprintf("%s; the state dir refused it (%v): tried again every %s", why, err, unrecordedRetry), unrecordedRetry, false
}

// holdUnrecorded logs a login held for want of its record, loudly: the
// daemon runs on, but logs in to nothing until the owner acts.
func holdUnrecorded(log interface{ Error(string, ...any) }, reason string, retryAfter time.Time) {
	log.Error("MODEM LOGIN HELD: smsgate will not send a login it cannot write down", "reason", reason,
		"retry_after", retryAfter.Format(time.RFC3339))
}

// counterKnownStuck: goform firmware whose psw_fail_num_str stays at 5
// however many logins fail (zte-goform.md: MC7010, MC888). Its count is
// no memory of smsgate's refusals, though it looks like one.
func counterKnownStuck(model string) bool {
	model = strings.ToUpper(model)
	return strings.Contains(model, "MC7010") || strings.Contains(model, "MC888")
}
