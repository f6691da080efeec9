package inskinesis

import (
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis/internal/batch"
	"github.com/go-pkg/inskinesis/internal/retry"
)

// loop is the stream's one batching goroutine. It alone owns the queue of
// records waiting to be sent, the records waiting to be retried and the
// count of calls in flight, so none of them needs a lock. Data moves one
// way: Put hands records in, calls run on goroutines of their own and hand
// their outcome back, and the loop settles each record.
//
// Each round of run takes what woke it (a call's outcome, a new shard map,
// the timer, a Flush), then the inbox, then sends what is ready. The
// methods that decide a record's fate add it to the round's settlement
// (settlement.go), applied after each dispatch, and those that send records
// again return them as a retryBatch, which run schedules.
type loop[T any] struct {
	s   *Stream[T]
	set settings

	queue      batch.Queue[*record[T]] // waiting to be sent, oldest first
	queueBytes int
	held       int   // records held: queued, parked, in flight or waiting to retry
	heldBytes  int64 // their sizes
	retries    []retryGroup[T]
	spareIn    []*record[T]  // the inbox's other buffer, swapped in when taking it
	flying     []*request[T] // the calls in flight
	spareReqs  []*request[T]
	backoff    retry.Backoff

	// With AggregateRecords or ShardRateLimit: the shard stage.
	stage *stage[T]

	// With OrderByKey: the keys that have a record queued, in flight or
	// waiting to retry, each with the records of that key put after it.
	parked map[string][]*record[T]

	timer   *time.Timer
	timerAt time.Time
	now     time.Time
	abortc  <-chan struct{} // closed when a shutdown gives up; nil once seen
	inOpen  bool            // Put may still hand records in
	force   bool            // send partial batches now (Flush)
	aborted bool            // a shutdown gave up

	// After a throttle: new records wait until then, behind the throttled
	// ones (see scheduleRetries).
	holdUntil time.Time

	// A Put waits for space (the record it holds does not fit in what is
	// left): as full as it gets for that Put, whatever held counts.
	putWaits bool

	// Buffers that one method reuses from round to round; no other method
	// reads them.
	promoted []*record[T] // promoteRetries'
	refilled []*record[T] // refill's
	obs      observer     // requestDone's
	events   []Retry      // the retry hooks' events of a retryBatch (newBatch)
	sink     int          // what warmStaged read (see warmAhead)
}

// newBatch returns an empty retryBatch whose events reuse the loop's
// buffer, given back by scheduleRetries.
func (l *loop[T]) newBatch() retryBatch[T] {
	return retryBatch[T]{events: l.events[:0]}
}

type retryGroup[T any] struct {
	due  time.Time
	recs []*record[T]
}

func newLoop[T any](s *Stream[T]) *loop[T] {
	l := &loop[T]{
		s:       s,
		set:     s.set,
		inOpen:  true,
		abortc:  s.abortc,
		backoff: retry.Backoff{Base: s.set.retryInterval, Max: s.set.maxRetryInterval},
		timer:   time.NewTimer(time.Hour),
	}
	l.timer.Stop()
	if s.set.orderByKey {
		l.parked = make(map[string][]*record[T])
	}
	return l
}

// run is the loop: each round waits for what wakes it, then decides in
// order, until the stream has stopped and holds nothing.
func (l *loop[T]) run() {
	defer l.s.cbs.close() // after the last push: the callbacks may end once run out
	defer close(l.s.loopDone)
	defer l.s.md5.Close() // no call starts after the loop; one still building stops it
	defer l.timer.Stop()
	l.arm() // a stream that starts on AUTO reads the summary again in time
	// What each round decides about records' fates, applied at its end.
	out := new(settlement[T])
	for {
		l.scheduleRetries(l.await(out))
		// Put wakes the loop only when the inbox holds a batch's worth
		// or a record would wait too long: it is looked at every time.
		l.takeInbox(out)
		l.promoteRetries()
		l.sendAndSettle(out)
		if l.finished() {
			if l.s.hooks.log != nil {
				l.stopped()
			}
			return
		}
		l.recheckDistribution()
		l.arm()
	}
}

