package main

import (
	"context"
	"testing"
	"time"
)

// TestHostLoginLockIsHostWide: the lock that keeps smsgate processes
// from racing each other's ubus logins is the kernel's (an abstract unix
// socket), not this process's: held once, a second bind fails whoever
// asks, and it is free again once let go. A login that cannot get it
// within its wait goes on, marked not alone (its refusal is not judged).
func TestHostLoginLockIsHostWide(t *testing.T) {
	key := "test " + t.Name() + time.Now().String()
	unlock, ok := hostLock(key)
	if !ok {
		t.Fatal("a free lock not taken")
	}
	if u, ok := hostLock(key); ok || !hostLockTaken(u) {
		t.Fatal("the lock taken twice")
	}
	start := time.Now()
	release, alone := hostLoginLock(context.Background(), key, 100*time.Millisecond)
	release()
	if alone || time.Since(start) < 100*time.Millisecond {
		t.Errorf("while another holds it: alone %v after %v", alone, time.Since(start))
	}
	unlock()
	release, alone = hostLoginLock(context.Background(), key, time.Second)
	defer release()
	if !alone {
		t.Error("a free lock not taken by a login")
	}
}
