package inskinesis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/go-pkg/inskinesis/codec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type event struct {
	ID   int    `json:"id"`
	Key  string `json:"key"`
	Body string `json:"body,omitempty"`
}

func byKey(e event) string { return e.Key }

func newTestStream(t *testing.T, f *fakeKinesis, mod func(*Config[event])) *Stream[event] {
	t.Helper()
	cfg := Config[event]{StreamName: "test", Client: f, Partitioner: byKey, RetryInterval: time.Millisecond, MaxRetryInterval: 5 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewKinesis(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func decode(t *testing.T, r storedRecord) event {
	t.Helper()
	var e event
	require.NoError(t, json.Unmarshal([]byte(r.Data), &e))
	require.Equal(t, e.Key, r.Key)
	return e
}

// collectErrors collects every error the stream reports until it stops.
func collectErrors(s *Stream[event]) func() []error {
	var out []error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case err := <-s.Error():
				out = append(out, err)
			case <-s.Done():
				for {
					select {
					case err := <-s.Error():
						out = append(out, err)
					default:
						return
					}
				}
			}
		}
	}()
	return func() []error { <-done; return out }
}

// drainErrors collects every PutError the stream reports until it stops.
func drainErrors(s *Stream[event]) func() []*PutError[event] {
	all := collectErrors(s)
	return func() []*PutError[event] {
		var out []*PutError[event]
		for _, err := range all() {
			var pe *PutError[event]
			if errors.As(err, &pe) {
				out = append(out, pe)
			}
		}
		return out
	}
}

func TestEveryRecordArrivesOnceInOrder(t *testing.T) {
	f := newFake(1)
	s := newTestStream(t, f, func(c *Config[event]) { c.MaxStreamBatchSize = 37 })
	const n = 5000
	for i := 0; i < n; i++ {
		require.NoError(t, s.Put(event{ID: i, Key: fmt.Sprintf("k%d", i%13)}))
	}
	s.FlushAndStopStreaming()
	stored, calls := f.snapshot()
	require.Len(t, stored, n)
	for i, r := range stored {
		assert.Equal(t, i, decode(t, r).ID, "with MaxGroup 1 and no failures, records arrive in Put order")
	}
	for _, c := range calls {
		assert.LessOrEqual(t, len(c), 37)
	}
	assert.Empty(t, f.invalid)
	assert.Equal(t, len(calls), f.sdkOpts, "every call turns the SDK's own retries off")
	st := s.Stats()
	assert.Equal(t, int64(n), st.Delivered)
	assert.Equal(t, int64(len(calls)), st.Requests)
	assert.Zero(t, st.BufferedRecords)
}

func TestBatchesRespectBothLimits(t *testing.T) {
	f := newFake(2)
	const maxBytes = 4000
	s := newTestStream(t, f, func(c *Config[event]) {
		c.MaxStreamBatchSize = 50
		c.MaxStreamBatchByteSize = maxBytes
		c.MaxGroup = 4
	})
	rng := rand.New(rand.NewPCG(2, 2))
	const n = 3000
	for i := 0; i < n; i++ {
		require.NoError(t, s.Put(event{ID: i, Key: fmt.Sprintf("key-%d", rng.IntN(100)), Body: strings.Repeat("x", rng.IntN(600))}))
	}
	s.FlushAndStopStreaming()
	stored, calls := f.snapshot()
	require.Len(t, stored, n)
	seen := make(map[int]bool)
	for _, r := range stored {
		id := decode(t, r).ID
		assert.False(t, seen[id], "record %d stored twice", id)
		seen[id] = true
	}
	for _, c := range calls {
		size := 0
		for _, r := range c {
			size += len(r.Data) + len(r.Key)
		}
		assert.LessOrEqual(t, len(c), 50)
		assert.LessOrEqual(t, size, maxBytes, "data plus keys of one call stay within MaxStreamBatchByteSize")
	}
}