// await waits for what wakes the loop: a call's outcome or a new shard map,
// whose settled records go to out and whose records to be sent again it
// returns; the timer; a Flush; a shutdown giving up; or Put.
func (l *loop[T]) await(out *settlement[T]) (again retryBatch[T]) {
	s := l.s
	wake := s.wake
	if !l.inOpen {
		wake = nil
	}
	var snapc chan snapResult
	if l.stage != nil {
		snapc = l.stage.snapc
	}
	select {
	case <-wake:
		l.now = time.Now()
	case q := <-s.results:
		l.now = time.Now()
		again = l.handle(out, q)
	case <-l.timer.C:
		l.now = time.Now()
		l.timerAt = time.Time{}
	case <-s.flushc:
		// Every record put before the Flush is in the inbox by now: take
		// them all, then send without waiting.
		l.now = time.Now()
		l.force = true
	case <-l.abortc:
		l.now = time.Now()
		l.checkAbort(out)
	case res := <-snapc:
		l.now = time.Now()
		again = l.newSnapshot(out, res)
	}
	return again
}

// sendAndSettle starts the calls that are ready and applies the round's
// settlement, again for as long as settling frees memory for records
// waiting on disk (refill). Records that went into the shard stage
// meanwhile (aggregates taken apart, records released from behind their
// key) are due when arm says: at once when a Flush or a full stream wants
// them.
func (l *loop[T]) sendAndSettle(out *settlement[T]) {
	for {
		l.dispatch(out)
		l.apply(out)
		if !l.refill(out) {
			return
		}
	}
}

// finished reports whether the loop is done: Put can hand in no more and
// nothing is held, in memory or on disk. Once a shutdown gave up, a shard
// map refresh is not waited for: it ends with the cancelled context, and
// snapc holds its result.
func (l *loop[T]) finished() bool {
	return !l.inOpen && l.held == 0 && !l.backlog() && (l.stage == nil || !l.stage.refreshing || l.aborted)
}

// takeInbox takes every record Put has handed in, and notes when Put can
// hand in no more: one lock round of the ledger takes any number of
// records.
func (l *loop[T]) takeInbox(out *settlement[T]) {
	if !l.inOpen {
		return
	}
	recs, since, closed, putWaits := l.s.ledger.takeInbox(l.spareIn)
	l.putWaits = putWaits
	// Each record lingers from when the first of them was handed in, not
	// from when the loop took them.
	for i, r := range recs {
		if i%warmAhead == 0 {
			l.sink += warmStaged(recs[i:min(i+warmAhead, len(recs))])
		}
		l.accept(out, r, since)
	}
	clear(recs)
	l.spareIn = recs[:0]
	if closed {
		l.inOpen = false
	}
}

// checkAbort starts the abort once a shutdown gave up. Close closes abortc
// before it cancels the calls in flight, so a call that failed for the
// cancellation always finds the abort under way.
func (l *loop[T]) checkAbort(out *settlement[T]) {
	select {
	case <-l.abortc:
		l.abortc = nil
		l.abort(out)
	default:
	}
}

// accept takes a record from Put, or from the spool, handed in at at.
func (l *loop[T]) accept(out *settlement[T], r *record[T], at time.Time) {
	l.held++
	l.heldBytes += int64(r.size)
	if r.born.IsZero() { // Put sets it only with a RecordTTL
		r.born = at
	}
	if l.aborted {
		l.fail(out, r, failAborted, "Aborted", nil)
		return
	}
	r.queued = at
	if l.parked != nil && r.key != "" { // keyless records (AUTO) have no order to keep
		if waiting, busy := l.parked[r.key]; busy {
			l.parked[r.key] = append(waiting, r)
			return
		}
		l.parked[r.key] = nil
	}
	l.enqueue(out, r)
}

// enqueue passes a record on towards a request: through the shard stage,
// or straight to the back of the queue.
func (l *loop[T]) enqueue(out *settlement[T], r *record[T]) {
	if l.stage != nil {
		l.stageRecord(out, r)
		return
	}
	l.push(r, false)
}

// push adds an entry to the queue, at the front or the back.
func (l *loop[T]) push(r *record[T], front bool) {
	if front {
		l.queue.PushFront(r)
	} else {
		l.queue.PushBack(r)
	}
	l.queueBytes += r.size
}

// pop takes the entry at the front of the queue.
func (l *loop[T]) pop() *record[T] {
	r := l.queue.PopFront()
	l.queueBytes -= r.size
	return r
}

