package inskinesis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis/internal/spool"
)

// segments lists the spool's segment files.
func segments(t *testing.T, dir string) []string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	require.NoError(t, err)
	return logs
}

// storedIDs counts the stored records by event ID.
func storedIDs(t *testing.T, f *fakeKinesis) map[int]int {
	t.Helper()
	stored, _ := f.snapshot()
	ids := map[int]int{}
	for _, r := range stored {
		ids[decode(t, r).ID]++
	}
	return ids
}

// outage returns a fake that fails every call with a retryable error that
// wrote nothing while down is set, which it is at first.
func outage(seed uint64) (f *fakeKinesis, down *atomic.Bool) {
	f, down = newFake(seed), new(atomic.Bool)
	down.Store(true)
	f.failCall = func(*rand.Rand, int) (error, bool) {
		if down.Load() {
			return &smithy.GenericAPIError{Code: "ServiceUnavailable", Message: "outage", Fault: smithy.FaultServer}, false
		}
		return nil, false
	}
	return f, down
}

func TestSpoolDeliversEverythingAndEmpties(t *testing.T) {
	dir := t.TempDir()
	f := newFake(1)
	s := newTestStream(t, f, func(c *Config[event]) { c.SpoolDir = dir })
	const n = 2000
	for i := range n {
		require.NoError(t, s.Put(event{ID: i, Key: fmt.Sprint("k", i%7)}))
	}
	require.NoError(t, s.Flush(context.Background()))
	assert.Zero(t, s.Stats().SpoolRecords, "delivered records leave the spool")
	s.FlushAndStopStreaming()
	ids := storedIDs(t, f)
	assert.Len(t, ids, n)
	for id, c := range ids {
		assert.Equal(t, 1, c, "record %d", id)
	}
	assert.Empty(t, segments(t, dir), "an empty spool leaves no segment behind")
}

// TestSpoolOutageFillsTheDiskNotTheHeap: during an outage Put goes on
// taking records beyond MaxBatchSize, which wait on disk; memory holds at
// most MaxBatchSize; a PutAsync, whose callback cannot wait on disk, waits
// for memory; once the service is back everything is delivered, and the
// spool empties.
func TestSpoolOutageFillsTheDiskNotTheHeap(t *testing.T) {
	dir := t.TempDir()
	f, down := outage(2)
	s := newTestStream(t, f, func(c *Config[event]) {
		c.SpoolDir = dir
		c.MaxBatchSize = 100
		c.RetryCount = 1 << 20
	})
	const n = 3000
	for i := range n {
		require.NoError(t, s.Put(event{ID: i, Key: fmt.Sprint("k", i%5)}))
	}
	st := s.Stats()
	assert.LessOrEqual(t, st.BufferedRecords, 100, "memory holds at most MaxBatchSize")
	assert.Equal(t, n, st.SpoolRecords, "every record is in the spool")
	assert.Positive(t, st.SpoolBytes)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := s.PutAsync(ctx, event{ID: n, Key: "cb"}, func(Result[event]) {})
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a record with a callback waits for room in memory")
	assert.ErrorIs(t, s.TryPut(event{ID: n, Key: "x"}), nil, "TryPut takes a record while the spool has room")

	down.Store(false)
	s.FlushAndStopStreaming()
	ids := storedIDs(t, f)
	assert.Len(t, ids, n+1)
	st = s.Stats()
	assert.Zero(t, st.Failed)
	assert.Zero(t, st.SpoolRecords)
	assert.Empty(t, segments(t, dir))
}

