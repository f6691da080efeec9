package inskinesis

import (
	"iter"
	"time"
)

// Hook is a value that observes a stream. Pass hooks in Config.Hooks; each
// one implements any number of the Hook* interfaces below, and the stream
// calls only the methods it implements. NewKinesis looks at every hook once,
// so a stream with no hooks pays nothing for them.
//
// The stream calls hooks synchronously, on its own goroutines: a hook must
// be fast, must not block, must be safe for concurrent use (one hook may
// serve several streams, and the stream calls some methods from different
// goroutines at once), and must not call back into the stream. Events are
// passed by value, so new fields can be added to them without breaking
// implementations. Hooks must not keep slices of an event after they return.
// A panic in a hook is not recovered: it ends the program, as on any
// goroutine.
//
// Packages plugin/inprom (Prometheus) and plugin/inotel (OpenTelemetry),
// modules of their own, turn the hooks into the metrics of the Kinesis
// Producer Library. They count by the methods of the events
// (RecordUnbuffered.Retries, RecordUnbuffered.ErrorCode,
// RecordUnbuffered.KinesisRecord, RequestDone.Errors, ShardMap.Result and
// Aggregation.Value), which a hook of one's own can use to count the same way.
type Hook interface{}

// HookRecordBuffered is called when Put (or one of its variants) admitted a
// record into the stream. It runs on the goroutine that called Put, just
// after Put took the record, so it may run after the record's
// OnRecordUnbuffered when the record settled at once.
type HookRecordBuffered interface {
	OnRecordBuffered(RecordBuffered)
}

// RecordBuffered describes a record Put admitted.
type RecordBuffered struct {
	// Stream is the Kinesis stream's name.
	Stream string
	// Bytes is the record's data plus partition key, as Kinesis counts it.
	Bytes int
}

// HookRecordUnbuffered is called once for every record Put admitted, when its
// outcome is known: delivered, or failed for good. It runs on the stream's
// loop goroutine, before the record's PutAsync callback.
type HookRecordUnbuffered interface {
	OnRecordUnbuffered(RecordUnbuffered)
}

// RecordUnbuffered is the outcome of one record (a user record: a record in
// an aggregate has an event of its own).
type RecordUnbuffered struct {
	// Stream is the Kinesis stream's name.
	Stream string
	// Bytes is the record's data plus partition key.
	Bytes int
	// Attempts is how many times the record was sent.
	Attempts int
	// Buffered is the time from Put to the outcome, measured to a round of
	// the stream's loop.
	Buffered time.Duration
	// ShardID, SequenceNumber and SubSequenceNumber say where Kinesis
	// stored a delivered record (see Result); empty and 0 when it failed.
	ShardID           string
	SequenceNumber    string
	SubSequenceNumber uint64
	// MaybeDuplicate is true for a delivered record that Kinesis may hold
	// twice, as in Result.
	MaybeDuplicate bool
	// EntryRecords is how many user records the Kinesis record that carried
	// this one held: 1 when it was sent alone, more in an aggregate, 0 when
	// the record failed. Count the Kinesis records by the events whose
	// SubSequenceNumber is 0 and EntryRecords is not (see KinesisRecord).
	EntryRecords int
	// Err is nil when the record was delivered, and otherwise the
	// *PutError[T] that reported it (for FailLost, the error matching
	// ErrSpool), with Code its error code and Reason why the stream gave
	// up.
	Err    error
	Code   string
	Reason FailReason
}

// Retries returns how many times the record was sent after its first send:
// Attempts-1, and 0 for a record never sent (Attempts 0).
func (e RecordUnbuffered) Retries() int {
	return max(e.Attempts-1, 0)
}

// ErrorCode returns the code a failed record is counted under among errors
// by code, and true: the Reason of a record the stream gave up on
// (FailRetriesExhausted, FailExpired, FailAborted or FailLost). It returns "" and
// false for a delivered record, and for a rejected one (FailRejected),
// whose AWS error code is counted with its call (see RequestDone.Errors).
func (e RecordUnbuffered) ErrorCode() (code string, ok bool) {
	if e.Err == nil || e.Reason == FailRejected {
		return "", false
	}
	return string(e.Reason), true
}

// KinesisRecord returns how many user records the Kinesis record that
// carried this one held, and true, when this event is the one that counts
// that Kinesis record: the event of a delivered record whose
// SubSequenceNumber is 0 (a record sent alone, or the first of an
// aggregate). It returns 0 and false for the other records of an aggregate
// and for a failed record, so that each Kinesis record written is counted
// once.
func (e RecordUnbuffered) KinesisRecord() (userRecords int, ok bool) {
	if e.SubSequenceNumber != 0 || e.EntryRecords <= 0 {
		return 0, false
	}
	return e.EntryRecords, true
}

