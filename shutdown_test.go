package inskinesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis/codec"
	codecjson "github.com/go-pkg/inskinesis/codec/json"
)

func jsonCodec() codec.Codec[event] { return codecjson.Codec[event]{} }

// within fails the test unless fn returns within d. d is a bound on a
// failure (a hang), never a wait for success: fn is expected to return much
// sooner.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

func ids(rs []event) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func TestPutSyncFromCallback(t *testing.T) {
	f := newFake(30)
	s := newTestStream(t, f, nil)
	got := make(chan []Result[event], 1)
	require.NoError(t, s.PutAsync(context.Background(), event{ID: 1, Key: "a"}, func(Result[event]) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		got <- s.PutSync(ctx, event{ID: 2, Key: "b"}, event{ID: 3, Key: "c"})
	}))
	var res []Result[event]
	within(t, 10*time.Second, "PutSync in a callback", func() { res = <-got })
	require.Len(t, res, 2)
	for _, r := range res {
		assert.NoError(t, r.Err)
		assert.NotEmpty(t, r.SequenceNumber)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	within(t, 10*time.Second, "Close after PutSync in a callback", func() { assert.NoError(t, s.Close(ctx)) })
	stored, _ := f.snapshot()
	assert.Len(t, stored, 3)
}

func TestBlockingMethodsInCallback(t *testing.T) {
	for _, tc := range []struct {
		name  string
		call  func(s *Stream[event]) error
		stops bool // the call starts the shutdown
	}{
		{"Flush", func(s *Stream[event]) error { return s.Flush(context.Background()) }, false},
		{"Close", func(s *Stream[event]) error { return s.Close(context.Background()) }, true},
		{"FlushAndStopStreaming", func(s *Stream[event]) error { s.FlushAndStopStreaming(); return nil }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(31)
			s := newTestStream(t, f, nil)
			errc := make(chan error, 1)
			require.NoError(t, s.PutAsync(context.Background(), event{ID: 1, Key: "a"}, func(Result[event]) {
				errc <- tc.call(s)
			}))
			require.NoError(t, s.Put(event{ID: 2, Key: "b"}))
			var err error
			within(t, 10*time.Second, tc.name+" in a callback", func() { err = <-errc })
			switch tc.name {
			case "FlushAndStopStreaming":
				assert.NoError(t, err)
			default:
				assert.ErrorIs(t, err, ErrInCallback)
			}
			if tc.stops {
				within(t, 10*time.Second, "the shutdown it started", func() { <-s.Done() })
				assert.ErrorIs(t, s.Put(event{ID: 3, Key: "c"}), ErrClosed)
				stored, _ := f.snapshot()
				assert.Len(t, stored, 2, "the shutdown delivered what was put")
			} else {
				assert.NoError(t, s.Flush(context.Background()), "Flush works outside callbacks")
			}
		})
	}
}

func TestCloseIsBoundedBySlowCallbacks(t *testing.T) {
	f := newFake(32)
	s := newTestStream(t, f, func(c *Config[event]) { c.MaxStreamBatchSize = 3 })
	release := make(chan struct{})
	started := make(chan int, 3)
	var calls [3]atomic.Int32
	for i := range 3 {
		require.NoError(t, s.PutAsync(context.Background(), event{ID: i, Key: "k"}, func(r Result[event]) {
			calls[r.Record.ID].Add(1)
			started <- r.Record.ID
			<-release
		}))
	}
	require.Equal(t, 0, <-started, "the first callback runs and blocks")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var err error
	within(t, 10*time.Second, "Close with a 100ms deadline", func() { err = s.Close(ctx) })
	var pe *PutError[event]
	require.ErrorAs(t, err, &pe)
	assert.ErrorIs(t, err, ErrAborted)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ElementsMatch(t, []int{1, 2}, ids(pe.Records), "the callbacks not started are given up")
	assert.True(t, pe.MaybeWritten, "those records were delivered")

	close(release)
	<-s.Done()
	assert.Equal(t, err, s.Close(context.Background()), "a later Close returns the same outcome")
	assert.Equal(t, int32(1), calls[0].Load())
	assert.Equal(t, int32(0), calls[1].Load(), "a callback given up on never runs")
	assert.Equal(t, int32(0), calls[2].Load())
	assert.Empty(t, started)
}

// ignoringClient is a PutRecords client whose calls ignore their context
// until released: a stuck connection without a deadline.
type ignoringClient struct {
	started  chan struct{}
	release  chan struct{}
	returned chan struct{}
	bytes    atomic.Int64
}

func (c *ignoringClient) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	defer func() { c.returned <- struct{}{} }()
	c.started <- struct{}{}
	<-c.release
	out := &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, len(in.Records))}
	for i, e := range in.Records {
		c.bytes.Add(int64(len(e.Data) + len(*e.PartitionKey))) // reads the records after Close returned
		out.Records[i] = types.PutRecordsResultEntry{ShardId: new(string), SequenceNumber: new(string)}
	}
	return out, nil
}

