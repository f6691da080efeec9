package inskinesis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recHook records every event of every hook kind.
type recHook struct {
	mu          sync.Mutex
	buffered    []RecordBuffered
	unbuffered  []RecordUnbuffered
	requests    []RequestDone
	throttles   []Throttle
	retries     []Retry
	shardMaps   []ShardMap
	aggregation []Aggregation
}

var (
	_ HookRecordBuffered   = (*recHook)(nil)
	_ HookRecordUnbuffered = (*recHook)(nil)
	_ HookRequestDone      = (*recHook)(nil)
	_ HookThrottle         = (*recHook)(nil)
	_ HookRetry            = (*recHook)(nil)
	_ HookShardMap         = (*recHook)(nil)
	_ HookAggregation      = (*recHook)(nil)
)

func (h *recHook) OnRecordBuffered(e RecordBuffered) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buffered = append(h.buffered, e)
}

func (h *recHook) OnRecordUnbuffered(e RecordUnbuffered) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unbuffered = append(h.unbuffered, e)
}

func (h *recHook) OnRequestDone(e RequestDone) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e.Failures = append([]CodeCount(nil), e.Failures...) // reused after the call
	h.requests = append(h.requests, e)
}

func (h *recHook) OnThrottle(e Throttle) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.throttles = append(h.throttles, e)
}

func (h *recHook) OnRetry(e Retry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.retries = append(h.retries, e)
}

func (h *recHook) OnShardMap(e ShardMap) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.shardMaps = append(h.shardMaps, e)
}

func (h *recHook) OnAggregation(e Aggregation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.aggregation = append(h.aggregation, e)
}

// logLines is a slog JSON handler's output, one map per line.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logLines) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logLines) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (b *logLines) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		out = append(out, m)
	}
	return out
}

