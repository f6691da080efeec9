package inskinesis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/codec/json"
	"github.com/go-pkg/inskinesis/internal/hashkey"
	"github.com/go-pkg/inskinesis/internal/md5lanes"
	"github.com/go-pkg/inskinesis/internal/spool"
	"github.com/go-pkg/inskinesis/partition"
)

// Codec turns a record into the bytes stored in Kinesis, and back. Encode
// appends the encoding of v to dst. See package codec and its sub-packages
// json, msgpack and proto.
type Codec[T any] = codec.Codec[T]

// Partitioner picks the partition key of a record. Kinesis routes a record
// to the shard whose hash key range holds the MD5 of its key, so records of
// one key land on one shard. See package partition for ready-made ones.
type Partitioner[T any] func(record T) string

// PutRecordsAPI is the part of the Kinesis API the stream needs.
// *kinesis.Client satisfies it; tests can pass a fake, or a client of the
// kinesistest server.
type PutRecordsAPI interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

var _ PutRecordsAPI = (*kinesis.Client)(nil)

// ListShardsAPI is the part of the Kinesis API that aggregation and the
// shard rate limit need to read a stream's shard map. *kinesis.Client
// satisfies it.
type ListShardsAPI interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
}

var _ ListShardsAPI = (*kinesis.Client)(nil)

// StreamInterface is the stream's core method set, for callers that want to
// swap the stream for a fake in their own tests. *Stream[T] satisfies it.
type StreamInterface[T any] interface {
	Put(record T) error
	PutContext(ctx context.Context, record T) error
	Flush(ctx context.Context) error
	FlushAndStopStreaming()
	Error() <-chan error
}

var _ StreamInterface[int] = (*Stream[int])(nil)

// Result is the outcome of one record.
type Result[T any] struct {
	// Record is the record as it was put.
	Record T
	// ShardID and SequenceNumber say where Kinesis stored the record; empty
	// when it was not delivered.
	ShardID        string
	SequenceNumber string
	// Attempts is how many times the record was sent.
	Attempts int
	// MaybeDuplicate is true when an earlier attempt's outcome was unknown
	// (a timeout, a dropped connection, a server error), so Kinesis may hold
	// the record twice.
	MaybeDuplicate bool
	// Err is nil when the record was delivered, and otherwise a
	// *PutError[T] whose Records hold this record alone (the PutError sent
	// on Error may hold other records that failed with it). When PutSync
	// could not put the record, its Code is "Rejected", Attempts is 0, and
	// it wraps the error Put returned (ErrClosed, ctx.Err(), ErrEncode...),
	// which errors.Is finds.
	Err error
	// Buffered is the time from Put to the outcome, measured to a round of
	// the stream's loop (a RecordTTL makes Put take the start exactly).
	// Without a RecordTTL, the start is when the loop took the record: for
	// a record that waited on disk in a spool, when it was read back.
	Buffered time.Duration
	// Aggregated is true when the record was delivered inside a KPL
	// aggregate (Config.AggregateRecords), and SubSequenceNumber is then
	// its index in the aggregate, as the Kinesis Client Library and
	// aggregation.UserRecord report it with SequenceNumber; 0 otherwise.
	Aggregated        bool
	SubSequenceNumber uint64
}

