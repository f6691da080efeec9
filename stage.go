package inskinesis

import (
	"time"

	"github.com/go-pkg/inskinesis/internal/aggregate"
	"github.com/go-pkg/inskinesis/internal/batch"
	"github.com/go-pkg/inskinesis/internal/hashkey"
	"github.com/go-pkg/inskinesis/internal/ratelimit"
	"github.com/go-pkg/inskinesis/internal/shardmap"
)

// stage sits between Put and the queue when the stream needs to know each
// record's shard: it predicts the shard from the shard map, packs records of
// one shard into KPL aggregates (AggregateRecords), and holds back records
// of a shard over its rate (ShardRateLimit). It belongs to the loop, and
// answers it: adding a record returns the entry that became ready for the
// queue, and a due check the aggregates sealed and the next deadline.
type stage[T any] struct {
	m          *shardmap.Map
	snap       *shardmap.Snapshot
	lim        *ratelimit.Limiter // nil without ShardRateLimit
	agg        aggregate.Limits   // MaxBytes 0 without AggregateRecords
	builders   map[string]*shardBuilder[T]
	last       *shardBuilder[T] // the builder add used last, and its shard
	lastID     string
	due        batch.Queue[dueBuilder[T]] // builders holding records, by when they fall due
	refreshing bool
	snapc      chan snapResult
	// auto: the service places records itself (AUTO distribution), so
	// records go plain, unpredicted; recheckAt is when to read the summary
	// again then. summaryAt is when the summary may next be read, and owed
	// says a refresh had to leave it out, so it is read then.
	auto        bool
	recheck     time.Duration
	recheckAt   time.Time
	minInterval time.Duration
	summaryAt   time.Time
	owed        bool
	// Aggregates that landed on a shard the map does not know yet: the
	// next map tells whether every record in them is inside that shard.
	unverified []*record[T]
	// With ShardRateLimit: the entries of one response per shard, for the
	// limiter (see noteShard).
	fb      []shardFeedback
	fbIndex map[string]int

	newAggregate func() *record[T] // a pooled record for an aggregate (Stream.newAggregate)
	// whole: no hook and no OrderByKey asks about delivered records one by
	// one, so an aggregate of unwatched records of one epoch is plain
	// (settled as a whole, see loop.donePlain).
	whole bool
}

// shardFeedback counts one shard's entries in a response.
type shardFeedback struct {
	id                   string
	delivered, throttled int
}

// dueBuilder is a builder in the due queue; the entry is stale once the
// builder was sealed after it was queued (gen moved on).
type dueBuilder[T any] struct {
	sb  *shardBuilder[T]
	gen uint64
}

type shardBuilder[T any] struct {
	gen    uint64 // counts seals
	b      *aggregate.Builder
	shard  *shardmap.Shard
	recs   []*record[T]
	oldest time.Time // the earliest queued time of recs
	born   time.Time // the earliest birth of recs
	held   int64     // the sizes of recs
	plain  bool      // the aggregate of recs will be plain (see record.plain)
	epoch  uint64
}

// add predicts r's shard and takes r into its shard's aggregate. It returns
// the entry that became ready for the queue: r itself when it goes plain,
// the aggregate sealed to make room for r, or nil. gap reports that the
// map has no shard for r's hash key (mid-reshard): r goes plain, and the
// map wants reading again.
func (st *stage[T]) add(r *record[T]) (ready *record[T], gap bool) {
	if st.auto {
		r.shard, r.snap = nil, nil
		return r, false
	}
	if r.solo {
		// It was in an aggregate that landed on a shard the map does not
		// know: a plain record routes itself, whatever the map says.
		return r, false
	}
	if r.snap != st.snap {
		if !r.hashed {
			// Read back from a spool. Keys were checked by Put, so the
			// hash key parses.
			r.hash, _ = hashkey.ForRecord(r.key, r.hashKey)
			r.hashed = true
		}
		r.snap = st.snap
		r.shard = st.snap.Owner(r.hash)
		if r.shard == nil { // a gap in the map, mid-reshard: send it as it is
			return r, true
		}
	}
	if st.agg.MaxBytes == 0 || aggregate.SoloSize(r.key, r.hashKey, len(r.data)) > st.agg.MaxBytes {
		return r, false
	}
	sb := st.builder(r.predicted())
	if sb == nil { // cannot happen: limits were validated by NewKinesis
		return r, false
	}
	// The builder only sizes the aggregate: the call's goroutine builds
	// it from the records (see request.build).
	slot, ok := sb.b.Reserve(r.key, r.hashKey, len(r.data))
	if !ok && len(sb.recs) > 0 { // full: seal it, and start the next
		ready = st.seal(sb)
		slot, ok = sb.b.Reserve(r.key, r.hashKey, len(r.data))
	}
	if !ok {
		// An empty builder takes any record of SoloSize up to MaxBytes
		// (internal/aggregate's contract): returning r alone here would
		// drop the aggregate just sealed.
		panic("inskinesis: an empty aggregate refused a record that fits alone")
	}
	r.slot = slot
	switch {
	case len(sb.recs) == 0: // the first: falls due after the builders already waiting
		sb.oldest, sb.born, sb.held, sb.plain, sb.epoch, sb.shard = r.queued, r.born, 0, st.whole, r.epoch, r.shard
		st.due.PushBack(dueBuilder[T]{sb, sb.gen})
	case r.queued.Before(sb.oldest): // a record sent again: due at once
		sb.oldest = r.queued
		st.due.PushFront(dueBuilder[T]{sb, sb.gen})
	}
	if r.born.Before(sb.born) {
		sb.born = r.born
	}
	sb.held += int64(r.size)
	sb.plain = sb.plain && r.unwatched() && r.epoch == sb.epoch
	sb.recs = append(sb.recs, r)
	return ready, false
}

