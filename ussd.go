package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ussdPort is a modem that can run a USSD code: the network's answer, with
// any session the network left open (a menu asking for a reply) closed.
// Adapters implement it where their family can (AT: AT+CUSD; HiLink:
// /api/ussd; ZTE goform: USSD_PROCESS, modem_zte_ussd.go).
type ussdPort interface {
	USSD(ctx context.Context, code string) (string, error)
}

const (
	// ussdMaxLen bounds a code: balance and pack codes are a few
	// characters; anything long is a mistake or an attack.
	ussdMaxLen         = 20
	defaultUSSDCharset = "*#0-9"
)

// ussdWait is how long the network has to answer (a variable for tests).
var ussdWait = 30 * time.Second

var errUSSDNoAnswer = errors.New("no answer in 30s")

// ussdCharset is -ussd-allow: the characters a code may use, written as
// inside a regular expression's brackets ("*#0-9"): single characters and
// ranges a-b.
type ussdCharset struct {
	spec string
	ok   [128]bool
}

func parseUSSDCharset(spec string) (ussdCharset, error) {
	c := ussdCharset{spec: spec}
	r := []rune(spec)
	if len(r) == 0 {
		return c, errors.New("-ussd-allow: empty; give the characters a code may use, like *#0-9")
	}
	for i := 0; i < len(r); i++ {
		lo, hi := r[i], r[i]
		if i+2 < len(r) && r[i+1] == '-' {
			hi = r[i+2]
			i += 2
		}
		if lo > hi || hi > 126 || lo <= ' ' {
			return c, fmt.Errorf("-ussd-allow %q: want printable ASCII characters and ranges like 0-9", spec)
		}
		for ch := lo; ch <= hi; ch++ {
			c.ok[ch] = true
		}
	}
	return c, nil
}

// check says why code may not be sent, or nil.
func (c ussdCharset) check(code string) error {
	if c.spec == "" {
		c, _ = parseUSSDCharset(defaultUSSDCharset)
	}
	if code == "" || len(code) > ussdMaxLen {
		return fmt.Errorf("a code of 1 to %d characters", ussdMaxLen)
	}
	for _, r := range code {
		if r >= 128 || !c.ok[r] {
			return fmt.Errorf("%q is not in -ussd-allow %s", r, c.spec)
		}
	}
	return nil
}

// ussdOf is m's USSD, or nil when its family cannot: no USSD method, or an
// adapter that says it cannot.
func ussdOf(m any) ussdPort {
	m = adapterOf(m)
	u, ok := m.(ussdPort)
	if !ok {
		return nil
	}
	if i, ok := m.(interface{ Info() PortInfo }); ok && !i.Info().Can.USSD {
		return nil
	}
	return u
}

// runUSSD sends code and returns the answer as one line, within ussdWait.
func runUSSD(ctx context.Context, m any, allow ussdCharset, code string) (string, error) {
	if err := allow.check(code); err != nil {
		return "", fmt.Errorf("refused: %w", err)
	}
	u := ussdOf(m)
	if u == nil {
		return "", fmt.Errorf("ussd: %w", errUnsupported)
	}
	ctx, cancel := context.WithTimeout(ctx, ussdWait)
	defer cancel()
	ans, err := u.USSD(ctx, code)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errUSSDNoAnswer) {
		return "", errUSSDNoAnswer
	}
	if err != nil {
		return "", err
	}
	return strings.Join(strings.Fields(sanitizeText(ans)), " "), nil
}

func parseUSSDArgs(args []string) (Command, error) {
	if len(args) < 1 {
		return Command{}, errors.New("ussd needs a CODE: ussd *100#")
	}
	return Command{Name: "ussd", Arg: args[0]}, nil
}

func (a *Actions) runUSSDCommand(ctx context.Context, cmd Command) (string, func() error, error) {
	var allow ussdCharset
	if a.own != nil {
		allow = a.own.cfg.USSDAllow
	}
	a.logAction("ussd", cmd.Arg, false)
	ans, err := runUSSD(ctx, a.modem, allow, cmd.Arg)
	if err != nil {
		return "ussd " + cmd.Arg + ": " + shortErr(err), nil, fmt.Errorf("ussd %s: %w", cmd.Arg, err)
	}
	return "ussd " + cmd.Arg + ": " + ans, nil, nil
}

// ownerCommandSpecs are the owner's commands: USSD and pause.
func ownerCommandSpecs() []commandSpec {
	return []commandSpec{
		{
			name: "ussd", args: "CODE", parse: parseUSSDArgs, run: (*Actions).runUSSDCommand,
			help: func(a *Actions) string {
				if ussdOf(a.modem) == nil {
					return "ussd (not on this modem)"
				}
				return "ussd CODE"
			},
			does:    "sends a USSD code (only characters in `-ussd-allow`, at most 20) and replies with the network's answer; a menu it opens is closed; only on modems that can (`help` lists it only there)",
			example: "ussd *100#: Balance 12.50 TND, valid until 2027-01-31",
		},
		{
			name: "pause", args: "DURATION", parse: parsePauseArgs, run: (*Actions).runPause,
			help:    func(*Actions) string { return "pause 30m" },
			does:    "stops smsgate logging in to the modem for DURATION (at most 2h), so that you can use its web UI; `resume` or `smsgate resume` ends it",
			example: "paused until 14:30: no modem logins; send 'resume' or run 'smsgate resume' to end it",
		},
		{
			name: "resume", run: (*Actions).runResume,
			does: "ends a pause", example: "resumed: logging in to the modem again",
		},
	}
}

// withOwnerCommands puts the owner's commands in table, before help.
func withOwnerCommands(table []commandSpec) []commandSpec {
	i := slices.IndexFunc(table, func(s commandSpec) bool { return s.name == "help" })
	if i < 0 {
		i = len(table)
	}
	return slices.Insert(table, i, ownerCommandSpecs()...)
}