// Stream sends records of type T to a Kinesis stream. It encodes and
// partitions each record when it is put, gathers records into PutRecords
// calls of at most MaxStreamBatchSize records and MaxStreamBatchByteSize
// bytes, sends up to MaxGroup calls at once, resends only the records that
// failed, and reports every record it could not deliver.
//
// All methods are safe for concurrent use.
type Stream[T any] struct {
	set         settings
	codec       Codec[T]
	partitioner Partitioner[T]
	hashKey     func(T) string
	client      PutRecordsAPI
	// routed: a shard stage predicts each record's shard, so Put computes
	// the record's hash key on the caller's goroutine, not the loop's.
	routed bool
	// With routed: the hash of a partition key seen again and again (a
	// static key), and the address of the key last hashed, which tells
	// such a key apart from keys made afresh for every record. See keyHash.
	lastKey  atomic.Pointer[keyHash]
	lastMiss atomic.Uintptr

	ledger  *ledger[T]
	wake    chan struct{}             // a token: the inbox has records, or the ledger closed
	results chan *request[T]          // finished calls, back to the loop
	flushc  chan struct{}             // asks the loop to send partial batches now
	abortc  chan struct{}             // closed when a shutdown gives up
	errc    chan error                // Error()
	cbs     *callbacks[T]             // results waiting for their callbacks
	pool    sync.Pool                 // of *record[T]: user records
	aggs    sync.Pool                 // of *record[T]: aggregates, which keep their children slices
	stats   counters                  // for Stats()
	reqCtx  context.Context           // parent of every call; cancelled on abort
	cancel  context.CancelFunc        // cancels reqCtx
	done    chan struct{}             // closed when everything has stopped
	aborted *PutError[T]              // records a shutdown gave up on; written by the loop
	dist    atomic.Pointer[distState] // nil without a shard stage; set by the loop

	loopDone  chan struct{}
	abortOnce sync.Once
	abortErr  error
	abortMu   sync.Mutex  // guards aborted once the loop stopped
	closing   atomic.Bool // shutdown began: Put refuses records before encoding them
	idle      func()      // closes the idle connections of the client NewKinesis built; nil otherwise

	hooks   hooks           // Config.Hooks by kind, and Config.Logger
	durable *durable        // the spool; nil without Config.SpoolDir
	md5     md5lanes.Hasher // the aggregates' digests, for the calls' goroutines
}

// NewKinesis validates cfg, resolves its defaults and starts a stream. It
// returns a *ConfigError (matching ErrInvalidConfig) naming the first field
// it cannot accept, or the error of loading the default AWS configuration
// when Client is not set. Without AggregateRecords and ShardRateLimit it
// does not call AWS: a missing stream shows up as a PutError on Error for
// the first records. With either, it reads the stream summary
// (DescribeStreamSummary, whose failure it notes in Stats.DistributionErr)
// and the shard map (ListShards, whose failure, a panic of the client included, it returns), each bounded by
// RequestTimeout; a MaxRecordSize above the stream's own maximum is then a
// *ConfigError.
//
// Stop the stream with FlushAndStopStreaming or Close.
func NewKinesis[T any](cfg Config[T]) (*Stream[T], error) {
	set, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	client := cfg.Client
	var idle func()
	if client == nil {
		awsCfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(set.region))
		if err != nil {
			return nil, fmt.Errorf("inskinesis: load AWS config: %w", err)
		}
		hc := ownHTTPClient(awsCfg.HTTPClient)
		awsCfg.HTTPClient = hc
		client = kinesis.NewFromConfig(awsCfg)
		if c, ok := hc.(interface{ CloseIdleConnections() }); ok {
			idle = c.CloseIdleConnections
		}
	}
	s := &Stream[T]{
		set:         set,
		codec:       cfg.Codec,
		partitioner: cfg.Partitioner,
		hashKey:     cfg.ExplicitHashKey,
		client:      client,
		ledger:      newLedger(set.bufferRecords, int64(set.bufferBytes), inbox[T]{maxRecords: set.batchRecords, maxBytes: set.batchBytes, linger: set.flushInterval}),
		wake:        make(chan struct{}, 1),
		results:     make(chan *request[T], set.maxGroup),
		flushc:      make(chan struct{}, 1),
		abortc:      make(chan struct{}),
		errc:        make(chan error, set.errorBuffer),
		done:        make(chan struct{}),
		loopDone:    make(chan struct{}),
		idle:        idle,
		hooks:       newHooks(set.stream(), cfg.Hooks),
	}
	s.hooks.log = newLogger(cfg.Logger, set.stream())
	if s.hooks.log != nil {
		s.hooks.log.started(set)
	}
	if s.codec == nil {
		s.codec = json.Codec[T]{}
	}
	if s.partitioner == nil {
		s.partitioner = partition.UUID[T]()
	}
	var st *stage[T]
	var sum summary
	var sumErr error
	if set.aggregate || set.rateLimit > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), set.requestTimeout)
		sum, sumErr = readSummary(ctx, client, &set)
		cancel()
		if sumErr == nil {
			if err := applySummary(&set, cfg.MaxRecordSize, sum); err != nil {
				return nil, err
			}
			s.set = set
		}
		start := time.Now()
		st, err = newStage[T](set, client)
		e := ShardMap{Duration: time.Since(start), Err: err, Changed: err == nil}
		if st != nil {
			e.Shards = st.snap.Len()
		}
		s.shardMapRead(e, 0, true)
		if err != nil {
			return nil, err
		}
		s.routed = true
	}
	if set.spoolDir != "" {
		if s.durable, err = openDurable(set); err != nil {
			return nil, err
		}
		if n := s.durable.rec.Records; n > 0 {
			s.ledger.replayed(n)
		}
		s.wakeLoop() // to read back what an earlier process left
	}
	s.reqCtx, s.cancel = context.WithCancel(context.Background())
	s.cbs = newCallbacks(s)
	l := newLoop(s)
	l.stage = st
	if st != nil {
		st.newAggregate = s.newAggregate
		st.whole = !s.set.orderByKey && len(s.hooks.unbuffered) == 0
		l.now = time.Now()
		st.summaryAt = l.now.Add(st.minInterval) // just read
		l.setDistribution(sum.auto, sumErr)
	}
	go l.run()
	go s.cbs.run()
	return s, nil
}

