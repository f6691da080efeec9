package inskinesis

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis/internal/aggregate"
	"github.com/go-pkg/inskinesis/internal/hashkey"
	"github.com/go-pkg/inskinesis/internal/md5lanes"
	"github.com/go-pkg/inskinesis/internal/putjson"
	"github.com/go-pkg/inskinesis/internal/shardmap"
)

// record is one record on its way: its value, its encoding, and what is
// known of its fate. Records are pooled: the encoding buffer is reused.
type record[T any] struct {
	// The fields are ordered by when the hot path reads them, so that a
	// record's trip through Put, the loop and the stage touches few cache
	// lines: most records in flight are not in any cache. The goroutine
	// that builds an aggregate reads the first 64 bytes; the loop's staging
	// the first 192. A record is 352 bytes, so every other one starts
	// halfway through a line: that is one or two lines, three or four.

	data    []byte
	key     string
	hashKey string
	slot    aggregate.Slot // its keys' place in the aggregate it was last staged into

	size  int                // len(data) + len(key), as Kinesis counts it
	hash  hashkey.Uint128    // the hash key that routes the record, once hashed
	snap  *shardmap.Snapshot // the shard map of the prediction; nil: predict again
	shard *shardmap.Shard    // the predicted shard, the map's own; nil when unknown
	epoch uint64             // for Flush; an aggregate that is plain: its records'
	fn    func(Result[T])    // PutAsync's callback

	hashed       bool // hash is set (by Put, or by the stage for records read back from a spool)
	solo         bool // send as a plain record, never in an aggregate
	keep         bool // a call the stream gave up on may still read data and key: never pool
	maybeWritten bool
	spooled      bool // it is in the spool (Config.SpoolDir)
	encodedOnly  bool // read back from the spool: value not decoded
	plain        bool // an aggregate settled as a whole when delivered: its records are unwatched, all of its epoch, and nothing asks about them one by one (stage.whole)

	born     time.Time // when put: by Put with a RecordTTL, else by the loop
	queued   time.Time // when it joined the queue; zero: send at once
	attempts int
	sync     *syncWait[T] // PutSync's: the loop sets result syncIdx, not the callback goroutine

	err      error
	failures int // failed attempts that count against RetryCount: not throttles
	syncIdx  int
	children []*record[T] // an aggregate when not empty: the records packed in it
	held     int64        // an aggregate: the sizes of its records, as the ledger counts them

	value    T
	spoolSeq uint64        // its place in the spool, to settle it
	buffered time.Duration // from born to the outcome
	shardID  string
	mapReads uint8 // an aggregate that landed on an unknown shard: map reads it waited for
	seq      string
	sub      uint64 // index in the aggregate that delivered it
	aggN     int    // records in that aggregate; 0: delivered alone
}

// Records cross goroutines: Put writes one on its core, the loop stages it
// on another, and the goroutine that sends it reads it on a third, by when
// it is often in no cache at all. A step that works through many records
// one after another would stall on each record's first load in turn. The
// warm functions read ahead, in loads that do not wait on one another, the
// lines that step reads of the next warmAhead records, so that the CPU
// fetches them together. They return a sum of what they read, which the
// caller keeps (in a sink field) only so that the loads are not dropped.
const warmAhead = 32

// warmStaged reads what the loop's staging reads of each record: the first
// 192 bytes (data to sync), wherever the record's 64-byte lines begin.
func warmStaged[T any](recs []*record[T]) (sum int) {
	for _, r := range recs {
		sum += len(r.data) + r.size + r.attempts
		if r.fn != nil {
			sum++
		}
	}
	return sum
}

// warmSent reads what building a call reads of each record: its first
// line (data, keys and slot), whether it is an aggregate, and the start of
// its data.
func warmSent[T any](recs []*record[T]) (sum int) {
	for _, r := range recs {
		sum += len(r.data) + len(r.hashKey) + len(r.children)
		if len(r.data) > 0 {
			sum += int(r.data[0])
		}
	}
	return sum
}

// maxArena bounds the aggregate bytes a request keeps between calls.
const maxArena = 8 << 20

// maxPooledData bounds the encoding buffer a pooled record keeps, so that a
// few large records do not pin memory.
const maxPooledData = 64 << 10

