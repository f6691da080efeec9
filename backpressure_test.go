package inskinesis

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scripted returns a failRecord for the fake that answers each record's
// attempts from script: 'T' throttles it, 'F' fails it with InternalFailure,
// '.' takes it. The last letter repeats for the attempts past the script.
func scripted(script string) func(*rand.Rand, types.PutRecordsRequestEntry) string {
	var mu sync.Mutex
	seen := map[string]int{}
	return func(_ *rand.Rand, e types.PutRecordsRequestEntry) string {
		mu.Lock()
		i := seen[string(e.Data)]
		seen[string(e.Data)]++
		mu.Unlock()
		switch script[min(i, len(script)-1)] {
		case 'T':
			return "ProvisionedThroughputExceededException"
		case 'F':
			return "InternalFailure"
		}
		return ""
	}
}

func TestThrottlesDoNotUseUpRetries(t *testing.T) {
	cases := []struct {
		name       string
		script     string
		retryCount int
		// The outcome: delivered, or failed with ErrRetriesExhausted;
		// and the attempts it took.
		delivered bool
		attempts  int
	}{
		{"throttled six times, then taken", "TTTTTT.", 2, true, 7},
		{"throttled with retries off, then taken", "TTT.", -1, true, 4},
		{"throttled, then failing past RetryCount", "TTTTTF", 2, false, 8},
		{"throttles and failures within RetryCount", "TFTFT.", 2, true, 6},
		{"throttles and failures past RetryCount", "TFTFTF", 2, false, 6},
		{"failures alone past RetryCount", "F", 2, false, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(30)
			f.failRecord = scripted(tc.script)
			s := newTestStream(t, f, func(c *Config[event]) { c.RetryCount = tc.retryCount })
			errs := drainErrors(s)
			const n = 20
			results := make([]Result[event], n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				require.NoError(t, s.PutAsync(t.Context(), event{ID: i, Key: "k"}, func(r Result[event]) {
					results[i] = r
					wg.Done()
				}))
			}
			s.FlushAndStopStreaming()
			wg.Wait()
			for i, r := range results {
				assert.Equal(t, tc.attempts, r.Attempts, "attempts of record %d", i)
				if tc.delivered {
					assert.NoError(t, r.Err, "record %d", i)
					continue
				}
				require.ErrorIs(t, r.Err, ErrRetriesExhausted, "record %d", i)
				var pe *PutError[event]
				require.ErrorAs(t, r.Err, &pe)
				assert.Equal(t, "InternalFailure", pe.Code, "the last failure's code")
			}
			stored, _ := f.snapshot()
			st := s.Stats()
			if tc.delivered {
				assert.Len(t, stored, n)
				assert.Empty(t, errs())
				assert.EqualValues(t, n, st.Delivered)
			} else {
				assert.Empty(t, stored)
				assert.EqualValues(t, n, st.Failed)
			}
		})
	}
}