// withMsg returns the lines whose message is msg.
func withMsg(lines []map[string]any, msg string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// TestHooksAccountForEveryRecordAndCall injects per-record throttling and
// internal failures and whole-call throttling, with few retries so that some
// records fail (throttling costs no retry, so internal failures do that),
// and checks that the hooks' events add up exactly to what the
// fake did and to Stats.
func TestHooksAccountForEveryRecordAndCall(t *testing.T) {
	f := newFake(7)
	var recThrottled, recInternal, callsThrottled, entriesInThrottledCalls int
	f.failRecord = func(rng *rand.Rand, e types.PutRecordsRequestEntry) string {
		switch x := rng.Float64(); {
		case x < 0.15:
			recThrottled++
			return "ProvisionedThroughputExceededException"
		case x < 0.3:
			recInternal++
			return "InternalFailure"
		}
		return ""
	}
	f.failCall = func(rng *rand.Rand, call int) (error, bool) {
		if call%5 == 0 {
			callsThrottled++
			// PutRecords holds f.mu and has just added this call.
			entriesInThrottledCalls += len(f.calls[len(f.calls)-1])
			return &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException", Message: "Rate exceeded", Fault: smithy.FaultClient}, false
		}
		return nil, false
	}
	h := &recHook{}
	s := newTestStream(t, f, func(c *Config[event]) {
		c.MaxStreamBatchSize = 20
		c.RetryCount = 1
		c.Hooks = []Hook{h, struct{}{}} // a hook of no kind is ignored
	})
	errs := drainErrors(s)
	const n = 2000
	for i := 0; i < n; i++ {
		require.NoError(t, s.Put(event{ID: i, Key: fmt.Sprintf("k%d", i%17)}))
	}
	s.FlushAndStopStreaming()
	var reported int
	for _, pe := range errs() {
		reported += len(pe.Records)
	}
	stored, calls := f.snapshot()
	st := s.Stats()
	require.Positive(t, st.Failed, "the test needs records that fail for good")
	require.Positive(t, callsThrottled)

	h.mu.Lock()
	defer h.mu.Unlock()

	assert.Len(t, h.buffered, n, "one RecordBuffered per record put")
	var delivered, failed int
	for _, e := range h.unbuffered {
		assert.Equal(t, "test", e.Stream)
		if e.Err == nil {
			delivered++
			assert.Equal(t, "shardId-000000000000", e.ShardID)
			assert.NotEmpty(t, e.SequenceNumber)
			assert.Equal(t, 1, e.EntryRecords)
			assert.Zero(t, e.SubSequenceNumber)
			assert.Positive(t, e.Buffered)
			assert.Empty(t, e.Reason)
			continue
		}
		failed++
		assert.Equal(t, FailRetriesExhausted, e.Reason)
		assert.Equal(t, "InternalFailure", e.Code, "only real failures use up retries")
		assert.GreaterOrEqual(t, e.Attempts, 2, "RetryCount 1: two failures, and any throttled attempts")
		assert.Empty(t, e.ShardID)
	}
	assert.Equal(t, n, len(h.unbuffered), "one RecordUnbuffered per record put")
	assert.Equal(t, len(stored), delivered)
	assert.EqualValues(t, st.Delivered, delivered)
	assert.EqualValues(t, st.Failed, failed)
	assert.Equal(t, reported, failed)

	assert.Len(t, h.requests, len(calls), "one RequestDone per call")
	assert.EqualValues(t, st.Requests, len(h.requests))
	var written, writtenBytes, sent, wholeThrottled int
	byCode := map[string]int{}
	for _, e := range h.requests {
		assert.Equal(t, "test", e.Stream)
		assert.Positive(t, e.Duration)
		assert.Equal(t, e.Entries, e.Records, "no aggregation: one user record per entry")
		written += e.WrittenEntries
		writtenBytes += e.WrittenBytes
		sent += e.Entries
		if e.Err != nil {
			assert.Equal(t, "ProvisionedThroughputExceededException", e.Code)
			assert.Zero(t, e.WrittenEntries)
			wholeThrottled++
		}
		for _, c := range e.Failures {
			byCode[c.Code] += c.Entries
			assert.Equal(t, c.Entries, c.Records)
		}
	}
	assert.Equal(t, len(stored), written)
	assert.EqualValues(t, st.DeliveredBytes, writtenBytes)
	assert.Equal(t, callsThrottled, wholeThrottled)
	assert.Equal(t, map[string]int{"ProvisionedThroughputExceededException": recThrottled, "InternalFailure": recInternal}, byCode)
	var sentByFake int
	for _, c := range calls {
		sentByFake += len(c)
	}
	assert.Equal(t, sentByFake, sent)

	var thrWhole, thrRecords int
	for _, e := range h.throttles {
		assert.Empty(t, e.ShardID, "without a shard stage the shard is unknown")
		if e.WholeCall {
			thrWhole += e.Entries
		} else {
			thrRecords += e.Entries
		}
	}
	assert.Equal(t, entriesInThrottledCalls, thrWhole)
	assert.Equal(t, recThrottled, thrRecords)
	assert.EqualValues(t, st.Throttled, thrWhole+thrRecords)

	var retried int
	for _, e := range h.retries {
		retried += e.Records
		assert.Positive(t, e.Attempt)
		assert.Equal(t, e.Code == "ProvisionedThroughputExceededException", e.Throttled)
	}
	assert.EqualValues(t, st.Retried, retried)
	assert.Empty(t, h.shardMaps, "no shard stage: no shard map")
	assert.Empty(t, h.aggregation)
}

// gapLister answers ListShards with a map that covers only the lower half of
// the hash key space, and fails every later call.
type gapLister struct {
	*fakeKinesis
	mu    sync.Mutex
	calls int
}

func (g *gapLister) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	if g.calls > 1 {
		return nil, &smithy.GenericAPIError{Code: "LimitExceededException", Message: "Rate exceeded for ListShards", Fault: smithy.FaultClient}
	}
	return &kinesis.ListShardsOutput{Shards: []types.Shard{{
		ShardId:             aws.String("shardId-000000000000"),
		HashKeyRange:        &types.HashKeyRange{StartingHashKey: aws.String("0"), EndingHashKey: aws.String("170141183460469231731687303715884105727")},
		SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")},
	}}}, nil
}

