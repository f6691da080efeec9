package inskinesis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/aggregation"
	"github.com/go-pkg/inskinesis/kinesistest"
)

// keyedRecord carries its own key and a padding that its ID determines, so
// that a stored record shows whether its bytes are its own.
type keyedRecord struct {
	ID  int    `json:"id"`
	Key string `json:"k"`
	Pad string `json:"p"`
}

func padFor(id int) string { return fmt.Sprintf("%0*d", 10+id%50, id) }

// everyHook implements the hooks that read settled records.
type everyHook struct{ n atomic.Int64 }

func (h *everyHook) OnRecordUnbuffered(e inskinesis.RecordUnbuffered) { h.n.Add(int64(e.Bytes)) }
func (h *everyHook) OnRequestDone(e inskinesis.RequestDone)           { h.n.Add(int64(e.Bytes)) }
func (h *everyHook) OnThrottle(e inskinesis.Throttle)                 { h.n.Add(int64(e.Records)) }
func (h *everyHook) OnRetry(e inskinesis.Retry)                       { h.n.Add(int64(e.Records)) }

// TestPlainPutKeepsEachRecordsBytes puts records with Put alone, whose
// records go back to the pool as soon as they are delivered, from eight
// goroutines, with aggregation on and off, with and without OrderByKey and
// hooks (without them, a delivered aggregate is settled as a whole), a
// shard rate limit, failed entries and calls, writes answered as failed,
// and a shard split half-way. Every user record Kinesis stored must carry
// its own key and data (a record reused while still in use would carry
// another's), and every record must have one outcome.
func TestPlainPutKeepsEachRecordsBytes(t *testing.T) {
	for _, tt := range []struct {
		name     string
		agg, obk bool
	}{
		{"aggregate", true, false},
		{"aggregate, OrderByKey and hooks", true, true},
		{"OrderByKey and hooks", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) { plainPutStress(t, tt.agg, tt.obk) })
	}
}

func plainPutStress(t *testing.T, agg, observed bool) {
	srv := kinesistest.Start(t,
		kinesistest.WithClock(steppingClock(20*time.Millisecond)),
		kinesistest.WithShardLimits(kinesistest.AWSShardLimits()),
		kinesistest.WithFaults(kinesistest.Faults{Seed: 7, RecordFailureRate: 0.1, RequestErrorRate: 0.03, DropAfterWriteRate: 0.02}))
	require.NoError(t, srv.CreateStream("plain", 3))
	c := srv.Client()
	cfg := inskinesis.Config[keyedRecord]{
		StreamName:       "plain",
		Client:           c,
		AggregateRecords: agg,
		ShardRateLimit:   500,
		MaxGroup:         8,
		RetryCount:       20,
		RetryInterval:    time.Millisecond,
		MaxRetryInterval: 20 * time.Millisecond,
		FlushInterval:    2 * time.Millisecond,
		Partitioner:      func(e keyedRecord) string { return e.Key },
	}
	if observed {
		cfg.OrderByKey, cfg.Hooks = true, []inskinesis.Hook{&everyHook{}}
	}
	s, err := inskinesis.NewKinesis(cfg)
	require.NoError(t, err)
	flushes := make(chan error, 1)
	go func() { // Flushes mid-way split aggregates across epochs
		var err error
		for range 20 {
			if err = s.Flush(context.Background()); err != nil {
				break
			}
		}
		flushes <- err
	}()
	const n, putters = 20000, 8
	var wg sync.WaitGroup
	half := make(chan struct{})
	for p := range putters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := p; id < n; id += putters {
				if id == n/2 {
					close(half)
				}
				if err := s.Put(keyedRecord{ID: id, Key: fmt.Sprintf("key-%d", id%97), Pad: padFor(id)}); err != nil {
					t.Errorf("Put(%d): %v", id, err)
					return
				}
			}
		}()
	}
	<-half
	splitFirstShard(t, context.Background(), c, "plain")
	wg.Wait()
	require.NoError(t, <-flushes)
	require.NoError(t, s.Flush(context.Background()))
	st := s.Stats()
	require.EqualValues(t, n, st.Delivered+st.Failed, "every record has its outcome when Flush returns: %+v", st)
	s.FlushAndStopStreaming()

	stored, err := srv.KinesisRecords("plain")
	require.NoError(t, err)
	seen := make(map[int]bool)
	for _, r := range stored {
		users, err := aggregation.Deaggregate(r)
		require.NoError(t, err)
		for _, u := range users {
			var e keyedRecord
			require.NoError(t, json.Unmarshal(u.Data, &e), "stored data %q", u.Data)
			require.Equal(t, e.Key, u.PartitionKey, "record %d was stored under another record's key", e.ID)
			require.Equal(t, padFor(e.ID), e.Pad, "record %d carries another record's bytes", e.ID)
			seen[e.ID] = true
		}
	}
	st = s.Stats()
	require.EqualValues(t, n, st.Delivered+st.Failed, "every record has one outcome: %+v", st)
	missing := 0
	for id := range n {
		if !seen[id] {
			missing++
		}
	}
	assert.LessOrEqual(t, int64(missing), st.Failed, "records neither stored nor reported failed")
}
