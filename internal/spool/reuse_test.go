package spool

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// die leaves s as a killed process would: nothing closed, the lock given up
// by the OS.
func die(s *Spool) {
	s.mu.Lock()
	unlockDir(s.lock)
	s.mu.Unlock()
}

func glob(t *testing.T, dir, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	require.NoError(t, err)
	return m
}

// fillReused settles enough segments that files are kept for reuse, then
// appends n records from 1000 on: the first segment they go to is a
// reused file, which still holds the frames of its earlier use.
func fillReused(t *testing.T, dir string, n int) (*Spool, []uint64) {
	t.Helper()
	s := open(t, dir, Options{SegmentBytes: 400})
	seqs := appendN(t, s, 0, 100, true)
	s.Settle(seqs...)
	free := glob(t, dir, "*.free")
	require.Len(t, free, maxFree, "settled segment files are kept for reuse, at most maxFree")
	before, err := os.Stat(free[len(free)-1])
	require.NoError(t, err)
	st := s.Stats()
	require.NotZero(t, st.Bytes, "the kept files count in the spool's bytes")

	// Fill the segment appended to, until a new one is started.
	for i := 0; len(glob(t, dir, "*.free")) == maxFree; i++ {
		require.Less(t, i, 100, "no new segment was started")
		seq, _, err := s.Append("k", "", []byte("x"), true)
		require.NoError(t, err)
		s.Settle(seq)
	}
	require.Len(t, glob(t, dir, "*.free"), maxFree-1, "a kept file was taken for the new segment")
	var reused bool
	for _, l := range glob(t, dir, "*.log") {
		fi, err := os.Stat(l)
		require.NoError(t, err)
		reused = reused || os.SameFile(fi, before)
	}
	require.True(t, reused, "the new segment is the kept file, renamed")
	return s, appendN(t, s, 1000, n, true)
}

func TestReusedFileReplaysOnlyItsNewRecords(t *testing.T) {
	dir := t.TempDir()
	s, _ := fillReused(t, dir, 3)
	require.NoError(t, s.Sync())
	die(s)

	s2 := open(t, dir, Options{SegmentBytes: 400})
	rec := s2.Recovery()
	assert.Equal(t, 3, rec.Records)
	assert.Zero(t, rec.Corrupt, "the frames of the file's earlier use are not corruption")
	assert.Zero(t, rec.TornBytes)
	assert.Empty(t, glob(t, dir, "*.free"), "files kept for reuse by a dead process are removed")
	got, es := readAll(t, s2)
	assert.Equal(t, want(1000, 3), got)
	for _, e := range es {
		s2.Settle(e.Seq)
	}
	require.NoError(t, s2.Close())
	assert.Empty(t, glob(t, dir, "*.log"))
	assert.Empty(t, glob(t, dir, "*.free"), "Close removes the files kept for reuse")
	assert.Empty(t, glob(t, dir, "*.ack"))
}

func TestTornFrameInReusedFile(t *testing.T) {
	dir := t.TempDir()
	s, _ := fillReused(t, dir, 2)
	s.mu.Lock()
	frame := appendRecord(nil, s.nextSeq, 0, "k1002", "", []byte("data-1002"))
	half := frame[:len(frame)-4]
	copy(s.mm[s.active.size:], half)
	s.mu.Unlock()
	require.NoError(t, s.Sync())
	die(s)

	s2 := open(t, dir, Options{SegmentBytes: 400})
	defer s2.Close()
	rec := s2.Recovery()
	assert.Equal(t, 2, rec.Records)
	assert.Zero(t, rec.Corrupt)
	assert.GreaterOrEqual(t, rec.TornBytes, int64(len(half)), "the frame cut short is the torn tail, not corruption")
	got, _ := readAll(t, s2)
	assert.Equal(t, want(1000, 2), got)
}

func TestOrphanSettledMarksRemoved(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ackName(7)), []byte("marks of a removed log"), 0o644))
	s := open(t, dir, Options{})
	defer s.Close()
	assert.Empty(t, glob(t, dir, "*.ack"))
	assert.Zero(t, s.Recovery().Corrupt)
}

