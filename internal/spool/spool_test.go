package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func open(t *testing.T, dir string, o Options) *Spool {
	t.Helper()
	o.Dir = dir
	s, err := Open(o)
	require.NoError(t, err)
	return s
}

func appendN(t *testing.T, s *Spool, from, n int, keep bool) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := from; i < from+n; i++ {
		seq, _, err := s.Append(fmt.Sprint("k", i), "", []byte(fmt.Sprint("data-", i)), keep)
		require.NoError(t, err)
		seqs = append(seqs, seq)
	}
	return seqs
}

// reopened opens a spool on dir after an earlier one appended n records
// there (keeping them in memory or not) and closed; the test closes it.
func reopened(t *testing.T, dir string, n int, keep bool) *Spool {
	t.Helper()
	s := open(t, dir, Options{})
	appendN(t, s, 0, n, keep)
	require.NoError(t, s.Close())
	return open(t, dir, Options{})
}

// readAll reads back every record waiting, as "key=data".
func readAll(t *testing.T, s *Spool) ([]string, []Entry) {
	t.Helper()
	var got []string
	var es []Entry
	for {
		e, err := s.Next(nil)
		if errors.Is(err, io.EOF) {
			return got, es
		}
		require.NoError(t, err)
		got = append(got, e.Key+"="+string(e.Data))
		es = append(es, e)
	}
}

func want(from, n int) []string {
	var w []string
	for i := from; i < from+n; i++ {
		w = append(w, fmt.Sprintf("k%d=data-%d", i, i))
	}
	return w
}

func TestAppendKeepAndBacklog(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	seq, loaded, err := s.Append("a", "", []byte("1"), true)
	require.NoError(t, err)
	assert.True(t, loaded, "nothing waits: the record may stay in memory")
	assert.Equal(t, uint64(0), seq)
	_, loaded, err = s.Append("b", "", []byte("2"), false)
	require.NoError(t, err)
	assert.False(t, loaded)
	_, loaded, err = s.Append("c", "42", []byte("3"), true)
	require.NoError(t, err)
	assert.False(t, loaded, "a record waits on disk: later ones queue behind it")
	assert.True(t, s.Backlog())
	got, es := readAll(t, s)
	assert.Equal(t, []string{"b=2", "c=3"}, got)
	assert.Equal(t, "42", es[1].HashKey)
	assert.False(t, es[0].Replay)
	assert.False(t, s.Backlog())
	_, loaded, err = s.Append("d", "", nil, true)
	require.NoError(t, err)
	assert.True(t, loaded, "caught up again")
}

func TestReplayUnsettledInOrder(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 256})
	seqs := appendN(t, s, 0, 100, true)
	s.Settle(seqs[:40]...)
	s.Settle(seqs[50:60]...)
	require.NoError(t, s.Sync())
	require.NoError(t, s.Close())

	s = open(t, dir, Options{SegmentBytes: 256})
	defer s.Close()
	rec := s.Recovery()
	assert.Equal(t, 50, rec.Records)
	assert.Zero(t, rec.Corrupt)
	assert.Zero(t, rec.TornBytes)
	got, es := readAll(t, s)
	assert.Equal(t, append(want(40, 10), want(60, 40)...), got)
	for _, e := range es {
		assert.True(t, e.Replay)
	}
	_, loaded, err := s.Append("new", "", []byte("x"), true)
	require.NoError(t, err)
	assert.True(t, loaded)
}

func TestReplayedBeforeNew(t *testing.T) {
	dir := t.TempDir()
	s := reopened(t, dir, 3, true)
	defer s.Close()
	_, loaded, err := s.Append("k3", "", []byte("data-3"), true)
	require.NoError(t, err)
	assert.False(t, loaded, "replayed records go first")
	got, _ := readAll(t, s)
	assert.Equal(t, want(0, 4), got)
}

func TestSettledSegmentsRemoved(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 200})
	seqs := appendN(t, s, 0, 60, true)
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	require.Greater(t, len(logs), 3)
	// Out of order: the last half first.
	s.Settle(seqs[30:]...)
	s.Settle(seqs[:30]...)
	require.NoError(t, s.Sync())
	st := s.Stats()
	assert.Zero(t, st.Records)
	logs, _ = filepath.Glob(filepath.Join(dir, "*.log"))
	assert.Len(t, logs, 1, "only the segment appended to is left")
	require.NoError(t, s.Close())
	logs, _ = filepath.Glob(filepath.Join(dir, "*.log"))
	assert.Empty(t, logs, "an empty spool leaves no segment behind")
}

