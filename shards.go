package inskinesis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-pkg/inskinesis/internal/aggregate"
	"github.com/go-pkg/inskinesis/internal/batch"
	"github.com/go-pkg/inskinesis/internal/hashkey"
	"github.com/go-pkg/inskinesis/internal/ratelimit"
	"github.com/go-pkg/inskinesis/internal/retry"
	"github.com/go-pkg/inskinesis/internal/shardmap"
)

// stage sits between Put and the queue when the stream needs to know each
// record's shard: it predicts the shard from the shard map, packs records of
// one shard into KPL aggregates (AggregateRecords), and holds back records
// of a shard over its rate (ShardRateLimit). It belongs to the loop.
type stage[T any] struct {
	m          *shardmap.Map
	snap       *shardmap.Snapshot
	lim        *ratelimit.Limiter // nil without ShardRateLimit
	agg        aggregate.Limits   // MaxBytes 0 without AggregateRecords
	builders   map[string]*shardBuilder[T]
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
	shard  shardmap.Shard
	recs   []*record[T]
	oldest time.Time // the earliest queued time of recs
	born   time.Time // the earliest birth of recs
}

type snapResult struct {
	snap    *shardmap.Snapshot
	err     error
	took    time.Duration
	sum     summary // the stream summary read with the map
	sumErr  error
	sumRead bool // false: the summary was not read this time
}

// newStage reads the shard map once, so that a missing stream or a client
// without ListShards fails NewKinesis rather than every record.
func newStage[T any](set settings, client PutRecordsAPI) (*stage[T], error) {
	lister, ok := client.(ListShardsAPI)
	if !ok {
		return nil, configErr("Client", "does not implement ListShardsAPI, which AggregateRecords and ShardRateLimit need")
	}
	m, err := shardmap.New(shardLister{lister}, shardmap.Stream{StreamName: set.streamName, StreamARN: set.streamARN})
	if err != nil {
		return nil, fmt.Errorf("inskinesis: shard map: %w", err)
	}
	snap, err := firstSnapshot(m, set.requestTimeout)
	if err != nil {
		return nil, fmt.Errorf("inskinesis: read the shard map of stream %q: %w", set.stream(), err)
	}
	st := &stage[T]{m: m, snap: snap, builders: make(map[string]*shardBuilder[T]), snapc: make(chan snapResult, 1),
		recheck: distributionRecheck, minInterval: summaryMinInterval}
	if set.aggregate {
		st.agg = aggregate.Limits{MaxBytes: set.aggMaxBytes, MaxCount: set.aggMaxCount}
	}
	if set.rateLimit > 0 {
		st.lim, err = ratelimit.New(ratelimit.Config{Percent: set.rateLimit})
		if err != nil {
			return nil, configErr("ShardRateLimit", err.Error())
		}
		st.fbIndex = make(map[string]int)
	}
	return st, nil
}