// TestSpoolOutageHeapStaysBounded: during an outage, 48 MiB of records put
// beyond MaxBufferedBytes (256 KiB) wait on disk, not in the heap: the live
// heap grows by a small fraction of what was put. Once the service is back
// every record is delivered.
func TestSpoolOutageHeapStaysBounded(t *testing.T) {
	dir := t.TempDir()
	f, down := outage(2)
	f.forget = true // the calls of the outage would fill the heap
	s := newTestStream(t, f, func(c *Config[event]) {
		c.SpoolDir = dir
		c.MaxBufferedBytes = 256 << 10
		c.RetryCount = 1 << 20
	})
	heap := func() uint64 {
		runtime.GC()
		runtime.GC() // and the pools' victim caches
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	body := strings.Repeat("x", 4<<10)
	const n = 12 * 1024 // 48 MiB of bodies
	before := heap()
	for i := range n {
		require.NoError(t, s.Put(event{ID: i, Key: fmt.Sprint("k", i%7), Body: body}))
	}
	after := heap()
	st := s.Stats()
	assert.Equal(t, n, st.SpoolRecords)
	assert.LessOrEqual(t, st.BufferedBytes, int64(256<<10)+8<<10, "memory holds at most MaxBufferedBytes (and one record)")
	grew := int64(after) - int64(before)
	t.Logf("heap grew by %d KiB while %d MiB waited on disk", grew>>10, n*len(body)>>20)
	assert.Less(t, grew, int64(12<<20), "the heap grew by %d bytes while %d MiB waited on disk", grew, n*len(body)>>20)

	down.Store(false)
	s.FlushAndStopStreaming()
	assert.Len(t, storedIDs(t, f), n)
	assert.Zero(t, s.Stats().Failed)
}

func TestSpoolFullBlocksPut(t *testing.T) {
	dir := t.TempDir()
	f, down := outage(3)
	s := newTestStream(t, f, func(c *Config[event]) {
		c.SpoolDir = dir
		c.SpoolMaxBytes = 1 << 20
		c.MaxRecordSize = 64 << 10
		c.MaxBatchSize = 10
		c.RetryCount = 1 << 20
	})
	body := string(make([]byte, 1000))
	put := 0
	var err error
	for put < 5000 {
		if err = s.TryPut(event{ID: put, Key: "k", Body: body}); err != nil {
			break
		}
		put++
	}
	require.ErrorIs(t, err, ErrBufferFull, "TryPut fails once the spool is full")
	assert.Greater(t, put, 100, "the spool held far more than memory")
	assert.LessOrEqual(t, s.Stats().SpoolBytes, int64(1<<20))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, s.PutContext(ctx, event{ID: put, Key: "k", Body: body}), context.DeadlineExceeded, "Put blocks while the spool is full")

	down.Store(false)
	require.NoError(t, s.PutContext(context.Background(), event{ID: put, Key: "k", Body: body}), "room again once records are delivered")
	s.FlushAndStopStreaming()
	assert.Len(t, storedIDs(t, f), put+1)
}

// deadProcess writes records into a spool directory as a process that died
// before it could send them would have left them.
func deadProcess(t *testing.T, dir string, recs ...struct{ key, data string }) {
	t.Helper()
	sp, err := spool.Open(spool.Options{Dir: dir})
	require.NoError(t, err)
	for _, r := range recs {
		_, _, err := sp.Append(r.key, "", []byte(r.data), false)
		require.NoError(t, err)
	}
	require.NoError(t, sp.Close()) // unsettled records stay
}

type rec = struct{ key, data string }

func eventJSON(e event) string {
	b, _ := json.Marshal(e)
	return string(b)
}