// TestThrottleTTLBoundsThrottling: a record that Kinesis keeps throttling,
// per record or with the whole call, is sent again and again without
// using up RetryCount, and fails with ErrRecordExpired wrapping the
// throttling error once ThrottleTTL has passed since it was put; with a
// RecordTTL, that bounds it instead (a record that expires while it waits
// for its next attempt is reported with code "Expired", as before).
func TestThrottleTTLBoundsThrottling(t *testing.T) {
	callErr := func(code string) func(*rand.Rand, int) (error, bool) {
		return func(*rand.Rand, int) (error, bool) {
			return &smithy.GenericAPIError{Code: code, Message: "slow down", Fault: smithy.FaultClient}, false
		}
	}
	const ttl = 100 * time.Millisecond
	cases := []struct {
		name string
		code string
		set  func(*fakeKinesis)
		mod  func(*Config[event])
	}{
		{"per-record throttles", "ProvisionedThroughputExceededException",
			func(f *fakeKinesis) { f.failRecord = scripted("T") },
			func(c *Config[event]) { c.ThrottleTTL = ttl }},
		{"whole calls ProvisionedThroughputExceeded", "ProvisionedThroughputExceededException",
			func(f *fakeKinesis) { f.failCall = callErr("ProvisionedThroughputExceededException") },
			func(c *Config[event]) { c.ThrottleTTL = ttl }},
		{"whole calls LimitExceeded", "LimitExceededException",
			func(f *fakeKinesis) { f.failCall = callErr("LimitExceededException") },
			func(c *Config[event]) { c.ThrottleTTL = ttl }},
		{"whole calls KMSThrottling", "KMSThrottlingException",
			func(f *fakeKinesis) { f.failCall = callErr("KMSThrottlingException") },
			func(c *Config[event]) { c.ThrottleTTL = ttl }},
		{"RecordTTL in place of ThrottleTTL", "",
			func(f *fakeKinesis) { f.failRecord = scripted("T") },
			func(c *Config[event]) { c.RecordTTL = ttl; c.ThrottleTTL = time.Hour }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(31)
			tc.set(f)
			s := newTestStream(t, f, tc.mod)
			errs := drainErrors(s)
			start := time.Now()
			const n = 5
			for i := range n {
				require.NoError(t, s.Put(event{ID: i, Key: "k"}))
			}
			s.FlushAndStopStreaming()
			took := time.Since(start)
			got := errs()
			var lost []event
			for _, pe := range got {
				lost = append(lost, pe.Records...)
				assert.ErrorIs(t, pe, ErrRecordExpired)
				assert.NotErrorIs(t, pe, ErrRetriesExhausted)
				if tc.code == "" { // RecordTTL: expired after a throttle, or waiting
					assert.Contains(t, []string{"ProvisionedThroughputExceededException", "Expired"}, pe.Code)
				} else {
					assert.Equal(t, tc.code, pe.Code)
					var apiErr smithy.APIError
					require.ErrorAs(t, pe, &apiErr, "the throttling error is wrapped")
					assert.Equal(t, tc.code, apiErr.ErrorCode())
				}
				assert.Greater(t, pe.Attempts, DefaultRetryCount+1, "throttled attempts did not use up RetryCount")
			}
			assert.Len(t, lost, n, "every record is reported")
			assert.GreaterOrEqual(t, took, ttl, "no record failed before its ThrottleTTL")
			stored, _ := f.snapshot()
			assert.Empty(t, stored)
			assert.EqualValues(t, n, s.Stats().Failed)
		})
	}
}

func TestThrottleTTLConfig(t *testing.T) {
	set, err := (&Config[event]{StreamName: "s", Client: newFake(1)}).resolve()
	require.NoError(t, err)
	assert.Equal(t, DefaultThrottleTTL, set.throttleTTL)
	assert.Equal(t, 30*time.Second, DefaultThrottleTTL, "the KPL's RecordTtl")
	_, err = (&Config[event]{StreamName: "s", Client: newFake(1), ThrottleTTL: -time.Second}).resolve()
	var ce *ConfigError
	require.True(t, errors.As(err, &ce))
	assert.Equal(t, "ThrottleTTL", ce.Field)
}

// TestThrottleStormDoesNotSpin: while Kinesis throttles every call, the
// stream waits out its backoff between calls (full jitter in a window that
// doubles up to MaxRetryInterval) instead of sending as fast as it can, and
// holds no more than its buffer. A loop that resent at once would make
// thousands of calls in each ThrottleTTL of 500 ms; with backoff windows of
// at most 20 ms (10 ms on average) it makes about 50.
func TestThrottleStormDoesNotSpin(t *testing.T) {
	f := newFake(32)
	f.failRecord = scripted("T")
	s := newTestStream(t, f, func(c *Config[event]) {
		c.ThrottleTTL = 500 * time.Millisecond
		c.RetryInterval = 5 * time.Millisecond
		c.MaxRetryInterval = 20 * time.Millisecond
		c.MaxBatchSize = 50
	})
	errs := drainErrors(s)
	for i := range 200 { // four times the buffer: Put waits for space
		require.NoError(t, s.Put(event{ID: i, Key: "k"}))
		assert.LessOrEqual(t, s.Stats().BufferedRecords, 50)
	}
	s.FlushAndStopStreaming()
	n := 0
	for _, pe := range errs() {
		assert.ErrorIs(t, pe, ErrRecordExpired)
		n += len(pe.Records)
	}
	assert.Equal(t, 200, n, "every record is reported")
	_, calls := f.snapshot()
	// Four rounds of 500 ms (the records of each round expire together),
	// each at most 500 ms / 1 ms of calls even if every backoff drew
	// under a millisecond.
	assert.Less(t, len(calls), 4*500, "calls made")
	t.Logf("%d calls", len(calls))
}
