//go:build linux && !nosim

package main

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSimServesAnATModule: `smsgate sim -personality sim7600` serves the
// AT simulator on a pseudo-terminal and says the -modem address, which
// status, list and send then reach; SIGINT stops it.
func TestSimServesAnATModule(t *testing.T) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"sim", "-personality", "sim7600", "-deliver", owner + "=hello from the pty"}, nil, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var addr string
	for addr == "" && sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "point smsgate at it with -modem "); ok {
			addr = rest
		}
	}
	go io.Copy(io.Discard, pr) // what it says of sends from here on
	if !strings.HasPrefix(addr, "serial:/") {
		t.Fatalf("no serial address said (%q)", addr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "-modem", addr}, "-71 dBm"},
		{[]string{"list", "-modem", addr}, "hello from the pty"},
	} {
		var out bytes.Buffer
		if err := run(c.args, strings.NewReader(""), &out, &out); err != nil || !strings.Contains(out.String(), c.want) {
			t.Errorf("%v: %v\n%s", c.args, err, out.String())
		}
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("sim: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("sim did not stop on SIGINT")
	}
}