// TestSpoolReplay: a stream started on a directory an earlier process left
// records in sends them first, in their order, before the records put
// since, flagged MaybeDuplicate; a record that no longer decodes is still
// delivered.
func TestSpoolReplay(t *testing.T) {
	dir := t.TempDir()
	var left []rec
	for i := range 50 {
		e := event{ID: i, Key: fmt.Sprint("k", i%3)}
		left = append(left, rec{e.Key, eventJSON(e)})
	}
	left = append(left, rec{"k0", "not json"})
	deadProcess(t, dir, left...)

	f := newFake(4)
	h := &recHook{}
	s := newTestStream(t, f, func(c *Config[event]) {
		c.SpoolDir = dir
		c.OrderByKey = true
		c.Hooks = []Hook{h}
	})
	assert.Equal(t, len(left), s.Stats().Replayed)
	for i := 100; i < 110; i++ {
		require.NoError(t, s.Put(event{ID: i, Key: fmt.Sprint("k", i%3)}))
	}
	s.FlushAndStopStreaming()

	stored, _ := f.snapshot()
	require.Len(t, stored, len(left)+10)
	byKey := map[string][]string{}
	for _, r := range stored {
		byKey[r.Key] = append(byKey[r.Key], r.Data)
	}
	for key := range byKey {
		var want []string
		for _, r := range left {
			if r.key == key {
				want = append(want, r.data)
			}
		}
		got := byKey[key]
		assert.Equal(t, want, got[:len(want)], "key %s: replayed records first, in their order", key)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.Len(t, h.buffered, len(left)+10, "replayed records count as buffered too")
	dup := 0
	for _, e := range h.unbuffered {
		require.NoError(t, e.Err)
		if e.MaybeDuplicate {
			dup++
		}
	}
	assert.Equal(t, len(left), dup, "every replayed record, and only those, may be a duplicate")
	assert.Empty(t, segments(t, dir))
}

// TestSpoolReplayReportsWhatItCannotDecode: replayed records that fail are
// reported with their values, decoded, or with their encoding when they no
// longer decode.
func TestSpoolReplayReportsWhatItCannotDecode(t *testing.T) {
	dir := t.TempDir()
	deadProcess(t, dir, rec{"a", eventJSON(event{ID: 1, Key: "a"})}, rec{"b", "not json"})
	f := newFake(5)
	f.failCall = func(*rand.Rand, int) (error, bool) {
		return &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no", Fault: smithy.FaultClient}, false
	}
	s := newTestStream(t, f, func(c *Config[event]) { c.SpoolDir = dir })
	errs := drainErrors(s)
	s.FlushAndStopStreaming()
	var records []event
	var raw []RawRecord
	for _, pe := range errs() {
		records = append(records, pe.Records...)
		raw = append(raw, pe.Raw...)
		assert.True(t, pe.MaybeWritten, "a replayed record may have been written by the process that died")
	}
	assert.Equal(t, []event{{ID: 1, Key: "a"}}, records)
	require.Len(t, raw, 1)
	assert.Equal(t, "b", raw[0].PartitionKey)
	assert.Equal(t, []byte("not json"), raw[0].Data)
	assert.Error(t, raw[0].Err)
	assert.Empty(t, segments(t, dir), "reported records leave the spool")
}

// TestSpoolReportedRawKeepsItsBytes: the bytes of a RawRecord are the
// report's own, not those of the pooled record the next Put encodes into.
func TestSpoolReportedRawKeepsItsBytes(t *testing.T) {
	dir := t.TempDir()
	var left []rec
	for i := range 50 {
		left = append(left, rec{"b", fmt.Sprintf("not json %d %s", i, strings.Repeat("x", 200))}) // room for a Put to encode into
	}
	deadProcess(t, dir, left...)
	f := newFake(6)
	f.failCall = func(_ *rand.Rand, call int) (error, bool) {
		if call == 1 {
			return &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no", Fault: smithy.FaultClient}, false
		}
		return nil, false
	}
	s := newTestStream(t, f, func(c *Config[event]) { c.SpoolDir = dir })
	errs := drainErrors(s)
	require.NoError(t, s.Flush(context.Background())) // the replayed record fails, and its record goes back to the pool
	for i := range 2000 {
		require.NoError(t, s.Put(event{ID: i, Key: "k"}))
	}
	s.FlushAndStopStreaming()
	var raw []string
	for _, pe := range errs() {
		for _, r := range pe.Raw {
			raw = append(raw, string(r.Data))
		}
	}
	var want []string
	for _, r := range left {
		want = append(want, r.data)
	}
	assert.ElementsMatch(t, want, raw)
}

// TestSpoolRecordTTLCountsTheWaitOnDisk: a record's RecordTTL runs from
// Put, also while it waits on disk for room in memory.
func TestSpoolRecordTTLCountsTheWaitOnDisk(t *testing.T) {
	const ttl = 50 * time.Millisecond
	f := newFake(10)
	f.block = make(chan struct{})
	f.started = make(chan struct{}, 16)
	s := newTestStream(t, f, func(c *Config[event]) {
		c.SpoolDir = t.TempDir()
		c.MaxBatchSize = 1
		c.RecordTTL = ttl
		c.FlushInterval = time.Millisecond
	})
	errs := drainErrors(s)
	require.NoError(t, s.Put(event{ID: 0, Key: "a"}))
	<-f.started // in flight, held by the client
	for i := 1; i <= 3; i++ {
		require.NoError(t, s.Put(event{ID: i, Key: "a"})) // on disk: memory holds one
	}
	time.Sleep(2 * ttl) // not synchronisation: the records must grow older than their TTL
	close(f.block)
	s.FlushAndStopStreaming()
	var expired []event
	for _, pe := range errs() {
		assert.ErrorIs(t, pe, ErrRecordExpired)
		expired = append(expired, pe.Records...)
	}
	assert.ElementsMatch(t, []event{{ID: 1, Key: "a"}, {ID: 2, Key: "a"}, {ID: 3, Key: "a"}}, expired,
		"the records that waited on disk past their TTL expired")
}

// TestSpoolNotSyncedKeepsTheRecord: with SpoolSync negative, a Put whose
// sync fails returns ErrSpoolNotSynced, and its record is still delivered
// (PutSync waits for the outcome, a PutAsync callback runs).
func TestSpoolNotSyncedKeepsTheRecord(t *testing.T) {
	dir := t.TempDir()
	// The first segment's settled marks cannot be written: a directory is
	// in the way, so every sync fails.
	require.NoError(t, os.Mkdir(filepath.Join(dir, "00000000000000000000.ack"), 0o755))
	f := newFake(11)
	s := newTestStream(t, f, func(c *Config[event]) {
		c.SpoolDir = dir
		c.SpoolSync = -1
	})
	notSynced := 0
	for i := range 20 {
		err := s.Put(event{ID: i, Key: "k"})
		if err != nil {
			require.ErrorIs(t, err, ErrSpoolNotSynced)
			notSynced++
		}
		if i == 0 {
			require.NoError(t, s.Flush(context.Background())) // settled: its mark cannot be written
		}
	}
	require.Positive(t, notSynced, "the syncs failed")
	got := make(chan Result[event], 1)
	err := s.PutAsync(context.Background(), event{ID: 20, Key: "k"}, func(r Result[event]) { got <- r })
	if err != nil {
		require.ErrorIs(t, err, ErrSpoolNotSynced)
	}
	res := s.PutSync(context.Background(), event{ID: 21, Key: "k"})
	require.NoError(t, res[0].Err, "PutSync waits for the outcome of a record it could not sync")
	require.NoError(t, (<-got).Err, "the callback of a record it could not sync runs")
	s.FlushAndStopStreaming()
	assert.Len(t, storedIDs(t, f), 22, "every record was delivered")
}

// TestSpoolFreeAfterCloseGaveUp: a Close that gives up while a callback
// blocks leaves the spool closed and unlocked, so that the producer can
// start again on it.
func TestSpoolFreeAfterCloseGaveUp(t *testing.T) {
	dir := t.TempDir()
	s, err := NewKinesis(Config[event]{StreamName: "test", Client: newFake(12), Partitioner: byKey, SpoolDir: dir})
	require.NoError(t, err)
	release := make(chan struct{})
	called := make(chan struct{})
	require.NoError(t, s.PutAsync(context.Background(), event{ID: 1, Key: "a"}, func(Result[event]) {
		close(called)
		<-release
	}))
	s.nudge()
	<-called // the callback runs, and blocks
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = s.Close(ctx) // gives up on the blocked callback
	s2, err := NewKinesis(Config[event]{StreamName: "test", Client: newFake(13), Partitioner: byKey, SpoolDir: dir})
	require.NoError(t, err, "the spool was unlocked although a callback still runs")
	s2.FlushAndStopStreaming()
	close(release)
	<-s.Done()
}

func TestSpoolLocked(t *testing.T) {
	dir := t.TempDir()
	s := newTestStream(t, newFake(6), func(c *Config[event]) { c.SpoolDir = dir })
	_, err := NewKinesis(Config[event]{StreamName: "test", Client: newFake(7), SpoolDir: dir})
	assert.ErrorIs(t, err, ErrSpoolLocked)
	s.FlushAndStopStreaming()
	s2, err := NewKinesis(Config[event]{StreamName: "test", Client: newFake(8), SpoolDir: dir})
	require.NoError(t, err, "free once the first stream stopped")
	s2.FlushAndStopStreaming()
}

// TestSpoolSyncEachPut: with SpoolSync negative, concurrent Puts share
// fsyncs, and every record arrives.
func TestSpoolSyncEachPut(t *testing.T) {
	dir := t.TempDir()
	f := newFake(9)
	s := newTestStream(t, f, func(c *Config[event]) {
		c.SpoolDir = dir
		c.SpoolSync = -1
		c.MaxBatchSize = 2000
	})
	const workers, per = 8, 100
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				assert.NoError(t, s.Put(event{ID: w*per + i, Key: fmt.Sprint("w", w)}))
			}
		}()
	}
	wg.Wait()
	syncs := s.Stats().SpoolSyncs
	assert.Positive(t, syncs)
	assert.LessOrEqual(t, syncs, int64(workers*per), "at most one fsync per Put")
	s.FlushAndStopStreaming()
	assert.Len(t, storedIDs(t, f), workers*per)
}

func TestSpoolConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mod   func(*Config[event])
		field string
	}{
		{"SpoolMaxBytes below 1 MiB", func(c *Config[event]) { c.SpoolDir = t.TempDir(); c.SpoolMaxBytes = 1000 }, "SpoolMaxBytes"},
		{"SpoolMaxBytes above 2^50", func(c *Config[event]) { c.SpoolDir = t.TempDir(); c.SpoolMaxBytes = 1 << 51 }, "SpoolMaxBytes"},
		{"SpoolMaxBytes below twice MaxRecordSize", func(c *Config[event]) { c.SpoolDir = t.TempDir(); c.SpoolMaxBytes = 3 << 20; c.MaxRecordSize = 2 << 20 }, "SpoolMaxBytes"},
		{"SpoolSync above an hour", func(c *Config[event]) { c.SpoolDir = t.TempDir(); c.SpoolSync = 2 * time.Hour }, "SpoolSync"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config[event]{StreamName: "test", Client: newFake(1)}
			tc.mod(&cfg)
			_, err := NewKinesis(cfg)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "%v", err)
			assert.Equal(t, tc.field, ce.Field)
		})
	}
}

// TestSpoolLostIsReported: records a damaged spool file no longer yields
// are reported on Error() (an error matching ErrSpool), and counted in
// Failed as well as SpoolLost.
func TestSpoolLostIsReported(t *testing.T) {
	dir := t.TempDir()
	f := newFake(42)
	f.block = make(chan struct{})
	h := &recHook{}
	s := newTestStream(t, f, func(c *Config[event]) {
		c.SpoolDir = dir
		c.MaxBatchSize = 10
		c.Hooks = []Hook{h}
	})
	errs := collectErrors(s)
	for i := range 200 {
		require.NoError(t, s.Put(event{ID: i, Key: "k"}))
	}
	logs := segments(t, dir)
	require.NotEmpty(t, logs)
	// Damage the frames past the first few: something else wrote there.
	fh, err := os.OpenFile(logs[len(logs)-1], os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = fh.WriteAt(bytes.Repeat([]byte{0xff}, 4096), 2000)
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	close(f.block)
	s.FlushAndStopStreaming()
	var spoolErrs []error
	for _, err := range errs() {
		if errors.Is(err, ErrSpool) {
			spoolErrs = append(spoolErrs, err)
		}
	}
	st := s.Stats()
	require.Positive(t, st.SpoolLost, "the damaged frames could not be read back")
	require.NotEmpty(t, spoolErrs, "lost records are reported on Error()")
	assert.GreaterOrEqual(t, st.Failed, st.SpoolLost, "lost records count as failed")
	assert.Contains(t, spoolErrs[0].Error(), "could not be read back")
	// Every record Put admitted has its unbuffered event, the lost ones
	// included, so that a gauge of records pending comes back to 0.
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.Len(t, h.unbuffered, len(h.buffered))
	lost := 0
	for _, e := range h.unbuffered {
		if e.Reason == FailLost {
			lost++
			assert.ErrorIs(t, e.Err, ErrSpool)
			code, ok := e.ErrorCode()
			assert.True(t, ok)
			assert.Equal(t, "lost", code)
		}
	}
	assert.EqualValues(t, st.SpoolLost, lost)
}
