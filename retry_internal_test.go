package inskinesis

import (
	"cmp"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis/internal/retry"
)

// TestAggregateRecordsKeepTheirOwnFailures: an aggregate counts only its
// own attempts, so a record that joins one with records that failed before
// does not take on their history; when one of its records is due to fail
// (its own failures, or its RecordTTL), the others go on alone.
func TestAggregateRecordsKeepTheirOwnFailures(t *testing.T) {
	s := newTestStream(t, newFake(50), func(c *Config[event]) { c.RetryCount = 1 })
	l := newLoop(s) // not run: its methods are called directly
	l.now = time.Now()
	fail := retry.Class{Retryable: true, Code: "InternalFailure"}
	cause := errors.New("internal failure")
	const ttl = 2 * time.Second

	tests := []struct {
		name             string
		old, fresh       int           // failures before joining the aggregate
		ttl              time.Duration // RecordTTL; 0: none
		oldAge, freshAge time.Duration // since each was put
		wantFail         []int
		wantKind         failKind // of wantFail; 0: failExhausted
		wantAgain        []int
		wantWholeAgain   bool
		wantOldAttempts  int
	}{
		{name: "both fresh: the aggregate goes again whole", wantWholeAgain: true},
		{name: "one failed before: it fails, the fresh one goes again alone", old: 1, wantFail: []int{1}, wantAgain: []int{2}, wantOldAttempts: 2},
		{name: "one past its RecordTTL: it expires, the younger one goes again alone", ttl: ttl, oldAge: ttl + ttl/20, freshAge: ttl / 2,
			wantFail: []int{1}, wantKind: failExpired, wantAgain: []int{2}, wantOldAttempts: 1},
		{name: "both within their RecordTTL: the aggregate goes again whole", ttl: ttl, oldAge: ttl - ttl/20, freshAge: ttl / 2, wantWholeAgain: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l.set.recordTTL = tt.ttl
			old := &record[event]{value: event{ID: 1}, key: "a", born: l.now.Add(-tt.oldAge), failures: tt.old, attempts: tt.old}
			fresh := &record[event]{value: event{ID: 2}, key: "b", born: l.now.Add(-tt.freshAge), failures: tt.fresh}
			// The stage gives an aggregate its oldest record's birth.
			a := &record[event]{key: "agg", born: old.born, attempts: 1, children: []*record[event]{old, fresh}}
			out := new(settlement[event])
			again := l.newBatch()
			l.retryOrFail(out, &again, a, fail, cause)
			if tt.wantWholeAgain {
				require.Equal(t, []*record[event]{a}, again.recs)
				assert.Empty(t, out.failures)
				return
			}
			var failed, sent []int
			wantKind := cmp.Or(tt.wantKind, failExhausted)
			for _, f := range out.failures {
				assert.Equal(t, wantKind, f.kind)
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
