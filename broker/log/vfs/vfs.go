// Package vfs is the file-system seam of the storage engine: the engine does all its I/O through
// an FS, so tests can substitute one that fails — torn writes, failing fsyncs, a crash before a
// chosen operation — the way pebble's vfs does. OS is the real file system. Faulty injects the
// faults; Inject's disk failures (write errors, short writes, fsync errors, ENOSPC on the files
// under a path) are what a broker started with gregor.test.fault.injection lets an end-to-end
// test arm over HTTP. This package knows nothing about Kafka.
//
// Concurrency: Faulty's one mutex (a leaf, docs/locking.md) guards the armed faults and their
// counts; no I/O runs under it.
package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// File is the subset of *os.File the engine uses.
type File interface {
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	Name() string
}

// FS is the subset of the os package the engine uses.
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	RemoveAll(path string) error
	MkdirAll(path string, perm os.FileMode) error
	ReadDir(name string) ([]os.DirEntry, error)
	Stat(name string) (os.FileInfo, error)
	// SyncDir fsyncs a directory so a rename or create in it survives a crash.
	SyncDir(dir string) error
}

// OSFile returns the *os.File under f (through Faulty's wrapper), or nil if there is none: a
// descriptor a reader may hand to sendfile(2). Faults apply to writes and syncs, never reads, so
// reading beneath the wrapper reads what the wrapper would.
func OSFile(f File) *os.File {
	switch t := f.(type) {
	case *os.File:
		return t
	case *faultyFile:
		return OSFile(t.File)
	case interface{ Unwrap() File }:
		return OSFile(t.Unwrap())
	}
	return nil
}

// OS is the real file system.
var OS FS = osFS{}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	return os.OpenFile(name, flag, perm)
}
func (osFS) Rename(o, n string) error                     { return os.Rename(o, n) }
func (osFS) Remove(name string) error                     { return os.Remove(name) }
func (osFS) RemoveAll(path string) error                  { return os.RemoveAll(path) }
func (osFS) MkdirAll(path string, perm os.FileMode) error { return os.MkdirAll(path, perm) }
func (osFS) ReadDir(name string) ([]os.DirEntry, error)   { return os.ReadDir(name) }
func (osFS) Stat(name string) (os.FileInfo, error)        { return os.Stat(name) }
func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ErrInjected is the error every injected fault returns.
var ErrInjected = errors.New("vfs: injected fault")

// Faulty wraps an FS and injects faults on demand. It is safe for concurrent use.
type Faulty struct {
	FS
	mu         sync.Mutex // guards the fields below
	writeLimit int64      // bytes still allowed to be written; <0 = unlimited
	failSync   bool
	crashAt    func(Op) bool // the operation the simulated crash happens before (nil: none)
	crashed    bool          // the crash happened: every later mutation fails
	disk       []armedFault  // Inject's disk failures, in the order armed
	fired      map[Fault]int // how many operations each kind of disk failure has failed
}

// Op is a mutating file-system operation, as CrashBefore's predicate sees it.
type Op struct {
	Kind    string // "rename", "remove", "create", "write", "truncate", "sync", "syncdir"
	Name    string // the file (for rename: the old name)
	NewName string // rename's new name
}

// CrashBefore simulates a crash of the process: the first mutating operation for which match
// returns true does not happen, and neither does any later one (each fails with ErrInjected), so
// the files hold exactly what was done before it. Reads keep working. A test then abandons what
// it opened on this FS and reopens the directory, as a restarted broker would.
func (f *Faulty) CrashBefore(match func(Op) bool) {
	f.mu.Lock()
	f.crashAt, f.crashed = match, false
	f.mu.Unlock()
}

// Crashed reports whether the armed crash has happened.
func (f *Faulty) Crashed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crashed
}

// mutate reports whether op may happen (false once crashed).
func (f *Faulty) mutate(op Op) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.crashed && f.crashAt != nil && f.crashAt(op) {
		f.crashed = true
	}
	return !f.crashed
}

func (f *Faulty) Rename(oldpath, newpath string) error {
	if !f.mutate(Op{Kind: "rename", Name: oldpath, NewName: newpath}) {
		return ErrInjected
	}
	return f.FS.Rename(oldpath, newpath)
}

