package inskinesis_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/kinesistest"
)

type tortureRecord struct {
	ID      int    `json:"id"`
	Payload string `json:"p"`
}

// TestTorture puts 100,000 records through injected faults (20 % per-record
// failures, 5 % whole-request errors, dropped connections before and after
// the write, latency, per-shard throttling) with MaxGroup 8, and accounts
// for every record: delivered, or reported with its value; written twice
// only where an attempt's outcome was unknown.
func TestTorture(t *testing.T) {
	n, step := 100_000, 50*time.Millisecond
	if testing.Short() {
		n, step = 10_000, 10*time.Millisecond
	}
	// The server's clock moves step per write request, so each request
	// finds step's worth of room per shard at AWS's limits (1,000 records a
	// second), whatever the speed of the machine: the 4 shards together
	// take 200 records a request with 50 ms, 40 with 10 ms, and the
	// stream's first requests carry more (it cuts them full, 500 records,
	// while eight producers outpace it; with 10,000 records, a few hundred
	// as MaxGroup spreads them), so throttling is certain, and not timing
	// luck.
	srv := kinesistest.Start(t,
		kinesistest.WithClock(steppingClock(step)),
		kinesistest.WithShardLimits(kinesistest.AWSShardLimits()),
		kinesistest.WithFaults(kinesistest.Faults{
			Seed:               42,
			RecordFailureRate:  0.20,
			RequestErrorRate:   0.05,
			Latency:            time.Millisecond,
			DropConnectionRate: 0.01,
			DropAfterWriteRate: 0.03,
		}))
	require.NoError(t, srv.CreateStream("torture", 4))

	s, err := inskinesis.NewKinesis(inskinesis.Config[tortureRecord]{
		StreamName:         "torture",
		Client:             srv.Client(),
		MaxGroup:           8,
		MaxStreamBatchSize: 500,
		MaxBatchSize:       4000,
		RetryCount:         8,
		RetryInterval:      5 * time.Millisecond,
		MaxRetryInterval:   50 * time.Millisecond,
		RequestTimeout:     5 * time.Second,
	})
	require.NoError(t, err)

	var mu sync.Mutex
	results := make(map[int]inskinesis.Result[tortureRecord], n)
	onResult := func(r inskinesis.Result[tortureRecord]) {
		mu.Lock()
		defer mu.Unlock()
		_, seen := results[r.Record.ID]
		assert.False(t, seen, "record %d has one outcome", r.Record.ID)
		results[r.Record.ID] = r
	}
	var wg sync.WaitGroup
	const producers = 8
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := p; id < n; id += producers {
				assert.NoError(t, s.PutAsync(context.Background(), tortureRecord{ID: id, Payload: "payload"}, onResult))
			}
		}()
	}
	wg.Wait()
	s.FlushAndStopStreaming()

	stored, err := srv.Records("torture")
	require.NoError(t, err)
	copies := make(map[int]int, n)
	for _, r := range stored {
		var rec tortureRecord
		require.NoError(t, json.Unmarshal(r.Data, &rec))
		copies[rec.ID]++
	}

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, results, n, "every record has an outcome")
	delivered, failed, dups, flagged := 0, 0, 0, 0
	for id := 0; id < n; id++ {
		r := results[id]
		c := copies[id]
		if r.Err == nil {
			delivered++
			assert.GreaterOrEqual(t, c, 1, "delivered record %d is stored", id)
			assert.NotEmpty(t, r.SequenceNumber)
			if c > 1 {
				assert.True(t, r.MaybeDuplicate, "record %d stored %d times without an unknown outcome", id, c)
			}
		} else {
			failed++
			var pe *inskinesis.PutError[tortureRecord]
			require.ErrorAs(t, r.Err, &pe)
			assert.Contains(t, pe.Records, r.Record, "the report holds the record's value")
			if c > 0 {
				assert.True(t, pe.MaybeWritten, "failed record %d is stored although no outcome was unknown", id)
			}
		}
		if r.MaybeDuplicate {
			flagged++
		}
		if c > 1 {
			dups += c - 1
		}
	}
	st := s.Stats()
	ss := srv.Stats()
	assert.Equal(t, int64(delivered), st.Delivered)
	assert.Equal(t, int64(failed), st.Failed)
	// Duplicates are only ever records whose outcome was unknown (checked
	// per record above): connections dropped after the write, and any call
	// that timed out or lost its answer on the way.
	assert.LessOrEqual(t, dups, flagged, "every duplicate was flagged MaybeDuplicate")
	assert.Positive(t, ss.RecordsThrottled, "the shard limits throttled")
	assert.Positive(t, ss.DroppedAfterWrite)
	assert.Positive(t, st.Retried)
	t.Logf("%d records: %d delivered, %d reported; %d duplicates stored (%d records flagged MaybeDuplicate); "+
		"server: %d requests, %d throttled, %d internal failures, %d request errors, %d dropped before / %d after write; stream: %d retries",
		n, delivered, failed, dups, flagged, ss.WriteRequests, ss.RecordsThrottled, ss.RecordsInternalFailure,
		ss.InjectedRequestErrors, ss.DroppedBeforeWrite, ss.DroppedAfterWrite, st.Retried)
}

