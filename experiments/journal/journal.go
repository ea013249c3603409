package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// States of an injection, in the order they are normally written.
const (
	StateInjecting = "injecting"
	StateInjected  = "injected"
	StateReverting = "reverting"
	StateReverted  = "reverted"
	StateFailed    = "failed"
)

// Entry is one line of the journal: one step of one injection.
type Entry struct {
	// Time is when the line was written. Record fills it in if zero.
	Time time.Time `json:"time"`
	// ID identifies the injection, unique per injection, e.g.
	// "<run>/<node>/<fault>/<n>".
	ID string `json:"id"`
	// Fault is the fault's name, e.g. "networkd-restart".
	Fault string `json:"fault"`
	// Node is the target node.
	Node string `json:"node"`
	// NetNS is the path of the node's network namespace, if the fault uses one.
	NetNS string `json:"netns,omitempty"`
	// State is one of the State constants.
	State string `json:"state"`
	// Snapshot is the fault's own record of what it changed: everything
	// needed to undo the injection.
	Snapshot json.RawMessage `json:"snapshot,omitempty"`
	// Error says why a step failed, or notes how it ended ("target gone: …").
	Error string `json:"error,omitempty"`
	// NetNSInode is the inode of the namespace at NetNS when the fault was
	// injected (0 if unknown): a revert refuses a namespace that is no
	// longer the one injected (the node was replaced).
	NetNSInode uint64 `json:"netnsInode,omitempty"`

	// Run and StateRoot name the fleet the entry belongs to: its run ID and
	// the folder holding the provider's state for it (the lab's state
	// root), so that `aftershock cleanup` can tear it down. Provider is the
	// fleet's provider ("lab"). All three are set on FleetFault entries
	// and may be set on any other.
	Run       string `json:"run,omitempty"`
	StateRoot string `json:"stateRoot,omitempty"`
	Provider  string `json:"provider,omitempty"`
}

// FleetFault is the Fault of an entry that records a fleet the run created,
// not an injection: "injecting" before it is created, "injected" once it is
// up, "reverted" once it is torn down. Its Run, StateRoot and Provider say
// what `aftershock cleanup` tears down while it is pending. Its ID is
// conventionally "fleet/<run>".
const FleetFault = "fleet"

// Validate reports whether e can be written to, or was read from, a journal:
// it needs an ID, a fault name and a known state.
func (e Entry) Validate() error {
	switch {
	case e.ID == "":
		return errors.New("entry has no id")
	case e.Fault == "":
		return fmt.Errorf("entry %s has no fault name", e.ID)
	}
	switch e.State {
	case StateInjecting, StateInjected, StateReverting, StateReverted, StateFailed:
		return nil
	}
	return fmt.Errorf("entry %s has unknown state %q", e.ID, e.State)
}

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("journal is closed")

// LineError is a malformed line in a journal file.
type LineError struct {
	Path string
	Line int // 1-based
	Err  error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("journal %s line %d: %v", e.Path, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// Journal is an open journal file. It is safe for concurrent use.
type Journal struct {
	path string

	mu     sync.Mutex
	f      *os.File
	size   int64 // bytes of complete lines in the file
	broken error // set when a failed write could not be undone

	// syncMu serialises fsyncs; synced is how many bytes are known durable.
	// Records written while another fsync runs share the next one (group
	// commit), so a fan-out over hundreds of nodes does not pay an fsync each.
	syncMu sync.Mutex
	synced int64
}

// Open opens the journal at path for appending, creating it (mode 0600) if
// needed. It takes an exclusive lock on the file, so that two processes never
// append to the same journal, and cuts off a truncated last line left by a
// crash so that the next line starts on a line of its own.
func Open(path string) (*Journal, error) {
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("open journal %s: in use by another writer", path)
		}
		return nil, fmt.Errorf("lock journal %s: %w", path, err)
	}
	size, err := repairTail(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	if created {
		// Make the new file's name durable too, not only its contents.
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("open journal %s: %w", path, err)
		}
	}
	return &Journal{path: path, f: f, size: size}, nil
}

// repairTail makes the file end with a complete line and returns its size.
// An unterminated last line is kept (terminated) if it is a valid entry, and
// cut off otherwise: Record never acknowledged it, so nothing relied on it.
func repairTail(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if size == 0 {
		return 0, nil
	}
	start, tail, err := lastLine(f, size)
	if err != nil {
		return 0, err
	}
	if len(tail) == 0 {
		return size, nil
	}
	var e Entry
	if json.Unmarshal(tail, &e) == nil && e.Validate() == nil {
		if _, err := f.Write([]byte("\n")); err != nil {
			return 0, fmt.Errorf("terminate last line: %w", err)
		}
		size++
	} else {
		if err := f.Truncate(start); err != nil {
			return 0, fmt.Errorf("cut truncated last line: %w", err)
		}
		size = start
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("sync: %w", err)
	}
	return size, nil
}

