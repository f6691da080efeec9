package inskinesis_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/kinesistest"
)

type burstRecord struct {
	ID int `json:"id"`
}

// TestBurstToOneShardLosesNothing puts a burst of records as fast as
// possible into one kinesistest shard enforcing AWS's write limits (1000
// records/s and 1 MiB/s, each a token bucket holding one second), and
// checks that throttling only slows the stream down: every record is
// delivered, none is reported, and each is stored exactly once (none of
// them had an attempt of unknown outcome, so none may be stored twice).
// When throttles used up RetryCount, this test lost 5 % of the burst to
// ErrRetriesExhausted with the default config and 13-16 % with MaxGroup 4
// and 500-record calls (under -race; up to 27 % without it).
//
// The shard runs on the real clock: it takes 1000 records a second
// however fast the machine sends, so the burst takes about n/1000 - 1
// seconds, and a slower machine (or -race) only means fewer throttles. The
// outcome does not hang on timing: a record can only be lost by being
// throttled 30 s (ThrottleTTL) after the stream took it, while at most
// MaxBatchSize records (500, half a second of the shard) are held at once,
// throttled records go again before newer ones, oldest first, and the
// backoff window is at most 5 s. The test logs the longest time a record
// spent in the stream (about 1 s when written) and the most attempts one
// took. 10,000 records (about 10 s) run by default; 3,000 with -short.
func TestBurstToOneShardLosesNothing(t *testing.T) {
	n := 10_000
	if testing.Short() {
		n = 3_000
	}
	cases := []struct {
		name string
		mod  func(*inskinesis.Config[burstRecord])
	}{
		{"default config", func(*inskinesis.Config[burstRecord]) {}},
		{"MaxGroup 4, 500-record calls", func(c *inskinesis.Config[burstRecord]) {
			c.MaxGroup = 4
			c.MaxStreamBatchSize = 500
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := kinesistest.Start(t, kinesistest.WithShardLimits(kinesistest.AWSShardLimits()))
			require.NoError(t, srv.CreateStream("burst", 1))
			cfg := inskinesis.Config[burstRecord]{StreamName: "burst", Client: srv.Client()}
			tc.mod(&cfg)
			s, err := inskinesis.NewKinesis(cfg)
			require.NoError(t, err)

			var reported atomic.Int64
			errDone := make(chan struct{})
			go func() {
				defer close(errDone)
				for {
					select {
					case err := <-s.Error():
						if reported.Add(1) == 1 {
							t.Errorf("reported: %v", err)
						}
					case <-s.Done():
						// Errors sent before the stream stopped may
						// still wait in the channel.
						for {
							select {
							case err := <-s.Error():
								if reported.Add(1) == 1 {
									t.Errorf("reported: %v", err)
								}
							default:
								return
							}
						}
					}
				}
			}()

			var mu sync.Mutex
			flagged := map[int]bool{}
			failed := 0
			// When Put returned, and when the outcome came: about the
			// time each record spent in the stream.
			admitted, finished := make([]time.Time, n), make([]time.Time, n)
			attempts := make([]int, n)
			start := time.Now()
			const putters = 4
			var wg sync.WaitGroup
			for p := range putters {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for id := p; id < n; id += putters {
						err := s.PutAsync(context.Background(), burstRecord{ID: id}, func(r inskinesis.Result[burstRecord]) {
							now := time.Now()
							mu.Lock()
							defer mu.Unlock()
							finished[r.Record.ID] = now
							attempts[r.Record.ID] = r.Attempts
							if r.MaybeDuplicate {
								flagged[r.Record.ID] = true
							}
							if r.Err != nil {
								failed++
							}
						})
						if err != nil {
							t.Errorf("put %d: %v", id, err)
							return
						}
						now := time.Now()
						mu.Lock()
						admitted[id] = now
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			s.FlushAndStopStreaming()
			<-errDone
			took := time.Since(start)

			var longest time.Duration
			most := 0
			for id := range n {
				longest = max(longest, finished[id].Sub(admitted[id]))
				most = max(most, attempts[id])
			}
			st := s.Stats()
			ss := srv.Stats()
			t.Logf("%d records in %v; longest in the stream %v; most attempts %d; server throttled %d entries; stream delivered %d, retried %d, failed %d",
				n, took.Round(time.Millisecond), longest.Round(time.Millisecond), most, ss.RecordsThrottled, st.Delivered, st.Retried, st.Failed)
			assert.Zero(t, reported.Load(), "errors reported")
			assert.Zero(t, failed, "records whose outcome was an error")
			assert.Zero(t, st.Failed, "records failed")
			assert.EqualValues(t, n, st.Delivered, "records delivered")
			assert.Positive(t, ss.RecordsThrottled, "the shard throttled: the burst tested something")

			recs, err := srv.Records("burst")
			require.NoError(t, err)
			seen := make(map[int]int, n)
			for _, r := range recs {
				var e burstRecord
				require.NoError(t, json.Unmarshal(r.Data, &e))
				seen[e.ID]++
			}
			assert.Equal(t, n, len(seen), "distinct records stored")
			dups := 0
			for id, c := range seen {
				if c != 1 && !flagged[id] {
					dups++
				}
			}
			assert.Zero(t, dups, "records stored more than once, not flagged MaybeDuplicate")
		})
	}
}