// Put encodes and partitions record and adds it to the stream, blocking
// while the stream holds MaxBatchSize records or MaxBufferedBytes bytes.
// The record is copied (encoded) before Put returns, so the caller may reuse
// it.
//
// Put returns an error for a record that can never be delivered, and only
// that record fails: ErrEncode when the codec fails, ErrInvalidPartitionKey
// for an empty, over-long or invalid key, ErrInvalidHashKey, and
// ErrRecordTooLarge when data plus key exceed MaxRecordSize. After shutdown
// began it returns ErrClosed, without encoding the record. A record Put
// accepted is later delivered or reported on Error.
//
// With a spool (Config.SpoolDir), Put returns once the record is in the
// spool file, and blocks only while the spool is full: records beyond
// MaxBatchSize or MaxBufferedBytes wait on disk. It returns an error
// wrapping ErrSpool when the record cannot be written there (a full disk),
// and, with SpoolSync negative, ErrSpoolNotSynced when the sync after it
// failed (the record is then in the stream).
func (s *Stream[T]) Put(record T) error {
	return s.put(context.Background(), record, nil, true)
}

// PutContext is Put that gives up waiting for buffer space when ctx ends,
// returning ctx.Err(); the record is then not in the stream. A ctx that has
// already ended fails at once, even when there is room.
func (s *Stream[T]) PutContext(ctx context.Context, record T) error {
	return s.put(ctx, record, nil, true)
}

// TryPut is Put that never waits: when the buffer is full it returns
// ErrBufferFull at once and the record is not in the stream. When the stream
// already holds MaxBatchSize records or MaxBufferedBytes bytes, it refuses
// the record before encoding it. With a spool, the buffer is full only when
// the spool is.
func (s *Stream[T]) TryPut(record T) error {
	return s.put(context.Background(), record, nil, false)
}

// PutAsync is PutContext that also calls fn with the record's outcome, once,
// if and only if it returns nil; a failure's Result.Err is a *PutError[T]
// holding this record alone. Callbacks run one at a time on a single
// goroutine of the stream, in the order outcomes become known (for records
// of one key with OrderByKey, in Put order), and never on the caller's
// goroutine. A callback may call Put and its variants, PutSync included.
// Flush and Close, which wait for callbacks to finish, return ErrInCallback
// at once when called from a callback (Close after starting the shutdown),
// and FlushAndStopStreaming starts the shutdown without waiting for it.
// A slow callback delays other callbacks, not the stream: a record's buffer
// space is given back when its outcome is known, before its callback runs,
// so that a callback blocked in Put cannot deadlock the stream. Records
// waiting for their callback are therefore not bounded by MaxBatchSize or
// MaxBufferedBytes (each keeps its record, about 400 bytes plus its data
// and key, until its callback has run): keep callbacks quick (or hand results on to a bounded channel of your
// own); Stats().PendingCallbacks shows the backlog. Flush, and shutdown,
// return only after the callbacks of the records they wait for have
// returned, unless their context ends first: then Close gives up on the
// callbacks that have not started, which never run (see Close).
func (s *Stream[T]) PutAsync(ctx context.Context, record T, fn func(Result[T])) error {
	return s.put(ctx, record, fn, true)
}

