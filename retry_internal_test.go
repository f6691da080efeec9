package inskinesis

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis/internal/retry"
)

// TestAggregateRecordsKeepTheirOwnFailures: an aggregate counts only its
// own attempts, so a record that joins one with records that failed before
// does not take on their history; when one of its records is due to fail,
// the others go on alone.
func TestAggregateRecordsKeepTheirOwnFailures(t *testing.T) {
	s := newTestStream(t, newFake(50), func(c *Config[event]) { c.RetryCount = 1 })
	l := newLoop(s) // not run: its methods are called directly
	l.now = time.Now()
	fail := retry.Class{Retryable: true, Code: "InternalFailure"}
	cause := errors.New("internal failure")

	tests := []struct {
		name            string
		old, fresh      int // failures before joining the aggregate
		wantFail        []int
		wantAgain       []int
		wantWholeAgain  bool
		wantOldAttempts int
	}{
		{name: "both fresh: the aggregate goes again whole", wantWholeAgain: true},
		{name: "one failed before: it fails, the fresh one goes again alone", old: 1, wantFail: []int{1}, wantAgain: []int{2}, wantOldAttempts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := &record[event]{value: event{ID: 1}, key: "a", born: l.now, failures: tt.old, attempts: tt.old}
			fresh := &record[event]{value: event{ID: 2}, key: "b", born: l.now, failures: tt.fresh}
			a := &record[event]{key: "agg", born: l.now, attempts: 1, children: []*record[event]{old, fresh}}
			out := new(settlement[event])
			again := l.newBatch()
			l.retryOrFail(out, &again, a, fail, cause)
			if tt.wantWholeAgain {
				require.Equal(t, []*record[event]{a}, again.recs)
				assert.Empty(t, out.failures)
				return
			}
			var failed, sent []int
			for _, f := range out.failures {
				assert.Equal(t, failExhausted, f.kind)
				for _, r := range f.recs {
					failed = append(failed, r.value.ID)
				}
			}
			for _, r := range again.recs {
				sent = append(sent, r.value.ID)
			}
			assert.Equal(t, tt.wantFail, failed)
			assert.Equal(t, tt.wantAgain, sent)
			assert.Equal(t, 1, fresh.failures, "the fresh record failed once")
			assert.Equal(t, 1, fresh.attempts, "the fresh record was sent once")
			assert.Equal(t, tt.wantOldAttempts, old.attempts)
		})
	}
}

// TestAggregateRetryExpiresOnlyItsOldRecords: a failed aggregate whose
// oldest record is past its RecordTTL fails that record alone; a younger
// one goes again and is delivered.
func TestAggregateRetryExpiresOnlyItsOldRecords(t *testing.T) {
	f := &listingFake{fakeKinesis: newFake(51)}
	f.block = make(chan struct{})
	f.started = make(chan struct{}, 4)
	f.failCall = func(_ *rand.Rand, call int) (error, bool) {
		if call == 1 {
			return errors.New("boom"), false
		}
		return nil, false
	}
	const ttl = 2 * time.Second
	s := newTestStream(t, f.fakeKinesis, func(c *Config[event]) {
		c.Client = f
		c.AggregateRecords = true
		c.RecordTTL = ttl
		c.FlushInterval = time.Hour
	})
	errs := drainErrors(s)
	t0 := time.Now()
	require.NoError(t, s.Put(event{ID: 1, Key: "a"}))
	time.Sleep(ttl / 2) // not synchronisation: record 2 is put half a TTL later
	require.NoError(t, s.Put(event{ID: 2, Key: "b"}))
	go func() { _ = s.Flush(context.Background()) }()
	<-f.started                                  // one aggregate of both, held
	time.Sleep(time.Until(t0.Add(ttl + ttl/20))) // not synchronisation: record 1 is past its TTL, record 2 is not
	close(f.block)
	s.FlushAndStopStreaming()
	var expired []int
	for _, pe := range errs() {
		assert.ErrorIs(t, pe, ErrRecordExpired)
		expired = append(expired, ids(pe.Records)...)
	}
	assert.Equal(t, []int{1}, expired, "only the record past its TTL expired")
	assert.EqualValues(t, 1, s.Stats().Delivered)
}