// builder returns the builder of shard id, made on first use; nil if it
// cannot be made. Records of one shard in a row cost a string comparison.
func (st *stage[T]) builder(id string) *shardBuilder[T] {
	if st.last != nil && id == st.lastID {
		return st.last
	}
	sb := st.builders[id]
	if sb == nil {
		b, err := aggregate.New(st.agg)
		if err != nil {
			return nil
		}
		sb = &shardBuilder[T]{b: b}
		st.builders[id] = sb
	}
	st.last, st.lastID = sb, id
	return sb
}

// seal turns a builder's records into one entry for the queue, and empties
// the builder: an aggregate, or the record itself when it is alone. The
// aggregate's bytes are not built here but by the goroutine that sends it
// (see request.build), to the size reserved here.
func (st *stage[T]) seal(sb *shardBuilder[T]) *record[T] {
	var e *record[T]
	if len(sb.recs) == 1 {
		e = sb.recs[0]
	} else {
		e = st.newAggregate()
		e.key = aggregate.PartitionKey
		e.size = sb.b.Size()
		// The aggregate takes the builder's slice, the builder the empty
		// one the pooled aggregate came with.
		e.children, sb.recs = sb.recs, e.children[:0]
		e.queued, e.born = sb.oldest, sb.born
		e.shard, e.snap = sb.shard, st.snap
		e.held, e.plain, e.epoch = sb.held, sb.plain, sb.epoch
	}
	sb.reset()
	return e
}

// sealDue seals the first builder whose records should go at now (any
// builder holding records when all is set), FlushInterval (linger) after
// its oldest record was queued, and returns its entry; or returns nil and
// when the next builder falls due (zero if none). It looks only at the
// builders that fall due, not at every shard's.
func (st *stage[T]) sealDue(now time.Time, linger time.Duration, all bool) (e *record[T], next time.Time) {
	sb := st.front()
	if sb == nil {
		return nil, time.Time{}
	}
	if due := sb.oldest.Add(linger); !all && now.Before(due) {
		return nil, due
	}
	st.due.PopFront()
	return st.seal(sb), time.Time{}
}

// nextDue returns when the first builder holding records falls due,
// FlushInterval (linger) after its oldest record was queued, or zero if no
// builder holds records.
func (st *stage[T]) nextDue(linger time.Duration) time.Time {
	if sb := st.front(); sb != nil {
		return sb.oldest.Add(linger)
	}
	return time.Time{}
}

// front drops the due queue's entries of builders sealed since they were
// queued and returns the first builder still holding records, or nil.
func (st *stage[T]) front() *shardBuilder[T] {
	for q := &st.due; q.Len() > 0; q.PopFront() {
		if d := q.Front(); d.gen == d.sb.gen && len(d.sb.recs) > 0 {
			return d.sb
		}
	}
	return nil
}

// drain empties every builder and returns the records they held, in no
// particular order. The builders are dropped (shards come and go).
func (st *stage[T]) drain() []*record[T] {
	var recs []*record[T]
	for id, sb := range st.builders {
		recs = append(recs, sb.recs...)
		sb.reset()
		delete(st.builders, id)
	}
	st.last, st.lastID = nil, ""
	return recs
}

// reset empties the builder without sealing it.
func (sb *shardBuilder[T]) reset() {
	sb.b.Reset()
	clear(sb.recs)
	sb.recs = sb.recs[:0]
	sb.gen++
}