func TestARecordOverTheBatchByteLimitTravelsAlone(t *testing.T) {
	f := newFake(3)
	s := newTestStream(t, f, func(c *Config[event]) { c.MaxStreamBatchByteSize = 1000 })
	require.NoError(t, s.Put(event{ID: 1, Key: "a"}))
	require.NoError(t, s.Put(event{ID: 2, Key: "a", Body: strings.Repeat("y", 5000)}))
	require.NoError(t, s.Put(event{ID: 3, Key: "a"}))
	s.FlushAndStopStreaming()
	stored, calls := f.snapshot()
	require.Len(t, stored, 3)
	for _, c := range calls {
		if len(c) > 1 {
			for _, r := range c {
				assert.NotEqual(t, 2, decode(t, r).ID, "the large record is not batched with others")
			}
		}
	}
}

func TestPartialFailuresResendOnlyFailedEntries(t *testing.T) {
	f := newFake(4)
	failed := map[string]bool{}
	var failedMu sync.Mutex
	f.failRecord = func(rng *rand.Rand, e types.PutRecordsRequestEntry) string {
		failedMu.Lock()
		defer failedMu.Unlock()
		d := string(e.Data)
		if rng.IntN(4) == 0 && !failed[d] { // each record fails at most once
			failed[d] = true
			if rng.IntN(2) == 0 {
				return "ProvisionedThroughputExceededException"
			}
			return "InternalFailure"
		}
		return ""
	}
	s := newTestStream(t, f, nil)
	const n = 2000
	for i := 0; i < n; i++ {
		require.NoError(t, s.Put(event{ID: i, Key: "k"}))
	}
	s.FlushAndStopStreaming()
	stored, calls := f.snapshot()
	require.Len(t, stored, n, "every record is stored exactly once")
	sent := 0
	for _, c := range calls {
		sent += len(c)
	}
	assert.Equal(t, n+len(failed), sent, "only failed entries are sent again")
	st := s.Stats()
	assert.Equal(t, int64(len(failed)), st.Retried)
	assert.Positive(t, st.Throttled)
	assert.Zero(t, st.Failed)
}

func TestExhaustedRetriesReportExactlyTheLostRecords(t *testing.T) {
	f := newFake(5)
	f.failRecord = func(_ *rand.Rand, e types.PutRecordsRequestEntry) string {
		if strings.Contains(string(e.Data), `"key":"doomed"`) {
			return "InternalFailure"
		}
		return ""
	}
	s := newTestStream(t, f, func(c *Config[event]) { c.RetryCount = 2; c.MaxGroup = 3 })
	errs := drainErrors(s)
	var want []int
	for i := 0; i < 1000; i++ {
		key := "fine"
		if i%7 == 0 {
			key = "doomed"
			want = append(want, i)
		}
		require.NoError(t, s.Put(event{ID: i, Key: key}))
	}
	s.FlushAndStopStreaming()
	var lost []int
	for _, pe := range errs() {
		assert.Equal(t, "InternalFailure", pe.Code)
		assert.Equal(t, 3, pe.Attempts, "one try and two retries")
		assert.ErrorIs(t, pe, ErrRetriesExhausted)
		var apiErr smithy.APIError
		require.ErrorAs(t, pe, &apiErr)
		assert.Equal(t, "InternalFailure", apiErr.ErrorCode())
		for _, r := range pe.Records {
			lost = append(lost, r.ID)
		}
	}
	assert.ElementsMatch(t, want, lost)
	stored, _ := f.snapshot()
	assert.Len(t, stored, 1000-len(want))
	assert.Equal(t, int64(len(want)), s.Stats().Failed)
}

