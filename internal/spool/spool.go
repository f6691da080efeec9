// Package spool keeps records on disk until they are settled, so that a
// process that dies loses none of them: an append-only log of checksummed
// frames in segment files, with a side file per segment for the records
// settled since, and a reader that hands records back in the order they
// were appended, replaying what an earlier process left unsettled first.
//
// It knows bytes and files, nothing of Kinesis. One Spool owns a directory
// at a time; a second one, in this process or another, gets ErrLocked.
//
// Durability: Append returns once the record is written to the file, so it
// survives the process being killed; Sync makes what was appended survive
// a machine crash too. Settled marks are written as records settle and
// synced by Sync: after a crash of the process, only records not settled
// yet are replayed; after a crash of the machine, also those settled since
// the last Sync.
package spool

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Defaults of Options.
const (
	DefaultMaxBytes     = 1 << 30
	DefaultSegmentBytes = 16 << 20
	maxSegmentBytes     = 1 << 30 // offsets within a segment fit in 32 bits

	// maxFree is how many settled segment files are kept for reuse.
	// Writing into a file whose blocks are already written and cached
	// costs a tenth of writing into newly reserved blocks.
	maxFree = 2
)

var (
	// ErrFull is returned by Append when the record would take the spool
	// beyond Options.MaxBytes.
	ErrFull = errors.New("spool: full")
	// ErrLocked is returned by Open when another Spool holds the directory.
	ErrLocked = errors.New("spool: directory in use by another process or stream")
	// ErrTooLarge is returned by Append for a record that could never fit
	// in the spool (larger than MaxBytes, or than a frame may be).
	ErrTooLarge = errors.New("spool: record larger than the spool")
	// ErrClosed is returned by methods of a closed Spool.
	ErrClosed = errors.New("spool: closed")
)

// Options configures a Spool.
type Options struct {
	// Dir is the directory of the spool, created if missing. Required.
	Dir string
	// MaxBytes bounds the bytes of all files of the spool, counting the
	// settled segment files kept for reuse (at most two). Default 1 GiB.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file is started.
	// A segment is removed once all its records are settled. Default
	// 16 MiB, at most MaxBytes/4.
	SegmentBytes int64
}

// LostError is returned by Next when records could not be read back: their
// segment file changed under the spool (something else wrote to it, or the
// disk failed). They are counted as settled.
type LostError struct {
	Records int
	// Appended is how many of Records this Spool appended itself; the
	// others were left by an earlier process.
	Appended int
	Err      error
}

func (e *LostError) Error() string {
	return fmt.Sprintf("spool: %d records could not be read back: %v", e.Records, e.Err)
}

func (e *LostError) Unwrap() error { return e.Err }

// Recovery says what Open found in the directory.
type Recovery struct {
	Records      int   // unsettled records, to be read back first
	Bytes        int64 // their key, hash key and data bytes
	Settled      int   // records found settled, whose segments were removed or are kept for others
	Corrupt      int   // stretches of bytes that held no valid frame, skipped
	CorruptBytes int64 // their bytes
	TornBytes    int64 // bytes of an incomplete last frame, truncated
}

// Entry is a record read back from the spool.
type Entry struct {
	Seq     uint64 // its position in the spool, for Settle
	Born    int64  // when it was put, in Unix nanoseconds; 0: not given
	Key     string
	HashKey string
	Data    []byte
	Replay  bool // written by an earlier process
}

type segment struct {
	first   uint64   // seq of its first record (its file name)
	next    uint64   // seq after its last record
	size    int64    // bytes of the frames in its log file (the reader stops there)
	disk    int64    // bytes its log file takes (more than size while reserved ahead)
	ackSize int64    // bytes of its ack file
	live    int      // records not yet settled
	offs    []uint32 // replayed segments: where the unsettled records start
	unread  int      // its records not yet handed back by Next
	replay  bool
	mapped  bool   // written through a mapping: its file may be reused
	acks    []byte // ack payload not yet written
	ackFile *os.File
}