// maxPooledChildren bounds the children slice a pooled aggregate keeps
// (64 KiB of pointers), as maxPooledData bounds a record's buffer.
const maxPooledChildren = 8 << 10

func (s *Stream[T]) newRecord() *record[T] {
	r, ok := s.pool.Get().(*record[T])
	if !ok {
		return new(record[T])
	}
	// Reset here, not in free: the goroutine that takes a record writes
	// its first lines anyway, while free would touch every line of
	// records the loop has long forgotten.
	data := r.data[:0]
	if cap(data) > maxPooledData {
		data = nil
	}
	*r = record[T]{data: data} // never an aggregate: those have a pool of their own
	return r
}

// newAggregate is newRecord for an aggregate (see stage.seal). Aggregates
// have a pool of their own, so that an aggregate reuses the children slice
// of an earlier one instead of growing it from nothing.
func (s *Stream[T]) newAggregate() *record[T] {
	a, ok := s.aggs.Get().(*record[T])
	if !ok {
		return s.newRecord()
	}
	children := a.children[:0]
	if cap(children) > maxPooledChildren {
		children = nil
	}
	*a = record[T]{children: children}
	return a
}

// free returns r to its pool. What it still references (its value, its
// keys) is let go when the record is taken again, or when the pool drops
// it at a garbage collection.
func (s *Stream[T]) free(r *record[T]) {
	if r.keep {
		return // left to the garbage collector
	}
	if cap(r.children) > 0 { // was an aggregate
		clear(r.children)
		s.aggs.Put(r)
		return
	}
	s.pool.Put(r)
}

// predicted returns the ID of r's predicted shard, or "" when unknown.
func (r *record[T]) predicted() string {
	if r.shard == nil {
		return ""
	}
	return r.shard.ID
}

// unwatched reports whether nothing but the Flush ledger follows r once it
// is delivered: no caller waits for it and the spool does not hold it.
func (r *record[T]) unwatched() bool { return !r.waited() && !r.spooled }

// waited reports whether a caller waits for r's outcome: a PutAsync
// callback or a PutSync.
func (r *record[T]) waited() bool { return r.fn != nil || r.sync != nil }

func (r *record[T]) result() Result[T] {
	res := Result[T]{
		Record:         r.value,
		ShardID:        r.shardID,
		SequenceNumber: r.seq,
		Attempts:       r.attempts,
		MaybeDuplicate: r.maybeWritten && r.err == nil,
		Err:            r.err,
	}
	res.Buffered, res.Aggregated, res.SubSequenceNumber = r.buffered, r.aggN > 0, r.sub
	return res
}

// request is one PutRecords call and its outcome. Requests are reused by the
// loop.
type request[T any] struct {
	recs      []*record[T]
	weight    int  // user records in recs
	aggBytes  int  // the sizes of the aggregates in recs: room for build
	slot      int  // index in the loop's calls in flight
	abandoned bool // a shutdown gave up on the call: drop its outcome
	entries   []types.PutRecordsRequestEntry
	input     kinesis.PutRecordsInput
	out       *kinesis.PutRecordsOutput
	err       error
	start     time.Time // when the call began; only with request hooks
	trace     callTrace // how far the SDK took the call
	sent      time.Time // when the loop started the call

	// Written by the goroutine that sends the call (see build): the
	// aggregates' bytes and explicit hash keys, and the builder that
	// makes them.
	arena []byte
	ehks  []string
	// The aggregates' messages in the arena, and where their digests go.
	msgs, digests [][]byte
	agg           *aggregate.Builder
	body          putjson.Buffer // the call's body, with the SDK's client
	sink          int            // what warmSent read (see warmAhead)
}

// noData is the data of a record that encodes to nothing. Kinesis takes
// empty data, but the SDK refuses nil Data as a missing field, failing the
// whole call.
var noData = []byte{}

func (q *request[T]) add(r *record[T]) {
	q.recs = append(q.recs, r)
	q.weight += r.weight()
	if r.aggregate() {
		q.aggBytes += r.size
	}
}

