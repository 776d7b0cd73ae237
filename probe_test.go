package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestProbeHost: one DNS+TCP check serves status and the healer; status
// says which step failed, on loopback only.
func TestProbeHost(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := ln.Addr().String()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	shut := closed.Addr().String()
	closed.Close()
	defer ln.Close()
	ctx := context.Background()
	for _, tt := range []struct {
		hostport, status string
		ok               bool
	}{
		{open, "dns ok tcp ok", true},
		{shut, "dns ok tcp FAIL", false},
		{"127.0.0.1", "check-host invalid", false},
	} {
		p := probeHost(ctx, tt.hostport, 2*time.Second)
		if p.String() != tt.status || (p.Err() == nil) != tt.ok {
			t.Errorf("probeHost(%s) = %q, %v; want %q, ok %v", tt.hostport, p, p.Err(), tt.status, tt.ok)
		}
		if err := p.Err(); err != nil && !strings.Contains(err.Error(), tt.hostport) {
			t.Errorf("error %q does not name %s", err, tt.hostport)
		}
	}
}

// TestProgramOutputSanitized: a program's output reaches the log and the
// reply without control or bidi characters, through sanitizeText.
func TestProgramOutputSanitized(t *testing.T) {
	a, logs := programActions(t, 5*time.Second, "out="+script(t, `printf 'a\033[31mb\rc\342\200\256d\n'`))
	reply, err := runText(t, a, "out")
	if err != nil {
		t.Fatal(err)
	}
	if reply != "out: exit 0: a[31mbcd" {
		t.Errorf("reply %q", reply)
	}
	if strings.Contains(logs.String(), "\u202e") || strings.Contains(logs.String(), `\u001b`) {
		t.Errorf("log holds control or bidi characters: %s", logs)
	}
}
