package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// -on-call: a call from an allowed number runs one configured command,
// never answered (free for the owner, and a way in when SMS is delayed).
// The call is judged as an SMS of that command would be, past the PIN it
// cannot carry: the sender list, a PIN lockout, the rate, the reboot
// interval. One call is one action: the adapter reports a call once
// however often it rings, and the gateway takes it off the channel once.

// callSource is a port that sees incoming calls (the AT family: RING and
// +CLIP).
type callSource interface {
	Calls() <-chan ATCall
}

// parseOnCall reads -on-call: "" (off) or a built-in command of the table.
func parseOnCall(s string) (*Command, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	cmd, ok := parseCommand(s)
	if !ok {
		return nil, fmt.Errorf("-on-call %q: not a command (status, reboot, ping, modem reboot, modem reconnect, ...)", s)
	}
	if cmd.Name == "help" {
		return nil, errors.New("-on-call help: help lists the commands; give the one a call should run (status, reboot)")
	}
	return &cmd, nil
}

// checkOnCallSecret refuses an -on-call that acts (a reboot, IR, a
// program) when commands need a PIN or a TOTP code: a call carries
// neither, and a caller id is as easy to forge as an SMS sender. status and
// ping only answer, and only to the allowed number.
func checkOnCallSecret(c GatewayConfig) error {
	cmd := c.Owner.OnCall
	if cmd == nil || c.secret() == secretNone || cmd.Name == "status" || cmd.Name == "ping" {
		return nil
	}
	return fmt.Errorf("-on-call %s: commands need a %s, which a call cannot carry; use -on-call status, or no -pin/-totp", cmd, c.secret())
}

// takeCalls handles the calls the port reported since the last poll.
func (g *Gateway) takeCalls(ctx context.Context) {
	cs, ok := adapterOf(g.modem).(callSource)
	if !ok {
		return
	}
	for {
		select {
		case c := <-cs.Calls():
			g.onCall(ctx, c)
		default:
			return
		}
	}
}

// onCall judges one call, logs it in one line, and runs the command when
// it is admitted; the reply goes by SMS to the allowed number.
func (g *Gateway) onCall(ctx context.Context, c ATCall) {
	from := normalizeNumber(c.Number, g.cfg.CountryCode)
	cmd := g.cfg.Owner.OnCall
	now := g.now()
	logCall := func(d decision) {
		g.log.Info("call", "from", sanitizeText(c.Number), "decision", d.verdict, "command", d.command, "reason", d.reason)
	}
	switch {
	case c.Number == "":
		logCall(decision{verdict: "ignored", reason: "caller id withheld"})
		return
	case !g.allow[from]:
		logCall(decision{verdict: "ignored", reason: "caller not in -allow"})
		return
	case cmd == nil:
		logCall(decision{verdict: "ignored", reason: "no -on-call command"})
		return
	case now.Before(g.st.LockedUntil[from]):
		logCall(decision{verdict: "ignored", reason: "number locked out after wrong PINs"})
		return
	}
	m := SMS{From: c.Number, Text: cmd.String(), Time: now, Complete: true}
	d := decision{command: cmd.String()}
	p := g.newPass(g.st, now, now, true)
	if v, ok := p.admit(m, from, *cmd, string(from)+"|"+cmd.String(), d); !ok {
		logCall(v.decision)
		g.store.Save(g.st)
		g.replyCall(ctx, m, v.reply, cmd.Name)
		return
	}
	// Counted before it runs: a reboot must find the count and its time
	// saved.
	g.store.Save(g.st)
	g.setHealth(healthBusy)
	g.heal.OwnerCommand(cmd.Name, now)
	reply, after, err := g.actions.Run(ctx, *cmd)
	d.verdict, d.reason = "executed", "call from an allowed number"
	if err != nil {
		d.verdict, d.reason = "failed", err.Error()
	}
	logCall(d)
	g.replyCall(ctx, m, reply, cmd.Name)
	if after != nil {
		if err := after(); err != nil {
			g.log.Error("action failed after reply", "command", cmd.String(), "err", err)
		}
	}
}

func (g *Gateway) replyCall(ctx context.Context, m SMS, text, cmd string) {
	if text == "" {
		return
	}
	if err := g.sendReply(ctx, m, text, cmd); err != nil {
		g.log.Warn("reply to a call failed", "to", g.replyTo(m), "err", err)
	}
}