func TestNonRetryableErrorsFailFast(t *testing.T) {
	f := newFake(6)
	f.failCall = func(*rand.Rand, int) (error, bool) {
		return &types.ResourceNotFoundException{Message: ptr("Stream test under account 1 not found.")}, false
	}
	s := newTestStream(t, f, func(c *Config[event]) { c.RetryCount = 10 })
	errs := drainErrors(s)
	for i := 0; i < 10; i++ {
		require.NoError(t, s.Put(event{ID: i, Key: "k"}))
	}
	s.FlushAndStopStreaming()
	got := errs()
	require.Len(t, got, 1)
	assert.Equal(t, "ResourceNotFoundException", got[0].Code)
	assert.Equal(t, 1, got[0].Attempts, "a missing stream is not retried")
	assert.Len(t, got[0].Records, 10)
	var rnf *types.ResourceNotFoundException
	assert.ErrorAs(t, got[0], &rnf)
	_, calls := f.snapshot()
	assert.Len(t, calls, 1)
}

func ptr[V any](v V) *V { return &v }

func TestBadInputFailsItsOwnPut(t *testing.T) {
	f := newFake(7)
	s := newTestStream(t, f, func(c *Config[event]) {
		c.MaxRecordSize = 2000
		c.ExplicitHashKey = func(e event) string {
			if e.ID == 99 {
				return "340282366920938463463374607431768211456" // 2^128
			}
			return ""
		}
	})
	tests := []struct {
		name string
		ev   event
		want error
	}{
		{"an empty key", event{ID: 1, Key: ""}, ErrInvalidPartitionKey},
		{"a key of 257 code points", event{ID: 2, Key: strings.Repeat("é", 257)}, ErrInvalidPartitionKey},
		{"a key that is not UTF-8", event{ID: 3, Key: "\xff\xfe"}, ErrInvalidPartitionKey},
		{"data plus key over the record size", event{ID: 4, Key: "k", Body: strings.Repeat("z", 2000)}, ErrRecordTooLarge},
		{"a hash key of 2^128", event{ID: 99, Key: "k"}, ErrInvalidHashKey},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, s.Put(event{ID: 1000 + i, Key: "good"}))
			assert.ErrorIs(t, s.Put(tt.ev), tt.want)
		})
	}
	require.NoError(t, s.Put(event{ID: 5, Key: strings.Repeat("é", 256)}), "256 two-byte code points are a valid key")
	s.FlushAndStopStreaming()
	stored, _ := f.snapshot()
	assert.Len(t, stored, len(tests)+1, "the good records around the bad ones arrive")
	assert.ErrorIs(t, s.Put(event{Key: "k"}), ErrClosed)
}

type failingCodec struct{ codec.Codec[event] }

func (failingCodec) Encode(dst []byte, v event) ([]byte, error) {
	switch v.ID {
	case 1:
		return dst, errors.New("cannot encode 1")
	case 2:
		panic("boom")
	}
	return append(dst, fmt.Sprintf(`{"id":%d,"key":%q}`, v.ID, v.Key)...), nil
}

func TestCodecAndPartitionerFailuresAreErrors(t *testing.T) {
	f := newFake(8)
	s := newTestStream(t, f, func(c *Config[event]) {
		c.Codec = failingCodec{}
		c.Partitioner = func(e event) string {
			if e.ID == 3 {
				panic("no key")
			}
			return e.Key
		}
	})
	err := s.Put(event{ID: 1, Key: "k"})
	assert.ErrorIs(t, err, ErrEncode)
	assert.ErrorContains(t, err, "cannot encode 1")
	assert.ErrorIs(t, s.Put(event{ID: 2, Key: "k"}), ErrEncode, "a codec panic fails the record")
	assert.ErrorIs(t, s.Put(event{ID: 3, Key: "k"}), ErrInvalidPartitionKey, "a partitioner panic fails the record")
	require.NoError(t, s.Put(event{ID: 4, Key: "k"}))
	s.FlushAndStopStreaming()
	stored, _ := f.snapshot()
	require.Len(t, stored, 1)
}