// PutSync puts records and waits for their outcomes, returned in input
// order. It sends them without waiting for batches to fill. ctx bounds the
// wait for buffer space; a record that could not be put carries, in Err, a
// *PutError[T] with Code "Rejected" and Attempts 0 wrapping the error Put
// returned. Once put, a record's outcome arrives within the retry and
// timeout settings, or when a Close gives up. The outcomes do not go
// through the callback goroutine, so PutSync works from a PutAsync
// callback.
func (s *Stream[T]) PutSync(ctx context.Context, records ...T) []Result[T] {
	w := &syncWait[T]{results: make([]Result[T], len(records))}
	w.wg.Add(len(records))
	for i, v := range records {
		err := s.putRecord(ctx, v, nil, w, i, true)
		if err != nil && !errors.Is(err, ErrSpoolNotSynced) { // not synced: taken all the same, its outcome comes
			w.set(i, Result[T]{Record: v, Err: &PutError[T]{Records: []T{v}, Code: "Rejected", Err: err}})
		}
	}
	s.nudge() // the caller waits: send without waiting for batches to fill
	w.wg.Wait()
	return w.results
}

// syncWait gathers the outcomes of one PutSync. The loop calls set on its
// own goroutine, so set never blocks.
type syncWait[T any] struct {
	results []Result[T]
	wg      sync.WaitGroup
}

func (w *syncWait[T]) set(i int, r Result[T]) {
	w.results[i] = r
	w.wg.Done()
}

// Flush sends every record put before it without waiting for batches to
// fill, and waits until each has been delivered or reported (and its
// callback, if any, has returned or been given up by Close), or until ctx
// ends, returning ctx.Err(); a Flush that gives up leaves nothing behind.
// Records put while Flush waits do not delay it. Safe to call concurrently
// and repeatedly. Called from a PutAsync callback, it returns ErrInCallback
// at once: it would wait for that callback.
func (s *Stream[T]) Flush(ctx context.Context) error {
	if s.cbs.onGoroutine() {
		return ErrInCallback
	}
	f := s.ledger.flush()
	if f == nil {
		return nil
	}
	s.nudge()
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		s.ledger.cancelFlush(f)
		return ctx.Err()
	}
}

// nudge asks the loop to send what it holds without waiting for batches to
// fill.
func (s *Stream[T]) nudge() {
	select {
	case s.flushc <- struct{}{}:
	default: // a request is already pending
	}
}

// FlushAndStopStreaming stops taking records (Put then returns ErrClosed),
// delivers or reports every record already put, and stops every goroutine
// of the stream. It waits as long as that takes (at most the retry and
// timeout settings, plus the time the callbacks take); use Close to bound
// the wait. Calling it again, or after Close, does nothing. Called from a
// PutAsync callback, it starts the shutdown and returns at once, without
// waiting for it (it would wait for that callback); Done tells when the
// stream has stopped.
func (s *Stream[T]) FlushAndStopStreaming() {
	_ = s.Close(context.Background())
}

