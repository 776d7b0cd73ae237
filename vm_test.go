//go:build vmtest

package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	// gokrazy's init code, which the gokrazy scenario runs as PID 1
	// (testdata/gokrazyinit), pinned in go.mod. Imported here only so
	// that go.mod keeps it; it never reaches the smsgate binary
	// (TestVM checks the binary's build info).
	_ "github.com/gokrazy/gokrazy"
	// The kernel the VM boots: gokrazy's arm64 build, pinned in go.mod.
	_ "github.com/gokrazy/kernel.arm64"
)

// The VM suite boots the arm64 smsgate on a real Linux kernel under
// qemu-system-aarch64 -M virt, with a real i6300esb watchdog, a real pl061
// GPIO chip and a real reboot(2). `make vmtest` runs it.

func kernelImage(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", "github.com/gokrazy/kernel.arm64").Output()
	if err != nil {
		t.Fatalf("go mod download github.com/gokrazy/kernel.arm64: %v", err)
	}
	var m struct{ Dir, Version string }
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel: github.com/gokrazy/kernel.arm64 %s", m.Version)
	return filepath.Join(m.Dir, "vmlinuz")
}

// cpioWriter writes the "newc" format the kernel unpacks as initramfs.
type cpioWriter struct {
	w   io.Writer
	ino int
	err error
}

func (c *cpioWriter) entry(name string, mode uint32, rdevMajor, rdevMinor int, data []byte) {
	if c.err != nil {
		return
	}
	c.ino++
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	buf := append([]byte(hdr), name...)
	buf = append(buf, 0)
	for len(buf)%4 != 0 {
		buf = append(buf, 0)
	}
	buf = append(buf, data...)
	for len(buf)%4 != 0 {
		buf = append(buf, 0)
	}
	_, c.err = c.w.Write(buf)
}

// initramfsFile is one entry of an initramfs: a file, an executable, a
// directory or a symbolic link.
type initramfsFile struct {
	mode uint32
	data []byte // file contents, or the link's target
}

func cpioExe(t *testing.T, src string) initramfsFile {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	return initramfsFile{0o100755, data}
}

func cpioFile(s string) initramfsFile  { return initramfsFile{0o100644, []byte(s)} }
func cpioDir() initramfsFile           { return initramfsFile{0o040755, nil} }
func cpioLink(to string) initramfsFile { return initramfsFile{0o120777, []byte(to)} }

func writeInitramfs(t *testing.T, path string, files map[string]initramfsFile) {
	t.Helper()
	var b bytes.Buffer
	c := &cpioWriter{w: &b}
	for _, d := range []string{"dev", "proc", "sys", "tmp"} {
		c.entry(d, 0o040755, 0, 0, nil)
	}
	// The kernel opens /dev/console for init before anything is mounted.
	c.entry("dev/console", 0o020600, 5, 1, nil)
	// Parents before children.
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c.entry(name, files[name].mode, 0, 0, files[name].data)
	}
	c.entry("TRAILER!!!", 0, 0, 0, nil)
	if c.err != nil {
		t.Fatal(c.err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

type consoleLine struct {
	at   time.Time
	text string
}

// boot runs one scenario and returns the console lines and when qemu
// exited.
func boot(t *testing.T, qemu, kernel, initrd, cmdline, scenario string) ([]consoleLine, time.Time) {
	return bootWithin(t, 5*time.Minute, qemu, kernel, initrd, cmdline, scenario)
}

// bootWithin is boot for a scenario that may take up to limit.
func bootWithin(t *testing.T, limit time.Duration, qemu, kernel, initrd, cmdline, scenario string) ([]consoleLine, time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-M", "virt", "-cpu", "cortex-a53", "-m", "512", "-smp", "1",
		"-nographic", "-no-reboot", "-nic", "none", "-device", "i6300esb",
		"-kernel", kernel, "-initrd", initrd,
		"-append", "console=ttyAMA0 panic=-1 "+cmdline+" smsgate.scenario="+scenario)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		lines []consoleLine
	)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		mu.Lock()
		lines = append(lines, consoleLine{time.Now(), strings.TrimRight(sc.Text(), "\r")})
		mu.Unlock()
	}
	err = cmd.Wait()
	exited := time.Now()
	var log strings.Builder
	for _, l := range lines {
		log.WriteString(l.text + "\n")
	}
	if ctx.Err() != nil {
		t.Fatalf("qemu did not exit within %s; console:\n%s", limit, log.String())
	}
	if err != nil {
		t.Fatalf("qemu: %v; console:\n%s", err, log.String())
	}
	t.Logf("scenario %s console:\n%s", scenario, log.String())
	return lines, exited
}

