// Package vfs is the file-system seam of the storage engine: the engine does all its I/O through
// an FS, so tests can substitute one that fails — torn writes, failing fsyncs — the way pebble's
// vfs does. OS is the real file system. This package knows nothing about Kafka.
package vfs

import (
	"errors"
	"io"
	"os"
	"sync"
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
	f.writeLimit, f.failSync = -1, false
	f.mu.Unlock()
}

func (f *Faulty) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
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
	if fail {
		return ErrInjected
	}
	return f.FS.SyncDir(dir)
}

type faultyFile struct {
	File
	fs *Faulty
}

func (ff *faultyFile) Write(p []byte) (int, error) {
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
	if fail {
		return ErrInjected
	}
	return ff.File.Sync()
}