// TestFailedShardMapRefreshIsLoggedAndHooked: a record whose hash key falls
// in a gap of the shard map makes the stream read the map again; that read
// fails, and the failure reaches the log, the hooks and Stats, while the
// record is still delivered.
func TestFailedShardMapRefreshIsLoggedAndHooked(t *testing.T) {
	g := &gapLister{fakeKinesis: newFake(1)}
	h := &recHook{}
	var logs logLines
	s, err := NewKinesis(Config[event]{
		StreamName:      "maps",
		Client:          g,
		Partitioner:     byKey,
		ExplicitHashKey: func(event) string { return "340282366920938463463374607431768211455" }, // in the gap
		ShardRateLimit:  100,
		Hooks:           []Hook{h},
		Logger:          logs.logger(),
	})
	require.NoError(t, err)
	res := s.PutSync(context.Background(), event{ID: 1, Key: "a"})
	require.NoError(t, res[0].Err)
	s.FlushAndStopStreaming()

	st := s.Stats()
	assert.EqualValues(t, 1, st.ShardMapReads, "the first read")
	assert.EqualValues(t, 1, st.ShardMapErrors, "the refresh")

	h.mu.Lock()
	require.Len(t, h.shardMaps, 2)
	first, refresh := h.shardMaps[0], h.shardMaps[1]
	h.mu.Unlock()
	assert.Equal(t, ShardMap{Stream: "maps", Shards: 1, Changed: true, Duration: first.Duration}, first)
	require.Error(t, refresh.Err)
	assert.Contains(t, refresh.Err.Error(), "LimitExceededException")
	assert.False(t, refresh.Changed)
	assert.Equal(t, 1, refresh.Shards, "the old map stays")
	assert.Equal(t, "maps", refresh.Stream)

	lines := logs.lines(t)
	for _, l := range lines {
		assert.Equal(t, "maps", l["stream"], "every line names the stream: %v", l)
	}
	failedReads := withMsg(lines, "inskinesis: shard map read failed; keeping the old map")
	require.Len(t, failedReads, 1)
	assert.Equal(t, "WARN", failedReads[0]["level"])
	assert.Contains(t, failedReads[0]["error"], "LimitExceededException")
	require.Len(t, withMsg(lines, "inskinesis: shard map read"), 1, "the first read")
	require.Len(t, withMsg(lines, "inskinesis: stream started"), 1)
	stopped := withMsg(lines, "inskinesis: stream stopped")
	require.Len(t, stopped, 1)
	assert.EqualValues(t, 1, stopped[0]["delivered"])
	assert.EqualValues(t, 0, stopped[0]["failed"])
}

