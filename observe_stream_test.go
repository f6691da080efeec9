package inskinesis_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/aggregation"
	"github.com/go-pkg/inskinesis/kinesistest"
)

// countHook sums the events of the record and request hooks.
type countHook struct {
	mu                         sync.Mutex
	buffered                   int
	unbuffered, firstInEntry   int
	entryRecords               int
	kinesisRecords, carried    int // by RecordUnbuffered.KinesisRecord
	entries, records           int
	written, writtenRecs       int
	writtenBytes, deliveredLen int
}

func (h *countHook) OnRecordBuffered(inskinesis.RecordBuffered) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buffered++
}

func (h *countHook) OnRecordUnbuffered(e inskinesis.RecordUnbuffered) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unbuffered++
	if e.Err == nil {
		h.deliveredLen += e.Bytes
		if e.SubSequenceNumber == 0 {
			h.firstInEntry++
			h.entryRecords += e.EntryRecords
		}
	}
	if n, ok := e.KinesisRecord(); ok {
		h.kinesisRecords++
		h.carried += n
	}
}

func (h *countHook) OnRequestDone(e inskinesis.RequestDone) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entries += e.Entries
	h.records += e.Records
	h.written += e.WrittenEntries
	h.writtenRecs += e.WrittenRecords
	h.writtenBytes += e.WrittenBytes
}

// TestAggregatedResultsAndHooks: each delivered record's Result names its
// place in the aggregate that carried it, as a consumer deaggregates it, and
// the hooks count user records and Kinesis records apart.
func TestAggregatedResultsAndHooks(t *testing.T) {
	srv := kinesistest.Start(t)
	require.NoError(t, srv.CreateStream("observed", 4))
	h := &countHook{}
	cfg := aggConfig("observed", srv.Client())
	cfg.MaxBatchSize = 5000
	cfg.AggregationMaxCount = 40
	cfg.Hooks = []inskinesis.Hook{h}
	s, err := inskinesis.NewKinesis(cfg)
	require.NoError(t, err)
	const n = 3000
	events := aggEvents(n, 11, 7)
	results := aggPut(t, s, events)

	stored, _ := aggServerRecords(t, srv, "observed")
	bySeq := map[string][]aggregation.UserRecord{}
	var storedBytes int
	for _, r := range stored {
		users, err := aggregation.Deaggregate(r.kinesisRecord())
		require.NoError(t, err)
		bySeq[r.SequenceNumber] = users
		storedBytes += len(r.Data) + len(r.PartitionKey)
	}
	aggregated := 0
	for id, res := range results {
		require.Positive(t, res.Buffered, "record %d", id)
		users, ok := bySeq[res.SequenceNumber]
		require.True(t, ok, "record %d: no stored record %s", id, res.SequenceNumber)
		require.Less(t, res.SubSequenceNumber, uint64(len(users)), "record %d", id)
		u := users[res.SubSequenceNumber]
		require.Equal(t, u.Aggregated, res.Aggregated, "record %d", id)
		require.Equal(t, res.SubSequenceNumber, u.SubSequenceNumber, "record %d", id)
		require.Equal(t, events[id].Key, u.PartitionKey, "record %d: the user record at its sub-sequence number is another", id)
		require.Equal(t, events[id].Hash, u.ExplicitHashKey, "record %d", id)
		if res.Aggregated {
			aggregated++
		}
	}
	require.Greater(t, aggregated, n/2, "most records travel in aggregates")

	h.mu.Lock()
	defer h.mu.Unlock()
	require.Equal(t, n, h.buffered)
	require.Equal(t, n, h.unbuffered, "one RecordUnbuffered per user record")
	require.Equal(t, len(stored), h.firstInEntry, "one record at sub-sequence 0 per Kinesis record")
	require.Equal(t, n, h.entryRecords, "EntryRecords of the first records add up to all records")
	require.Equal(t, len(stored), h.kinesisRecords, "KinesisRecord counts each Kinesis record once")
	require.Equal(t, n, h.carried, "KinesisRecord's user records add up to all records")
	require.Equal(t, len(stored), h.entries, "no failures: every entry sent was written once")
	require.Equal(t, len(stored), h.written)
	require.Equal(t, n, h.records)
	require.Equal(t, n, h.writtenRecs)
	require.Equal(t, storedBytes, h.writtenBytes, "WrittenBytes counts the Kinesis records")
	require.EqualValues(t, s.Stats().DeliveredBytes, h.deliveredLen, "RecordUnbuffered.Bytes counts the user records")
	require.Less(t, len(stored), n/10)
}
