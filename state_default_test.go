package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writableDir reports whether a file can be made in path, by making one:
// the tests need to know whether writes there fail (root ignores modes),
// which smsgate itself asks without writing (mayWriteDir).
func writableDir(path string) bool {
	if !dirExists(path) {
		return false
	}
	f, err := os.CreateTemp(path, ".smsgate-probe-*")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}

// TestStateDirDefaultWritesNothing: deciding the default -state-dir looks
// at /gokrazy and /perm and leaves both as they were: no probe file made
// and removed (the directory's modification time would move).
func TestStateDirDefaultWritesNothing(t *testing.T) {
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		dirs []string // made under the root
		want string   // under the root; "" none
	}{
		{"gokrazy", []string{"gokrazy", "perm"}, gokrazyStateDir},
		{"a writable /perm", []string{"perm"}, gokrazyStateDir},
		{"neither", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range tt.dirs {
				p := filepath.Join(root, d)
				if err := os.Mkdir(p, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(p, old, old); err != nil {
					t.Fatal(err)
				}
			}
			want := ""
			if tt.want != "" {
				want = filepath.Join(root, tt.want)
			}
			if got := stateDirUnder(root); got != want {
				t.Errorf("stateDirUnder = %q, want %q", got, want)
			}
			for _, d := range tt.dirs {
				p := filepath.Join(root, d)
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				left, _ := os.ReadDir(p)
				if !fi.ModTime().Equal(old) || len(left) != 0 {
					t.Errorf("/%s written to while deciding the default: modified %s, holds %d entries", d, fi.ModTime(), len(left))
				}
			}
		})
	}
}

// TestStateDirFlag: registering -state-dir decides nothing; unset, it is
// what the machine's default says once settled; given, even as "", it is
// what was given.
func TestStateDirFlag(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "/machine/default"},
		{[]string{"-state-dir", ""}, ""},
		{[]string{"-state-dir", "/var/lib/smsgate"}, "/var/lib/smsgate"},
	} {
		var c daemonConfig
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.register(fs)
		if d := fs.Lookup("state-dir").DefValue; d != "" {
			t.Errorf("registered default %q: decided before parsing", d)
		}
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		decided := 0
		c.stateDir.settle(func() string { decided++; return "/machine/default" })
		if c.stateDir.dir != tt.want || decided > 1 || (decided == 1) != (tt.args == nil) {
			t.Errorf("%q: state dir %q (default decided %d times), want %q", tt.args, c.stateDir.dir, decided, tt.want)
		}
	}
}