// TestLogRateLimitsThrottlingAndFailures: throttling and failed records are
// logged once when they start, and the rest, however much, in one line at
// the stop; nothing is logged per record or per call.
func TestLogRateLimitsThrottlingAndFailures(t *testing.T) {
	f := newFake(3)
	seen := map[string]bool{}
	f.failRecord = func(_ *rand.Rand, e types.PutRecordsRequestEntry) string {
		var ev event
		_ = json.Unmarshal(e.Data, &ev)
		if ev.ID%10 == 9 {
			return "InternalFailure" // every time: fails for good
		}
		if !seen[string(e.Data)] { // throttled once, then written
			seen[string(e.Data)] = true
			return "ProvisionedThroughputExceededException"
		}
		return ""
	}
	var logs logLines
	s := newTestStream(t, f, func(c *Config[event]) {
		c.StreamName = "logs"
		c.MaxStreamBatchSize = 10
		c.RetryCount = 1
		c.Logger = logs.logger()
	})
	s.hooks.log.every = time.Hour // the stop, not the clock, ends the first window
	const n = 300
	for i := 0; i < n; i++ {
		require.NoError(t, s.Put(event{ID: i, Key: fmt.Sprintf("k%d", i)}))
	}
	s.FlushAndStopStreaming()

	lines := logs.lines(t)
	for _, l := range lines {
		assert.Equal(t, "logs", l["stream"])
	}
	sum := func(ls []map[string]any, code string) (total, byCode float64) {
		for _, l := range ls {
			total += l["count"].(float64)
			byCode += l["by_code"].(map[string]any)[code].(float64)
		}
		return total, byCode
	}
	throttled := withMsg(lines, "inskinesis: Kinesis is throttling the stream")
	require.Len(t, throttled, 2, "the first, and the rest at the stop")
	assert.Equal(t, "WARN", throttled[0]["level"])
	total, ptee := sum(throttled, "ProvisionedThroughputExceededException")
	assert.EqualValues(t, n-n/10, total, "every record but those failing for good is throttled once")
	assert.Equal(t, total, ptee)
	assert.Nil(t, throttled[0]["since_last"])
	assert.NotNil(t, throttled[1]["since_last"])

	failed := withMsg(lines, "inskinesis: records not delivered")
	require.Len(t, failed, 2)
	assert.Equal(t, "ERROR", failed[0]["level"])
	total, internal := sum(failed, "InternalFailure")
	assert.EqualValues(t, n/10, total)
	assert.Equal(t, total, internal)

	stopped := withMsg(lines, "inskinesis: stream stopped")
	require.Len(t, stopped, 1)
	assert.Equal(t, "WARN", stopped[0]["level"], "records were lost")
	assert.EqualValues(t, n-n/10, stopped[0]["delivered"])
	assert.EqualValues(t, n/10, stopped[0]["failed"])
	assert.Len(t, lines, 1+2+2+1, "started, throttling, failures, stopped: nothing per record")
}

// TestNoLoggerNoHooks: without them the stream has nothing to call.
func TestNoLoggerNoHooks(t *testing.T) {
	s := newTestStream(t, newFake(1), nil)
	assert.Nil(t, s.hooks.log)
	assert.False(t, s.hooks.watchRequests())
	res := s.PutSync(context.Background(), event{ID: 1, Key: "a"})
	require.NoError(t, res[0].Err)
	assert.Positive(t, res[0].Buffered, "Buffered is measured without hooks")
	assert.False(t, res[0].Aggregated)
}

// TestAggregationChangedReachesHooksAndLog covers the call the stream makes
// when it turns aggregation off or on by what it learned.
func TestAggregationChangedReachesHooksAndLog(t *testing.T) {
	h := &recHook{}
	var logs logLines
	s := newTestStream(t, newFake(1), func(c *Config[event]) {
		c.Hooks = []Hook{h}
		c.Logger = logs.logger()
	})
	s.aggregationChanged(false, "the stream is in on-demand mode")
	s.FlushAndStopStreaming()
	h.mu.Lock()
	assert.Equal(t, []Aggregation{{Stream: "test", On: false, Reason: "the stream is in on-demand mode"}}, h.aggregation)
	h.mu.Unlock()
	off := withMsg(logs.lines(t), "inskinesis: aggregation turned off")
	require.Len(t, off, 1)
	assert.Equal(t, "the stream is in on-demand mode", off[0]["reason"])
	assert.Equal(t, "INFO", off[0]["level"])
}

// failLister fails every ListShards call.
type failLister struct{ *fakeKinesis }

func (failLister) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not allowed", Fault: smithy.FaultClient}
}

