package testcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestRemoveDeadBuilds: a build directory of an exited test process goes, one of a live process
// (or not named by the harness) stays.
func TestRemoveDeadBuilds(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(tmp, fmt.Sprintf("%s%d-123", buildDirPrefix, exited.Process.Pid))
	live := filepath.Join(tmp, fmt.Sprintf("%s%d-456", buildDirPrefix, os.Getppid()))
	foreign := filepath.Join(tmp, buildDirPrefix+"789")
	for _, d := range []string{dead, live, foreign} {
		if err := os.MkdirAll(filepath.Join(d, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	removeDeadBuilds()
	for d, want := range map[string]bool{dead: false, live: true, foreign: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(d), err == nil, want)
		}
	}
}