// Spool is an on-disk log of records. Its methods are safe for concurrent
// use.
type Spool struct {
	opts Options
	lock *os.File

	mu       sync.Mutex
	closed   bool
	segs     []*segment // oldest first
	free     []freeFile // settled segment files kept for reuse (dropSegment)
	active   *segment   // the last of segs, appended to; nil until the first Append
	w        *os.File   // active's log
	mm       []byte     // active's log mapped, when the file system reserves blocks; nil: write(2)
	wbuf     []byte
	abuf     []byte // an ack frame being written
	nextSeq  uint64
	bytes    int64 // all files
	live     int
	rec      Recovery
	toSync   []*os.File // logs rolled since the last sync
	ackDirty []*os.File // ack files written since the last sync
	ackErr   error      // a failure to write settled marks, for the next Sync

	// allocate reserves a new segment's disk and maps it (mapSegment).
	allocate func(f *os.File, size int64) ([]byte, error)

	// reader: the next record to hand back
	unread   int // records appended or replayed and not yet handed back
	rseg     int // index into segs
	ridx     int // in a replayed segment: index into offs
	roff     int64
	rfile    *os.File // a reader on rfileSeg's log, positioned at rfilePos
	rfileSeg *segment
	rfilePos int64
	rbuf     *bufio.Reader
	rhead    [headerLen]byte

	syncs    int64 // fsync rounds done
	syncing  bool
	syncDone chan struct{}
	synced   uint64 // every record below it is on stable storage
	syncErr  error
}

// freeFile is a settled segment file kept to be written again: its blocks
// are allocated and its pages likely cached.
type freeFile struct {
	first uint64 // its name
	disk  int64  // its size
}

func segName(first uint64) string  { return fmt.Sprintf("%020d.log", first) }
func ackName(first uint64) string  { return fmt.Sprintf("%020d.ack", first) }
func freeName(first uint64) string { return fmt.Sprintf("%020d.free", first) }

// Open takes the directory, truncates a torn tail, skips and counts corrupt
// frames, removes fully settled segments, and returns a Spool whose reader
// hands back the unsettled records first, in their original order.
func Open(opts Options) (*Spool, error) {
	if opts.Dir == "" {
		return nil, errors.New("spool: no directory")
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	opts.SegmentBytes = max(min(opts.SegmentBytes, opts.MaxBytes/4, maxSegmentBytes), 1)
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	lock, err := lockDir(filepath.Join(opts.Dir, "LOCK"))
	if err != nil {
		return nil, err
	}
	s := &Spool{opts: opts, lock: lock, allocate: mapSegment}
	if err := s.recover(); err != nil {
		s.closeFiles()
		unlockDir(lock)
		return nil, err
	}
	s.synced = s.nextSeq
	s.unread = s.live
	return s, nil
}

// Recovery returns what Open found.
func (s *Spool) Recovery() Recovery { return s.rec }

// recover reads every segment left in the directory.
func (s *Spool) recover() error {
	names, err := filepath.Glob(filepath.Join(s.opts.Dir, "*.log"))
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var firsts []uint64
	for _, n := range names {
		first, ok := seqOf(n, ".log")
		if !ok {
			continue // not ours
		}
		firsts = append(firsts, first)
	}
	slices.Sort(firsts)
	// Files kept for reuse hold only settled records, and a settled-marks
	// file whose log is gone (the process died between removing the two)
	// marks nothing.
	var others []string
	for _, ext := range []string{".free", ".ack"} {
		names, _ := filepath.Glob(filepath.Join(s.opts.Dir, "*"+ext))
		for _, n := range names {
			first, ok := seqOf(n, ext)
			if ok && (ext == ".free" || !slices.Contains(firsts, first)) {
				others = append(others, n)
			}
		}
	}
	for _, n := range others {
		if fi, err := os.Lstat(n); err == nil && fi.Mode().IsRegular() {
			_ = os.Remove(n)
		}
	}
	for i, first := range firsts {
		sg, err := s.readSegment(first, i == len(firsts)-1)
		if err != nil {
			return err
		}
		s.nextSeq = max(s.nextSeq, sg.next)
		if sg.live == 0 {
			s.removeFiles(sg)
			continue
		}
		s.segs = append(s.segs, sg)
		s.bytes += sg.disk + sg.ackSize
		s.live += sg.live
	}
	return nil
}

// seqOf returns the seq a spool file is named after (see segName), and
// false for a name that is not one of them.
func seqOf(name, ext string) (uint64, bool) {
	seq, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), ext), 10, 64)
	return seq, err == nil
}