// Close is FlushAndStopStreaming with a deadline: it stops taking records,
// and waits until every record already put has been delivered or reported
// and its callback has returned, or until ctx ends. It returns nil when
// everything was delivered or reported for its own reasons.
//
// When ctx ends first, Close gives up and returns at once:
//   - Records not yet delivered are reported as a PutError with cause
//     ErrAborted, on Error and to their callbacks. Records in a call that
//     has not come back are among them, with MaybeWritten set: the stream
//     cancels the call, no longer waits for it, and drops its outcome if it
//     comes back later.
//   - PutAsync callbacks that have not started never run, whatever their
//     record's outcome (some may have been delivered).
//
// It then returns a *PutError[T] whose Err matches ErrAborted and ctx.Err(),
// holding every record it gave up on: those reported with ErrAborted (whose
// callbacks may have run), and those whose callbacks will not run, so that
// a record whose callback never runs is always in it. No record is reported
// twice on Error or to its callback.
//
// After Close returns, only two things of the stream may still run: a
// callback that was running when ctx ended (Done is closed once it
// returns), and a client call that ignores the cancellation of its context
// (its goroutine ends when the call returns). Close is idempotent and safe
// to call concurrently: every call returns the same outcome. Called from a
// PutAsync callback, it starts the shutdown and returns ErrInCallback at
// once: it would wait for that callback.
func (s *Stream[T]) Close(ctx context.Context) error {
	s.closing.Store(true)
	if s.ledger.close() {
		s.wakeLoop()
	}
	if s.cbs.onGoroutine() {
		return ErrInCallback
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		s.abortOnce.Do(func() {
			s.abortErr = ctx.Err()
			close(s.abortc)
			s.cancel()
		})
		<-s.loopDone // prompt: once it gave up, the loop waits for nothing
		s.giveUpCallbacks()
		s.closeDurable() // nothing uses the spool now: sync it and unlock it
	}
	s.abortMu.Lock()
	defer s.abortMu.Unlock()
	if s.aborted != nil {
		return s.aborted
	}
	return nil
}

// giveUpCallbacks stops the callbacks that have not started and adds their
// records to the PutError Close returns. Call after the loop stopped.
func (s *Stream[T]) giveUpCallbacks() {
	s.abortMu.Lock()
	defer s.abortMu.Unlock()
	rs := s.cbs.giveUp()
	if len(rs) == 0 {
		return
	}
	a := s.abortedError()
	for _, r := range rs {
		if r.err != nil && errors.Is(r.err, ErrAborted) {
			continue // the loop counted it in already
		}
		a.merge([]T{r.value}, nil, r.attempts, r.err == nil || r.maybeWritten)
	}
	s.finish(rs)
}

// abortedError returns the PutError a Close that gave up returns, made on
// first use. The loop adds to it until it stops, Close after that.
func (s *Stream[T]) abortedError() *PutError[T] {
	if s.aborted == nil {
		s.aborted = &PutError[T]{Code: "Aborted", Err: s.abortCause()}
	}
	return s.aborted
}

// abortCause is why records fail when a Close gave up: ErrAborted and the
// context error that made it give up.
func (s *Stream[T]) abortCause() error { return fmt.Errorf("%w: %w", ErrAborted, s.abortErr) }

// stopped runs once the loop and the callback goroutine have both ended.
func (s *Stream[T]) stopped() {
	s.closeDurable()
	s.cancel()
	if s.idle != nil {
		s.idle()
	}
	close(s.done)
}

// Error returns the channel on which the stream reports records it could
// not deliver, each as an error from which errors.As recovers a
// *PutError[T]; panics of callbacks; and, with a spool, records that could
// not be read back from disk (an error matching ErrSpool that states how
// many: their values are lost with the bytes). The channel holds ErrorBufferSize
// errors; the stream never waits for a reader, and counts the errors it
// could not send in Stats().ErrorsDropped. The channel is never closed, so
// a reading loop neither spins nor stops after shutdown: select on Done as
// well to end it.
func (s *Stream[T]) Error() <-chan error { return s.errc }

// Done returns a channel that is closed once the stream has stopped after
// FlushAndStopStreaming or Close: its loop has ended and no callback runs or
// will run. A client call a Close gave up on may still be running.
func (s *Stream[T]) Done() <-chan struct{} { return s.done }