// firstSnapshot reads the shard map for NewKinesis. A panic of the client
// fails NewKinesis with an error, not the program.
func firstSnapshot(m *shardmap.Map, timeout time.Duration) (snap *shardmap.Snapshot, err error) {
	defer func() {
		if p := recover(); p != nil {
			snap, err = nil, fmt.Errorf("ListShards panicked: %v", p)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return m.Refresh(ctx)
}

// weight is the number of user records an entry carries.
func (r *record[T]) weight() int {
	if len(r.children) > 0 {
		return len(r.children)
	}
	return 1
}

// inherit merges into r what another entry carrying the same records went
// through (an aggregate into its records, or records into their new
// aggregate): the most attempts and failures, whether it may have been
// written, and whether it must go as a plain record.
func (r *record[T]) inherit(agg *record[T]) {
	r.attempts = max(r.attempts, agg.attempts)
	r.failures = max(r.failures, agg.failures)
	r.maybeWritten = r.maybeWritten || agg.maybeWritten
	r.solo = r.solo || agg.solo
}

// stageRecord predicts r's shard and passes it on: into its shard's
// aggregate, or to the back of the queue.
func (l *loop[T]) stageRecord(r *record[T]) {
	st := l.stage
	l.restaged = true
	if r.key == "" && !st.auto {
		// Put took it while the service placed records itself; the
		// stream has since gone back to partition keys.
		l.failKeyless(r)
		return
	}
	if st.auto {
		r.shard, r.snap = shardmap.Shard{}, nil
		l.push(r, false)
		return
	}
	if r.solo {
		// It was in an aggregate that landed on a shard the map does not
		// know: a plain record routes itself, whatever the map says.
		l.push(r, false)
		return
	}
	if r.snap != st.snap {
		if !r.hashed {
			// Read back from a spool. Keys were checked by Put, so the
			// hash key parses.
			r.hash, _ = hashkey.ForRecord(r.key, r.hashKey)
			r.hashed = true
		}
		r.snap = st.snap
		sh, ok := st.snap.Lookup(r.hash)
		if !ok { // a gap in the map, mid-reshard: send it as it is
			r.shard = shardmap.Shard{}
			l.refresh(st.snap)
			l.push(r, false)
			return
		}
		r.shard = sh
	}
	if st.agg.MaxBytes == 0 || aggregate.SoloSize(r.key, r.hashKey, len(r.data)) > st.agg.MaxBytes {
		l.push(r, false)
		return
	}
	sb := st.builders[r.shard.ID]
	if sb == nil {
		b, err := aggregate.New(st.agg)
		if err != nil { // limits were validated by NewKinesis
			l.push(r, false)
			return
		}
		sb = &shardBuilder[T]{b: b}
		st.builders[r.shard.ID] = sb
	}
	if len(sb.recs) > 0 && !sb.b.Fits(r.key, r.hashKey, len(r.data)) {
		l.seal(sb)
	}
	// The builder only sizes the aggregate: the call's goroutine builds
	// it from the records (see request.build).
	slot, ok := sb.b.Reserve(r.key, r.hashKey, len(r.data))
	if !ok {
		l.push(r, false)
		return
	}
	r.slot = slot
	switch {
	case len(sb.recs) == 0: // falls due after the builders already waiting
		sb.oldest = r.queued
		st.due.PushBack(dueBuilder[T]{sb, sb.gen})
	case r.queued.Before(sb.oldest): // a record sent again: due at once
		sb.oldest = r.queued
		st.due.PushFront(dueBuilder[T]{sb, sb.gen})
	}
	if len(sb.recs) == 0 || r.born.Before(sb.born) {
		sb.born = r.born
	}
	sb.shard = r.shard
	sb.recs = append(sb.recs, r)
}

// seal turns a builder's records into one entry at the back of the queue:
// an aggregate, or the record itself when it is alone. The aggregate's
// bytes are not built here but by the goroutine that sends it.
func (l *loop[T]) seal(sb *shardBuilder[T]) {
	if len(sb.recs) == 1 {
		l.push(sb.recs[0], false)
	} else {
		// Its data and explicit hash key are built by the goroutine that
		// sends it (see request.build), to the size reserved here.
		c := l.s.newRecord()
		c.key = aggregate.PartitionKey
		c.size = sb.b.Size()
		c.children = append(c.children[:0], sb.recs...)
		c.queued, c.born = sb.oldest, sb.born
		c.shard, c.snap = sb.shard, l.stage.snap
		for _, r := range sb.recs {
			c.inherit(r)
		}
		l.push(c, false)
	}
	sb.reset()
}

// reset empties the builder without sealing it.
func (sb *shardBuilder[T]) reset() {
	sb.b.Reset()
	clear(sb.recs)
	sb.recs = sb.recs[:0]
	sb.gen++
}

// sealDue seals the builders whose records should go now (all of them when
// now is set), and returns when the next one falls due (zero if none). It
// looks only at the builders that fall due, not at every shard's.
func (l *loop[T]) sealDue(now bool) time.Time {
	q := &l.stage.due
	for q.Len() > 0 {
		e := q.Front()
		if e.gen != e.sb.gen || len(e.sb.recs) == 0 {
			q.PopFront() // sealed since
			continue
		}
		due := e.sb.oldest.Add(l.set.flushInterval)
		if !now && l.now.Before(due) {
			return due
		}
		q.PopFront()
		l.seal(e.sb)
	}
	return time.Time{}
}

// dissolve takes an aggregate apart and stages its records again, against
// the current shard map.
func (l *loop[T]) dissolve(c *record[T]) {
	kids := c.children
	for _, r := range kids {
		r.inherit(c)
		r.queued = time.Time{}
		r.snap = nil
		l.stageRecord(r)
	}
	l.s.free(c)
}

// current reports whether an entry's shard prediction still holds; it
// refreshes the prediction of an entry whose shard did not change.
func (l *loop[T]) current(r *record[T]) bool {
	st := l.stage
	if r.snap == nil || st.auto { // to be taken apart (see verify), or to go plain
		return false
	}
	if r.snap == st.snap || r.shard.ID == "" {
		return true
	}
	sh, ok := st.snap.ByID(r.shard.ID)
	if ok && sh.Start == r.shard.Start && sh.End == r.shard.End {
		r.shard, r.snap = sh, st.snap
		return true
	}
	return false
}

// landed settles an entry Kinesis wrote on shard r.shardID. An aggregate on
// a shard other than predicted (the stream resharded) is only delivered if
// every record in it hashes inside that shard: consumers drop the whole
// aggregate otherwise, so its records are sent again.
func (l *loop[T]) landed(r *record[T]) {
	st := l.stage
	if st == nil || r.shard.ID == "" || r.shardID == r.shard.ID || (st.auto && len(r.children) == 0) {
		l.delivered(r)
		return
	}
	l.refresh(r.snap)
	if len(r.children) == 0 {
		l.delivered(r)
		return
	}
	if sh, ok := st.snap.ByID(r.shardID); ok {
		// When the map has not moved since the prediction, nothing
		// explains where the aggregate landed: a reshard not listed yet,
		// or a service that places records itself (AUTO) while the
		// summary cannot be read. Plain records are safe either way.
		l.verify(r, sh, r.snap == st.snap)
		return
	}
	st.unverified = append(st.unverified, r)
}

// verify delivers aggregate r if every record in it is inside sh, and sends
// them again otherwise. solo sends them as plain records: when the map does
// not know the shard r landed on, or does not explain why r landed there,
// aggregating them again could go astray again.
func (l *loop[T]) verify(r *record[T], sh shardmap.Shard, solo bool) {
	for _, c := range r.children {
		if !sh.Contains(c.hash) {
			r.snap = nil // dissolved when it next comes up
			r.solo = solo
			r.maybeWritten = true
			l.retryOrFail(r, retry.Class{Retryable: true, Unknown: true, Code: "ShardMoved"},
				fmt.Errorf("inskinesis: aggregate landed on %s, which does not hold all its records (the stream resharded)", r.shardID))
			return
		}
	}
	l.delivered(r)
}

// refresh reads the shard map again in the background, once at a time,
// unless the map has moved on from seen already. A panic of the client
// fails the refresh, not the program.
func (l *loop[T]) refresh(seen *shardmap.Snapshot) {
	st := l.stage
	if st.refreshing {
		return
	}
	if seen == nil {
		seen = st.snap
	}
	st.refreshing = true
	// The distribution strategy can change at any time: read it with the
	// map, unless it was read too recently (then it is owed).
	withSummary := !l.now.Before(st.summaryAt)
	if withSummary {
		st.summaryAt = l.now.Add(st.minInterval)
		st.owed = false
	} else {
		st.owed = true
	}
	if st.auto {
		st.recheckAt = l.now.Add(st.recheck)
	}
	go func() {
		res := snapResult{err: errors.New("inskinesis: shard map refresh did not finish")}
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				res.snap, res.err = nil, fmt.Errorf("inskinesis: ListShards panicked: %v", p)
			}
			res.took = time.Since(start)
			st.snapc <- res
		}()
		ctx, cancel := context.WithTimeout(l.s.reqCtx, l.set.requestTimeout)
		defer cancel()
		res.snap, res.err = st.m.RefreshIfCurrent(ctx, seen)
		if withSummary {
			res.sum, res.sumErr = readSummary(ctx, l.s.client, &l.set)
			res.sumRead = true
		}
	}()
}