func (s *Spool) readSegment(first uint64, last bool) (*segment, error) {
	sg := &segment{first: first, next: first, replay: true}
	acked := map[uint64]bool{}
	logPath := filepath.Join(s.opts.Dir, segName(first))
	ackPath := filepath.Join(s.opts.Dir, ackName(first))
	if b, err := os.ReadFile(ackPath); err == nil {
		end := scan(b, func(_ int, p []byte) bool {
			for len(p) > 0 {
				off, n := binary.Uvarint(p)
				if n <= 0 {
					break
				}
				acked[off] = true
				p = p[n:]
			}
			return true
		}, func(_, n int) { s.corrupt(int64(n)) })
		if end < len(b) {
			s.rec.TornBytes += int64(len(b) - end)
			if err := os.Truncate(ackPath, int64(end)); err != nil {
				return nil, fmt.Errorf("spool: %w", err)
			}
		}
		sg.ackSize = int64(end)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("spool: %w", err)
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	records := map[uint64]bool{}
	stale := len(b) // where frames of the file's earlier use start
	end := scan(b, func(at int, p []byte) bool {
		seq, _, key, hk, data, err := parseRecord(p)
		if err == nil && seq < first {
			// A recycled file (see dropSegment) holds the frames of its
			// earlier use past the new ones: every one of them has a
			// smaller seq than the file's name. The log ends here.
			stale = at
			return false
		}
		if err != nil || seq-first > uint64(len(b)) {
			s.corrupt(int64(len(p) + headerLen))
			return true
		}
		off := seq - first
		if records[off] {
			return true // a frame written twice (cannot happen, but never count it twice)
		}
		records[off] = true
		sg.next = max(sg.next, seq+1)
		if acked[off] {
			s.rec.Settled++
			return true
		}
		sg.offs = append(sg.offs, uint32(at))
		sg.live++
		s.rec.Records++
		s.rec.Bytes += int64(len(key) + len(hk) + len(data))
		return true
	}, func(_, n int) { s.corrupt(int64(n)) })
	if end < len(b) {
		// Past the last frame: the unused part of a segment reserved ahead
		// (zeros) or the frames of a recycled file's earlier use, and,
		// where the process died while writing, a frame cut short, which
		// was never acknowledged. Elsewhere than at the end of the last
		// segment, bytes that are neither are corruption.
		tail := nonZeroLen(b[end:stale])
		if end+4 <= stale && binary.LittleEndian.Uint32(b[end:]) == 0 {
			// The end is marked (AppendAt): no frame was being written.
			tail = 0
		}
		if tail > 0 {
			if last {
				s.rec.TornBytes += int64(tail)
			} else {
				s.corrupt(int64(tail))
			}
		}
		if err := os.Truncate(logPath, int64(end)); err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	sg.size = int64(end)
	sg.disk = int64(end)
	sg.unread = len(sg.offs)
	return sg, nil
}

// corrupt counts a stretch of n bytes that held no valid frame.
func (s *Spool) corrupt(n int64) {
	s.rec.Corrupt++
	s.rec.CorruptBytes += n
}

// nonZeroLen returns the length of b up to its last byte that is not zero.
func nonZeroLen(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0 {
			return i + 1
		}
	}
	return 0
}

// frameSize is the size of the record frame appendRecord writes.
func frameSize(seq uint64, born int64, key, hashKey string, data []byte) int64 {
	return int64(headerLen + uvarintLen(seq) + uvarintLen(uint64(born)) + uvarintLen(uint64(len(key))) + len(key) +
		uvarintLen(uint64(len(hashKey))) + len(hashKey) + len(data))
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// roll starts a new segment at nextSeq, room for a frame of n bytes, and
// finishes the one appended to so far. Call with mu held.
func (s *Spool) roll(n int64) error {
	// Give back what the segment appended to so far reserved and did not
	// use, before counting the room the next one needs.
	s.finishActive()
	size := max(s.opts.SegmentBytes, n)
	reuse := len(s.free) > 0 && size == s.opts.SegmentBytes
	bytes := s.bytes
	if reuse {
		bytes -= s.free[len(s.free)-1].disk
	}
	if bytes+size > s.opts.MaxBytes && len(s.free) > 0 {
		// The files kept for reuse give way to records.
		s.removeFree()
		reuse, bytes = false, s.bytes
	}
	if bytes+size > s.opts.MaxBytes {
		return ErrFull
	}
	sg := &segment{first: s.nextSeq, next: s.nextSeq}
	path := filepath.Join(s.opts.Dir, segName(sg.first))
	var f *os.File
	if reuse {
		f = s.reuseFree(path)
	}
	if f == nil {
		var err error
		f, err = os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	mm, err := s.allocate(f, size)
	if err == nil && mm == nil && reuse {
		// Written with write(2): the frames of the file's earlier use
		// must not follow the new ones.
		err = f.Truncate(0)
	}
	if err == nil {
		err = syncDir(s.opts.Dir)
	}
	if err != nil {
		unmapSegment(mm)
		f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("spool: new segment %s: %w", segName(sg.first), err)
	}
	if mm != nil {
		sg.disk = size
		sg.mapped = true
	}
	s.active, s.w, s.mm = sg, f, mm
	s.segs = append(s.segs, sg)
	s.bytes += sg.disk
	return nil
}

// reuseFree renames the last file kept for reuse to path and opens it. Its
// frames stay until overwritten: the reader tells them by their seqs, all
// smaller than the new name (see readSegment). It returns nil when that
// fails; the file is then removed. Call with mu held.
func (s *Spool) reuseFree(path string) *os.File {
	fr := s.free[len(s.free)-1]
	s.free = s.free[:len(s.free)-1]
	s.bytes -= fr.disk
	old := filepath.Join(s.opts.Dir, freeName(fr.first))
	if err := os.Rename(old, path); err != nil {
		_ = os.Remove(old)
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		_ = os.Remove(path)
		return nil
	}
	return f
}

// finishActive gives back the unused reserved part of the segment appended
// to so far, keeps its file to be synced, and removes it when it holds no
// unsettled record. Call with mu held.
func (s *Spool) finishActive() {
	sg := s.active
	if sg == nil {
		return
	}
	unmapSegment(s.mm)
	if sg.disk > sg.size {
		if err := s.w.Truncate(sg.size); err == nil {
			s.bytes -= sg.disk - sg.size
			sg.disk = sg.size
		}
	}
	s.toSync = append(s.toSync, s.w)
	s.active, s.w, s.mm = nil, nil, nil
	if sg.live == 0 {
		s.dropSegment(slices.Index(s.segs, sg))
	}
}

// Append writes a record and returns its seq. It returns once the record
// is in the page cache (it survives the process, not yet a machine crash:
// see Sync). keep asks to keep the record in memory rather than read it
// back later: loaded is true when that was granted, which it is unless
// records appended earlier are still waiting to be read back (they go
// first). A record that would take the spool beyond MaxBytes is refused
// with ErrFull, and a failure to write or to reserve disk (a full disk)
// with the OS error; neither leaves anything of the record behind.
func (s *Spool) Append(key, hashKey string, data []byte, keep bool) (seq uint64, loaded bool, err error) {
	return s.AppendAt(key, hashKey, data, 0, keep)
}

// AppendAt is Append that also keeps when the record was put (born, in Unix
// nanoseconds), which Next hands back.
func (s *Spool) AppendAt(key, hashKey string, data []byte, born int64, keep bool) (seq uint64, loaded bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, false, ErrClosed
	}
	n := frameSize(s.nextSeq, born, key, hashKey, data)
	if n > headerLen+maxFrameLen || n > s.opts.MaxBytes {
		return 0, false, fmt.Errorf("%w: a record of %d bytes on disk", ErrTooLarge, n)
	}
	sg := s.active
	switch {
	case sg == nil,
		s.mm != nil && sg.size+n > int64(len(s.mm)),
		s.mm == nil && sg.size > 0 && sg.size+n > s.opts.SegmentBytes:
		if err := s.roll(n); err != nil {
			return 0, false, err
		}
		sg = s.active
	}
	if s.mm != nil {
		appendRecord(s.mm[sg.size:sg.size:sg.size+n], s.nextSeq, born, key, hashKey, data)
		// Mark the end of the log: in a reused file, what follows is the
		// rest of its earlier use (see readSegment).
		clear(s.mm[sg.size+n : min(sg.size+n+4, int64(len(s.mm)))])
	} else {
		if s.bytes+n > s.opts.MaxBytes {
			return 0, false, ErrFull
		}
		s.wbuf = appendRecord(s.wbuf[:0], s.nextSeq, born, key, hashKey, data)
		if _, err := s.w.WriteAt(s.wbuf, sg.size); err != nil {
			// Leave no partial frame behind: a later frame must not
			// follow garbage.
			_ = s.w.Truncate(sg.size)
			return 0, false, fmt.Errorf("spool: append to %s: %w", segName(sg.first), err)
		}
		if cap(s.wbuf) > 1<<20 {
			s.wbuf = nil
		}
		sg.disk += n
		s.bytes += n
	}
	seq = s.nextSeq
	s.nextSeq++
	sg.next = s.nextSeq
	sg.size += n
	sg.live++
	s.live++
	if keep && s.unread == 0 {
		s.rseg = len(s.segs) - 1
		s.roff = sg.size
		return seq, true, nil
	}
	s.unread++
	sg.unread++
	return seq, false, nil
}

// Backlog reports whether records appended (or left by an earlier process)
// wait to be read back.
func (s *Spool) Backlog() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unread > 0
}

// Next reads back the next record not yet handed out, appending its data to
// dst: first those an earlier process left unsettled, then those appended
// since. It returns io.EOF when every record appended so far was handed out.
func (s *Spool) Next(dst []byte) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Entry{}, ErrClosed
	}
	for s.unread > 0 && s.rseg < len(s.segs) {
		sg := s.segs[s.rseg]
		var off int64
		switch {
		case sg.replay && s.ridx < len(sg.offs):
			off = int64(sg.offs[s.ridx])
			s.ridx++
		case !sg.replay && s.roff < sg.size:
			off = s.roff
		case s.rseg == len(s.segs)-1:
			s.unread = 0 // cannot happen: nothing left to read
			continue
		default:
			s.rseg++
			s.ridx, s.roff = 0, 0
			s.closeReader()
			continue
		}
		e, n, err := s.readAt(sg, off, dst)
		if err != nil {
			// The file changed under us since it was written or checked:
			// the rest of this segment cannot be read. Count its records
			// lost, settled, so that nothing waits for them.
			lost := sg.unread
			s.rec.Corrupt++
			s.roff, s.ridx = sg.size, len(sg.offs)
			s.closeReader()
			s.unread -= lost
			sg.unread = 0
			sg.live -= lost
			s.live -= lost
			appended := 0
			if !sg.replay {
				appended = lost
			}
			return Entry{}, &LostError{Records: lost, Appended: appended, Err: err}
		}
		s.roff = off + n
		s.unread--
		sg.unread--
		e.Replay = sg.replay
		return e, nil
	}
	return Entry{}, io.EOF
}