// Stats is a snapshot of a stream's counters. Counts are totals since the
// stream started, except the Buffered and InFlight figures, which are
// current.
type Stats struct {
	BufferedRecords  int   // records held: waiting, in flight or awaiting retry
	BufferedBytes    int64 // their data plus key bytes
	InFlightRecords  int64 // records in PutRecords calls now
	InFlightRequests int64 // PutRecords calls now
	Requests         int64 // PutRecords calls made
	Delivered        int64 // records written
	DeliveredBytes   int64 // their data plus key bytes
	Retried          int64 // records sent again after a failure
	Throttled        int64 // record failures due to throttling, per record or per call
	Failed           int64 // records reported as not delivered
	ErrorsDropped    int64 // errors Error's full channel could not take
	PendingCallbacks int   // outcomes waiting for their PutAsync callback
	// Reads of the shard map (with AggregateRecords or ShardRateLimit):
	// those that succeeded, the first one included, and those that failed
	// (the stream then keeps its old map).
	ShardMapReads  int64
	ShardMapErrors int64

	// AggregationActive is true while the stream packs records into
	// aggregates: AggregateRecords is set and the stream was not found to
	// place records itself (ServiceManagedDistribution).
	AggregationActive bool
	// ServiceManagedDistribution is true while the stream's summary says
	// that the service places records itself (RecordDistributionStrategy
	// AUTO): the stream then sends plain records without predicting their
	// shard (no aggregation, no ShardRateLimit), and takes records with an
	// empty partition key. Only read with AggregateRecords or
	// ShardRateLimit; false otherwise.
	ServiceManagedDistribution bool
	// DistributionErr, when not nil, is why the stream could not read the
	// stream summary the last time it tried (it matches
	// ErrStreamSummaryUnavailable): the stream then keeps its last known
	// state, and at start assumes partition keys, so it keeps aggregating,
	// as the KPL does. On a stream with AUTO distribution that means
	// aggregates KCL consumers drop: grant kinesis:DescribeStreamSummary.
	DistributionErr error

	// With a spool (Config.SpoolDir): the records in it, delivered or
	// reported failed not yet (in memory, or waiting on disk for room),
	// and the bytes of its files; the records an earlier process left in
	// it that this stream replayed (sent again, MaybeDuplicate) at start;
	// the corrupt stretches of its files it skipped then; the rounds of
	// fsync done (concurrent Puts with SpoolSync negative share one); and
	// the records that could not be read back from disk because a spool
	// file changed under the stream (reported on Error(), counted in
	// Failed too, and logged at Error; they are lost).
	SpoolRecords int
	SpoolBytes   int64
	Replayed     int
	SpoolCorrupt int
	SpoolSyncs   int64
	SpoolLost    int64
}

type counters struct {
	inFlightRecords, inFlightRequests, requests           atomic.Int64
	delivered, deliveredBytes, retried, throttled, failed atomic.Int64
	errorsDropped                                         atomic.Int64
	shardMapReads, shardMapErrors                         atomic.Int64
}

// Stats returns a snapshot of the stream's counters.
func (s *Stream[T]) Stats() Stats {
	records, bytes := s.ledger.usage()
	c := &s.stats
	st := Stats{
		BufferedRecords:  records,
		BufferedBytes:    bytes,
		InFlightRecords:  c.inFlightRecords.Load(),
		InFlightRequests: c.inFlightRequests.Load(),
		Requests:         c.requests.Load(),
		Delivered:        c.delivered.Load(),
		DeliveredBytes:   c.deliveredBytes.Load(),
		Retried:          c.retried.Load(),
		Throttled:        c.throttled.Load(),
		Failed:           c.failed.Load(),
		ErrorsDropped:    c.errorsDropped.Load(),
		PendingCallbacks: s.cbs.pending(),
		ShardMapReads:    c.shardMapReads.Load(),
		ShardMapErrors:   c.shardMapErrors.Load(),
	}
	if s.durable != nil {
		s.durable.stats(&st)
	}
	if d := s.dist.Load(); d != nil {
		st.AggregationActive = d.aggregating
		st.ServiceManagedDistribution = d.auto
		st.DistributionErr = d.err
	}
	return st
}

// put is the one way in: check what can be checked cheaply, encode,
// partition, check, then admit.
func (s *Stream[T]) put(ctx context.Context, v T, fn func(Result[T]), wait bool) error {
	return s.putRecord(ctx, v, fn, nil, 0, wait)
}