func TestTornTailTruncated(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	appendN(t, s, 0, 5, true)
	require.NoError(t, s.Close())
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	require.Len(t, logs, 1)
	// Half a frame: the process died while writing it.
	frame := appendRecord(nil, 5, 0, "k5", "", []byte("data-5"))
	f, err := os.OpenFile(logs[0], os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(frame[:len(frame)-3])
	require.NoError(t, err)
	require.NoError(t, f.Close())

	s = open(t, dir, Options{})
	defer s.Close()
	rec := s.Recovery()
	assert.Equal(t, int64(len(frame)-3), rec.TornBytes)
	assert.Equal(t, 5, rec.Records)
	got, _ := readAll(t, s)
	assert.Equal(t, want(0, 5), got)
}

func TestCorruptFrameSkipped(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	appendN(t, s, 0, 5, true)
	require.NoError(t, s.Close())
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	b, err := os.ReadFile(logs[0])
	require.NoError(t, err)
	frameLen := len(appendRecord(nil, 0, 0, "k0", "", []byte("data-0")))
	b[2*frameLen+headerLen+3] ^= 0xff // a byte of the third record
	require.NoError(t, os.WriteFile(logs[0], b, 0o644))

	s = open(t, dir, Options{})
	defer s.Close()
	rec := s.Recovery()
	assert.Equal(t, 1, rec.Corrupt)
	assert.Equal(t, int64(frameLen), rec.CorruptBytes)
	assert.Equal(t, 4, rec.Records)
	got, _ := readAll(t, s)
	assert.Equal(t, []string{"k0=data-0", "k1=data-1", "k3=data-3", "k4=data-4"}, got)
}

func TestFull(t *testing.T) {
	s := open(t, t.TempDir(), Options{MaxBytes: 1000})
	defer s.Close()
	var err error
	n := 0
	for ; n < 100; n++ {
		if _, _, err = s.Append("key", "", make([]byte, 50), false); err != nil {
			break
		}
	}
	assert.ErrorIs(t, err, ErrFull)
	assert.LessOrEqual(t, s.Stats().Bytes, int64(1000))
	assert.Equal(t, n, s.Stats().Records)
}

func TestDiskFullLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 100})
	appendN(t, s, 0, 2, false)
	real := s.allocate
	s.mu.Lock()
	s.allocate = func(*os.File, int64) ([]byte, error) { return nil, syscall.ENOSPC }
	s.mu.Unlock()
	var err error
	for i := 0; i < 10 && err == nil; i++ { // until a new segment is needed
		_, _, err = s.Append("k2", "", []byte("lost"), false)
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ENOSPC)
	accepted := s.Stats().Records
	s.mu.Lock()
	s.allocate = real
	s.mu.Unlock()
	_, _, err = s.Append("after", "", []byte("ok"), false)
	require.NoError(t, err)
	got, _ := readAll(t, s)
	require.Len(t, got, accepted+1, "every accepted record is there, the refused one is not")
	assert.Equal(t, want(0, 2), got[:2])
	assert.Equal(t, "after=ok", got[len(got)-1])
	require.NoError(t, s.Close())
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	s = open(t, dir, Options{})
	defer s.Close()
	assert.Equal(t, accepted+1, s.Recovery().Records, "nothing of the refused record on disk (%d logs)", len(logs))
	assert.Zero(t, s.Recovery().Corrupt)
}

func TestWritePathWithoutMapping(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 150})
	s.allocate = func(*os.File, int64) ([]byte, error) { return nil, nil }
	seqs := appendN(t, s, 0, 10, false)
	got, _ := readAll(t, s)
	assert.Equal(t, want(0, 10), got)
	// A record kept in memory moves the reader past it: the next one read
	// back is the one after it, not it again.
	_, loaded, err := s.Append("kept", "", []byte("in memory"), true)
	require.NoError(t, err)
	require.True(t, loaded)
	_, _, err = s.Append("after", "", []byte("on disk"), false)
	require.NoError(t, err)
	got, _ = readAll(t, s)
	assert.Equal(t, []string{"after=on disk"}, got)
	s.Settle(seqs[:5]...)
	require.NoError(t, s.Close())
	s = open(t, dir, Options{})
	defer s.Close()
	got, _ = readAll(t, s)
	assert.Equal(t, append(want(5, 5), "kept=in memory", "after=on disk"), got)
}

func TestKilledMidFrame(t *testing.T) {
	// A frame cut short in a segment reserved ahead: zeros follow it.
	dir := t.TempDir()
	s := open(t, dir, Options{})
	appendN(t, s, 0, 3, true)
	s.mu.Lock()
	frame := appendRecord(nil, 3, 0, "k3", "", []byte("data-3"))
	copy(s.mm[s.active.size:], frame[:len(frame)-4])
	s.mu.Unlock()
	require.NoError(t, s.Sync())
	// Die without Close: give up the lock as the OS would.
	s.mu.Lock()
	unlockDir(s.lock)
	s.mu.Unlock()

	s2 := open(t, dir, Options{})
	defer s2.Close()
	rec := s2.Recovery()
	assert.Equal(t, 3, rec.Records)
	assert.Equal(t, int64(len(frame)-4), rec.TornBytes)
	got, _ := readAll(t, s2)
	assert.Equal(t, want(0, 3), got)
}