// readAt reads the frame at off in sg.
func (s *Spool) readAt(sg *segment, off int64, dst []byte) (Entry, int64, error) {
	if sg == s.active && s.mm != nil {
		// Straight from the mapping: a file read ahead would see the
		// zeros of the reserved part, not the frames written there since.
		s.closeReader()
		// This process wrote these frames, but the mapping is shared:
		// another process may have written the file since, so the frame
		// is checked as one read from the file is.
		if sg.size-off < headerLen {
			return Entry{}, 0, errCorrupt
		}
		l := int(binary.LittleEndian.Uint32(s.mm[off+4:]))
		if binary.LittleEndian.Uint32(s.mm[off:]) != frameMagic || int64(l) > sg.size-off-headerLen {
			return Entry{}, 0, errCorrupt
		}
		payload := s.mm[off+headerLen : off+headerLen+int64(l)]
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(s.mm[off+8:]) {
			return Entry{}, 0, errCorrupt
		}
		seq, born, key, hk, data, err := parseRecord(payload)
		if err != nil {
			return Entry{}, 0, err
		}
		start := len(dst)
		dst = append(dst, data...)
		return Entry{Seq: seq, Born: born, Key: key, HashKey: hk, Data: dst[start:]}, int64(headerLen + l), nil
	}
	if s.rfile != nil && (s.rfileSeg != sg || s.rfilePos != off) {
		s.closeReader()
	}
	if s.rfile == nil {
		f, err := os.Open(filepath.Join(s.opts.Dir, segName(sg.first)))
		if err != nil {
			return Entry{}, 0, err
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return Entry{}, 0, err
		}
		s.rfile, s.rfileSeg, s.rfilePos = f, sg, off
		if s.rbuf == nil {
			s.rbuf = bufio.NewReaderSize(f, 64<<10)
		} else {
			s.rbuf.Reset(f)
		}
	}
	if _, err := io.ReadFull(s.rbuf, s.rhead[:]); err != nil {
		return Entry{}, 0, err
	}
	l := int(binary.LittleEndian.Uint32(s.rhead[4:]))
	if binary.LittleEndian.Uint32(s.rhead[:]) != frameMagic || l > maxFrameLen {
		return Entry{}, 0, errCorrupt
	}
	start := len(dst)
	dst = slices.Grow(dst, l)[:start+l]
	payload := dst[start:]
	if _, err := io.ReadFull(s.rbuf, payload); err != nil {
		return Entry{}, 0, err
	}
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(s.rhead[8:]) {
		return Entry{}, 0, errCorrupt
	}
	seq, born, key, hk, data, err := parseRecord(payload)
	if err != nil {
		return Entry{}, 0, err
	}
	// Move the data to the front of dst's new room, so that the entry's
	// data is the bytes appended to dst.
	n := copy(dst[start:], data)
	s.rfilePos = off + int64(headerLen+l)
	return Entry{Seq: seq, Born: born, Key: key, HashKey: hk, Data: dst[start : start+n]}, int64(headerLen + l), nil
}

