package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// execute runs c in a process group of its own, with its output in a
// pipe. When the program ends, times out or ctx ends, the whole group is
// killed: nothing it started outlives it (a child that must keep running
// belongs to init: systemctl start). The group is killed before the leader
// is reaped, so its id cannot have been given to anyone else.
func execute(ctx context.Context, c *exec.Cmd, timeout time.Duration) (*programResult, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	c.Stdout, c.Stderr = w, w
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	err = c.Start()
	w.Close()
	if err != nil {
		return nil, err
	}
	res := &programResult{}
	copied := make(chan struct{})
	go func() {
		io.Copy(&res.output, r)
		close(copied)
	}()
	pid := c.Process.Pid
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		var info unix.Siginfo
		for {
			// WNOWAIT: the leader stays a zombie until c.Wait reaps it.
			if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil); !errors.Is(err, unix.EINTR) {
				return
			}
		}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-exited:
	case <-timer.C:
		res.timedOut = true
	case <-ctx.Done():
	}
	_ = unix.Kill(-pid, unix.SIGKILL)
	<-exited
	waitErr := c.Wait()
	res.elapsed = time.Since(start)
	// A descendant that left the group may still hold the pipe.
	select {
	case <-copied:
	case <-time.After(time.Second):
		r.Close()
		<-copied
	}
	res.exitCode = c.ProcessState.ExitCode()
	if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.signal = unix.SignalName(ws.Signal())
		if res.signal == "" {
			res.signal = ws.Signal().String()
		}
	}
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		return nil, waitErr
	}
	return res, nil
}