// sealAll reports whether the shard stage's builders should go now rather
// than wait for more records.
func (l *loop[T]) sealAll() bool { return l.force || !l.inOpen || l.full() }

// full reports whether the stream holds as much as Put may give it, so
// that waiting for batches to fill would only delay Put.
func (l *loop[T]) full() bool {
	return l.putWaits || l.held >= l.set.bufferRecords || l.heldBytes >= int64(l.set.bufferBytes)
}

// ready reports whether the front of the queue should go now rather than
// wait for more records.
func (l *loop[T]) ready() bool {
	if l.holding() && !l.queue.Front().queued.IsZero() {
		return false
	}
	return l.queue.Len() >= l.set.batchRecords ||
		l.queueBytes >= l.set.batchBytes ||
		l.force || !l.inOpen || l.full() ||
		!l.now.Before(l.queue.Front().queued.Add(l.set.flushInterval))
}

// dispatch starts calls while there is room for them and records ready.
func (l *loop[T]) dispatch(out *settlement[T]) {
	var stageDue time.Time // when the next builder of the stage falls due
	if l.stage != nil && !l.aborted {
		stageDue = l.sealDue(l.sealAll())
	}
	for len(l.flying) < l.set.maxGroup && l.queue.Len() > 0 && !l.aborted && l.ready() {
		q := l.cut(out)
		if len(q.recs) == 0 { // every record expired, or went back to the stage
			l.spareReqs = append(l.spareReqs, q)
			continue
		}
		q.sent = l.now
		q.slot = len(l.flying)
		l.flying = append(l.flying, q)
		l.s.stats.requests.Add(1)
		l.s.stats.inFlightRequests.Add(1)
		l.s.stats.inFlightRecords.Add(int64(q.weight))
		go l.s.send(q)
	}
	if l.queue.Len() == 0 && stageDue.IsZero() {
		l.force = false
	}
}

// cut takes the next request's records from the front of the queue.
func (l *loop[T]) cut(out *settlement[T]) *request[T] {
	var q *request[T]
	if n := len(l.spareReqs); n > 0 {
		q, l.spareReqs = l.spareReqs[n-1], l.spareReqs[:n-1]
	} else {
		q = &request[T]{}
		q.input.StreamName, q.input.StreamARN = l.set.names()
	}
	acc := batch.NewAcc(batch.Limits{MaxRecords: l.set.batchRecords, MaxBytes: l.set.batchBytes})
	var held []*record[T] // entries over their shard's rate
	var wait time.Duration
	for l.queue.Len() > 0 {
		r := l.queue.Front()
		if l.expired(r) {
			l.pop()
			l.expire(out, r)
			continue
		}
		if r.key == "" && (l.stage == nil || !l.stage.auto) {
			l.pop()
			l.failKeyless(out, r)
			continue
		}
		if r.aggregate() && !l.current(r) {
			l.pop()
			l.dissolve(out, r)
			continue
		}
		if !acc.Fits(r.size) || (l.holding() && !r.queued.IsZero()) {
			break
		}
		if d := l.takeRate(r); d > 0 {
			l.pop()
			held = append(held, r)
			if wait == 0 || d < wait {
				wait = d
			}
			continue
		}
		acc.Add(r.size)
		l.pop()
		r.attempts++
		q.add(r)
	}
	if len(held) > 0 {
		l.later(held, wait)
	}
	return q
}

// expire fails an entry whose RecordTTL has passed. An aggregate expires
// when its oldest record does: its records still within their TTL go back
// to the stage.
func (l *loop[T]) expire(out *settlement[T], r *record[T]) {
	if !r.aggregate() {
		l.fail(out, r, failExpired, "Expired", nil)
		return
	}
	l.unpack(r, false, func(c *record[T]) {
		if l.expired(c) {
			l.fail(out, c, failExpired, "Expired", nil)
		} else {
			c.queued = time.Time{}
			l.stageRecord(out, c)
		}
	})
}

func (l *loop[T]) expired(r *record[T]) bool {
	return l.set.recordTTL > 0 && l.now.Sub(r.born) >= l.set.recordTTL
}