func TestConfigErrors(t *testing.T) {
	f := newFake(9)
	tests := []struct {
		field string
		mod   func(*Config[event])
	}{
		{"StreamName", func(c *Config[event]) { c.StreamName = "" }},
		{"StreamName", func(c *Config[event]) { c.StreamName = "has space" }},
		{"Region", func(c *Config[event]) { c.Client = nil }},
		{"MaxStreamBatchSize", func(c *Config[event]) { c.MaxStreamBatchSize = 501 }},
		{"MaxStreamBatchSize", func(c *Config[event]) { c.MaxStreamBatchSize = -1 }},
		{"MaxStreamBatchByteSize", func(c *Config[event]) { c.MaxStreamBatchByteSize = 10<<20 + 1 }},
		{"MaxBatchSize", func(c *Config[event]) { c.MaxBatchSize = -5 }},
		{"MaxBufferedBytes", func(c *Config[event]) { c.MaxBufferedBytes = -1 }},
		{"MaxGroup", func(c *Config[event]) { c.MaxGroup = -1 }},
		{"RetryInterval", func(c *Config[event]) { c.RetryInterval = -time.Second }},
		{"FlushInterval", func(c *Config[event]) { c.FlushInterval = -time.Second }},
		{"RequestTimeout", func(c *Config[event]) { c.RequestTimeout = -time.Second }},
		{"RecordTTL", func(c *Config[event]) { c.RecordTTL = -time.Second }},
		{"MaxRecordSize", func(c *Config[event]) { c.MaxRecordSize = 11 << 20 }},
		{"ErrorBufferSize", func(c *Config[event]) { c.ErrorBufferSize = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			cfg := Config[event]{StreamName: "s", Client: f}
			tt.mod(&cfg)
			s, err := NewKinesis(cfg)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.field, ce.Field)
		})
	}
}

func TestDefaults(t *testing.T) {
	var c Config[event]
	c.StreamName, c.Region = "s", "eu-west-1"
	set, err := c.resolve()
	require.NoError(t, err)
	assert.Equal(t, 100, set.batchRecords)
	assert.Equal(t, 256<<10, set.batchBytes)
	assert.Equal(t, 500, set.bufferRecords)
	assert.Equal(t, 1, set.maxGroup)
	assert.Equal(t, 3, set.retryCount)
	assert.Equal(t, 100*time.Millisecond, set.retryInterval)
	assert.Equal(t, 100*time.Millisecond, set.flushInterval)
	assert.Equal(t, 1<<20, set.maxRecordSize)
	c.RetryCount = -1
	set, err = c.resolve()
	require.NoError(t, err)
	assert.Zero(t, set.retryCount, "a negative RetryCount turns retries off")
}

func TestConcurrentPuts(t *testing.T) {
	f := newFake(10)
	s := newTestStream(t, f, func(c *Config[event]) { c.MaxGroup = 4; c.MaxBatchSize = 64 })
	const workers, each = 16, 500
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				assert.NoError(t, s.Put(event{ID: w*each + i, Key: fmt.Sprintf("w%d", w)}))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, s.Flush(context.Background()))
	stored, _ := f.snapshot()
	require.Len(t, stored, workers*each)
	seen := make(map[int]bool)
	for _, r := range stored {
		seen[decode(t, r).ID] = true
	}
	assert.Len(t, seen, workers*each)
}

func TestFlushWaitsForEarlierRecordsOnly(t *testing.T) {
	f := newFake(11)
	s := newTestStream(t, f, func(c *Config[event]) { c.FlushInterval = time.Hour })
	for i := 0; i < 10; i++ {
		require.NoError(t, s.Put(event{ID: i, Key: "k"}))
	}
	require.NoError(t, s.Flush(context.Background()), "Flush sends partial batches without waiting for the linger")
	stored, _ := f.snapshot()
	assert.Len(t, stored, 10)
	require.NoError(t, s.Flush(context.Background()), "a Flush with nothing buffered returns")

	ctx, cancel := context.WithCancel(context.Background())
	f.block = make(chan struct{})
	require.NoError(t, s.Put(event{ID: 10, Key: "k"}))
	cancel()
	assert.ErrorIs(t, s.Flush(ctx), context.Canceled)
	close(f.block)
	require.NoError(t, s.Flush(context.Background()))
}

