//go:build !linux

package main

// hostLock: no host-wide lock here (a unix socket name elsewhere is a
// file); logins are serialised within the process only.
func hostLock(string) (unlock func(), ok bool) { return nil, false }

func hostLockTaken(unlock func()) bool { return unlock != nil }
