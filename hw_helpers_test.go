//go:build smoke || vmtest

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// requireTool finds a tool the test cannot do without. Outside CI a missing
// tool skips the test loudly; in CI, where .ci/run installs it, it fails.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := "SKIPPED: " + t.Name() + " needs " + name + ": apt-get install " + pkg
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// crossBuild builds package pkg (relative to the module root) as a static
// binary for linux/arch, with the release build's tags except nosim: the
// VM and smoke tests run its simulator.
func crossBuild(t *testing.T, pkg, arch, out string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), out)
	cmd := exec.Command("go", "build", "-tags", "nethttpomithttp2", "-trimpath", "-ldflags", "-s -w", "-o", path, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOARM=7")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s for %s: %v\n%s", pkg, arch, err, b)
	}
	return path
}