func TestCallbacksGetEveryOutcome(t *testing.T) {
	f := newFake(12)
	f.failRecord = func(_ *rand.Rand, e types.PutRecordsRequestEntry) string {
		if strings.Contains(string(e.Data), `"key":"bad"`) {
			return "InternalFailure"
		}
		return ""
	}
	s := newTestStream(t, f, func(c *Config[event]) { c.RetryCount = 1 })
	var mu sync.Mutex
	got := map[int]Result[event]{}
	for i := 0; i < 200; i++ {
		key := "good"
		if i%10 == 0 {
			key = "bad"
		}
		require.NoError(t, s.PutAsync(context.Background(), event{ID: i, Key: key}, func(r Result[event]) {
			mu.Lock()
			defer mu.Unlock()
			_, dup := got[r.Record.ID]
			assert.False(t, dup, "one callback per record")
			got[r.Record.ID] = r
		}))
	}
	require.NoError(t, s.Flush(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 200, "Flush returns after the callbacks ran")
	for id, r := range got {
		if id%10 == 0 {
			assert.Equal(t, 2, r.Attempts)
			var pe *PutError[event]
			require.ErrorAs(t, r.Err, &pe)
			assert.Equal(t, "InternalFailure", pe.Code)
			assert.Empty(t, r.SequenceNumber)
		} else {
			assert.NoError(t, r.Err)
			assert.Equal(t, 1, r.Attempts)
			assert.NotEmpty(t, r.SequenceNumber)
			assert.Equal(t, "shardId-000000000000", r.ShardID)
		}
	}
}

func TestCallbackThatPutsDoesNotDeadlock(t *testing.T) {
	f := newFake(13)
	s := newTestStream(t, f, func(c *Config[event]) { c.MaxBatchSize = 4; c.MaxStreamBatchSize = 2 })
	var chained atomic.Int64
	var cb func(Result[event])
	cb = func(r Result[event]) {
		if r.Record.ID < 400 {
			// The buffer is tiny, so this Put often waits for space.
			if err := s.PutAsync(context.Background(), event{ID: r.Record.ID + 4, Key: "k"}, cb); err == nil {
				chained.Add(1)
			}
		}
	}
	for i := 0; i < 4; i++ {
		require.NoError(t, s.PutAsync(context.Background(), event{ID: i, Key: "k"}, cb))
	}
	// Each callback puts the next record before it returns, so the chain is
	// complete once a flush that starts after the last Put returns.
	for chained.Load() < 400 {
		require.NoError(t, s.Flush(context.Background()))
	}
	s.FlushAndStopStreaming()
	stored, _ := f.snapshot()
	assert.Len(t, stored, 404)
}

func TestPutSync(t *testing.T) {
	f := newFake(14)
	s := newTestStream(t, f, nil)
	res := s.PutSync(context.Background(), event{ID: 1, Key: "a"}, event{ID: 2, Key: ""}, event{ID: 3, Key: "c"})
	require.Len(t, res, 3)
	assert.NoError(t, res[0].Err)
	assert.Equal(t, 1, res[0].Record.ID)
	assert.ErrorIs(t, res[1].Err, ErrInvalidPartitionKey)
	assert.NoError(t, res[2].Err)
	assert.NotEqual(t, res[0].SequenceNumber, res[2].SequenceNumber)
}

func TestBackpressure(t *testing.T) {
	f := newFake(15)
	f.block = make(chan struct{})
	f.started = make(chan struct{}, 100)
	s := newTestStream(t, f, func(c *Config[event]) { c.MaxBatchSize = 3; c.MaxStreamBatchSize = 3 })
	for i := 0; i < 3; i++ {
		require.NoError(t, s.TryPut(event{ID: i, Key: "k"}))
	}
	<-f.started // the full buffer went out at once, and the call hangs
	assert.ErrorIs(t, s.TryPut(event{ID: 3, Key: "k"}), ErrBufferFull)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, s.PutContext(ctx, event{ID: 3, Key: "k"}), context.DeadlineExceeded)
	st := s.Stats()
	assert.Equal(t, 3, st.BufferedRecords)
	assert.Equal(t, int64(3), st.InFlightRecords)

	putDone := make(chan error)
	go func() { putDone <- s.Put(event{ID: 4, Key: "k"}) }()
	close(f.block) // space frees up once the call returns
	require.NoError(t, <-putDone)
	s.FlushAndStopStreaming()
	stored, _ := f.snapshot()
	assert.Len(t, stored, 4)
}

