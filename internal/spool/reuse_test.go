package spool

import (
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