func (s *Spool) closeReader() {
	if s.rfile != nil {
		s.rfile.Close()
		s.rfile = nil
	}
}

// Settle marks records as settled: delivered, or reported failed. A
// segment whose records are all settled is removed. The marks are written
// at once (one write per segment touched), so that they survive the
// process; the next Sync makes them survive a machine crash too.
func (s *Spool) Settle(seqs ...uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seq := range seqs {
		i, found := slices.BinarySearchFunc(s.segs, seq, func(sg *segment, seq uint64) int {
			switch {
			case seq < sg.first:
				return 1
			case seq >= sg.next:
				return -1
			}
			return 0
		})
		if !found || s.segs[i].live == 0 {
			continue
		}
		sg := s.segs[i]
		sg.live--
		s.live--
		if sg.live > 0 || sg == s.active {
			sg.acks = binary.AppendUvarint(sg.acks, seq-sg.first)
			continue
		}
		s.dropSegment(i)
	}
	// Write the marks now, without waiting for a sync: in the page cache
	// they survive the process, so that a restart after a crash of the
	// process re-sends only what was not settled yet.
	files, err := s.writeAcks()
	for _, f := range files {
		if !slices.Contains(s.ackDirty, f) {
			s.ackDirty = append(s.ackDirty, f)
		}
	}
	if err != nil && s.ackErr == nil {
		s.ackErr = err
	}
}

