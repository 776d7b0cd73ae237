package main

import (
	"testing"
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
		{"hilink", hl.linkLimit, hl.sendLimit},
		{"at cgatt", atDetachWait + atAttachWait, sendConfirmWait},
		{"at cfun", atRadioOffWait + atRadioPause + atRadioOnWait, sendConfirmWait},
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