// Files kept for reuse count against MaxBytes, and a segment larger than
// SegmentBytes never takes one back: with MaxBytes twice a maximal Kinesis
// record (what Config allows: SpoolMaxBytes >= 2*MaxRecordSize), a spool
// holding nothing unsettled refuses a 1 MiB record, for ever.
func TestFreeFilesCauseSpuriousFull(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{MaxBytes: 2 << 20}) // SegmentBytes: 512 KiB
	defer s.Close()
	var seqs []uint64
	for len(glob(t, dir, "*.log")) < 4 {
		seq, _, err := s.Append("k", "", make([]byte, 131055), true)
		require.NoError(t, err)
		seqs = append(seqs, seq)
	}
	s.Settle(seqs...)
	require.Len(t, glob(t, dir, "*.free"), 2)
	require.Zero(t, s.Stats().Records)
	big := bytes.Repeat([]byte{'x'}, 1<<20-3)
	for i := 0; i < 3; i++ {
		require.Zero(t, s.Stats().Records)
		seq, _, err := s.Append("key", "", big, true)
		require.NoError(t, err, "attempt %d, nothing unsettled, stats %+v", i, s.Stats())
		s.Settle(seq) // delivered
	}
}

// phantomRun: record 0 (big, alone in its segment) carries in its data a
// well-formed spool frame with seq x. It is settled, its file kept, and
// reused by the next segment, whose first seq is returned. One small record
// is appended to the reused file, then the process dies.
func phantomRun(t *testing.T, dir string, x uint64) (first uint64, s *Spool) {
	s = open(t, dir, Options{SegmentBytes: 400})
	embedded := appendRecord(nil, x, 0, "forged", "", []byte("phantom"))
	data := append(bytes.Repeat([]byte{'f'}, 100), embedded...)
	data = append(data, bytes.Repeat([]byte{'g'}, 150)...)
	r0, _, err := s.Append("k0", "", data, true)
	require.NoError(t, err)
	r1, _, err := s.Append("k1", "", bytes.Repeat([]byte{'h'}, 200), true) // a new segment
	require.NoError(t, err)
	_ = r1
	s.Settle(r0) // segment 0 settled: its file is kept for reuse
	require.Len(t, glob(t, dir, "*.free"), 1)
	// Fill segment 1 until the next segment starts on the kept file.
	for len(glob(t, dir, "*.free")) == 1 {
		_, _, err := s.Append("k", "", []byte("y"), true)
		require.NoError(t, err)
	}
	s.mu.Lock()
	first = s.active.first
	s.mu.Unlock()
	return first, s
}

func TestPhantomRecordFromReusedFile(t *testing.T) {
	first, s := phantomRun(t, t.TempDir(), 100) // dry run: learn the first seq of the reused segment
	s.Close()
	dir := t.TempDir()
	first2, s := phantomRun(t, dir, first+20)
	require.Equal(t, first, first2)
	_, _, err := s.Append("new", "", []byte("record"), true) // written over the start of record 0's frame
	require.NoError(t, err)
	die(s)

	s2 := open(t, dir, Options{SegmentBytes: 400})
	defer s2.Close()
	got, _ := readAll(t, s2)
	assert.NotContains(t, got, "forged=phantom", "a record never appended is replayed (recovery %+v)", s2.Recovery())
}

// A kept file reused by a segment that ends up written with write(2) (the
// mapping is not available for it) keeps the frames of its earlier use
// right past the new ones, with no end mark, and the reader's read-ahead
// takes them for the records appended next.
func TestReusedFileWritePathReadsStale(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 400})
	defer s.Close()
	seqs := appendN(t, s, 0, 100, true)
	s.Settle(seqs...)
	require.Len(t, glob(t, dir, "*.free"), maxFree)
	s.mu.Lock()
	s.allocate = func(*os.File, int64) ([]byte, error) { return nil, nil }
	s.mu.Unlock()
	// Fill the active until the next segment takes a kept file.
	for len(glob(t, dir, "*.free")) == maxFree {
		seq, _, err := s.Append("k", "", []byte("x"), true)
		require.NoError(t, err)
		s.Settle(seq)
	}
	appendN(t, s, 1000, 1, false)
	got, _ := readAll(t, s)
	assert.Equal(t, want(1000, 1), got)
	appendN(t, s, 1001, 1, false)
	got, _ = readAll(t, s)
	assert.Equal(t, want(1001, 1), got)
}