// dropSegment removes a fully settled segment that is not appended to. Its
// log file is kept for reuse (renamed, see roll) while fewer than maxFree
// are, unless the spool is closing.
func (s *Spool) dropSegment(i int) {
	sg := s.segs[i]
	if sg.ackFile != nil {
		if j := slices.Index(s.ackDirty, sg.ackFile); j >= 0 {
			s.ackDirty = slices.Delete(s.ackDirty, j, j+1)
		}
		sg.ackFile.Close()
		sg.ackFile = nil
	}
	log := filepath.Join(s.opts.Dir, segName(sg.first))
	if sg.mapped && !s.closed && len(s.free) < maxFree && sg.disk <= s.opts.SegmentBytes &&
		os.Rename(log, filepath.Join(s.opts.Dir, freeName(sg.first))) == nil {
		s.free = append(s.free, freeFile{first: sg.first, disk: sg.disk}) // its bytes still count
		_ = os.Remove(filepath.Join(s.opts.Dir, ackName(sg.first)))
		s.bytes -= sg.ackSize
	} else {
		s.removeFiles(sg)
		s.bytes -= sg.disk + sg.ackSize
	}
	s.segs = slices.Delete(s.segs, i, i+1)
	switch {
	case s.rseg > i:
		s.rseg--
	case s.rseg == i: // the reader had read all of it
		s.ridx, s.roff = 0, 0
		s.closeReader()
	}
}