// build makes the call's input from its records, on the goroutine that
// sends it, aggregates included: their bytes (the protobuf message and its
// digest) are built here from their records, in the order and to the size
// the stage reserved (see stage.seal), into the request's arena, and live
// until the call is done. Their digests are filled in at the end, all at
// once: each entry's bytes and its digest's place are slices of one
// backing array, the same one even when the arena grew since.
func (q *request[T]) build(lim aggregate.Limits, md5 *md5lanes.Hasher) error {
	// Room for every entry's explicit hash key up front, so that the
	// pointers into ehks stay valid as it grows, and for every aggregate,
	// so that the arena grows at most once.
	q.arena, q.ehks = slices.Grow(q.arena[:0], q.aggBytes), slices.Grow(q.ehks[:0], len(q.recs))
	for i, r := range q.recs { // msgs and digests are empty: see reset
		if i%warmAhead == 0 {
			q.sink += warmSent(q.recs[i:min(i+warmAhead, len(q.recs))])
		}
		e := types.PutRecordsRequestEntry{Data: r.data}
		if r.key != "" { // none when the service places records itself
			e.PartitionKey = &r.key
		}
		if r.hashKey != "" {
			e.ExplicitHashKey = &r.hashKey
		}
		if r.aggregate() {
			data, ehk, err := q.aggregate(r, lim)
			if err != nil {
				return err
			}
			e.Data = data
			q.ehks = append(q.ehks, ehk)
			e.ExplicitHashKey = &q.ehks[len(q.ehks)-1]
		}
		if e.Data == nil {
			e.Data = noData
		}
		q.entries = append(q.entries, e)
	}
	md5.Sum(q.msgs, q.digests)
	q.input.Records = q.entries
	return nil
}

// aggregate builds the bytes and the explicit hash key of aggregate r.
func (q *request[T]) aggregate(r *record[T], lim aggregate.Limits) ([]byte, string, error) {
	if q.agg == nil {
		b, err := aggregate.New(lim)
		if err != nil {
			return nil, "", err
		}
		q.agg = b
	}
	b := q.agg
	b.Reset()
	for i, c := range r.children {
		if i%warmAhead == 0 {
			q.sink += warmSent(r.children[i:min(i+warmAhead, len(r.children))])
		}
		if !b.Append(c.key, c.hashKey, c.slot, c.data) {
			return nil, "", fmt.Errorf("inskinesis: aggregate of %d records does not take record %d again", len(r.children), b.Len())
		}
	}
	if b.Size() != r.size {
		return nil, "", fmt.Errorf("inskinesis: aggregate built to %d bytes, %d reserved", b.Size(), r.size)
	}
	start := len(q.arena)
	q.arena = b.BuildUndigested(q.arena)
	msg, digest := aggregate.Parts(q.arena[start:])
	q.msgs, q.digests = append(q.msgs, msg), append(q.digests, digest)
	ehk := b.ExplicitHashKey()
	b.Reset() // drop the records' keys
	return q.arena[start:len(q.arena):len(q.arena)], ehk, nil
}

func (q *request[T]) reset() {
	clear(q.recs)
	clear(q.entries)
	clear(q.ehks)
	clear(q.msgs)
	clear(q.digests)
	q.recs, q.entries, q.ehks = q.recs[:0], q.entries[:0], q.ehks[:0]
	q.msgs, q.digests = q.msgs[:0], q.digests[:0]
	q.input.Records = nil
	if cap(q.arena) > maxArena {
		q.arena = nil
	}
	q.out, q.err = nil, nil
	q.weight, q.aggBytes = 0, 0
	q.start = time.Time{}
	q.trace = callTrace{}
	q.sent = time.Time{}
}

// send makes the call of q and hands it back to the loop. A panic of the
// client fails the call, not the program.
func (s *Stream[T]) send(q *request[T]) {
	defer func() {
		if p := recover(); p != nil {
			q.out, q.err = nil, fmt.Errorf("inskinesis: PutRecords panicked: %v", p)
		}
		s.results <- q
	}()
	ctx, cancel := context.WithTimeout(s.reqCtx, s.set.requestTimeout)
	defer cancel()
	if err := q.build(s.aggLimits(), &s.md5); err != nil {
		q.out, q.err = nil, err
		return
	}
	if len(s.hooks.requests) > 0 {
		q.start = time.Now()
	}
	q.out, q.err = s.client.PutRecords(putjson.WithBuffer(withTrace(ctx, &q.trace), &q.body), &q.input, callOptions)
	q.body.Release()
}