// FailReason says why the stream gave up on a record.
type FailReason string

// The reasons a record fails for good. Each is also the "code" the metric
// adapters count a failure under when it is not an AWS error code.
const (
	// FailRejected: a failure no retry can fix (a non-retryable AWS error
	// such as ResourceNotFoundException or AccessDeniedException).
	FailRejected FailReason = "rejected"
	// FailRetriesExhausted: still failing after Config.RetryCount retries
	// (ErrRetriesExhausted).
	FailRetriesExhausted FailReason = "retries_exhausted"
	// FailExpired: not delivered within Config.RecordTTL (ErrRecordExpired).
	FailExpired FailReason = "expired"
	// FailAborted: a shutdown gave up on it (ErrAborted).
	FailAborted FailReason = "aborted"
	// FailLost: with a spool, its bytes could not be read back from disk
	// (Stats.SpoolLost). Its event's Err matches ErrSpool, and it says
	// nothing of the record but that: Bytes, Attempts and Buffered are 0.
	FailLost FailReason = "lost"
)

// HookRequestDone is called when a PutRecords call has returned, before its
// records are settled. It runs on the stream's loop goroutine.
type HookRequestDone interface {
	OnRequestDone(RequestDone)
}

// RequestDone describes one PutRecords call. Entries are the Kinesis records
// of the call; with Config.AggregateRecords one entry may carry many user
// records.
type RequestDone struct {
	// Stream is the Kinesis stream's name.
	Stream string
	// Entries, Records and Bytes are what the call sent: Kinesis records,
	// the user records in them, and their data plus partition keys.
	Entries, Records, Bytes int
	// WrittenEntries, WrittenRecords and WrittenBytes are what Kinesis
	// answered as written (Kinesis records, user records, and the Kinesis
	// records' data plus partition keys); all 0 when the call failed as a
	// whole.
	WrittenEntries, WrittenRecords, WrittenBytes int
	// Duration is how long the call took.
	Duration time.Duration
	// Failures counts the entries Kinesis refused, by error code (for
	// example ProvisionedThroughputExceededException or InternalFailure),
	// in order of first appearance. The slice is reused once the hook
	// returns: copy it to keep it.
	Failures []CodeCount
	// Err is the error of a call that failed as a whole (nil otherwise),
	// and Code its AWS error code or a local reason ("Timeout",
	// "ConnectionReset", "MalformedResponse", ...).
	Err  error
	Code string
}

// Errors returns the errors of the call by code, with how many each counts:
// Code and 1 when the call failed as a whole, then the Code and Entries of
// each of Failures, in order. Nothing when the call wrote every entry. The
// AWS error codes of records rejected for good are counted here, with their
// call, and not by RecordUnbuffered.ErrorCode.
func (e RequestDone) Errors() iter.Seq2[string, int] {
	return func(yield func(code string, n int) bool) {
		if e.Err != nil && !yield(e.Code, 1) {
			return
		}
		for _, f := range e.Failures {
			if !yield(f.Code, f.Entries) {
				return
			}
		}
	}
}

// CodeCount counts entries of one error code.
type CodeCount struct {
	Code string
	// Entries are Kinesis records; Records the user records in them.
	Entries, Records int
}

// HookThrottle is called when Kinesis throttled entries: a whole call
// (ProvisionedThroughputExceededException, LimitExceededException, ...) or
// entries of a call. It runs on the stream's loop goroutine, after the
// call's OnRequestDone.
type HookThrottle interface {
	OnThrottle(Throttle)
}

// Throttle describes throttled entries of one call. A call whose entries
// were throttled on several shards gives one event per shard.
type Throttle struct {
	// Stream is the Kinesis stream's name.
	Stream string
	// ShardID is the shard the entries were bound for, when the stream
	// predicted it (with Config.AggregateRecords or Config.ShardRateLimit);
	// empty otherwise, and for a whole call.
	ShardID string
	// Entries and Records count the throttled Kinesis records and the user
	// records in them.
	Entries, Records int
	// WholeCall is true when the call failed as a whole.
	WholeCall bool
	// Code is the error code.
	Code string
}

// HookRetry is called when the stream schedules entries to be sent again.
// It runs on the stream's loop goroutine.
type HookRetry interface {
	OnRetry(Retry)
}