// newSnapshot takes a refreshed shard map: records waiting in builders are
// sorted again, and aggregates waiting for the map are settled.
func (l *loop[T]) newSnapshot(res snapResult) {
	st := l.stage
	st.refreshing = false
	l.s.shardMapRead(mapRead(st.snap, res), st.snap.Len(), false)
	switch {
	case !res.sumRead: // the last known state stays
	case res.sumErr != nil:
		l.setDistribution(st.auto, res.sumErr)
	default:
		l.setDistribution(res.sum.auto, nil)
	}
	if res.err == nil && res.snap != nil && res.snap != st.snap {
		st.snap = res.snap
		if st.lim != nil {
			st.lim.Retain(func(id string) bool { _, ok := st.snap.ByID(id); return ok })
		}
		var waiting []*record[T]
		for id, sb := range st.builders {
			waiting = append(waiting, sb.recs...)
			sb.reset()
			if _, ok := st.snap.ByID(id); !ok {
				delete(st.builders, id)
			}
		}
		for _, r := range waiting {
			l.stageRecord(r)
		}
	}
	unverified := st.unverified
	st.unverified = nil
	for _, r := range unverified {
		sh, ok := st.snap.ByID(r.shardID)
		if !ok { // the map still does not know the shard: resend to be safe
			sh = shardmap.Shard{ID: r.shardID, Start: hashkey.Max(), End: hashkey.Uint128{}}
		}
		l.verify(r, sh, !ok)
	}
}