func (f *Faulty) Remove(name string) error {
	if !f.mutate(Op{Kind: "remove", Name: name}) {
		return ErrInjected
	}
	return f.FS.Remove(name)
}

func (f *Faulty) RemoveAll(path string) error {
	if !f.mutate(Op{Kind: "remove", Name: path}) {
		return ErrInjected
	}
	return f.FS.RemoveAll(path)
}

func (f *Faulty) MkdirAll(path string, perm os.FileMode) error {
	if !f.mutate(Op{Kind: "create", Name: path}) {
		return ErrInjected
	}
	return f.FS.MkdirAll(path, perm)
}

// NewFaulty wraps fs with no faults armed.
func NewFaulty(fs FS) *Faulty { return &Faulty{FS: fs, writeLimit: -1} }

// TearWritesAfter lets n more bytes be written across all files, then every write writes only
// what is left of the budget and fails: a torn write, as a crash mid-write leaves it.
func (f *Faulty) TearWritesAfter(n int64) {
	f.mu.Lock()
	f.writeLimit = n
	f.mu.Unlock()
}

// FailSyncs makes every Sync fail (or succeed again with false).
func (f *Faulty) FailSyncs(fail bool) {
	f.mu.Lock()
	f.failSync = fail
	f.mu.Unlock()
}

// Heal removes every armed fault.
func (f *Faulty) Heal() {
	f.mu.Lock()
	f.writeLimit, f.failSync, f.crashAt, f.crashed = -1, false, nil, false
	f.disk = nil
	f.mu.Unlock()
}

// Fault is a failing disk as Inject simulates it. Each stays until Heal: a disk that failed once
// is not trusted again.
type Fault string

// The disk failures Inject knows.
const (
	// FaultWriteError: every write fails with EIO and writes nothing.
	FaultWriteError Fault = "write-error"
	// FaultShortWrite: every write writes the first half of its bytes and reports no error — a
	// short count the caller must notice itself.
	FaultShortWrite Fault = "short-write"
	// FaultSyncError: every fsync, of a file or a directory, fails with EIO.
	FaultSyncError Fault = "fsync-error"
	// FaultNoSpace: every write writes the first half of its bytes and fails with ENOSPC, as a
	// file system filling up mid-write does.
	FaultNoSpace Fault = "enospc"
)

// Faults lists every Fault, for callers that parse one by name.
var Faults = []Fault{FaultWriteError, FaultShortWrite, FaultSyncError, FaultNoSpace}

type armedFault struct {
	kind Fault
	path string // the file or directory it applies to, and everything under it ("" = all)
}

// FaultState is what Inject has armed and what it has done, for a test to read.
type FaultState struct {
	Armed []ArmedFault  `json:"armed"`
	Fired map[Fault]int `json:"fired"` // operations failed, per kind, since the FS was made
}

// ArmedFault is one armed disk failure.
type ArmedFault struct {
	Fault Fault  `json:"fault"`
	Path  string `json:"path"`
}

// Inject arms a disk failure on path (a file or directory, and everything under it; "" for the
// whole file system). It returns an error for an unknown kind.
func (f *Faulty) Inject(kind Fault, path string) error {
	known := false
	for _, k := range Faults {
		known = known || k == kind
	}
	if !known {
		return fmt.Errorf("vfs: unknown fault %q (known: %v)", kind, Faults)
	}
	if path != "" {
		path = filepath.Clean(path)
	}
	f.mu.Lock()
	f.disk = append(f.disk, armedFault{kind, path})
	f.mu.Unlock()
	return nil
}

// State reports the armed disk failures and how often each kind has fired.
func (f *Faulty) State() FaultState {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := FaultState{Armed: []ArmedFault{}, Fired: map[Fault]int{}}
	for _, a := range f.disk {
		st.Armed = append(st.Armed, ArmedFault{a.kind, a.path})
	}
	for k, n := range f.fired {
		st.Fired[k] = n
	}
	sort.Slice(st.Armed, func(i, j int) bool { return st.Armed[i].Path < st.Armed[j].Path })
	return st
}