// removeFiles removes a segment's log, then its settled marks: the other
// way round, a process dying in between would replay settled records.
func (s *Spool) removeFiles(sg *segment) {
	_ = os.Remove(filepath.Join(s.opts.Dir, segName(sg.first)))
	_ = os.Remove(filepath.Join(s.opts.Dir, ackName(sg.first)))
}

// removeFree removes the files kept for reuse. Call with mu held.
func (s *Spool) removeFree() {
	for _, fr := range s.free {
		_ = os.Remove(filepath.Join(s.opts.Dir, freeName(fr.first)))
		s.bytes -= fr.disk
	}
	s.free = nil
}

// Sync writes the settled marks and makes every record appended before it
// durable against a machine crash (fsync). Concurrent calls share one
// fsync (group commit).
func (s *Spool) Sync() error {
	s.mu.Lock()
	target := s.nextSeq
	for {
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		if s.synced >= target && !s.acksPending() {
			s.mu.Unlock()
			return nil
		}
		if !s.syncing {
			break
		}
		done := s.syncDone
		s.mu.Unlock()
		<-done
		s.mu.Lock()
		if s.syncErr != nil {
			err := s.syncErr
			s.mu.Unlock()
			return err
		}
	}
	s.syncing = true
	s.syncDone = make(chan struct{})
	upto := s.nextSeq
	files, err := s.writeAcks()
	files = append(files, s.ackDirty...)
	s.ackDirty = nil
	if err == nil {
		err = s.ackErr
	}
	s.ackErr = nil
	if s.w != nil {
		files = append(files, s.w)
	}
	old := s.toSync
	files = append(files, old...)
	s.toSync = nil
	s.mu.Unlock()
	for _, f := range files {
		// A file closed meanwhile belonged to a segment removed since:
		// nothing of it needs to last.
		if e := f.Sync(); e != nil && !errors.Is(e, os.ErrClosed) && err == nil {
			err = fmt.Errorf("spool: sync: %w", e)
		}
	}
	for _, f := range old { // rolled: no longer written
		f.Close()
	}
	s.mu.Lock()
	s.syncing = false
	s.syncErr = err
	close(s.syncDone)
	if err == nil {
		s.synced = max(s.synced, upto)
	}
	s.syncs++
	s.mu.Unlock()
	return err
}