func TestByteBackpressure(t *testing.T) {
	f := newFake(16)
	f.block = make(chan struct{})
	f.started = make(chan struct{}, 100)
	s := newTestStream(t, f, func(c *Config[event]) { c.MaxBufferedBytes = 1000 })
	big := strings.Repeat("b", 900)
	require.NoError(t, s.TryPut(event{ID: 1, Key: "k", Body: big}))
	assert.ErrorIs(t, s.TryPut(event{ID: 2, Key: "k", Body: big}), ErrBufferFull)
	require.NoError(t, s.TryPut(event{ID: 3, Key: "k"}), "a small record still fits")
	close(f.block)
	require.NoError(t, s.Flush(context.Background()))
	require.NoError(t, s.TryPut(event{ID: 4, Key: "k", Body: strings.Repeat("c", 5000)}), "a record over the bound joins an empty stream")
	s.FlushAndStopStreaming()
	stored, _ := f.snapshot()
	assert.Len(t, stored, 3)
}

func TestUnreadErrorChannelNeverBlocks(t *testing.T) {
	f := newFake(17)
	f.failCall = func(*rand.Rand, int) (error, bool) {
		return &types.ResourceNotFoundException{Message: ptr("gone")}, false
	}
	s := newTestStream(t, f, func(c *Config[event]) { c.ErrorBufferSize = 2; c.MaxStreamBatchSize = 1 })
	for i := 0; i < 50; i++ {
		require.NoError(t, s.Put(event{ID: i, Key: "k"}))
	}
	s.FlushAndStopStreaming() // returns although nobody reads Error
	st := s.Stats()
	assert.Equal(t, int64(50), st.Failed)
	assert.Equal(t, int64(48), st.ErrorsDropped, "50 one-record failures, 2 of them fit the channel")
	assert.Len(t, s.Error(), 2)
}

func TestCloseWithDeadlineReportsUndelivered(t *testing.T) {
	f := newFake(18)
	f.block = make(chan struct{}) // never released: every call hangs until cancelled
	f.started = make(chan struct{}, 100)
	s := newTestStream(t, f, func(c *Config[event]) { c.MaxStreamBatchSize = 10; c.MaxGroup = 2; c.MaxBatchSize = 100 })
	var cbMu sync.Mutex
	var cbFailed []int
	for i := 0; i < 50; i++ {
		require.NoError(t, s.PutAsync(context.Background(), event{ID: i, Key: "k"}, func(r Result[event]) {
			cbMu.Lock()
			defer cbMu.Unlock()
			if errors.Is(r.Err, ErrAborted) {
				cbFailed = append(cbFailed, r.Record.ID)
			}
		}))
	}
	<-f.started
	<-f.started // two calls hang; 30 records wait behind them
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Close(ctx)
	var pe *PutError[event]
	require.ErrorAs(t, err, &pe)
	assert.ErrorIs(t, err, ErrAborted)
	assert.ErrorIs(t, err, context.Canceled)
	ids := make([]int, 0, len(pe.Records))
	for _, r := range pe.Records {
		ids = append(ids, r.ID)
	}
	want := make([]int, 50)
	for i := range want {
		want[i] = i
	}
	assert.ElementsMatch(t, want, ids, "every record not delivered is returned, once")
	<-s.Done()
	cbMu.Lock()
	ran := append([]int(nil), cbFailed...)
	cbMu.Unlock()
	assert.Subset(t, want, ran, "a callback that ran got ErrAborted")
	assert.Len(t, ran, len(slices.Compact(slices.Sorted(slices.Values(ran)))), "no callback ran twice")
	assert.Equal(t, int64(50), s.Stats().Failed)
	assert.Equal(t, err, s.Close(context.Background()), "Close is idempotent: a second call returns the same outcome")
	assert.True(t, pe.MaybeWritten, "records of the cancelled calls may have been written")
	assert.Equal(t, 1, pe.Attempts)
	assert.ErrorIs(t, s.Put(event{Key: "k"}), ErrClosed)
}

