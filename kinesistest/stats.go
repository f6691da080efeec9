package kinesistest

import (
	"sync"
	"sync/atomic"
)

// Stats counts what the server has seen since it started. It is a snapshot:
// Server.Stats returns a copy that later requests do not change.
type Stats struct {
	// Requests counts every HTTP request, of any operation, including
	// those that failed or whose connection was dropped.
	Requests int64
	// WriteRequests counts PutRecord and PutRecords requests.
	WriteRequests int64
	// RecordsAccepted counts stored records, including those of requests
	// whose connection was then dropped (RecordsWrittenThenDropped).
	RecordsAccepted int64
	// RecordsThrottled counts records refused by the shard limits: PutRecords
	// entries with ErrorCode ProvisionedThroughputExceededException and
	// PutRecord requests that failed with it.
	RecordsThrottled int64
	// RecordsInternalFailure counts records failed by
	// Faults.RecordFailureRate (ErrorCode InternalFailure, or a PutRecord that
	// failed with HTTP 500 InternalFailure).
	RecordsInternalFailure int64
	// RecordsInFailedRequests counts the records of well-formed write
	// requests that failed as a whole by Faults.RequestErrorRate or whose
	// connection was dropped before the write; none were stored.
	RecordsInFailedRequests int64
	// InjectedRequestErrors counts write requests failed as a whole by
	// Faults.RequestErrorRate.
	InjectedRequestErrors int64
	// DroppedBeforeWrite counts connections closed without an answer and
	// without writing (Faults.DropConnectionRate).
	DroppedBeforeWrite int64
	// DroppedAfterWrite counts connections closed without an answer after
	// the write (Faults.DropAfterWriteRate).
	DroppedAfterWrite int64
	// RecordsWrittenThenDropped counts records stored by requests whose
	// connection was then dropped: their producer saw an error, so a retry
	// stores them again.
	RecordsWrittenThenDropped int64
	// Errors counts error responses by error code (for example
	// "ValidationException"), for every operation, injected ones included.
	// Dropped connections are not answered and not counted here.
	Errors map[string]int64
}

type statsCounters struct {
	requests, writeRequests                     atomic.Int64
	accepted, throttled, internal, inFailedReqs atomic.Int64
	injected, dropBefore, dropAfter, dropRecs   atomic.Int64

	mu     sync.Mutex
	errors map[string]int64
}

func (c *statsCounters) countError(code string) {
	c.mu.Lock()
	if c.errors == nil {
		c.errors = make(map[string]int64)
	}
	c.errors[code]++
	c.mu.Unlock()
}

func (c *statsCounters) snapshot() Stats {
	s := Stats{
		Requests:                  c.requests.Load(),
		WriteRequests:             c.writeRequests.Load(),
		RecordsAccepted:           c.accepted.Load(),
		RecordsThrottled:          c.throttled.Load(),
		RecordsInternalFailure:    c.internal.Load(),
		RecordsInFailedRequests:   c.inFailedReqs.Load(),
		InjectedRequestErrors:     c.injected.Load(),
		DroppedBeforeWrite:        c.dropBefore.Load(),
		DroppedAfterWrite:         c.dropAfter.Load(),
		RecordsWrittenThenDropped: c.dropRecs.Load(),
		Errors:                    map[string]int64{},
	}
	c.mu.Lock()
	for k, v := range c.errors {
		s.Errors[k] = v
	}
	c.mu.Unlock()
	return s
}
