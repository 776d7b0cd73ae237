package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestStepBudgetCoversTheWorstStep: with the daemon's own flags, the step
// timeout covers the longest step of every modem family (its requests, a
// deletion, a reply with every part confirmed, its reconnect, a reboot's
// grace, a -cmd program), and the supervisor's budget lies beyond a whole
// step: a legitimate slow step is neither cut short nor taken for a stall.
func TestStepBudgetCoversTheWorstStep(t *testing.T) {
	hl, err := newHiLinkModem(ModemConfig{URL: "http://127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	// What each family waits in its reconnect and per sent part.
	families := []struct {
		name            string
		reconnect, send time.Duration
	}{
		{"zte", zteLinkDownWait + zteLinkUpWait, sendConfirmWait},
		{"hilink", 2 * hl.linkLimit, hl.sendLimit}, // down, then up (hilinkModem.Reconnect)
		{"at cgatt", atDetachWait + atAttachWait, sendConfirmWait},
		{"at cfun", atDetachWait + atRadioOffWait + atRadioPause + atRadioOnWait, sendConfirmWait}, // after a failed detach
	}
	for _, args := range [][]string{
		{"-allow", owner},
		{"-allow", owner, "-reply-parts", "4", "-timeout", "30s", "-cmd-timeout", "5m"},
	} {
		cfg := validFlags(t, args...)
		step, modem := cfg.gateway.StepTimeout, cfg.modem
		parts := cfg.gateway.Owner.ReplyParts
		grace, cmd := cfg.reboot.grace, time.Duration(0)
		if f := flagValue(t, args, "-cmd-timeout"); f != "" {
			cmd, _ = time.ParseDuration(f)
		} else {
			cmd = 30 * time.Second // the flag's default
		}
		for _, f := range families {
			worst := stepRequests*modem.Timeout + deleteConfirmWait + time.Duration(parts)*f.send + f.reconnect + grace + cmd
			if step < worst {
				t.Errorf("%v: step timeout %s < the worst %s step %s", args, step, f.name, worst)
			}
		}
		// Healing runs within a step; its reconnect must not be cut short.
		healer := NewHealer(cfg.gateway.Heal, nil, nil, nil, nil)
		for _, f := range families {
			if heal := healer.cfg.StepTimeout; heal < modem.Timeout+f.reconnect || heal > step {
				t.Errorf("%v: healing step timeout %s: want from the %s reconnect %s to the step %s", args, heal, f.name, modem.Timeout+f.reconnect, step)
			}
		}
		if b := supervisorBudget(cfg.gateway.PollInterval, step); b <= step+cfg.gateway.PollInterval {
			t.Errorf("%v: supervisor budget %s leaves no margin over a poll and a step (%s)", args, b, step)
		}
	}
}

// flagValue is the value args give flag, "" if none.
func flagValue(t *testing.T, args []string, flag string) string {
	t.Helper()
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			return args[i+1]
		}
	}
	return ""
}

// TestHiLinkReconnectFitsTheHealStep: a HiLink whose link says
// "connecting" for ever is waited for twice (down, then up) and then
// reported as not up; healing's step does not cut that wait short, which
// would leave the reconnect unjudged and take a modem reboot for needed.
// Timed in a bubble, so the minutes are measured, not assumed.
func TestHiLinkReconnectFitsTheHealStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, m := startHiLinkPiped(t, "e3372h", "pw")
		sim.SetConnecting(true)
		budget := healStepBudget(m.timeout)
		ctx, cancel := context.WithTimeout(context.Background(), budget)
		defer cancel()
		start := time.Now()
		_, err := m.Reconnect(ctx)
		took := time.Since(start)
		if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "link still") {
			t.Fatalf("reconnect took %s within a heal step of %s: %v; want the modem's own \"link still\" verdict", took, budget, err)
		}
		if took < 2*hilinkLinkWait {
			t.Errorf("reconnect gave up after %s, before both waits (%s)", took, 2*hilinkLinkWait)
		}
	})
}