// callbacks runs the callbacks of finished records, in order, on one
// goroutine, and then counts the records as finished. Its queue has no bound
// so that the loop never waits for a callback, and a callback may block in
// Put without deadlocking the stream.
type callbacks[T any] struct {
	s       *Stream[T]
	mu      sync.Mutex
	queue   []*record[T]
	spare   []*record[T]
	batch   []*record[T] // the batch being called back
	started int          // callbacks of batch started (the running one included)
	closed  bool         // the loop has stopped: run the queue out, then stop
	dropped bool         // Close gave up: start no more callbacks
	wake    chan struct{}
	done    chan struct{}

	// gid is the goroutine that runs callbacks; active is set while it runs
	// them, so that onGoroutine costs a load unless a callback is running.
	gid    uint64
	active atomic.Bool
}

func newCallbacks[T any](s *Stream[T]) *callbacks[T] {
	return &callbacks[T]{s: s, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (c *callbacks[T]) push(rs []*record[T]) {
	c.mu.Lock()
	c.queue = append(c.queue, rs...)
	c.mu.Unlock()
	c.signal()
}

// pending is the number of records waiting for their callbacks, the one
// running included.
func (c *callbacks[T]) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) + len(c.batch) - c.started + min(c.started, 1)
}

// close tells run that no record will be pushed any more.
func (c *callbacks[T]) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.signal()
}

// giveUp stops callbacks from starting and returns the records whose
// callbacks had not started. A callback already running finishes. Call it
// only after the loop stopped, so that nothing is pushed after it.
func (c *callbacks[T]) giveUp() []*record[T] {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropped {
		return nil
	}
	c.dropped = true
	var rs []*record[T]
	if c.batch != nil {
		rs = append(rs, c.batch[c.started:]...)
	}
	rs = append(rs, c.queue...)
	clear(c.queue)
	c.queue = nil
	c.signal()
	return rs
}

// onGoroutine reports whether it is called from a callback.
func (c *callbacks[T]) onGoroutine() bool {
	return c.active.Load() && goroutineID() == c.gid
}

func (c *callbacks[T]) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *callbacks[T]) run() {
	c.gid = goroutineID()
	defer c.s.stopped()
	defer close(c.done)
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closed && !c.dropped {
			c.mu.Unlock()
			<-c.wake
			c.mu.Lock()
		}
		if c.dropped || len(c.queue) == 0 { // given up, or closed with nothing left
			c.mu.Unlock()
			return
		}
		batch := c.queue
		c.queue, c.spare = c.spare[:0], nil
		c.batch, c.started = batch, 0
		c.mu.Unlock()
		n := c.callBatch(batch)
		c.s.finish(batch[:n])
		c.mu.Lock()
		c.batch, c.started = nil, 0
		dropped := c.dropped
		clear(batch[:n])
		if !dropped {
			c.spare = batch[:0]
		}
		c.mu.Unlock()
		if dropped {
			return
		}
	}
}

// callBatch calls back the records of batch in order until giveUp, and
// returns how many it called.
func (c *callbacks[T]) callBatch(batch []*record[T]) int {
	c.active.Store(true)
	defer c.active.Store(false)
	for i, r := range batch {
		c.mu.Lock()
		if c.dropped {
			c.mu.Unlock()
			return i
		}
		c.started = i + 1
		c.mu.Unlock()
		c.call(r)
	}
	return len(batch)
}

func (c *callbacks[T]) call(r *record[T]) {
	defer func() {
		if p := recover(); p != nil {
			c.s.report(fmt.Errorf("inskinesis: callback panicked: %v", p))
		}
	}()
	r.fn(r.result())
}

// report sends err on the Error channel without ever waiting.
func (s *Stream[T]) report(err error) {
	select {
	case s.errc <- err:
	default:
		s.stats.errorsDropped.Add(1)
	}
}

// finish counts records as finished for Flush and returns them to the pool.
func (s *Stream[T]) finish(rs []*record[T]) {
	s.ledger.finished(rs)
	for _, r := range rs {
		s.free(r)
	}
}

// aggLimits bounds the aggregates a call's goroutine builds: those the
// shard stage sized.
func (s *Stream[T]) aggLimits() aggregate.Limits {
	return aggregate.Limits{MaxBytes: s.set.aggMaxBytes, MaxCount: s.set.aggMaxCount}
}
