package main

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// signalInit asks PID 1 for a reboot.
func signalInit(sig syscall.Signal) error { return syscall.Kill(1, sig) }

// rebootNow syncs the disks and restarts the machine at once.
func rebootNow() error {
	unix.Sync()
	return unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
}
