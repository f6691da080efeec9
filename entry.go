package inskinesis

// An entry is what goes into a PutRecords call: a user record, or an
// aggregate. An aggregate is a record the shard stage makes (stage.seal)
// with AggregateRecords: its children are the user records packed in it,
// sent as one Kinesis record in the KPL format, whose bytes the goroutine
// that sends the call builds (request.build). Up to its outcome the loop
// treats both alike, by size and weight. The role of an aggregate ends with
// unpack: when Kinesis wrote it, when it fails or expires, or when it must
// be taken apart (its shard changed), each of its records takes on what it
// went through and goes on alone.

// aggregate reports whether entry r is an aggregate.
func (r *record[T]) aggregate() bool { return len(r.children) > 0 }

// weight is the number of user records an entry carries.
func (r *record[T]) weight() int {
	if len(r.children) > 0 {
		return len(r.children)
	}
	return 1
}

// inherit adds to user record r what the aggregate that carried it went
// through: its attempts and failures (an aggregate counts only its own, so
// that a record joining one never takes on its neighbours' history),
// whether it may have been written, and whether it must go as a plain
// record.
func (r *record[T]) inherit(agg *record[T]) {
	r.attempts += agg.attempts
	r.failures += agg.failures
	r.maybeWritten = r.maybeWritten || agg.maybeWritten
	r.solo = r.solo || agg.solo
}

// pin keeps entry r and its records out of the pool for good: a call the
// stream gave up on may still read them.
func (r *record[T]) pin() {
	r.keep = true
	for _, c := range r.children {
		c.keep = true
	}
}

// unpack ends aggregate a: each of its records takes on what a went through
// (inherit) and, when Kinesis wrote a, where (shard, sequence number, its
// place in a), and is passed to fn; then a's shell goes back to the pool.
func (l *loop[T]) unpack(a *record[T], written bool, fn func(*record[T])) {
	for i, c := range a.children {
		if written {
			c.shardID, c.seq, c.err = a.shardID, a.seq, a.err
			c.sub, c.aggN = uint64(i), len(a.children)
		}
		c.inherit(a)
		fn(c)
	}
	l.s.free(a)
}