// find returns the index of the first line matching re at or after from,
// or -1.
func find(lines []consoleLine, from int, re string) int {
	r := regexp.MustCompile(re)
	for i := max(from, 0); i < len(lines); i++ {
		if r.MatchString(lines[i].text) {
			return i
		}
	}
	return -1
}

func TestVM(t *testing.T) {
	qemu := requireTool(t, "qemu-system-aarch64", "qemu-system-arm")
	kernel := kernelImage(t)
	dir := t.TempDir()
	smsgate := crossBuild(t, ".", "arm64", "smsgate")
	if info, err := buildinfo.ReadFile(smsgate); err != nil {
		t.Fatal(err)
	} else {
		for _, d := range info.Deps {
			if strings.HasPrefix(d.Path, "github.com/gokrazy/") {
				t.Errorf("the smsgate binary contains %s: the gokrazy modules are for the VM tests only", d.Path)
			}
		}
	}
	initrd := filepath.Join(dir, "initrd.cpio")
	writeInitramfs(t, initrd, map[string]initramfsFile{
		"init":    cpioExe(t, crossBuild(t, "./testdata/vminit", "arm64", "init")),
		"smsgate": cpioExe(t, smsgate),
	})
	// The gokrazy scenario's root: laid out as gokrazy's packer lays out
	// its root file system (init in /gokrazy, the programs in /user), plus
	// /perm, which on a real instance is the writable partition.
	gokrazyInitrd := filepath.Join(dir, "gokrazy.cpio")
	writeInitramfs(t, gokrazyInitrd, map[string]initramfsFile{
		"gokrazy":                    cpioDir(),
		"gokrazy/init":               cpioExe(t, crossBuild(t, "./testdata/gokrazyinit", "arm64", "init")),
		"user":                       cpioDir(),
		"user/smsgate":               cpioExe(t, smsgate),
		"user/smsgate-misconfigured": cpioLink("smsgate"),
		"user/smsgate-status":        cpioLink("smsgate"),
		"etc":                        cpioDir(),
		"etc/hostname":               cpioFile("smsgate-vm"),
		"etc/resolv.conf":            cpioLink("/tmp/resolv.conf"),
		"run":                        cpioDir(),
		"perm":                       cpioDir(),
		"perm/remote_syslog":         cpioDir(),
		"perm/remote_syslog/target":  cpioFile("127.0.0.1:514"),
	})

	mustSee := func(t *testing.T, lines []consoleLine, from int, re string) int {
		t.Helper()
		i := find(lines, from, re)
		if i < 0 {
			t.Fatalf("console never showed %q after line %d", re, from)
		}
		return i
	}
	mustNotSee := func(t *testing.T, lines []consoleLine, re string) {
		t.Helper()
		if i := find(lines, 0, re); i >= 0 {
			t.Fatalf("console showed %q: %s", re, lines[i].text)
		}
	}
	scenarios := map[string]func(t *testing.T, lines []consoleLine, exited time.Time){
		// 1. An authorised reboot SMS: deleted, answered, then reboot(2).
		"reboot": func(t *testing.T, lines []consoleLine, _ time.Time) {
			del := mustSee(t, lines, 0, `sim: deleted sms \d+`)
			reply := mustSee(t, lines, del, `sim: sent to \+15550001111: rebooting the Pi now`)
			// The simulator's and smsgate's lines reach the console through
			// different pipes: the order between them is not checked.
			action := mustSee(t, lines, del, `msg=action action=reboot .*dry_run=false`)
			mustSee(t, lines, max(reply, action), `reboot: Restarting system`)
			mustNotSee(t, lines, `VMINIT: FAIL|Kernel panic`)
		},
		// 1b. -reboot-mode auto under an init that reboots on SIGTERM.
		"reboot-init": func(t *testing.T, lines []consoleLine, _ time.Time) {
			reply := mustSee(t, lines, 0, `sim: sent to \+15550001111: rebooting the Pi now`)
			// smsgate and init write to one console: either line may come first.
			ask := mustSee(t, lines, reply, `msg="asking init to reboot" pid=1 signal=terminated`)
			got := mustSee(t, lines, reply, `VMINIT: init got SIGTERM`)
			mustSee(t, lines, max(ask, got), `reboot: Restarting system`)
			mustNotSee(t, lines, `rebooting directly|VMINIT: FAIL|Kernel panic`)
		},
		// 1c. -reboot-mode init when init does nothing: reboot(2) after the grace.
		"reboot-init-ignored": func(t *testing.T, lines []consoleLine, _ time.Time) {
			ask := mustSee(t, lines, 0, `msg="asking init to reboot"`)
			direct := mustSee(t, lines, ask, `still running after asking init; rebooting directly`)
			mustSee(t, lines, direct, `reboot: Restarting system`)
			mustNotSee(t, lines, `VMINIT: FAIL|Kernel panic`)
		},
		// 2. smsgate stalled: the i6300esb resets the machine.
		"stall": func(t *testing.T, lines []consoleLine, exited time.Time) {
			stop := mustSee(t, lines, 0, `VMINIT: stopped smsgate`)
			mustNotSee(t, lines, `reboot: Restarting system|reboot: Power down|VMINIT: FAIL|Kernel panic`)
			took := exited.Sub(lines[stop].at)
			// The i6300esb counts two stages of the timeout before it resets.
			t.Logf("watchdog reset %s after smsgate stalled (timeout 5s)", took.Round(100*time.Millisecond))
			if took > 2*5*time.Second+30*time.Second {
				t.Errorf("reset took %s", took)
			}
		},
		// 3. A healthy smsgate for three watchdog periods: no reset.
		"healthy": func(t *testing.T, lines []consoleLine, _ time.Time) {
			armed := mustSee(t, lines, 0, `hardware watchdog armed.*timeout=5s`)
			ok := mustSee(t, lines, armed, `VMINIT: healthy for three watchdog periods`)
			mustSee(t, lines, ok, `reboot: Power down`)
			mustNotSee(t, lines, `VMINIT: FAIL|Kernel panic`)
		},
		// 4. A clean SIGTERM: magic close, no reset afterwards.
		"sigterm": func(t *testing.T, lines []consoleLine, _ time.Time) {
			disarmed := mustSee(t, lines, 0, `watchdog disarmed \(magic close\)`)
			exited := mustSee(t, lines, disarmed, `VMINIT: smsgate exited cleanly`)
			alive := mustSee(t, lines, exited, `VMINIT: alive three watchdog periods after the clean stop`)
			mustSee(t, lines, alive, `reboot: Power down`)
			mustNotSee(t, lines, `VMINIT: FAIL|Kernel panic`)
		},
		// 6. gokrazy's own init as PID 1 (testdata/gokrazyinit): it holds
		// the watchdog, so smsgate supervises itself; a stalled smsgate
		// exits 1 and gokrazy starts it again; exit 125 (a flag mistake) is
		// not restarted; a reboot SMS makes smsgate ask gokrazy's init with
		// SIGTERM, and gokrazy stops the services and reboots.
		"gokrazy": func(t *testing.T, lines []consoleLine, _ time.Time) {
			mustSee(t, lines, 0, `found hardware watchdog .*pinging`)
			// exit 1 is restarted, exit 0 is not.
			fail := mustSee(t, lines, 0, `^smsgate-status: .*gokrazy: exit status 1$`)
			again := mustSee(t, lines, fail, `^smsgate-status: .*gokrazy: attempt 1, starting`)
			mustSee(t, lines, again, `^smsgate-status: sim +ready`)
			mustSee(t, lines, again, `^smsgate-status: .*gokrazy: exited successfully, stopping`)
			// exit 125 is not restarted.
			mustSee(t, lines, 0, `^smsgate-misconfigured: smsgate: -reboot-mode "never"`)
			mustSee(t, lines, 0, `^smsgate-misconfigured: .*gokrazy: exit status 125`)
			mustSee(t, lines, 0, `^smsgate-misconfigured: .*gokrazy: process should not be supervised, stopping`)
			// init holds the watchdog; smsgate supervises itself.
			busy := mustSee(t, lines, 0, `^smsgate: .*hardware watchdog not used; self-supervision only" err=".*watchdog device busy`)
			mustSee(t, lines, busy, `^smsgate: .*state=ok`)
			// A reboot is asked of init with SIGTERM; gokrazy stops smsgate
			// and reboots.
			// init's lines reach the console directly, smsgate's through
			// syslog: the order between them is not checked.
			ask := mustSee(t, lines, busy, `^smsgate: .*msg="asking init to reboot" pid=1 signal=terminated`)
			got := mustSee(t, lines, busy, `received signal terminated, killing services`)
			mustSee(t, lines, ask, `^smsgate: .*init is stopping smsgate: reboot under way`)
			mustSee(t, lines, max(ask, got), `reboot: Restarting system`)
			mustNotSee(t, lines, `^smsgate-misconfigured: .*gokrazy: attempt 1|hardware watchdog armed|rebooting directly|GOKRAZYINIT: FAIL|Kernel panic`)
		},
		// 6. Mobile data down at boot: healing reconnects it and sends the
		// "back" alert.
		"heal": func(t *testing.T, lines []consoleLine, _ time.Time) {
			down := mustSee(t, lines, 0, `msg="line down" why="mobile data down"`)
			mustSee(t, lines, down, `msg=action action="modem reconnect" detail=healing`)
			conn := mustSee(t, lines, 0, `sim: data connected`)
			mustSee(t, lines, 0, `sim: sent to \+15550001111: smsgate \d\d:\d\d: mobile data down since \d\d:\d\d; healing`)
			back := mustSee(t, lines, conn, `sim: sent to \+15550001111: smsgate \d\d:\d\d: back after \d+s down \(mobile data down since \d\d:\d\d\); fixed by reconnect`)
			mustSee(t, lines, back, `VMINIT: healing reconnected the link`)
			mustNotSee(t, lines, `VMINIT: FAIL|Kernel panic`)
		},
		// 5. The status LED on the pl061, read back through the kernel.
		"led": func(t *testing.T, lines []consoleLine, _ time.Time) {
			on := mustSee(t, lines, 0, `VMINIT: gpio ok: gpio-\d+ .*smsgate.* out hi`)
			blink := mustSee(t, lines, on, `VMINIT: gpio unreachable samples hi=(\d+) lo=(\d+)`)
			m := regexp.MustCompile(`hi=(\d+) lo=(\d+)`).FindStringSubmatch(lines[blink].text)
			if m[1] == "0" || m[2] == "0" {
				t.Errorf("fast blink not seen on the line: %s", lines[blink].text)
			}
			mustSee(t, lines, blink, `VMINIT: gpio after exit: (line 0 not requested|.* out lo)`)
			mustNotSee(t, lines, `VMINIT: FAIL|Kernel panic`)
		},
	}
	for name, check := range scenarios {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			initrd, cmdline := initrd, "rdinit=/init"
			if name == "gokrazy" {
				// gokrazy finds its partitions from root= (a Pi's SD
				// card); the VM has no disk, so /perm stays the
				// initramfs directory.
				initrd, cmdline = gokrazyInitrd, "rdinit=/gokrazy/init root=/dev/mmcblk0p2"
			}
			lines, exited := boot(t, qemu, kernel, initrd, cmdline, name)
			check(t, lines, exited)
		})
	}
}
