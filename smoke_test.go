//go:build smoke

package main

import (
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCrossBinaries checks the release binaries `make arm arm64` wrote
// (SMSGATE_BIN_DIR): static ELF for the right machine, and that they run
// under qemu user emulation, the 32-bit one against the simulator.
func TestCrossBinaries(t *testing.T) {
	dir := os.Getenv("SMSGATE_BIN_DIR")
	if dir == "" {
		t.Fatal("SMSGATE_BIN_DIR not set: run `make smoke`")
	}
	bins := []struct {
		file, qemu string
		machine    elf.Machine
		class      elf.Class
	}{
		{"smsgate-linux-arm", "qemu-arm-static", elf.EM_ARM, elf.ELFCLASS32},
		{"smsgate-linux-arm64", "qemu-aarch64-static", elf.EM_AARCH64, elf.ELFCLASS64},
	}
	for _, b := range bins {
		t.Run(b.file, func(t *testing.T) {
			qemu := requireTool(t, b.qemu, "qemu-user-static")
			path := filepath.Join(dir, b.file)
			f, err := elf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Machine != b.machine || f.Class != b.class {
				t.Errorf("%s is %v %v", b.file, f.Class, f.Machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
					t.Errorf("%s is dynamically linked", b.file)
				}
			}
			if f.Section(".symtab") != nil {
				t.Errorf("%s is not stripped", b.file)
			}
			help, err := exec.Command(qemu, path, "-h").CombinedOutput()
			if err != nil || !strings.Contains(string(help), "smsgate [run] [flags]") || !strings.Contains(string(help), "-allow") {
				t.Fatalf("%s -h: %v\n%s", b.file, err, help)
			}
			for _, sub := range []string{"list", "ir-print"} {
				out, _ := exec.Command(qemu, path, sub, "-h").CombinedOutput()
				if !strings.Contains(string(out), "Usage: smsgate "+sub) {
					t.Errorf("%s %s -h:\n%s", b.file, sub, out)
				}
			}
			// Release builds leave the simulator out (-tags nosim) and say so.
			if out, err := exec.Command(qemu, path, "demo").CombinedOutput(); err == nil || !strings.Contains(string(out), "leaves out the simulated modem") {
				t.Errorf("%s demo: %v\n%s", b.file, err, out)
			}
			if b.machine == elf.EM_ARM {
				smokeAgainstSim(t, qemu, path, crossBuild(t, ".", "arm", "smsgate-sim"))
			}
		})
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// smokeAgainstSim runs the emulated release binary as client against the
// simulator of an emulated build that has one.
func smokeAgainstSim(t *testing.T, qemu, bin, simBin string) {
	addr := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sim := exec.CommandContext(ctx, qemu, simBin, "sim", "-listen", addr, "-password", "secret",
		"-deliver", "+21612345678=Привет 😀", "-personality", "mc801a")
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); sim.Wait() }()
	var out []byte
	var err error
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		cmd := exec.CommandContext(ctx, qemu, bin, "list", "-json", "-modem", "http://"+addr)
		cmd.Env = append(os.Environ(), "SMSGATE_PASSWORD=secret")
		if out, err = cmd.Output(); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("list against the simulator: %v\n%s", err, out)
	}
	var msgs []map[string]any
	if err := json.Unmarshal(out, &msgs); err != nil {
		t.Fatalf("list -json: %v\n%s", err, out)
	}
	if len(msgs) != 1 || msgs[0]["text"] != "Привет 😀" || msgs[0]["from"] != "+21612345678" {
		t.Fatalf("list -json = %s", out)
	}
	for _, k := range []string{"id", "from", "text", "time", "read", "complete"} {
		if _, ok := msgs[0][k]; !ok {
			t.Errorf("list -json lacks %q", k)
		}
	}
	// doctor is in the release build: the check a person runs on the Pi.
	capture := filepath.Join(t.TempDir(), "capture.json")
	doc := exec.CommandContext(ctx, qemu, bin, "doctor", "-modem", "http://"+addr, "-allow", "+21612345678",
		"-watchdog", "", "-capture", capture)
	doc.Env = append(os.Environ(), "SMSGATE_PASSWORD=secret")
	if b, err := doc.CombinedOutput(); err != nil || !strings.Contains(string(b), "ok    login") || !strings.Contains(string(b), "no failures") {
		t.Errorf("doctor under emulation: %v\n%s", err, b)
	}
	if b, err := os.ReadFile(capture); err != nil || strings.Contains(string(b), "secret") || strings.Contains(string(b), "21612345678") {
		t.Errorf("doctor -capture under emulation: %v\n%.400s", err, b)
	}
	id := fmt.Sprint(msgs[0]["id"])
	del := exec.CommandContext(ctx, qemu, bin, "delete", "-modem", "http://"+addr, "-password", "secret", id)
	if b, err := del.CombinedOutput(); err != nil {
		t.Fatalf("delete: %v\n%s", err, b)
	}
	irOut, err := exec.CommandContext(ctx, qemu, bin, "ir-print", "samsung32:0x2c2c1e").Output()
	if err != nil || !strings.HasPrefix(string(irOut), "carrier 38000\npulse 4500\nspace 4500\n") {
		t.Errorf("ir-print under emulation: %v\n%.80s", err, irOut)
	}
}