// Retry describes entries scheduled to be sent again after Delay: one event
// per error code of a round of the stream's loop.
type Retry struct {
	// Stream is the Kinesis stream's name.
	Stream string
	// Entries and Records count the Kinesis records and the user records
	// in them.
	Entries, Records int
	// Attempt is the most attempts any of them has had so far.
	Attempt int
	// Delay is the backoff before they are sent again.
	Delay time.Duration
	// Code is the error code of the failure that is retried.
	Code string
	// Throttled is true when the failure was throttling.
	Throttled bool
}

// HookShardMap is called after every read of the shard map (with
// Config.AggregateRecords or Config.ShardRateLimit): the first one, on the
// goroutine that called NewKinesis, and the later refreshes, on the stream's
// loop goroutine.
type HookShardMap interface {
	OnShardMap(ShardMap)
}

// ShardMap describes a read of the stream's shard map.
type ShardMap struct {
	// Stream is the Kinesis stream's name.
	Stream string
	// Shards is the number of open shards in the map now in use (the old
	// map when the read failed).
	Shards int
	// Changed is true when the read installed a new map.
	Changed bool
	// Duration is how long the read took.
	Duration time.Duration
	// Err is the read's error, nil when it succeeded. The stream then
	// keeps its old map and reads again when it next needs to.
	Err error
}

// Result returns "ok" when the read succeeded and "error" when it failed.
func (e ShardMap) Result() string {
	if e.Err != nil {
		return "error"
	}
	return "ok"
}

// HookAggregation is called when aggregation is turned on or off: at start
// when Config.AggregateRecords is set, and whenever the stream turns it off
// or on by what it learned of the stream. It runs on the goroutine that
// called NewKinesis for the first, and on the stream's loop goroutine later.
type HookAggregation interface {
	OnAggregation(Aggregation)
}

// Aggregation describes aggregation being turned on or off.
type Aggregation struct {
	// Stream is the Kinesis stream's name.
	Stream string
	// On is true when the stream aggregates from now on.
	On bool
	// Reason says why.
	Reason string
}

// Value returns 1 when the stream aggregates from now on and 0 when it does
// not: the value of a gauge of aggregation.
func (e Aggregation) Value() int {
	if e.On {
		return 1
	}
	return 0
}

// hooks holds a stream's hooks sorted by kind, and its logger. Its slices
// are set once by NewKinesis and read-only after, so that checking one's
// length is all a stream without hooks pays.
type hooks struct {
	stream      string
	buffered    []HookRecordBuffered
	unbuffered  []HookRecordUnbuffered
	requests    []HookRequestDone
	throttles   []HookThrottle
	retries     []HookRetry
	shardMaps   []HookShardMap
	aggregation []HookAggregation
	log         *logger // nil without Config.Logger
}

func newHooks(stream string, hs []Hook) hooks {
	h := hooks{stream: stream}
	for _, x := range hs {
		if x, ok := x.(HookRecordBuffered); ok {
			h.buffered = append(h.buffered, x)
		}
		if x, ok := x.(HookRecordUnbuffered); ok {
			h.unbuffered = append(h.unbuffered, x)
		}
		if x, ok := x.(HookRequestDone); ok {
			h.requests = append(h.requests, x)
		}
		if x, ok := x.(HookThrottle); ok {
			h.throttles = append(h.throttles, x)
		}
		if x, ok := x.(HookRetry); ok {
			h.retries = append(h.retries, x)
		}
		if x, ok := x.(HookShardMap); ok {
			h.shardMaps = append(h.shardMaps, x)
		}
		if x, ok := x.(HookAggregation); ok {
			h.aggregation = append(h.aggregation, x)
		}
	}
	return h
}

// watchRequests reports whether the outcome of each call must be looked at
// for hooks or the log.
func (h *hooks) watchRequests() bool {
	return len(h.requests) > 0 || len(h.throttles) > 0 || h.log != nil
}

func (h *hooks) recordBuffered(size int) {
	e := RecordBuffered{Stream: h.stream, Bytes: size}
	for _, x := range h.buffered {
		x.OnRecordBuffered(e)
	}
}

// recordsLost tells the unbuffered hooks of n records Put admitted whose
// bytes the spool could not read back (see FailLost).
func (h *hooks) recordsLost(n int, err error) {
	if len(h.unbuffered) == 0 {
		return
	}
	e := RecordUnbuffered{Stream: h.stream, Err: err, Reason: FailLost}
	for range n {
		for _, x := range h.unbuffered {
			x.OnRecordUnbuffered(e)
		}
	}
}

func (h *hooks) shardMap(e ShardMap) {
	e.Stream = h.stream
	for _, x := range h.shardMaps {
		x.OnShardMap(e)
	}
}