// lastLine returns the offset and bytes of whatever follows the file's last
// newline (nothing if the file ends with one).
func lastLine(f *os.File, size int64) (int64, []byte, error) {
	const chunk = 4096
	var tail []byte
	for end := size; end > 0; {
		begin := max(end-chunk, 0)
		buf := make([]byte, end-begin)
		if _, err := f.ReadAt(buf, begin); err != nil && !errors.Is(err, io.EOF) {
			return 0, nil, fmt.Errorf("read tail: %w", err)
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			tail = append(buf[i+1:], tail...)
			return begin + int64(i) + 1, tail, nil
		}
		tail = append(buf, tail...)
		end = begin
	}
	return 0, tail, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Record appends e as one line and fsyncs the file before it returns: once
// Record returns nil, the line survives a crash. It fills in e.Time if zero.
// If the write fails, Record removes whatever part of the line reached the
// file, so that the journal stays readable.
func (j *Journal) Record(e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	line, err := encodeLine(e)
	if err != nil {
		return fmt.Errorf("record in journal %s: %w", j.path, err)
	}
	f, end, err := j.append(e.ID, line)
	if err != nil {
		return err
	}
	if err := j.syncThrough(f, end); err != nil {
		return fmt.Errorf("sync journal %s after %s: %w", j.path, e.ID, err)
	}
	return nil
}

// append writes line at the end of the file and returns the file and the
// offset just past the line.
func (j *Journal) append(id string, line []byte) (*os.File, int64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case j.f == nil:
		return nil, 0, fmt.Errorf("record %s in journal %s: %w", id, j.path, ErrClosed)
	case j.broken != nil:
		return nil, 0, fmt.Errorf("record %s in journal %s: %w", id, j.path, j.broken)
	}
	if _, err := j.f.Write(line); err != nil {
		if terr := j.f.Truncate(j.size); terr != nil {
			j.broken = fmt.Errorf("unusable after a failed write: %w", terr)
		}
		return nil, 0, fmt.Errorf("record %s in journal %s: %w", id, j.path, err)
	}
	j.size += int64(len(line))
	return j.f, j.size, nil
}

// syncThrough returns once the first end bytes of the file are durable: it
// fsyncs unless a concurrent fsync already covered them.
func (j *Journal) syncThrough(f *os.File, end int64) error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.synced >= end {
		return nil
	}
	j.mu.Lock()
	covered := j.size // everything written so far goes out with this fsync
	j.mu.Unlock()
	if err := f.Sync(); err != nil {
		return err
	}
	j.synced = covered
	return nil
}

// encodeLine is e as one journal line, newline included.
func encodeLine(e Entry) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	line, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.ID, err)
	}
	return append(line, '\n'), nil
}

// Close closes the file. Further Records fail with ErrClosed. Closing twice is
// not an error.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	if err != nil {
		return fmt.Errorf("close journal %s: %w", j.path, err)
	}
	return nil
}

// Read returns every entry of the journal at path, in file order. A truncated
// last line (no final newline, not valid) is ignored; any other malformed
// line is a *LineError naming its line.
func Read(path string) ([]Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return decode(path, data)
}

func decode(path string, data []byte) ([]Entry, error) {
	var entries []Entry
	for n := 1; len(data) > 0; n++ {
		line, rest, terminated := bytes.Cut(data, []byte("\n"))
		data = rest
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e Entry
		err := json.Unmarshal(line, &e)
		if err == nil {
			err = e.Validate()
		}
		if err != nil {
			if !terminated {
				break // a write cut short by a crash
			}
			return nil, &LineError{Path: path, Line: n, Err: err}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// Pending returns, for every injection whose latest state is not "reverted",
// its latest entry, in the order the injections first appear. That is
// "injecting" and "injected", and also "reverting" and "failed": a crash
// during a revert, or a step that failed half-way, still leaves something to
// restore. If the latest entry carries no snapshot, the injection's most
// recent snapshot is filled in, so that each returned entry suffices to
// revert.
func Pending(entries []Entry) []Entry {
	latest := map[string]int{}
	snapshot := map[string]json.RawMessage{}
	var order []string
	for i, e := range entries {
		if _, seen := latest[e.ID]; !seen {
			order = append(order, e.ID)
		}
		latest[e.ID] = i
		if len(e.Snapshot) > 0 {
			snapshot[e.ID] = e.Snapshot
		}
	}
	var pending []Entry
	for _, id := range order {
		e := entries[latest[id]]
		if e.State == StateReverted {
			continue
		}
		if len(e.Snapshot) == 0 {
			e.Snapshot = snapshot[id]
		}
		pending = append(pending, e)
	}
	return pending
}