// takeRate takes entry r's share of its shard's rate and returns 0, or
// takes nothing and returns how long r must wait for it.
func (l *loop[T]) takeRate(r *record[T]) time.Duration {
	if l.stage == nil || l.stage.lim == nil || r.shard.ID == "" || l.stage.auto {
		return 0
	}
	return l.stage.lim.Take(r.shard.ID, 1, r.size)
}

// noteShard counts an entry of a response for its predicted shard, taken
// or throttled, for reportShards.
func (l *loop[T]) noteShard(r *record[T], throttled bool) {
	st := l.stage
	if st == nil || st.lim == nil || r.shard.ID == "" {
		return
	}
	i, ok := st.fbIndex[r.shard.ID]
	if !ok {
		i = len(st.fb)
		st.fbIndex[r.shard.ID] = i
		st.fb = append(st.fb, shardFeedback{id: r.shard.ID})
	}
	if throttled {
		st.fb[i].throttled++
	} else {
		st.fb[i].delivered++
	}
}

// reportShards tells the rate limiter, once per shard, what the response
// to a call sent at sent said of each shard's entries: a throttled shard's
// rate is cut, once for all the throttles of calls sent before its last
// cut, and a shard whose entries were all taken regains rate.
func (l *loop[T]) reportShards(sent time.Time) {
	st := l.stage
	if st == nil || len(st.fb) == 0 {
		return
	}
	for _, f := range st.fb {
		st.lim.Report(f.id, sent, f.delivered, f.throttled)
	}
	clear(st.fbIndex)
	clear(st.fb)
	st.fb = st.fb[:0]
}

// abortStage fails the records waiting in builders or for the map.
func (l *loop[T]) abortStage() {
	st := l.stage
	for _, sb := range st.builders {
		for _, r := range sb.recs {
			l.fail(r, failAborted, "Aborted", nil)
		}
		sb.reset()
	}
	for _, r := range st.unverified {
		r.maybeWritten = true
		l.fail(r, failAborted, "Aborted", nil)
	}
	st.unverified = nil
}

// failKeyless fails a record without a partition key, which only a stream
// whose service places records itself takes.
func (l *loop[T]) failKeyless(r *record[T]) {
	l.fail(r, failFatal, "InvalidPartitionKey",
		fmt.Errorf("%w: empty, and stream %q no longer places records itself (RecordDistributionStrategy is not AUTO)", ErrInvalidPartitionKey, l.set.stream()))
}

// nextSummary returns when the loop must read the stream summary on its
// own: as soon as allowed when a refresh had to leave it out, and every
// recheck while the stream is AUTO, so that a switch back to partition
// keys is noticed. ok is false when it need not.
func (st *stage[T]) nextSummary() (at time.Time, ok bool) {
	if st.auto {
		at, ok = st.recheckAt, true
	}
	if st.owed && (!ok || st.summaryAt.Before(at)) {
		at, ok = st.summaryAt, true
	}
	return at, ok
}

// recheckDistribution reads the stream summary again, with the shard map,
// when nextSummary says so.
func (l *loop[T]) recheckDistribution() {
	st := l.stage
	if st == nil || st.refreshing || !l.inOpen {
		return
	}
	if at, ok := st.nextSummary(); ok && !l.now.Before(at) {
		l.refresh(nil)
	}
}
