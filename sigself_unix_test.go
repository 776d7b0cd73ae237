//go:build unix

package main

import "syscall"

// interruptSelf sends this process SIGINT: what stops an in-process
// `smsgate sim` a test started, as Ctrl-C stops it at a shell.
func interruptSelf() error { return syscall.Kill(syscall.Getpid(), syscall.SIGINT) }
