package vfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestInjectedDiskFaults: each armed failure hits only the files under its path, does what its
// kind says to the bytes, is counted, and Heal removes it.
func TestInjectedDiskFaults(t *testing.T) {
	for _, tc := range []struct {
		fault     Fault
		wantN     int   // bytes Write reports (of 10)
		wantErr   error // nil: no error reported
		wantFile  int   // bytes in the file afterwards
		syncFails bool
	}{
		{FaultWriteError, 0, syscall.EIO, 0, false},
		{FaultShortWrite, 5, nil, 5, false},
		{FaultNoSpace, 5, syscall.ENOSPC, 5, false},
		{FaultSyncError, 10, nil, 10, true},
	} {
		t.Run(string(tc.fault), func(t *testing.T) {
			dir := t.TempDir()
			bad, good := filepath.Join(dir, "bad"), filepath.Join(dir, "good")
			for _, d := range []string{bad, good} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			fs := NewFaulty(OS)
			if err := fs.Inject(tc.fault, bad); err != nil {
				t.Fatal(err)
			}
			open := func(name string) File {
				f, err := fs.OpenFile(name, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { f.Close() })
				return f
			}
			f := open(filepath.Join(bad, "x.log"))
			n, err := f.Write([]byte("0123456789"))
			if n != tc.wantN || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("write under the faulty path: %d, %v; want %d, %v", n, err, tc.wantN, tc.wantErr)
			}
			if st, _ := f.Stat(); st.Size() != int64(tc.wantFile) {
				t.Fatalf("file holds %d bytes, want %d", st.Size(), tc.wantFile)
			}
			if err := f.Sync(); (err != nil) != tc.syncFails {
				t.Fatalf("fsync under the faulty path: %v", err)
			}
			if err := fs.SyncDir(bad); (err != nil) != tc.syncFails {
				t.Fatalf("directory fsync of the faulty path: %v", err)
			}
			g := open(filepath.Join(good, "x.log"))
			if n, err := g.Write([]byte("0123456789")); n != 10 || err != nil {
				t.Fatalf("write elsewhere: %d, %v", n, err)
			}
			if err := g.Sync(); err != nil {
				t.Fatalf("fsync elsewhere: %v", err)
			}
			if st := fs.State(); st.Fired[tc.fault] == 0 || len(st.Armed) != 1 || st.Armed[0].Path != bad {
				t.Fatalf("state %+v", st)
			}
			fs.Heal()
			if n, err := f.Write([]byte("ab")); n != 2 || err != nil {
				t.Fatalf("write after Heal: %d, %v", n, err)
			}
			if err := f.Sync(); err != nil {
				t.Fatalf("fsync after Heal: %v", err)
			}
		})
	}
	if err := NewFaulty(OS).Inject("melt", ""); err == nil {
		t.Fatal("an unknown fault was accepted")
	}
}
