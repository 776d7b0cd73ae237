package main

import "time"

// What one poll step may wait for, one constant per fact. The modem
// clients wait these, and stepTimeout adds them up: lengthening a wait
// lengthens the step's budget, and the supervisor's, with it
// (TestStepBudgetCoversTheWorstStep).
const (
	// defaultRequestTimeout is -timeout's default: one request to the
	// modem.
	defaultRequestTimeout = 10 * time.Second
	// stepRequests is how many requests of at most -timeout one step
	// makes besides the waits below: the cheap poll, a few list pages, a
	// delete, a reply's form, a login.
	stepRequests = 8
	// sendConfirmWait is how long one sent SMS may take to be confirmed:
	// ZTE's cmd_status, HiLink's send status, an AT module's +CMGS (per
	// part there).
	sendConfirmWait = time.Minute
	// deleteConfirmWait is how long ZTE may take to confirm a deletion.
	deleteConfirmWait = 15 * time.Second
	// zteLinkDownWait and zteLinkUpWait: a ZTE reconnect waits for each
	// transition as long as the web UI does.
	zteLinkDownWait = 10 * time.Second
	zteLinkUpWait   = 20 * time.Second
	// hilinkLinkWait is how long a HiLink reconnect waits for each
	// transition, the link down and then up.
	hilinkLinkWait = time.Minute
	// atDetachWait and atAttachWait bound an AT module's packet service
	// detach and attach (AT+CGATT); atRadioOffWait, atRadioPause and
	// atRadioOnWait its fallback, the radio off and on (AT+CFUN).
	atDetachWait   = 30 * time.Second
	atAttachWait   = time.Minute
	atRadioOffWait = 30 * time.Second
	atRadioPause   = 2 * time.Second
	atRadioOnWait  = 30 * time.Second
	// atRebootWait bounds an AT module's answer to its reboot (AT+CFUN=1,1).
	atRebootWait = 15 * time.Second
	// stallMargin is what the supervisor allows beyond a whole step
	// before it calls the loop stalled.
	stallMargin = 10 * time.Second
)

// reconnectWait is the longest a reconnect of any modem family may take:
// ZTE and HiLink wait for the link to go down and then up; an AT module
// detaches and attaches, or, when the detach fails (after its wait), turns
// the radio off and on.
func reconnectWait() time.Duration {
	return max(zteLinkDownWait+zteLinkUpWait, 2*hilinkLinkWait,
		atDetachWait+atAttachWait, atDetachWait+atRadioOffWait+atRadioPause+atRadioOnWait)
}

// stepBudget bounds one poll iteration: its requests, a delete with its
// confirmation, a reply of replyParts parts with its send confirmation, a
// reconnect, a reboot's grace and a -cmd program.
func stepBudget(requestTimeout time.Duration, replyParts int, rebootGrace, cmdTimeout time.Duration) time.Duration {
	return stepRequests*requestTimeout + deleteConfirmWait + time.Duration(replyParts)*sendConfirmWait +
		reconnectWait() + rebootGrace + cmdTimeout
}

// healStepBudget bounds one healing step, a reconnect or a modem reboot
// of any family, with its requests.
func healStepBudget(requestTimeout time.Duration) time.Duration {
	return stepRequests*requestTimeout + max(reconnectWait(), atRebootWait)
}

// supervisorBudget is how long the loop may go without completing an
// iteration before the supervisor calls it stalled: a poll interval and a
// whole step, and a margin.
func supervisorBudget(poll, step time.Duration) time.Duration {
	return poll + step + stallMargin
}