func (c *ignoringClient) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return &kinesis.ListShardsOutput{Shards: []types.Shard{{
		ShardId:             aws.String("shardId-000000000000"),
		HashKeyRange:        &types.HashKeyRange{StartingHashKey: aws.String("0"), EndingHashKey: aws.String("340282366920938463463374607431768211455")},
		SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")},
	}}}, nil
}

func TestCloseIsBoundedByAClientIgnoringItsContext(t *testing.T) {
	for _, agg := range []bool{false, true} {
		t.Run(fmt.Sprintf("aggregate=%v", agg), func(t *testing.T) { testCloseWithClientIgnoringContext(t, agg) })
	}
}

func testCloseWithClientIgnoringContext(t *testing.T, agg bool) {
	c := &ignoringClient{started: make(chan struct{}, 1), release: make(chan struct{}), returned: make(chan struct{}, 1)}
	s, err := NewKinesis(Config[event]{StreamName: "test", Client: c, Partitioner: byKey, AggregateRecords: agg})
	require.NoError(t, err)
	errs := drainErrors(s)
	var calls sync.Map
	var dup atomic.Int32
	for i := range 3 {
		require.NoError(t, s.PutAsync(context.Background(), event{ID: i, Key: "k"}, func(r Result[event]) {
			if _, loaded := calls.LoadOrStore(r.Record.ID, r); loaded {
				dup.Add(1)
			}
		}))
	}
	s.nudge()
	<-c.started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	within(t, 10*time.Second, "Close with a 100ms deadline", func() { err = s.Close(ctx) })
	var pe *PutError[event]
	require.ErrorAs(t, err, &pe)
	assert.ErrorIs(t, err, ErrAborted)
	assert.ElementsMatch(t, []int{0, 1, 2}, ids(pe.Records))
	assert.True(t, pe.MaybeWritten, "the call may have written them")
	<-s.Done()

	close(c.release) // the abandoned call comes back, successful
	<-c.returned
	assert.Positive(t, c.bytes.Load())
	st := s.Stats()
	assert.Equal(t, int64(0), st.Delivered, "a late outcome is dropped")
	assert.Equal(t, int64(3), st.Failed)
	assert.Equal(t, int64(0), st.InFlightRequests)
	reported := errs()
	require.Len(t, reported, 1)
	assert.ElementsMatch(t, []int{0, 1, 2}, ids(reported[0].Records))
	assert.Zero(t, dup.Load(), "no callback ran twice")
	calls.Range(func(_, v any) bool {
		assert.ErrorIs(t, v.(Result[event]).Err, ErrAborted, "a callback that ran got the abort")
		return true
	})
}

func TestCancelledFlushesLeaveNothingBehind(t *testing.T) {
	f := newFake(33)
	f.block = make(chan struct{})
	f.started = make(chan struct{}, 10)
	s := newTestStream(t, f, func(c *Config[event]) { c.MaxBatchSize = 2000 })
	require.NoError(t, s.Put(event{ID: 0, Key: "k"}))
	s.nudge()
	<-f.started // the record is stuck in a call
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for range 100_000 {
		require.ErrorIs(t, s.Flush(cancelled), context.Canceled)
	}
	s.ledger.mu.Lock()
	assert.Zero(t, len(s.ledger.flushers), "Flushes given up on leave no waiter behind")
	assert.Len(t, s.ledger.pending, 1, "nor an epoch")
	s.ledger.mu.Unlock()

	// Records put between the Flushes: each given-up Flush is dropped.
	for i := range 1000 {
		require.NoError(t, s.Put(event{ID: i + 1, Key: "k"}))
		require.ErrorIs(t, s.Flush(cancelled), context.Canceled)
	}
	s.ledger.mu.Lock()
	assert.Zero(t, len(s.ledger.flushers))
	s.ledger.mu.Unlock()

	// Waiting Flushes share a waiter, and those given up on are dropped.
	short, cancelShort := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	res := make(chan error, 101)
	for i := range 101 {
		ctx := short
		if i == 100 {
			ctx = context.Background()
		}
		wg.Add(1)
		go func() { defer wg.Done(); res <- s.Flush(ctx) }()
	}
	cancelShort()
	for range 100 {
		require.ErrorIs(t, <-res, context.Canceled)
	}
	s.ledger.mu.Lock()
	assert.LessOrEqual(t, len(s.ledger.flushers), 1, "the one Flush still waiting")
	s.ledger.mu.Unlock()
	close(f.block)
	require.NoError(t, <-res)
	wg.Wait()
	require.NoError(t, s.Flush(context.Background()))
	stored, _ := f.snapshot()
	assert.Len(t, stored, 1001)
}

