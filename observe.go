package inskinesis

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/go-pkg/inskinesis/internal/retry"
	"github.com/go-pkg/inskinesis/internal/shardmap"
)

// observer holds requestDone's buffers, reused from call to call.
type observer struct {
	failures  []CodeCount
	throttles []Throttle
}

// requestDone tells the hooks and the log about a finished call, of class
// c and error err when it failed as a whole (see classify). Without a
// HookRequestDone only the throttles are looked for, for HookThrottle and
// the log.
func (l *loop[T]) requestDone(q *request[T], c retry.Class, err error) {
	h := &l.s.hooks
	o := &l.obs
	o.failures = o.failures[:0]
	o.throttles = o.throttles[:0]
	full := len(h.requests) > 0
	var e RequestDone
	if full {
		e = RequestDone{Stream: h.stream, Entries: len(q.recs), Records: q.weight, Err: q.err}
		if !q.start.IsZero() {
			e.Duration = l.now.Sub(q.start)
		}
		for _, r := range q.recs {
			e.Bytes += r.size
		}
	}
	if err != nil {
		e.Code = c.Code
		if q.err == nil {
			e.Err = err
		}
		if c.Throttled {
			o.throttles = append(o.throttles, Throttle{Stream: h.stream, Entries: len(q.recs), Records: q.weight, WholeCall: true, Code: c.Code})
		}
	} else if full || failedEntries(q.out) {
		for i, x := range q.out.Records {
			r := q.recs[i]
			code := entryCode(x)
			if code == "" {
				if full {
					e.WrittenEntries++
					e.WrittenRecords += r.weight()
					e.WrittenBytes += r.size
				}
				continue
			}
			if full {
				o.failures = countCode(o.failures, code, 1, r.weight())
			}
			if retry.Record(code).Throttled {
				o.throttles = countThrottle(o.throttles, h.stream, r.predicted(), code, r.weight())
			}
		}
		e.Failures = o.failures
	}
	for _, x := range h.requests {
		x.OnRequestDone(e)
	}
	for _, t := range o.throttles {
		for _, x := range h.throttles {
			x.OnThrottle(t)
		}
		if h.log != nil {
			h.log.throttle(l.now, t.Code, t.Entries)
		}
	}
}

// failedEntries reports whether an answer may hold failed entries: its
// FailedRecordCount is not 0, or it gave none.
func failedEntries(out *kinesis.PutRecordsOutput) bool {
	return out.FailedRecordCount == nil || *out.FailedRecordCount > 0
}

// countCode adds entries and records to the count of code in cs.
func countCode(cs []CodeCount, code string, entries, records int) []CodeCount {
	for i := range cs {
		if cs[i].Code == code {
			cs[i].Entries += entries
			cs[i].Records += records
			return cs
		}
	}
	return append(cs, CodeCount{Code: code, Entries: entries, Records: records})
}

func countThrottle(ts []Throttle, stream, shard, code string, records int) []Throttle {
	for i := range ts {
		if ts[i].ShardID == shard && ts[i].Code == code {
			ts[i].Entries++
			ts[i].Records += records
			return ts
		}
	}
	return append(ts, Throttle{Stream: stream, ShardID: shard, Entries: 1, Records: records, Code: code})
}

// retrying notes in again an entry scheduled to be sent again, for the
// retry hooks.
func (l *loop[T]) retrying(again *retryBatch[T], r *record[T], c retry.Class) {
	rs := again.events
	for i := range rs {
		if rs[i].Code == c.Code {
			rs[i].Entries++
			rs[i].Records += r.weight()
			rs[i].Attempt = max(rs[i].Attempt, r.attempts)
			return
		}
	}
	again.events = append(rs, Retry{Stream: l.s.hooks.stream, Entries: 1, Records: r.weight(), Attempt: r.attempts, Code: c.Code, Throttled: c.Throttled})
}

// retried tells the retry hooks about the entries of one outcome, due after
// delay.
func (l *loop[T]) retried(events []Retry, delay time.Duration) {
	for _, e := range events {
		e.Delay = delay
		for _, x := range l.s.hooks.retries {
			x.OnRetry(e)
		}
	}
}

// unbuffered tells the hooks the outcome of user record r, settled by done.
func (l *loop[T]) unbuffered(r *record[T], reason FailReason, code string, err error) {
	e := RecordUnbuffered{
		Stream:   l.s.hooks.stream,
		Bytes:    r.size,
		Attempts: r.attempts,
		Buffered: r.buffered,
		Err:      err,
		Code:     code,
		Reason:   reason,
	}
	if err == nil {
		e.ShardID, e.SequenceNumber, e.SubSequenceNumber = r.shardID, r.seq, r.sub
		e.MaybeDuplicate = r.maybeWritten
		e.EntryRecords = max(r.aggN, 1)
	}
	for _, x := range l.s.hooks.unbuffered {
		x.OnRecordUnbuffered(e)
	}
}

// failReason names a failKind for hooks.
func failReason(k failKind) FailReason {
	switch k {
	case failExhausted:
		return FailRetriesExhausted
	case failExpired, failThrottled:
		return FailExpired
	case failAborted:
		return FailAborted
	}
	return FailRejected
}

// shardMapRead tells the hooks and the log about a read of the shard map;
// before is the number of shards in the map before the read, first is true
// for the read of NewKinesis.
func (s *Stream[T]) shardMapRead(e ShardMap, before int, first bool) {
	if e.Err != nil {
		s.stats.shardMapErrors.Add(1)
	} else {
		s.stats.shardMapReads.Add(1)
	}
	s.hooks.shardMap(e)
	if s.hooks.log != nil {
		s.hooks.log.shardMap(e, before, first)
	}
}

// aggregationChanged tells the hooks and the log that aggregation was
// turned on or off, and why. Call it from NewKinesis or the loop goroutine.
func (s *Stream[T]) aggregationChanged(on bool, reason string) {
	e := Aggregation{Stream: s.hooks.stream, On: on, Reason: reason}
	for _, x := range s.hooks.aggregation {
		x.OnAggregation(e)
	}
	if s.hooks.log != nil {
		s.hooks.log.aggregation(on, reason)
	}
}

// mapRead describes the refresh res of the shard map cur.
func mapRead(cur *shardmap.Snapshot, res snapResult) ShardMap {
	e := ShardMap{Duration: res.took, Err: res.err, Shards: cur.Len()}
	if res.err == nil && res.snap != nil {
		e.Changed = res.snap != cur
		e.Shards = res.snap.Len()
	}
	return e
}

// stopped logs the stream's stop.
func (l *loop[T]) stopped() {
	aborted := 0
	if l.s.aborted != nil {
		aborted = len(l.s.aborted.Records)
	}
	l.s.hooks.log.stopped(l.now, l.s.Stats(), aborted)
}
