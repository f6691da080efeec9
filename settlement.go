package inskinesis

import (
	"fmt"
	"time"
)

// settlement is what a round of the loop decided about records' fates: the
// user records that have their outcome, delivered or failed, and the
// failures to report. The loop's methods that decide a fate add to the
// settlement they are handed; the loop applies it after each dispatch
// (apply, see sendAndSettle), which reports the failures, gives the space
// back to Put and hands each record to its caller. run reuses one
// settlement from round to round.
type settlement[T any] struct {
	failures       []failure[T]
	settled        []*record[T] // user records with their outcome that apply hands on (see done)
	settledN       int          // every user record with its outcome: those, and those done freed
	settledBytes   int64        // their sizes
	finished       []epochRun   // the Flush epochs of those without a callback, run-length coded
	delivered      int64        // user records delivered, counted once per round
	deliveredBytes int64
	calls          []*record[T] // apply's: the records for the callback goroutine
}

// Why a record failed for good.
type failKind int

const (
	failFatal     failKind = iota // a non-retryable error
	failExhausted                 // retries exhausted
	failExpired                   // RecordTTL passed
	failThrottled                 // throttled past ThrottleTTL
	failAborted                   // shutdown gave up
)

type failure[T any] struct {
	kind  failKind
	code  string
	cause error
	recs  []*record[T]
}

// fail records that r will not be delivered.
func (l *loop[T]) fail(out *settlement[T], r *record[T], kind failKind, code string, cause error) {
	if r.aggregate() {
		l.unpack(r, false, func(c *record[T]) { l.fail(out, c, kind, code, cause) })
		return
	}
	for i := range out.failures {
		f := &out.failures[i]
		if f.kind == kind && f.code == code {
			f.recs = append(f.recs, r)
			return
		}
	}
	out.failures = append(out.failures, failure[T]{kind: kind, code: code, cause: cause, recs: []*record[T]{r}})
}

// done records that r has its outcome: delivered, or failed (r.err set).
func (l *loop[T]) done(out *settlement[T], r *record[T]) {
	if r.aggregate() {
		if r.plain {
			l.donePlain(out, r)
			return
		}
		l.unpack(r, true, func(c *record[T]) { l.done(out, c) })
		return
	}
	ok := r.err == nil // failures come with r.err set (report)
	l.letGo(out, 1, int64(r.size), ok)
	if r.fn == nil { // with a callback, it finishes once that has run
		out.finished = addEpoch(out.finished, r.epoch, 1)
	}
	free := ok && r.unwatched()
	hooked := len(l.s.hooks.unbuffered) > 0
	if !free || hooked { // read by its result and the hooks
		r.buffered = l.now.Sub(r.born)
	}
	if ok && hooked {
		l.unbuffered(r, "", "", nil)
	}
	key := r.key
	if free {
		// Nothing follows it but the Flush ledger: it goes back to the
		// pool now, while it is in the cache, rather than in another pass
		// of apply.
		l.s.free(r)
	} else {
		out.settled = append(out.settled, r)
	}
	l.unpark(out, key)
}

// donePlain settles delivered aggregate a, which is plain (see
// record.plain): its records are counted as a whole, and go back to the
// pool without taking on a's outcome, which nobody would read.
func (l *loop[T]) donePlain(out *settlement[T], a *record[T]) {
	n := len(a.children)
	l.letGo(out, n, a.held, true)
	out.finished = addEpoch(out.finished, a.epoch, n)
	// Not free: pin marks an aggregate with its records, and none of them
	// is an aggregate, so the pool takes them without a look at each. (An
	// aggregate whose call was given up on does not settle today; if it
	// ever did, its records would stay out of the pool.)
	if !a.keep {
		for _, c := range a.children {
			l.s.pool.Put(c)
		}
	}
	l.s.free(a)
}

// letGo counts n user records of bytes in all, which have their outcome,
// out of what the loop holds, and as delivered if they were.
func (l *loop[T]) letGo(out *settlement[T], n int, bytes int64, delivered bool) {
	l.held -= n
	l.heldBytes -= bytes
	out.settledN += n
	out.settledBytes += bytes
	if delivered {
		out.delivered += int64(n)
		out.deliveredBytes += bytes
	}
}

// addEpoch counts n more records of epoch e in runs.
func addEpoch(runs []epochRun, e uint64, n int) []epochRun {
	if last := len(runs) - 1; last >= 0 && runs[last].epoch == e {
		runs[last].n += n
		return runs
	}
	return append(runs, epochRun{epoch: e, n: n})
}