// countingCodec counts the records it encodes.
type countingCodec struct {
	codec.Codec[event]
	n atomic.Int64
}

func (c *countingCodec) Encode(dst []byte, v event) ([]byte, error) {
	c.n.Add(1)
	return c.Codec.Encode(dst, v)
}

func TestRefusalsDoNotEncode(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config[event])
	}{
		{"records", func(c *Config[event]) { c.MaxBatchSize = 1 }},
		{"bytes", func(c *Config[event]) { c.MaxBufferedBytes = 100 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(34)
			f.block = make(chan struct{})
			cc := &countingCodec{Codec: jsonCodec()}
			s := newTestStream(t, f, func(c *Config[event]) { c.Codec = cc; tc.mod(c) })
			big := event{ID: 1, Key: "k", Body: string(make([]byte, 200))}
			require.NoError(t, s.Put(big))
			require.Equal(t, int64(1), cc.n.Load())
			allocs := testing.AllocsPerRun(100, func() {
				if err := s.TryPut(big); !errors.Is(err, ErrBufferFull) {
					t.Errorf("TryPut: %v, want ErrBufferFull", err)
				}
			})
			assert.Equal(t, int64(1), cc.n.Load(), "TryPut refused without encoding")
			assert.Zero(t, allocs)
			close(f.block)
		})
	}
}

func TestPutChecksContextAndShutdownFirst(t *testing.T) {
	f := newFake(35)
	cc := &countingCodec{Codec: jsonCodec()}
	var keys atomic.Int64
	s := newTestStream(t, f, func(c *Config[event]) {
		c.Codec = cc
		c.Partitioner = func(e event) string { keys.Add(1); return e.Key }
	})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, s.PutContext(cancelled, event{ID: 1, Key: "k"}), context.Canceled)
	assert.ErrorIs(t, s.PutAsync(cancelled, event{ID: 2, Key: "k"}, func(Result[event]) { t.Error("callback of a refused record") }), context.Canceled)
	assert.Zero(t, cc.n.Load(), "a cancelled context is checked before encoding")
	assert.Zero(t, s.Stats().BufferedRecords)

	s.FlushAndStopStreaming()
	assert.ErrorIs(t, s.Put(event{ID: 3, Key: ""}), ErrClosed, "ErrClosed, not the invalid key")
	assert.ErrorIs(t, s.TryPut(event{ID: 4, Key: "k"}), ErrClosed)
	assert.Zero(t, cc.n.Load(), "a closed stream does not encode")
	assert.Zero(t, keys.Load(), "nor partition")
	stored, _ := f.snapshot()
	assert.Empty(t, stored)
}

func TestRecordErrorsSpeakOfTheirRecordAlone(t *testing.T) {
	f := newFake(36)
	f.failRecord = func(_ *rand.Rand, e types.PutRecordsRequestEntry) string {
		return "InternalFailure" // a throttle would not use up the retries
	}
	s := newTestStream(t, f, func(c *Config[event]) { c.RetryCount = -1 })
	errs := drainErrors(s)
	in := []event{{ID: 1, Key: "a"}, {ID: 2, Key: "b"}, {ID: 3, Key: "c"}, {ID: 4, Key: "d"}}
	res := s.PutSync(context.Background(), in...)
	for i, r := range res {
		var pe *PutError[event]
		require.ErrorAs(t, r.Err, &pe)
		assert.Equal(t, []event{in[i]}, pe.Records, "Result.Err holds its own record alone")
		assert.Equal(t, 1, pe.Attempts)
		assert.Equal(t, "InternalFailure", pe.Code)
		assert.ErrorIs(t, r.Err, ErrRetriesExhausted)
	}
	got := make(chan Result[event], 1)
	require.NoError(t, s.PutAsync(context.Background(), event{ID: 5, Key: "e"}, func(r Result[event]) { got <- r }))
	require.NoError(t, s.Put(event{ID: 6, Key: "f"}))
	require.NoError(t, s.Flush(context.Background()))
	r := <-got
	var pe *PutError[event]
	require.ErrorAs(t, r.Err, &pe)
	assert.Equal(t, []event{{ID: 5, Key: "e"}}, pe.Records, "a callback's error holds its own record alone")

	s.FlushAndStopStreaming()
	total := 0
	for _, pe := range errs() {
		total += len(pe.Records)
	}
	assert.Equal(t, 6, total, "Error reports each failed record once")

	res = s.PutSync(context.Background(), event{ID: 7, Key: "g"})
	require.ErrorAs(t, res[0].Err, &pe, "a record PutSync could not put is a PutError too")
	assert.ErrorIs(t, res[0].Err, ErrClosed)
	assert.Equal(t, "Rejected", pe.Code)
	assert.Equal(t, 0, pe.Attempts)
	assert.Equal(t, []event{{ID: 7, Key: "g"}}, pe.Records)
}