func TestPutRacingShutdown(t *testing.T) {
	for round := 0; round < 20; round++ {
		f := newFake(uint64(round))
		s := newTestStream(t, f, func(c *Config[event]) { c.MaxBatchSize = 8 })
		var accepted atomic.Int64
		var wg sync.WaitGroup
		var once sync.Once
		enough := make(chan struct{})
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					err := s.Put(event{ID: i, Key: "k"})
					if errors.Is(err, ErrClosed) {
						return
					}
					if assert.NoError(t, err) && accepted.Add(1) == 100 {
						once.Do(func() { close(enough) })
					}
				}
			}()
		}
		<-enough
		s.FlushAndStopStreaming()
		wg.Wait()
		stored, _ := f.snapshot()
		assert.Equal(t, int(accepted.Load()), len(stored), "every accepted record is delivered at shutdown")
	}
}

func TestOrderByKeyUnderFailures(t *testing.T) {
	f := newFake(19)
	f.failRecord = func(rng *rand.Rand, _ types.PutRecordsRequestEntry) string {
		if rng.IntN(5) == 0 {
			return "InternalFailure"
		}
		return ""
	}
	f.failCall = func(rng *rand.Rand, _ int) (error, bool) {
		if rng.IntN(20) == 0 {
			return &smithy.GenericAPIError{Code: "InternalFailure", Fault: smithy.FaultServer}, false
		}
		return nil, false
	}
	s := newTestStream(t, f, func(c *Config[event]) {
		c.OrderByKey = true
		c.MaxGroup = 4
		c.RetryCount = 100
		c.MaxStreamBatchSize = 20
	})
	const keys, each = 30, 40
	for i := 0; i < each; i++ {
		for k := 0; k < keys; k++ {
			require.NoError(t, s.Put(event{ID: i, Key: fmt.Sprintf("key-%d", k)}))
		}
	}
	s.FlushAndStopStreaming()
	stored, calls := f.snapshot()
	require.Len(t, stored, keys*each)
	last := map[string]int{}
	for _, r := range stored {
		e := decode(t, r)
		prev, ok := last[e.Key]
		if ok {
			assert.Equal(t, prev+1, e.ID, "records of key %s are stored in Put order", e.Key)
		} else {
			assert.Equal(t, 0, e.ID)
		}
		last[e.Key] = e.ID
	}
	for _, c := range calls {
		inCall := map[string]bool{}
		for _, r := range c {
			assert.False(t, inCall[r.Key], "a key appears at most once per call")
			inCall[r.Key] = true
		}
	}
	assert.Positive(t, s.Stats().Retried)
}

func TestRecordTTL(t *testing.T) {
	f := newFake(20)
	f.failRecord = func(*rand.Rand, types.PutRecordsRequestEntry) string { return "ProvisionedThroughputExceededException" }
	s := newTestStream(t, f, func(c *Config[event]) {
		c.RetryCount = 1 << 30
		c.RecordTTL = 30 * time.Millisecond
		c.RetryInterval = 5 * time.Millisecond
	})
	errs := drainErrors(s)
	require.NoError(t, s.Put(event{ID: 1, Key: "k"}))
	s.FlushAndStopStreaming()
	got := errs()
	require.Len(t, got, 1)
	assert.ErrorIs(t, got[0], ErrRecordExpired)
	assert.Equal(t, []event{{ID: 1, Key: "k"}}, got[0].Records)
	assert.GreaterOrEqual(t, got[0].Attempts, 1)
}

