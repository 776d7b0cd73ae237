package main

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// ownerFlags are the daemon's flags for the owner's features.
type ownerFlags struct {
	forward     string
	forwardMax  int
	onSMS       string
	ussdAllow   string
	keepalive   dayDuration
	balanceUSSD string
	replyParts  int
	onCall      string
}

func (f *ownerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.forward, "forward", "off", "forward strangers' SMS to the -alert numbers: off, service (alphanumeric senders and short codes: the operator, banks) or all")
	fs.IntVar(&f.forwardMax, "forward-max", defaultForwardMax, "forwarded SMS at most this many in 24 hours; the next says how many were not")
	fs.StringVar(&f.onSMS, "on-sms", "", "`PROGRAM [ARG...]` (absolute path, no shell) run once per SMS after it is decided, with SMS_FROM, SMS_DATE, SMS_TEXT, SMS_DECISION, SMS_ALLOWED in its environment; -cmd-timeout applies")
	fs.StringVar(&f.ussdAllow, "ussd-allow", defaultUSSDCharset, "the `characters` a USSD code may use (ranges like 0-9); codes are at most 20 characters")
	fs.Var(&f.keepalive, "keepalive", "send the owner a short status SMS when smsgate sent nothing for this `duration` (30d; at least 1d; 0 off), to keep a prepaid SIM alive")
	fs.StringVar(&f.balanceUSSD, "balance-ussd", "", "USSD `code` whose answer the keep-alive SMS adds (*100#)")
	fs.StringVar(&f.onCall, "on-call", "", "`COMMAND` (status, reboot, ...) a call from an -allow number runs, unanswered; rate limits and -reboot-interval apply; the reply goes by SMS (AT modules)")
	fs.IntVar(&f.replyParts, "reply-parts", 1, "status, help, USSD answers and -cmd output may use up to this many concatenated SMS parts (1-4)")
}

// validate checks the flags and returns the gateway's OwnerConfig; every
// mistake is said.
func (f *ownerFlags) validate(cmdTimeout time.Duration, dryRun, alertNobody bool) (OwnerConfig, error) {
	var errs []error
	c := OwnerConfig{ForwardMax: f.forwardMax, Keepalive: f.keepalive.d, BalanceUSSD: f.balanceUSSD,
		ReplyParts: f.replyParts, DryRun: dryRun}
	var err error
	if c.Forward, err = parseForwardMode(f.forward); err != nil {
		errs = append(errs, err)
	}
	if c.Forward != forwardOff && alertNobody {
		errs = append(errs, errors.New("-forward needs an -alert number to forward to (-alert is empty)"))
	}
	if f.forwardMax < 1 {
		errs = append(errs, fmt.Errorf("-forward-max %d: want at least 1", f.forwardMax))
	}
	if c.OnSMS, err = parseOnSMS(f.onSMS, cmdTimeout); err != nil {
		errs = append(errs, err)
	}
	c.USSDAllow, err = parseUSSDCharset(f.ussdAllow)
	allowOK := err == nil
	if err != nil {
		errs = append(errs, err)
	}
	if c.Keepalive != 0 && c.Keepalive < minKeepalive {
		errs = append(errs, fmt.Errorf("-keepalive %s: want at least 1d (a keep-alive more often would cost you money) or 0 for off", f.keepalive.String()))
	}
	if f.balanceUSSD != "" {
		if c.Keepalive == 0 {
			errs = append(errs, errors.New("-balance-ussd goes with -keepalive: it adds the answer to the keep-alive SMS"))
		}
		if err := c.USSDAllow.check(f.balanceUSSD); allowOK && err != nil {
			errs = append(errs, fmt.Errorf("-balance-ussd %q: %w", f.balanceUSSD, err))
		}
	}
	if c.OnCall, err = parseOnCall(f.onCall); err != nil {
		errs = append(errs, err)
	}
	if f.replyParts < 1 || f.replyParts > maxReplyParts {
		errs = append(errs, fmt.Errorf("-reply-parts %d: want 1 to %d", f.replyParts, maxReplyParts))
	}
	return c, errors.Join(errs...)
}