// handle settles the records of a finished call into out, and returns
// those that go again.
func (l *loop[T]) handle(out *settlement[T], q *request[T]) (again retryBatch[T]) {
	again = l.newBatch()
	if q.abandoned {
		return again // its records were given up; the request is not reused
	}
	l.checkAbort(out)
	if q.abandoned { // the abort just now gave up on it
		return again
	}
	l.land(q)
	st := &l.s.stats
	st.inFlightRequests.Add(-1)
	st.inFlightRecords.Add(-int64(q.weight))
	c, err := l.classify(q)
	if l.s.hooks.watchRequests() {
		l.requestDone(q, c, err)
	}
	if err == nil {
		l.handleEntries(out, &again, q)
	} else {
		if c.Throttled {
			st.throttled.Add(int64(q.weight))
		}
		for _, r := range q.recs {
			l.retryOrFail(out, &again, r, c, err)
		}
	}
	q.reset()
	l.spareReqs = append(l.spareReqs, q)
	return again
}

// malformed is the class of an outcome the service would never send (an
// answer for a different number of entries, or an entry with both or
// neither of a sequence number and an error code): whatever sent it (a
// proxy, a fake) leaves the outcome unknown.
var malformed = retry.Class{Retryable: true, Unknown: true, Code: "MalformedResponse"}

// classify returns the class and the error of a call that failed as a
// whole, or a nil error when Kinesis answered it entry by entry.
func (l *loop[T]) classify(q *request[T]) (retry.Class, error) {
	switch {
	case q.err != nil:
		return retry.Request(l.s.reqCtx, q.err, q.trace.phase), cleanSDKError(q.err)
	case q.out == nil || len(q.out.Records) != len(q.recs):
		return malformed, fmt.Errorf("inskinesis: PutRecords answered %d entries for %d records", lenOut(q), len(q.recs))
	}
	return retry.Class{}, nil
}

// entryCode returns the error code of an entry of a PutRecords answer: ""
// when Kinesis wrote it, malformed.Code for an entry with both or neither
// of a sequence number and an error code.
func entryCode(e types.PutRecordsResultEntry) string {
	code, seq := deref(e.ErrorCode), deref(e.SequenceNumber)
	switch {
	case code == "" && seq != "":
		return ""
	case code == "" || seq != "":
		return malformed.Code
	}
	return code
}

// handleEntries settles the entries of a call Kinesis answered entry by
// entry: written, or failed with a code.
func (l *loop[T]) handleEntries(out *settlement[T], again *retryBatch[T], q *request[T]) {
	var recErr *RecordError // shared by the failures of one code: fail keeps one cause per code
	for i, e := range q.out.Records {
		r := q.recs[i]
		code := entryCode(e)
		switch code {
		case "":
			r.shardID, r.seq = deref(e.ShardId), deref(e.SequenceNumber)
			if l.stage != nil {
				l.noteShard(r, false)
				l.landed(out, again, r)
			} else {
				l.done(out, r)
			}
			continue
		case malformed.Code:
			l.retryOrFail(out, again, r, malformed,
				fmt.Errorf("inskinesis: PutRecords answered entry %d with sequence number %q and error code %q", i, deref(e.SequenceNumber), deref(e.ErrorCode)))
			continue
		}
		c := retry.Record(code)
		if c.Throttled {
			l.s.stats.throttled.Add(int64(r.weight()))
			l.noteShard(r, true)
		}
		if recErr == nil || recErr.Code != code {
			recErr = &RecordError{Code: code, Message: deref(e.ErrorMessage)}
		}
		l.retryOrFail(out, again, r, c, recErr)
	}
	l.reportShards(q.sent)
}

// land takes q off the calls in flight.
func (l *loop[T]) land(q *request[T]) {
	last := len(l.flying) - 1
	l.flying[q.slot] = l.flying[last]
	l.flying[q.slot].slot = q.slot
	l.flying[last] = nil
	l.flying = l.flying[:last]
}