func TestMalformedResponseIsRetried(t *testing.T) {
	f := &shortAnswer{fakeKinesis: newFake(21)}
	s, err := NewKinesis(Config[event]{StreamName: "s", Client: f, Partitioner: byKey, RetryInterval: time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, s.Put(event{ID: 1, Key: "k"}))
	s.FlushAndStopStreaming()
	stored, _ := f.snapshot()
	assert.Len(t, stored, 2, "the unanswered record is resent, and may duplicate")
	assert.Equal(t, int64(1), s.Stats().Delivered)
}

// shortAnswer answers its first call with no entries.
type shortAnswer struct {
	*fakeKinesis
	n atomic.Int64
}

func (f *shortAnswer) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, o ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	out, err := f.fakeKinesis.PutRecords(ctx, in, o...)
	if f.n.Add(1) == 1 && out != nil {
		out.Records = nil
	}
	return out, err
}

// TestMalformedEntriesAreUnknownOutcomes: an entry answered with neither a
// sequence number nor an error code, or with both, is not taken as
// delivered (or as a plain failure): the record is sent again and flagged
// as maybe written twice.
func TestMalformedEntriesAreUnknownOutcomes(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(e *types.PutRecordsResultEntry)
	}{
		{"neither", func(e *types.PutRecordsResultEntry) { e.SequenceNumber, e.ShardId, e.ErrorCode = nil, nil, nil }},
		{"both", func(e *types.PutRecordsResultEntry) { e.ErrorCode, e.ErrorMessage = ptr("InternalFailure"), ptr("x") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &spoiledAnswer{fakeKinesis: newFake(22), spoil: tt.spoil}
			s, err := NewKinesis(Config[event]{StreamName: "test", Client: f, Partitioner: byKey, RetryInterval: time.Millisecond})
			require.NoError(t, err)
			defer s.FlushAndStopStreaming()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			results := s.PutSync(ctx, event{ID: 1, Key: "a"}, event{ID: 2, Key: "b"})
			require.NoError(t, results[0].Err)
			assert.True(t, results[0].MaybeDuplicate, "the spoiled entry's outcome was unknown")
			assert.Equal(t, 2, results[0].Attempts)
			assert.NotEmpty(t, results[0].SequenceNumber)
			require.NoError(t, results[1].Err)
			assert.False(t, results[1].MaybeDuplicate)
			assert.Equal(t, 1, results[1].Attempts)
			stored, _ := f.snapshot()
			assert.Len(t, stored, 3, "the spoiled entry was sent again")
		})
	}
}

// spoiledAnswer spoils the first entry of its first answer.
type spoiledAnswer struct {
	*fakeKinesis
	spoil func(*types.PutRecordsResultEntry)
	n     atomic.Int64
}

func (f *spoiledAnswer) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, o ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	out, err := f.fakeKinesis.PutRecords(ctx, in, o...)
	if f.n.Add(1) == 1 && out != nil && len(out.Records) > 0 {
		f.spoil(&out.Records[0])
	}
	return out, err
}

// TestPutWaitingForBytesDoesNotWaitForTheLinger: a record that does not fit
// in the bytes left, although the stream is not full by its count, makes
// the loop send what it holds at once instead of after FlushInterval.
func TestPutWaitingForBytesDoesNotWaitForTheLinger(t *testing.T) {
	f := newFake(21)
	s := newTestStream(t, f, func(c *Config[event]) {
		c.MaxBufferedBytes = 1000
		c.FlushInterval = time.Hour
	})
	body := strings.Repeat("x", 700)
	require.NoError(t, s.Put(event{ID: 1, Key: "a", Body: body})) // most of the bytes, waits for its batch
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.PutContext(ctx, event{ID: 2, Key: "a", Body: body}), "the second record waited for the linger")
	s.FlushAndStopStreaming()
	stored, _ := f.snapshot()
	assert.Len(t, stored, 2)
}