// diskFault returns the first armed failure among kinds that applies to name, counting it as
// fired ("" if none).
func (f *Faulty) diskFault(name string, kinds ...Fault) Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = filepath.Clean(name)
	for _, a := range f.disk {
		if a.path != "" && name != a.path && !strings.HasPrefix(name, a.path+string(filepath.Separator)) {
			continue
		}
		for _, k := range kinds {
			if a.kind == k {
				if f.fired == nil {
					f.fired = map[Fault]int{}
				}
				f.fired[k]++
				return k
			}
		}
	}
	return ""
}

// failWrite applies an armed write failure to a write of p through write; ok is false when
// none applies and the caller writes normally.
func (f *Faulty) failWrite(name string, p []byte, write func([]byte) (int, error)) (n int, err error, ok bool) {
	switch f.diskFault(name, FaultWriteError, FaultShortWrite, FaultNoSpace) {
	case FaultWriteError:
		return 0, &os.PathError{Op: "write", Path: name, Err: syscall.EIO}, true
	case FaultShortWrite:
		n, err := write(p[:len(p)/2])
		return n, err, true
	case FaultNoSpace:
		n, _ := write(p[:len(p)/2])
		return n, &os.PathError{Op: "write", Path: name, Err: syscall.ENOSPC}, true
	}
	return 0, nil, false
}

func (f *Faulty) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if flag&(os.O_CREATE|os.O_TRUNC) != 0 && !f.mutate(Op{Kind: "create", Name: name}) {
		return nil, ErrInjected
	}
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultyFile{File: file, fs: f}, nil
}

func (f *Faulty) SyncDir(dir string) error {
	f.mu.Lock()
	fail := f.failSync
	f.mu.Unlock()
	if fail || !f.mutate(Op{Kind: "syncdir", Name: dir}) {
		return ErrInjected
	}
	if f.diskFault(dir, FaultSyncError) != "" {
		return &os.PathError{Op: "fsync", Path: dir, Err: syscall.EIO}
	}
	return f.FS.SyncDir(dir)
}

type faultyFile struct {
	File
	fs *Faulty
}

func (ff *faultyFile) Write(p []byte) (int, error) {
	if !ff.fs.mutate(Op{Kind: "write", Name: ff.Name()}) {
		return 0, ErrInjected
	}
	if n, err, ok := ff.fs.failWrite(ff.Name(), p, ff.File.Write); ok {
		return n, err
	}
	ff.fs.mu.Lock()
	limit := ff.fs.writeLimit
	if limit >= 0 && int64(len(p)) > limit {
		ff.fs.writeLimit = 0
		ff.fs.mu.Unlock()
		n, _ := ff.File.Write(p[:limit])
		return n, ErrInjected
	}
	if limit >= 0 {
		ff.fs.writeLimit -= int64(len(p))
	}
	ff.fs.mu.Unlock()
	return ff.File.Write(p)
}

func (ff *faultyFile) WriteAt(p []byte, off int64) (int, error) {
	if !ff.fs.mutate(Op{Kind: "write", Name: ff.Name()}) {
		return 0, ErrInjected
	}
	writeAt := func(b []byte) (int, error) { return ff.File.WriteAt(b, off) }
	if n, err, ok := ff.fs.failWrite(ff.Name(), p, writeAt); ok {
		return n, err
	}
	ff.fs.mu.Lock()
	limit := ff.fs.writeLimit
	if limit >= 0 && int64(len(p)) > limit {
		ff.fs.writeLimit = 0
		ff.fs.mu.Unlock()
		n, _ := ff.File.WriteAt(p[:limit], off)
		return n, ErrInjected
	}
	if limit >= 0 {
		ff.fs.writeLimit -= int64(len(p))
	}
	ff.fs.mu.Unlock()
	return ff.File.WriteAt(p, off)
}

func (ff *faultyFile) Sync() error {
	ff.fs.mu.Lock()
	fail := ff.fs.failSync
	ff.fs.mu.Unlock()
	if fail || !ff.fs.mutate(Op{Kind: "sync", Name: ff.Name()}) {
		return ErrInjected
	}
	if ff.fs.diskFault(ff.Name(), FaultSyncError) != "" {
		return &os.PathError{Op: "fsync", Path: ff.Name(), Err: syscall.EIO}
	}
	return ff.File.Sync()
}

func (ff *faultyFile) Truncate(size int64) error {
	if !ff.fs.mutate(Op{Kind: "truncate", Name: ff.Name()}) {
		return ErrInjected
	}
	return ff.File.Truncate(size)
}