func lenOut[T any](q *request[T]) int {
	if q.out == nil {
		return 0
	}
	return len(q.out.Records)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// retryBatch gathers the entries of one outcome (a response, a new shard
// map) that go again: after one backoff, as one group (see
// scheduleRetries).
type retryBatch[T any] struct {
	recs      []*record[T]
	throttled bool    // one of them was throttled
	events    []Retry // for the retry hooks, by code
}

// retryOrFail counts a failed attempt of entry r, of class c, and adds r
// to again, to be sent again later, or fails it for good. Throttling is
// backpressure, not failure: a throttled attempt costs no retry, and a
// throttled record goes again until RecordTTL, or ThrottleTTL without one,
// has passed since it was put. Only the other failures count against
// RetryCount.
//
// Each user record keeps its own count: an aggregate counts only its own
// attempts, and its records add them to theirs when it ends (unpack). When
// some record in a failed aggregate is due to fail (its own earlier
// failures, or its RecordTTL, differ from its neighbours'), the aggregate
// ends there: each record goes its own way, those that go again as plain
// records.
func (l *loop[T]) retryOrFail(out *settlement[T], again *retryBatch[T], r *record[T], c retry.Class, err error) {
	if c.Unknown {
		r.maybeWritten = true
	}
	if !c.Throttled {
		r.failures++
	}
	if r.aggregate() && !l.aborted && c.Retryable {
		// The aggregate was born with its oldest record, so its own TTLs
		// run out first; only a failure that counts needs each record's
		// own count (a throttle reads none of them).
		_, due := l.failsNow(r, r.failures, c)
		for i := 0; !due && !c.Throttled && i < len(r.children); i++ {
			due = l.exhausted(r.children[i].failures+r.failures, c)
		}
		if due {
			l.unpack(r, false, func(x *record[T]) { l.againOrFail(out, again, x, c, err) })
			return
		}
	}
	l.againOrFail(out, again, r, c, err)
}

// failsNow returns how entry r fails for good after an attempt of class c,
// with failures counted so far; due is false when r goes again.
func (l *loop[T]) failsNow(r *record[T], failures int, c retry.Class) (kind failKind, due bool) {
	switch {
	case l.aborted:
		return failAborted, true
	case !c.Retryable:
		return failFatal, true
	case l.exhausted(failures, c):
		return failExhausted, true
	case l.expired(r):
		return failExpired, true
	case c.Throttled && l.set.recordTTL == 0 && l.now.Sub(r.born) >= l.set.throttleTTL:
		return failThrottled, true
	}
	return 0, false
}

// exhausted reports whether a record that failed failures times, the last
// of class c, has used up RetryCount: throttles do not count.
func (l *loop[T]) exhausted(failures int, c retry.Class) bool {
	return !c.Throttled && failures > l.set.retryCount
}

// againOrFail adds r, its failed attempt counted, to again, or fails it
// for good (see retryOrFail).
func (l *loop[T]) againOrFail(out *settlement[T], again *retryBatch[T], r *record[T], c retry.Class, err error) {
	if kind, due := l.failsNow(r, r.failures, c); due {
		l.fail(out, r, kind, c.Code, err)
	} else {
		again.recs = append(again.recs, r)
		again.throttled = again.throttled || c.Throttled
		l.s.stats.retried.Add(int64(r.weight()))
		if len(l.s.hooks.retries) > 0 {
			l.retrying(again, r, c)
		}
	}
}

// scheduleRetries puts the entries of one outcome that are to be retried
// (after a response, or after a new shard map showed an aggregate landed
// astray) into one group, due after a backoff.
func (l *loop[T]) scheduleRetries(again retryBatch[T]) {
	if len(again.recs) == 0 {
		return
	}
	attempts := 0
	for _, r := range again.recs {
		attempts = max(attempts, r.attempts)
	}
	d := l.backoff.Delay(attempts, again.throttled)
	if again.throttled && (l.stage == nil || l.stage.lim == nil) {
		// Without a shard rate limit the loop cannot tell which shard
		// throttled: hold new records back until the throttled ones are
		// due, so that they go first, oldest first, instead of being
		// overtaken by new records again and again (see promoteRetries).
		// With one, the limiter holds back the throttled shard alone.
		l.holdUntil = maxTime(l.holdUntil, l.now.Add(d))
	}
	l.later(again.recs, d)
	if len(again.events) > 0 {
		l.retried(again.events, d)
		clear(again.events)
		l.events = again.events[:0]
	}
}

// later puts entries back at the front of the queue after d.
func (l *loop[T]) later(recs []*record[T], d time.Duration) {
	g := retryGroup[T]{due: l.now.Add(d), recs: recs}
	i, _ := slices.BinarySearchFunc(l.retries, g.due, func(g retryGroup[T], t time.Time) int { return g.due.Compare(t) })
	l.retries = slices.Insert(l.retries, i+countEqual(l.retries[i:], g.due), g)
}

func countEqual[T any](gs []retryGroup[T], t time.Time) int {
	n := 0
	for n < len(gs) && gs[n].due.Equal(t) {
		n++
	}
	return n
}

// promoteRetries moves the records whose backoff is over to the front of
// the queue, oldest first, ahead of newer records.
func (l *loop[T]) promoteRetries() {
	n := 0
	for n < len(l.retries) && !l.retries[n].due.After(l.now) {
		n++
	}
	if n == 0 {
		return
	}
	// The records due, and those sent back earlier that still wait at the
	// front, go first, oldest first: a throttled shard takes the front of
	// a call, and a record whose backoffs ran long must not be overtaken
	// by younger ones again and again until ThrottleTTL fails it.
	l.promoted = l.promoted[:0]
	for l.queue.Len() > 0 && l.queue.Front().queued.IsZero() {
		r := l.pop()
		l.promoted = append(l.promoted, r)
	}
	for _, g := range l.retries[:n] {
		l.promoted = append(l.promoted, g.recs...)
	}
	slices.SortStableFunc(l.promoted, func(a, b *record[T]) int { return a.born.Compare(b.born) })
	for j := len(l.promoted) - 1; j >= 0; j-- {
		r := l.promoted[j]
		r.queued = time.Time{}
		l.push(r, true)
	}
	clear(l.promoted)
	clear(l.retries[:n])
	l.retries = append(l.retries[:0], l.retries[n:]...)
}

// abort fails every record the stream holds. The calls in flight were
// cancelled; the loop does not wait for them, since a client may ignore its
// context: their records fail at once, as maybe written, and their outcome
// is dropped when they come back. The client may still read their data
// until then, so those records are never pooled again.
func (l *loop[T]) abort(out *settlement[T]) {
	l.aborted = true
	st := &l.s.stats
	for _, q := range l.flying {
		q.abandoned = true
		st.inFlightRequests.Add(-1)
		st.inFlightRecords.Add(-int64(q.weight))
		for _, r := range q.recs {
			r.pin() // the call's goroutine may still read them
			r.maybeWritten = true
			l.fail(out, r, failAborted, "Aborted", nil)
		}
	}
	clear(l.flying)
	l.flying = l.flying[:0]
	for l.queue.Len() > 0 {
		r := l.pop()
		l.fail(out, r, failAborted, "Aborted", nil)
	}
	for _, g := range l.retries {
		for _, r := range g.recs {
			l.fail(out, r, failAborted, "Aborted", nil)
		}
	}
	l.retries = nil
	if l.stage != nil {
		l.abortStage(out)
	}
}

// arm sets the timer for the next moment the loop must act unprompted: a
// batch's linger running out, or a retry falling due.
func (l *loop[T]) arm() {
	var at time.Time
	if l.queue.Len() > 0 && len(l.flying) < l.set.maxGroup && !l.aborted {
		at = l.queue.Front().queued.Add(l.set.flushInterval)
		if l.holding() && !l.queue.Front().queued.IsZero() {
			at = maxTime(at, l.holdUntil)
		}
	}
	if len(l.retries) > 0 && (at.IsZero() || l.retries[0].due.Before(at)) {
		at = l.retries[0].due
	}
	if st := l.stage; st != nil && !l.aborted {
		if due := st.nextDue(l.set.flushInterval); !due.IsZero() {
			if l.sealAll() {
				due = l.now
			}
			if at.IsZero() || due.Before(at) {
				at = due
			}
		}
	}
	if st := l.stage; st != nil && l.inOpen && !st.refreshing {
		if next, ok := st.nextSummary(); ok && (at.IsZero() || next.Before(at)) {
			at = next
		}
	}
	if l.inOpen {
		// The inbox too: Put counts on the loop to look at it then.
		at = l.s.ledger.watchInbox(at)
	}
	if at.Equal(l.timerAt) {
		return
	}
	l.timerAt = at
	if at.IsZero() {
		l.timer.Stop()
		return
	}
	l.timer.Reset(max(time.Until(at), 0))
}

// holding reports whether new records are held back after a throttle.
func (l *loop[T]) holding() bool { return l.now.Before(l.holdUntil) }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