// TestMissingStreamWithRealClient shows a missing stream fails fast, with
// the records, through the real SDK client.
func TestMissingStreamWithRealClient(t *testing.T) {
	srv := kinesistest.Start(t)
	s, err := inskinesis.NewKinesis(inskinesis.Config[tortureRecord]{StreamName: "nope", Client: srv.Client()})
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		require.NoError(t, s.Put(tortureRecord{ID: i}))
	}
	s.FlushAndStopStreaming()
	var got []int
	for len(s.Error()) > 0 {
		err := <-s.Error()
		var pe *inskinesis.PutError[tortureRecord]
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "ResourceNotFoundException", pe.Code)
		assert.Equal(t, 1, pe.Attempts)
		for _, r := range pe.Records {
			got = append(got, r.ID)
		}
	}
	assert.ElementsMatch(t, []int{0, 1, 2, 3, 4}, got)
	assert.Equal(t, int64(1), s.Stats().Requests)
}

// TestDefaultClientFromRegion builds the stream's own client from Region
// and the environment, as a user without a Client does, and sends through it.
func TestDefaultClientFromRegion(t *testing.T) {
	srv := kinesistest.Start(t)
	require.NoError(t, srv.CreateStream("env", 1))
	t.Setenv("AWS_ENDPOINT_URL_KINESIS", srv.URL())
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	s, err := inskinesis.NewKinesis(inskinesis.Config[tortureRecord]{Region: "us-east-1", StreamName: "env"})
	require.NoError(t, err)
	for i := 0; i < 10; i++ {
		require.NoError(t, s.Put(tortureRecord{ID: i}))
	}
	s.FlushAndStopStreaming()
	assert.Equal(t, int64(10), s.Stats().Delivered)
	stored, err := srv.Records("env")
	require.NoError(t, err)
	assert.Len(t, stored, 10)
}

// TestHTTPClientWrapsOwnClient sends through a client built by hand with
// HTTPClient, as the doc comment shows.
func TestHTTPClientWrapsOwnClient(t *testing.T) {
	srv := kinesistest.Start(t)
	require.NoError(t, srv.CreateStream("own", 1))
	client := srv.Client(func(o *kinesis.Options) { o.HTTPClient = inskinesis.HTTPClient(nil) })
	s, err := inskinesis.NewKinesis(inskinesis.Config[tortureRecord]{StreamName: "own", Client: client})
	require.NoError(t, err)
	for _, r := range s.PutSync(context.Background(), tortureRecord{ID: 1}, tortureRecord{ID: 2}) {
		assert.NoError(t, r.Err)
	}
	s.FlushAndStopStreaming()
}

// steppingClock returns a clock for kinesistest.WithClock that moves step
// at every reading, so that the shard limits refill by the server's work,
// not by the speed of the machine.
func steppingClock(step time.Duration) func() time.Time {
	var ticks atomic.Int64
	start := time.Now()
	return func() time.Time { return start.Add(time.Duration(ticks.Add(1)) * step) }
}