// unpark sends the record parked behind key (OrderByKey), now that the
// record ahead of it under that key has its outcome.
func (l *loop[T]) unpark(out *settlement[T], key string) {
	if l.parked == nil || key == "" {
		return
	}
	waiting := l.parked[key]
	if len(waiting) == 0 {
		delete(l.parked, key)
		return
	}
	next := waiting[0]
	waiting[0] = nil
	l.parked[key] = waiting[1:]
	next.queued = time.Time{}
	switch {
	case l.aborted:
		l.fail(out, next, failAborted, "Aborted", nil)
	case l.stage != nil:
		l.stageRecord(out, next)
	default:
		l.push(next, true)
	}
}

// apply reports the failures settled so far, gives the space of every
// settled record back to Put, and passes records on to their callbacks.
func (l *loop[T]) apply(out *settlement[T]) {
	if out.delivered > 0 {
		l.s.stats.delivered.Add(out.delivered)
		l.s.stats.deliveredBytes.Add(out.deliveredBytes)
		out.delivered, out.deliveredBytes = 0, 0
	}
	// Failing a record may release a parked one that fails too (after an
	// abort), so go until no failure is left.
	for len(out.failures) > 0 {
		fs := out.failures
		out.failures = nil
		for _, f := range fs {
			l.report(out, f)
		}
	}
	if out.settledN == 0 {
		return
	}
	s := l.s
	l.settleSpooled(out.settled)
	s.ledger.settle(out.settledN, out.finished, out.settledBytes)
	for _, r := range out.settled {
		if r.sync != nil {
			// PutSync's waiters are internal and quick: answer them here,
			// not on the callback goroutine, so that a PutSync inside a
			// callback works.
			r.sync.set(r.syncIdx, r.result())
			r.sync = nil
		}
		if r.fn == nil {
			s.free(r)
		} else {
			out.calls = append(out.calls, r)
		}
	}
	if len(out.calls) > 0 {
		s.cbs.push(out.calls)
		clear(out.calls)
		out.calls = out.calls[:0]
	}
	clear(out.settled)
	out.settled, out.finished = out.settled[:0], out.finished[:0]
	out.settledN, out.settledBytes = 0, 0
}

// report turns a failure into one PutError for its records.
func (l *loop[T]) report(out *settlement[T], f failure[T]) {
	cause := f.cause
	switch f.kind {
	case failExhausted:
		// PutError's message states the attempts.
		cause = fmt.Errorf("%w: %w", ErrRetriesExhausted, cause)
	case failThrottled:
		cause = fmt.Errorf("%w: still throttled %v after it was put (ThrottleTTL), last error: %w", ErrRecordExpired, l.set.throttleTTL, cause)
	case failExpired:
		if cause != nil {
			cause = fmt.Errorf("%w (last error: %w)", ErrRecordExpired, cause)
		} else {
			cause = fmt.Errorf("%w: not delivered within %v", ErrRecordExpired, l.set.recordTTL)
		}
	case failAborted:
		if cause != nil {
			cause = fmt.Errorf("%w: %w", l.s.abortCause(), cause)
		} else {
			cause = l.s.abortCause()
		}
	}
	pe := &PutError[T]{Records: make([]T, 0, len(f.recs)), Code: f.code, Err: cause}
	for _, r := range f.recs {
		if v, raw := l.s.value(r); raw != nil {
			pe.Raw = append(pe.Raw, *raw)
		} else {
			pe.Records = append(pe.Records, v)
		}
		pe.Attempts = max(pe.Attempts, r.attempts)
		pe.MaybeWritten = pe.MaybeWritten || r.maybeWritten
		if r.waited() {
			// The record's own outcome speaks of it alone.
			r.err = newRecordPutError(r, f.code, cause)
		} else {
			r.err = pe // marks it failed; nobody hands it to a caller
		}
	}
	if f.kind == failAborted {
		l.s.abortedError().merge(pe.Records, pe.Raw, pe.Attempts, pe.MaybeWritten)
	}
	l.s.stats.failed.Add(int64(len(f.recs)))
	l.s.report(pe)
	if l.s.hooks.log != nil {
		l.s.hooks.log.fail(l.now, f.code, len(f.recs))
	}
	for _, r := range f.recs {
		l.done(out, r)
		if len(l.s.hooks.unbuffered) > 0 {
			l.unbuffered(r, failReason(f.kind), f.code, r.err)
		}
	}
}