// putRecord puts v with a PutAsync callback fn, or as result i of PutSync
// w (whose results the loop sets itself, on its own goroutine).
func (s *Stream[T]) putRecord(ctx context.Context, v T, fn func(Result[T]), w *syncWait[T], i int, wait bool) error {
	if s.closing.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !wait && s.durable == nil {
		if full, inboxed := s.ledger.full(); full {
			if inboxed { // as in admit
				s.wakeLoop()
			}
			return ErrBufferFull
		}
	}
	r, err := s.prepare(v)
	if err != nil {
		return err
	}
	r.fn, r.sync, r.syncIdx = fn, w, i
	if err := s.admit(ctx, r, wait); err != nil {
		if !errors.Is(err, ErrSpoolNotSynced) { // then the stream has the record
			s.free(r)
		}
		return err
	}
	return nil
}

// prepare encodes and partitions v into a pooled record and checks it
// against the service's limits. A panic of the codec or the partitioner
// fails this record alone.
func (s *Stream[T]) prepare(v T) (r *record[T], err error) {
	r = s.newRecord()
	stage := ErrEncode
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: panic: %v", stage, p)
		}
		if err != nil {
			s.free(r)
			r = nil
		}
	}()
	data, err := s.codec.Encode(r.data[:0], v)
	if err != nil {
		return r, fmt.Errorf("%w: %w", ErrEncode, err)
	}
	r.data = data
	stage = ErrInvalidPartitionKey
	key := s.partitioner(v)
	auto := s.serviceManaged()
	last := s.lastKey.Load() // a key the hash cache holds (a static key) was checked and hashed before
	if key != "" || !auto {  // AUTO streams need no key
		if last == nil || last.key != key {
			if err := checkKey(key); err != nil {
				return r, err
			}
		}
	}
	if s.hashKey != nil {
		stage = ErrInvalidHashKey
		hk := s.hashKey(v)
		if hk != "" {
			h, err := hashkey.Parse(hk)
			if err != nil {
				return r, fmt.Errorf("%w: %q is not a decimal number from 0 to 2^128-1", ErrInvalidHashKey, hk)
			}
			r.hash, r.hashed = h, true
		}
		r.hashKey = hk
	}
	r.size = recordSize(data, key)
	if r.size > s.set.maxRecordSize {
		return r, fmt.Errorf("%w: %d bytes of data and %d of partition key exceed the maximum record size of %d bytes",
			ErrRecordTooLarge, len(data), len(key), s.set.maxRecordSize)
	}
	if s.routed && !r.hashed && !auto { // AUTO: the stage hashes it if the stream goes back
		r.hash, r.hashed = s.keyHash(key, last), true
	}
	r.value = v
	r.key = key
	return r, nil
}

// keyHash is a partition key and its hash key.
type keyHash struct {
	key  string
	hash hashkey.Uint128
}

// keyHash returns the hash key of a partition key (the MD5 of it). A key
// whose bytes are hashed twice in a row from the same address (a key the
// partitioner returns every time, not one it builds per record) is kept,
// so that Puts with that key do not hash it again; keys built per record
// cost no allocation. last is the kept key, as the caller loaded it from
// s.lastKey.
func (s *Stream[T]) keyHash(key string, last *keyHash) hashkey.Uint128 {
	if last != nil && last.key == key {
		return last.hash
	}
	h := hashkey.Of(key)
	if p := uintptr(unsafe.Pointer(unsafe.StringData(key))); p != 0 && s.lastMiss.Swap(p) == p {
		s.lastKey.Store(&keyHash{key: key, hash: h})
	}
	return h
}

