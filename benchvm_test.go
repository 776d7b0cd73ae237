//go:build bench && vmtest

package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func init() { benchVM = benchRSS }

// benchRSS boots the arm64 release build on gokrazy's arm64 kernel twice at
// once: idle at the default poll ("rss-idle") and in the soak ("soak"); see
// testdata/vminit/bench.go for what the guest does.
func benchRSS(t *testing.T, r *benchReport) {
	qemu := requireTool(t, "qemu-system-aarch64", "qemu-system-arm")
	kernel := kernelImage(t)
	dir := t.TempDir()
	release, _ := armBuild(t, dir, "arm64", releaseTags, true)
	initrd := filepath.Join(dir, "initrd.cpio")
	writeInitramfs(t, initrd, map[string]initramfsFile{
		"init":        cpioExe(t, crossBuild(t, "./testdata/vminit", "arm64", "init")),
		"smsgate":     cpioExe(t, release),
		"smsgate-sim": cpioExe(t, crossBuild(t, ".", "arm64", "smsgate-sim")),
	})
	consoles := map[string][]consoleLine{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, sc := range []string{"rss-idle", "soak"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lines, _ := bootWithin(t, 12*time.Minute, qemu, kernel, initrd, "rdinit=/init", sc)
			mu.Lock()
			consoles[sc] = lines
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	type sample struct{ hwm, rss int }
	samples := func(lines []consoleLine) map[string]sample {
		re := regexp.MustCompile(`VMINIT: rss (\S+)(?: delivered=\d+)? hwm_kb=(\d+) rss_kb=(\d+)`)
		out := map[string]sample{}
		for _, l := range lines {
			if m := re.FindStringSubmatch(l.text); m != nil {
				h, _ := strconv.Atoi(m[2])
				s, _ := strconv.Atoi(m[3])
				out[m[1]] = sample{h, s}
			}
		}
		return out
	}
	count := func(lines []consoleLine, re string) int {
		n, rx := 0, regexp.MustCompile(re)
		for _, l := range lines {
			if rx.MatchString(l.text) {
				n++
			}
		}
		return n
	}
	idle, soak := samples(consoles["rss-idle"]), samples(consoles["soak"])
	for _, need := range []struct {
		m   map[string]sample
		key string
	}{{idle, "final"}, {soak, "final"}, {soak, "t=60s"}, {soak, "backlog-done"}} {
		if _, ok := need.m[need.key]; !ok {
			t.Fatalf("no %q memory sample on the console", need.key)
		}
	}
	if n := find(consoles["soak"], 0, `VMINIT: FAIL|Kernel panic`); n >= 0 {
		t.Fatalf("soak: %s", consoles["soak"][n].text)
	}
	mib := func(kb int) string { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }
	decided := count(consoles["soak"], `^smsgate: .*msg=sms `)
	var b strings.Builder
	b.WriteString("## Memory on the arm64 kernel\n\n")
	b.WriteString("The release linux/arm64 binary (`" + releaseTags + "`) as PID 2 of a VM: gokrazy's arm64 kernel under\n")
	b.WriteString("`qemu-system-aarch64 -M virt -cpu cortex-a53 -m 512`, the i6300esb watchdog armed, the simulator\n")
	b.WriteString("(a build with it) beside it on loopback. VmHWM is the peak resident set, VmRSS the current one\n")
	b.WriteString("(`/proc/PID/status`).\n\n")
	b.WriteString("| run | VmHWM (peak) | VmRSS |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| idle at the default -poll 5s, after 90 s | %s | %s |\n", mib(idle["final"].hwm), mib(idle["final"].rss))
	fmt.Fprintf(&b, "| soak: 500 waiting at start, decided | %s | %s |\n", mib(soak["backlog-done"].hwm), mib(soak["backlog-done"].rss))
	fmt.Fprintf(&b, "| soak: then one SMS a second, after 1 minute | %s | %s |\n", mib(soak["t=60s"].hwm), mib(soak["t=60s"].rss))
	fmt.Fprintf(&b, "| soak: after 5 minutes | %s | %s |\n", mib(soak["final"].hwm), mib(soak["final"].rss))
	fmt.Fprintf(&b, "\nThe soak runs at -poll 200ms; one message in four is from the owner (`ping`, `status`, `help`, an\n")
	fmt.Fprintf(&b, "unknown command), the rest from 97 strangers, 0 to 150 characters. smsgate logged %d decisions.\n", decided)
	b.WriteString("Every 10 s of the soak:\n\n| t | VmHWM | VmRSS |\n|---|---|---|\n")
	for s := 10; s <= 300; s += 10 {
		if v, ok := soak[fmt.Sprintf("t=%ds", s)]; ok {
			fmt.Fprintf(&b, "| %d s | %s | %s |\n", s, mib(v.hwm), mib(v.rss))
		}
	}
	r.section(60, b.String())
	peak := max(soak["final"].hwm, idle["final"].hwm)
	r.budget(budgetRow{order: 30, what: "peak RSS (VmHWM), arm64, idle and soak", budget: "≤ 12 MiB", measured: mib(peak), holds: peak <= 12*1024})
	growth := soak["final"].rss - soak["t=60s"].rss
	row := budgetRow{order: 31, what: "RSS growth in the soak, minute 1 to 5", budget: "≤ 1 MiB", measured: fmt.Sprintf("%+d KiB (%s → %s)", growth, mib(soak["t=60s"].rss), mib(soak["final"].rss)), holds: growth <= 1024}
	r.budget(row)
}
