package inskinesis

import "time"

// inbox is where Put hands records to the loop. The ledger owns it and
// guards it with its lock, so that Put takes space and hands its record in
// with one lock round; every method is called with ledger.mu held.
//
// The loop does not wake for every record handed in: Put wakes it when the
// inbox holds a batch's worth (MaxStreamBatchSize records or
// MaxStreamBatchByteSize bytes), or when the first record of an empty inbox
// would otherwise wait longer than FlushInterval because the loop will not
// look on its own by then (watchAt). The loop looks at the inbox whenever
// it runs, and sets watchAt each time it sets its timer. Flush, Close and a
// Put that finds the stream full while records wait in the inbox wake it as
// well.
type inbox[T any] struct {
	recs    []*record[T]
	bytes   int
	since   time.Time // when the first record of recs was handed in
	watchAt time.Time // when the loop will next look on its own; zero: not before it is woken

	maxRecords, maxBytes int           // a batch's worth
	linger               time.Duration // FlushInterval
}

// put hands r in and reports whether the loop must be woken.
func (in *inbox[T]) put(r *record[T]) (wake bool) {
	in.recs = append(in.recs, r)
	in.bytes += r.size
	if len(in.recs) == 1 {
		if in.since = r.born; in.since.IsZero() { // Put read the clock already with a RecordTTL
			in.since = time.Now()
		}
		if in.watchAt.IsZero() || in.watchAt.After(in.since.Add(in.linger)) {
			return true
		}
	}
	return len(in.recs) >= in.maxRecords || in.bytes >= in.maxBytes
}

// pending reports whether records wait in the inbox, which the loop has not
// seen: a Put that finds the stream full wakes the loop only then.
func (in *inbox[T]) pending() bool { return len(in.recs) > 0 }

// take returns the records handed in, oldest first, and when the first of
// them was, and leaves spare as the empty inbox.
func (in *inbox[T]) take(spare []*record[T]) (recs []*record[T], since time.Time) {
	recs, since = in.recs, in.since
	in.recs, in.bytes, in.since = spare[:0], 0, time.Time{}
	return recs, since
}

// watch takes at, when the loop will next look on its own (zero: not
// before it is woken), and returns when it must look instead: no later than
// FlushInterval after the first record waiting in the inbox. Put wakes the
// loop for a new first record that would wait longer.
func (in *inbox[T]) watch(at time.Time) time.Time {
	if len(in.recs) > 0 {
		if due := in.since.Add(in.linger); at.IsZero() || due.Before(at) {
			at = due
		}
	}
	in.watchAt = at
	return at
}