func TestBornKeptAndTooLarge(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{MaxBytes: 4096})
	_, _, err := s.AppendAt("k", "", []byte("x"), 1234567890123, false)
	require.NoError(t, err)
	_, _, err = s.Append("k", "", make([]byte, 5000), false)
	assert.ErrorIs(t, err, ErrTooLarge, "a record larger than the spool can never fit")
	_, es := readAll(t, s)
	require.Len(t, es, 1)
	assert.Equal(t, int64(1234567890123), es[0].Born)
	require.NoError(t, s.Close())
	s = open(t, dir, Options{MaxBytes: 4096})
	defer s.Close()
	_, es = readAll(t, s)
	require.Len(t, es, 1)
	assert.Equal(t, int64(1234567890123), es[0].Born, "replayed with the time it was put")
}

func TestFileChangedUnderTheReader(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	defer s.Close()
	s.allocate = func(*os.File, int64) ([]byte, error) { return nil, nil }
	appendN(t, s, 0, 3, false)
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	require.Len(t, logs, 1)
	require.NoError(t, os.WriteFile(logs[0], make([]byte, 300), 0o644))
	_, err := s.Next(nil)
	var lost *LostError
	require.ErrorAs(t, err, &lost)
	assert.Equal(t, 3, lost.Records)
	assert.Equal(t, 3, lost.Appended, "this spool appended them")
	st := s.Stats()
	assert.Zero(t, st.Records, "lost records no longer count")
	assert.False(t, st.Backlog)
	_, err = s.Next(nil)
	assert.ErrorIs(t, err, io.EOF)
}

// The active segment is read back from its mapping; the mapping is shared,
// so a write to the file from outside shows there, and must be caught as it
// is on the read path from the file.
func TestActiveFileChangedUnderTheMapping(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	defer s.Close()
	appendN(t, s, 0, 3, false)
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	require.Len(t, logs, 1)
	f, err := os.OpenFile(logs[0], os.O_RDWR, 0)
	require.NoError(t, err)
	content := make([]byte, 4096)
	n, _ := f.ReadAt(content, 0)
	at := bytes.Index(content[:n], []byte("data-1"))
	require.Positive(t, at, "the second record is in the file")
	_, err = f.WriteAt([]byte("X"), int64(at))
	require.NoError(t, err)
	require.NoError(t, f.Close())

	e, err := s.Next(nil)
	require.NoError(t, err)
	assert.Equal(t, "data-0", string(e.Data))
	_, err = s.Next(nil)
	var lost *LostError
	require.ErrorAs(t, err, &lost, "the changed record is not handed back")
	assert.Equal(t, 2, lost.Records)
	assert.Equal(t, 2, lost.Appended)
	_, err = s.Next(nil)
	assert.ErrorIs(t, err, io.EOF)
}

// Records an earlier process left, lost on replay, were not appended by
// this spool (its caller never admitted them).
func TestReplayedFileChangedUnderTheReader(t *testing.T) {
	dir := t.TempDir()
	s := reopened(t, dir, 3, false)
	defer s.Close()
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	require.NotEmpty(t, logs)
	for _, l := range logs {
		require.NoError(t, os.WriteFile(l, make([]byte, 300), 0o644))
	}
	_, err := s.Next(nil)
	var lost *LostError
	require.ErrorAs(t, err, &lost)
	assert.Equal(t, 3, lost.Records)
	assert.Zero(t, lost.Appended, "an earlier process appended them")
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	_, err := Open(Options{Dir: dir})
	assert.ErrorIs(t, err, ErrLocked)
	require.NoError(t, s.Close())
	s = open(t, dir, Options{})
	require.NoError(t, s.Close())
}

func TestConcurrentAppendSync(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 4096})
	const workers, per = 8, 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	all := map[uint64]bool{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				seq, _, err := s.Append(fmt.Sprint(w), "", []byte(fmt.Sprint(i)), false)
				if !assert.NoError(t, err) {
					return
				}
				assert.NoError(t, s.Sync())
				mu.Lock()
				all[seq] = true
				mu.Unlock()
			}
		}(w)
	}
	// A reader settling what it reads, at the same time.
	done := make(chan struct{})
	read := 0
	go func() {
		defer close(done)
		for read < workers*per {
			e, err := s.Next(nil)
			if errors.Is(err, io.EOF) {
				runtime.Gosched() // the writers are behind
				continue
			}
			if !assert.NoError(t, err) {
				return
			}
			s.Settle(e.Seq)
			read++
		}
	}()
	wg.Wait()
	<-done
	assert.Len(t, all, workers*per)
	require.NoError(t, s.Close())
	s = open(t, dir, Options{})
	defer s.Close()
	assert.Zero(t, s.Recovery().Records, "every record was settled")
}
