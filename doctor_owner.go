package main

import (
	"fmt"
	"strings"
	"time"
)

// doctorOwnerFlags are the daemon's program and USSD flags, as doctor
// checks them: -cmd and -on-sms programs the way the daemon would refuse
// them at start.
type doctorOwnerFlags struct {
	programs   repeatFlag
	cmdTimeout time.Duration
	onSMS      string
	ussdAllow  string
	balance    string
}

// checkOwner checks the -cmd and -on-sms programs, the USSD flags, and
// says which owner features this modem's family serves.
func (d *doctor) checkOwner() {
	f := d.cfg.owner
	if progs, err := parsePrograms(f.programs, f.cmdTimeout); err != nil {
		d.add(check{"cmd", levelFail, err.Error(), "give an absolute path to an executable file; smsgate refuses to start otherwise"})
	} else if len(progs) > 0 {
		var names []string
		for _, p := range progs {
			names = append(names, p.name+"="+p.path)
		}
		d.add(check{"cmd", levelOK, "runnable: " + strings.Join(names, ", "), ""})
	}
	if p, err := parseOnSMS(f.onSMS, f.cmdTimeout); err != nil {
		d.add(check{"on-sms", levelFail, err.Error(), "give an absolute path to an executable file; smsgate refuses to start otherwise"})
	} else if p != nil {
		d.add(check{"on-sms", levelOK, fmt.Sprintf("%s runnable; run once per SMS, without a shell, killed after %s", p.path, shortSeconds(p.timeout)), ""})
	}
	if f.ussdAllow == "" {
		f.ussdAllow = defaultUSSDCharset // a doctorConfig built without flags
	}
	allow, err := parseUSSDCharset(f.ussdAllow)
	if err != nil {
		d.add(check{"ussd", levelFail, err.Error(), "-ussd-allow '*#0-9'"})
		return
	}
	if f.balance != "" {
		if err := allow.check(f.balance); err != nil {
			d.add(check{"ussd", levelFail, fmt.Sprintf("-balance-ussd %q: %s", f.balance, err), "use a code -ussd-allow allows"})
		}
	}
	mf := d.cfg.modem
	m, err := NewModem(ModemConfig{URL: mf.url, User: mf.user, Password: mf.password, Timeout: mf.timeout})
	if err != nil {
		return // checkFlags said so
	}
	d.add(check{"features", levelOK, ownerFeaturesOf(m), ""})
}

// ownerFeaturesOf says which of the owner's features m's family serves.
func ownerFeaturesOf(m any) string {
	var can, cannot []string
	if ussdOf(m) != nil {
		can = append(can, "ussd")
	} else {
		cannot = append(cannot, "ussd")
	}
	if _, ok := adapterOf(m).(loginHolder); ok {
		can = append(can, "pause (polls on with the session it has)")
	} else {
		can = append(can, "pause (no modem access while paused)")
	}
	s := "this modem family serves forward, on-sms, keepalive, reply-parts, " + strings.Join(can, ", ")
	if len(cannot) > 0 {
		s += "; not: " + strings.Join(cannot, ", ")
	}
	return s
}