// admit takes space in the ledger and hands r to the loop, waiting for space
// when wait is set.
func (s *Stream[T]) admit(ctx context.Context, r *record[T], wait bool) error {
	l := s.ledger
	d := s.durable
	spilled := false // with a spool: waited for memory long enough, to disk now
	if s.set.recordTTL > 0 && r.born.IsZero() {
		r.born = time.Now() // outside the lock Put and the loop share
	}
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return ErrClosed
		}
		room := l.fits(r.size)
		if !room && s.ledger.inbox.pending() {
			// The loop sends what it holds at once when the stream is
			// full, once it has seen the records in the inbox.
			s.wakeLoop()
		}
		// With a spool, memory full and nothing waiting on disk: wait a
		// little for room, so that records go to disk when the stream
		// falls behind, not at every burst (reading them back costs the
		// loop time).
		spill := d != nil && !room && !r.waited() && wait && !spilled && !d.sp.Backlog()
		if d != nil && !spill && (room || !r.waited()) {
			// With a spool, a record goes to disk first. One without a
			// callback may stay there until memory has room; one with a
			// callback, which cannot outlive the process, waits for room
			// in memory and for the records waiting on disk, which go
			// first.
			if r.waited() && d.sp.Backlog() {
				room = false
			} else {
				loaded, err := s.spoolRecord(r, room)
				switch {
				case errors.Is(err, spool.ErrFull):
					room = false
				case err != nil:
					l.mu.Unlock()
					return err
				case !loaded:
					size := r.size
					l.diskOnly()
					l.mu.Unlock()
					s.free(r)
					return s.admitted(size)
				}
			}
		}
		if room {
			size := r.size // r is the loop's once unlocked
			r.epoch = l.take(r.size)
			// The loop takes the whole inbox under this same lock; it
			// needs waking only when a batch may be cut (see inbox).
			if s.ledger.inbox.put(r) {
				s.wakeLoop()
			}
			l.mu.Unlock()
			return s.admitted(size)
		}
		if !wait {
			l.mu.Unlock()
			return ErrBufferFull
		}
		var spillAfter *time.Timer // nil channel: wait for room only
		var spillNow <-chan time.Time
		if spill {
			spillAfter = time.NewTimer(spillDelay)
			spillNow = spillAfter.C
		}
		if !l.waiting() {
			// The first Put to wait tells the loop, which then sends what
			// it holds without waiting for batches to fill: the record
			// may not fit although the stream is not full by count.
			s.wakeLoop()
		}
		space := l.waitSpace()
		l.mu.Unlock()
		select {
		case <-space:
		case <-spillNow:
			spilled = true // to disk on the next round
		case <-ctx.Done():
			return ctx.Err()
		}
		if spillAfter != nil {
			spillAfter.Stop()
		}
	}
}

// spillDelay is how long Put waits for room in memory, with a spool and
// nothing waiting on disk, before the record waits on disk instead.
const spillDelay = 10 * time.Millisecond

// spoolRecord writes r to the spool, asking to keep it in memory when keep
// is set; it reports whether that was granted. Call with ledger.mu held.
func (s *Stream[T]) spoolRecord(r *record[T], keep bool) (loaded bool, err error) {
	// With a RecordTTL, the time it was put goes with it, so that the TTL
	// counts the wait on disk, in this process or after a restart.
	var born int64
	if !r.born.IsZero() { // read by admit with a RecordTTL
		born = r.born.UnixNano()
	}
	seq, loaded, err := s.durable.sp.AppendAt(r.key, r.hashKey, r.data, born, keep)
	if err != nil {
		if errors.Is(err, spool.ErrFull) {
			return false, err
		}
		return false, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	r.spoolSeq, r.spooled = seq, true
	return loaded, nil
}

// admitted finishes a Put that took a record of size bytes: it tells the
// hooks, and with SpoolSync negative waits for the spool to be synced.
func (s *Stream[T]) admitted(size int) error {
	if len(s.hooks.buffered) > 0 {
		s.hooks.recordBuffered(size)
	}
	if s.durable != nil && s.durable.syncEach {
		// A spool closed meanwhile was synced by its close, after the
		// record was delivered.
		if err := s.durable.sp.Sync(); err != nil && !errors.Is(err, spool.ErrClosed) {
			return fmt.Errorf("%w: %w", ErrSpoolNotSynced, err)
		}
	}
	return nil
}

// wakeLoop tells the loop to look at the inbox, without waiting: a token
// already pending serves as well.
func (s *Stream[T]) wakeLoop() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// recordSize is a record's size as Kinesis counts it against its limits:
// data plus partition key.
func recordSize(data []byte, key string) int { return len(data) + len(key) }

func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidPartitionKey)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalidPartitionKey, key)
	}
	if len(key) > MaxPartitionKeyLength {
		if n := utf8.RuneCountInString(key); n > MaxPartitionKeyLength {
			return fmt.Errorf("%w: %d code points, more than %d", ErrInvalidPartitionKey, n, MaxPartitionKeyLength)
		}
	}
	return nil
}
