package main

import (
	"context"
	"errors"
	"net/url"
)

// ZXIC-based dongles ("zxic_web_new", zte-newer.md §4.2) speak the goform
// parameters under /reqproc/proc_get and /reqproc/proc_post. A modem
// whose goform path is not found is asked there once; it costs a read, no
// login attempt.

const (
	goformGetPath  = "/goform/goform_get_cmd_process"
	goformSetPath  = "/goform/goform_set_cmd_process"
	reqprocGetPath = "/reqproc/proc_get"
	reqprocSetPath = "/reqproc/proc_post"
)

func (m *Modem) getPath() string {
	if m.reqproc {
		return reqprocGetPath
	}
	return goformGetPath
}

func (m *Modem) setPath() string {
	if m.reqproc {
		return reqprocSetPath
	}
	return goformSetPath
}

// tryReqproc says whether a read that failed with err should be asked
// again under /reqproc/: the goform path was not found (404) and reqproc
// was not tried yet. It switches when /reqproc/proc_get answers JSON.
func (m *Modem) tryReqproc(ctx context.Context, err error) bool {
	var st *httpStatusError
	if m.reqproc || m.reqprocTried || !errors.As(err, &st) || st.status[:3] != "404" {
		return false
	}
	m.reqprocTried = true
	b, rerr := m.roundTrip(ctx, "GET", reqprocGetPath, url.Values{"isTest": {"false"}, "cmd": {"loginfo"}, "multi_data": {"1"}})
	if rerr != nil {
		return false
	}
	if _, perr := parseAnswer(b); perr != nil {
		return false
	}
	m.reqproc = true
	m.log.Info("modem speaks the goform API under /reqproc/ (ZXIC-based dongle)")
	return true
}