// TestFailedFirstShardMapReadIsLoggedAndHooked: NewKinesis fails, and says
// why in the log and to the hooks as well.
func TestFailedFirstShardMapReadIsLoggedAndHooked(t *testing.T) {
	h := &recHook{}
	var logs logLines
	_, err := NewKinesis(Config[event]{
		StreamName:       "denied",
		Client:           failLister{newFake(1)},
		AggregateRecords: true,
		Hooks:            []Hook{h},
		Logger:           logs.logger(),
	})
	require.ErrorContains(t, err, "AccessDeniedException")
	h.mu.Lock()
	require.Len(t, h.shardMaps, 1)
	assert.ErrorContains(t, h.shardMaps[0].Err, "AccessDeniedException")
	assert.Zero(t, h.shardMaps[0].Shards)
	assert.Empty(t, h.aggregation, "aggregation never started")
	h.mu.Unlock()
	failed := withMsg(logs.lines(t), "inskinesis: shard map read failed")
	require.Len(t, failed, 1)
	assert.Equal(t, "WARN", failed[0]["level"])
	assert.Equal(t, "denied", failed[0]["stream"])
	assert.Contains(t, failed[0]["error"], "AccessDeniedException")
}

// TestAbortedShutdownIsLoggedAndHooked: records a shutdown gives up on reach
// the hooks with their reason, and the stop line says how many there were.
func TestAbortedShutdownIsLoggedAndHooked(t *testing.T) {
	f := newFake(1)
	f.block = make(chan struct{}) // never answers: only the abort ends the call
	f.started = make(chan struct{}, 100)
	h := &recHook{}
	var logs logLines
	s := newTestStream(t, f, func(c *Config[event]) {
		c.StreamName = "aborted"
		c.MaxStreamBatchSize = 5
		c.Hooks = []Hook{h}
		c.Logger = logs.logger()
	})
	const n = 20
	for i := 0; i < n; i++ {
		require.NoError(t, s.Put(event{ID: i, Key: "k"}))
	}
	<-f.started // a call is in flight
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var pe *PutError[event]
	require.ErrorAs(t, s.Close(ctx), &pe)
	require.Len(t, pe.Records, n)

	h.mu.Lock()
	require.Len(t, h.unbuffered, n)
	for _, e := range h.unbuffered {
		assert.Equal(t, FailAborted, e.Reason)
		assert.ErrorIs(t, e.Err, ErrAborted)
	}
	h.mu.Unlock()
	lines := logs.lines(t)
	stopped := withMsg(lines, "inskinesis: stream stopped")
	require.Len(t, stopped, 1)
	assert.Equal(t, "WARN", stopped[0]["level"])
	assert.EqualValues(t, n, stopped[0]["aborted"])
	assert.EqualValues(t, n, stopped[0]["failed"])
	assert.EqualValues(t, 0, stopped[0]["delivered"])
	var logged float64
	for _, l := range withMsg(lines, "inskinesis: records not delivered") {
		logged += l["count"].(float64)
		assert.Equal(t, "ERROR", l["level"])
	}
	assert.EqualValues(t, n, logged)
}

// TestExpiredRecordsReachTheHooks: records past their RecordTTL reach the
// hooks with the reason expired.
func TestExpiredRecordsReachTheHooks(t *testing.T) {
	h := &recHook{}
	s := newTestStream(t, newFake(1), func(c *Config[event]) {
		c.RecordTTL = time.Nanosecond // expired by the time the loop looks
		c.Hooks = []Hook{h}
	})
	const n = 10
	for i := 0; i < n; i++ {
		require.NoError(t, s.Put(event{ID: i, Key: "k"}))
	}
	s.FlushAndStopStreaming()
	h.mu.Lock()
	defer h.mu.Unlock()
	require.Len(t, h.unbuffered, n)
	for _, e := range h.unbuffered {
		assert.Equal(t, FailExpired, e.Reason)
		assert.Equal(t, "Expired", e.Code)
		assert.ErrorIs(t, e.Err, ErrRecordExpired)
		assert.Positive(t, e.Buffered)
	}
	assert.EqualValues(t, n, s.Stats().Failed)
}