func (s *Spool) acksPending() bool {
	for _, sg := range s.segs {
		if len(sg.acks) > 0 {
			return true
		}
	}
	return false
}

// writeAcks writes the pending settled marks, one frame per segment, and
// returns the files to sync. Call with mu held.
func (s *Spool) writeAcks() ([]*os.File, error) {
	var files []*os.File
	var firstErr error
	for _, sg := range s.segs {
		if len(sg.acks) == 0 {
			continue
		}
		if sg.ackFile == nil {
			f, err := os.OpenFile(filepath.Join(s.opts.Dir, ackName(sg.first)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				firstErr = cmp.Or(firstErr, err)
				continue
			}
			sg.ackFile = f
		}
		frame := append(append(s.abuf[:0], make([]byte, headerLen)...), sg.acks...)
		sealFrame(frame)
		s.abuf = frame[:0]
		if _, err := sg.ackFile.Write(frame); err != nil {
			_ = sg.ackFile.Truncate(sg.ackSize)
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		sg.ackSize += int64(len(frame))
		s.bytes += int64(len(frame))
		sg.acks = sg.acks[:0]
		files = append(files, sg.ackFile)
	}
	if firstErr != nil {
		firstErr = fmt.Errorf("spool: write settled marks: %w", firstErr)
	}
	return files, firstErr
}

// Stats is a snapshot of the spool.
type Stats struct {
	Records int   // records appended or replayed and not yet settled
	Bytes   int64 // bytes of all its files
	Backlog bool  // records wait to be read back
	Syncs   int64 // rounds of fsync done (each may cover many appends)
}

// Stats returns a snapshot of the spool.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Records: s.live, Bytes: s.bytes, Backlog: s.unread > 0, Syncs: s.syncs}
}

// Close syncs the spool, removes the segments that hold no unsettled
// record, and gives up the directory. Unsettled records stay for the next
// Open.
func (s *Spool) Close() error {
	err := s.Sync()
	if errors.Is(err, ErrClosed) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.syncing {
		done := s.syncDone
		s.mu.Unlock()
		<-done
		s.mu.Lock()
	}
	if s.closed {
		return nil
	}
	s.closed = true
	s.finishActive()
	for _, f := range s.toSync {
		if e := f.Sync(); e != nil && err == nil {
			err = fmt.Errorf("spool: sync: %w", e)
		}
	}
	for i := len(s.segs) - 1; i >= 0; i-- {
		if s.segs[i].live == 0 {
			s.dropSegment(i)
		}
	}
	s.removeFree()
	s.closeFiles()
	if e := syncDir(s.opts.Dir); e != nil && err == nil {
		err = e
	}
	unlockDir(s.lock)
	return err
}

func (s *Spool) closeFiles() {
	s.closeReader()
	unmapSegment(s.mm)
	s.mm = nil
	if s.w != nil {
		s.w.Close()
		s.w = nil
	}
	for _, f := range s.toSync {
		f.Close()
	}
	s.toSync = nil
	for _, sg := range s.segs {
		if sg.ackFile != nil {
			sg.ackFile.Close()
			sg.ackFile = nil
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: sync %s: %w", dir, err)
	}
	return nil
}
