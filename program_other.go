//go:build !linux

package main

import (
	"context"
	"errors"
	"os/exec"
	"time"
)

// execute is the stand-in where process groups are not handled: only the
// program itself is killed on a timeout, not what it started. smsgate's
// -cmd is meant for Linux.
func execute(ctx context.Context, c *exec.Cmd, timeout time.Duration) (*programResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res := &programResult{}
	c.Stdout, c.Stderr = &res.output, &res.output
	c.WaitDelay = time.Second
	cc := exec.CommandContext(ctx, c.Path, c.Args[1:]...)
	cc.Dir, cc.Env, cc.Stdout, cc.Stderr, cc.WaitDelay = c.Dir, c.Env, c.Stdout, c.Stderr, c.WaitDelay
	start := time.Now()
	err := cc.Run()
	res.elapsed = time.Since(start)
	res.timedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && cc.ProcessState == nil {
		return nil, err
	}
	res.exitCode = cc.ProcessState.ExitCode()
	return res, nil
}
