package inskinesis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-pkg/inskinesis/internal/aggregate"
	"github.com/go-pkg/inskinesis/internal/hashkey"
	"github.com/go-pkg/inskinesis/internal/ratelimit"
	"github.com/go-pkg/inskinesis/internal/retry"
	"github.com/go-pkg/inskinesis/internal/shardmap"
)

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

// stageRecord passes r through the shard stage: into its shard's
// aggregate, or to the back of the queue, with any aggregate it sealed.
func (l *loop[T]) stageRecord(out *settlement[T], r *record[T]) {
	st := l.stage
	if r.key == "" && !st.auto {
		// Put took it while the service placed records itself; the
		// stream has since gone back to partition keys.
		l.failKeyless(out, r)
		return
	}
	ready, gap := st.add(r)
	if gap {
		l.refresh(st.snap)
	}
	if ready != nil {
		l.push(ready, false)
	}
}

// sealDue queues the aggregates of the builders whose records should go
// now (all of them when now is set), and returns when the next one falls
// due (zero if none).
func (l *loop[T]) sealDue(now bool) time.Time {
	for {
		e, next := l.stage.sealDue(l.now, l.set.flushInterval, now)
		if e == nil {
			return next
		}
		l.push(e, false)
	}
}

// dissolve takes an aggregate apart and stages its records again, against
// the current shard map.
func (l *loop[T]) dissolve(out *settlement[T], a *record[T]) {
	l.unpack(a, false, func(r *record[T]) {
		r.queued = time.Time{}
		r.snap = nil
		l.stageRecord(out, r)
	})
}

// current reports whether an entry's shard prediction still holds; it
// refreshes the prediction of an entry whose shard did not change.
func (l *loop[T]) current(r *record[T]) bool {
	st := l.stage
	if r.snap == nil || st.auto { // to be taken apart (see verify), or to go plain
		return false
	}
	if r.snap == st.snap || r.shard == nil {
		return true
	}
	sh := st.snap.Shard(r.shard.ID)
	if sh != nil && sh.Start == r.shard.Start && sh.End == r.shard.End {
		r.shard, r.snap = sh, st.snap
		return true
	}
	return false
}

// landed settles an entry Kinesis wrote on shard r.shardID. An aggregate on
// a shard other than predicted (the stream resharded) is only delivered if
// every record in it hashes inside that shard: consumers drop the whole
// aggregate otherwise, so its records are sent again.
// Entries to be sent again join again.
func (l *loop[T]) landed(out *settlement[T], again *retryBatch[T], r *record[T]) {
	st := l.stage
	if st == nil || r.shard == nil || r.shardID == r.shard.ID || (st.auto && !r.aggregate()) {
		l.done(out, r)
		return
	}
	l.refresh(r.snap)
	if !r.aggregate() {
		l.done(out, r)
		return
	}
	if sh := st.snap.Shard(r.shardID); sh != nil {
		l.verify(out, again, r, sh)
		return
	}
	st.unverified = append(st.unverified, r)
}

// verify delivers aggregate r if every record in it is inside sh, and sends
// them again otherwise, as plain records: an aggregate lands astray after a
// reshard the map may not list yet, or on a stream whose service places
// records itself (AUTO) while its summary cannot be read, and aggregating
// the records again could send them astray again, each time costing an
// attempt, until their retries run out. A plain record is safe either way.
func (l *loop[T]) verify(out *settlement[T], again *retryBatch[T], r *record[T], sh *shardmap.Shard) {
	for _, c := range r.children {
		if !sh.Contains(c.hash) {
			r.snap = nil // dissolved when it next comes up
			r.solo = true
			r.maybeWritten = true
			l.retryOrFail(out, again, r, retry.Class{Retryable: true, Unknown: true, Code: "ShardMoved"},
				fmt.Errorf("inskinesis: aggregate landed on %s, which does not hold all its records (the stream resharded)", r.shardID))
			return
		}
	}
	l.done(out, r)
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
// sorted again, and aggregates waiting for the map are settled into out; it
// returns those that go again.
func (l *loop[T]) newSnapshot(out *settlement[T], res snapResult) (again retryBatch[T]) {
	again = l.newBatch()
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
			st.lim.Retain(func(id string) bool { return st.snap.Shard(id) != nil })
		}
		for _, r := range st.drain() {
			l.stageRecord(out, r)
		}
	}
	unverified := st.unverified
	st.unverified = nil
	for _, r := range unverified {
		sh := st.snap.Shard(r.shardID)
		if sh == nil && !l.aborted && r.mapReads < maxMapReads {
			// The map does not know the shard yet: the read failed, or
			// began before the reshard. Read it again rather than send
			// records again that may have landed where they belong.
			r.mapReads++
			st.unverified = append(st.unverified, r)
			continue
		}
		if sh == nil { // the map still does not know the shard: resend to be safe
			sh = &shardmap.Shard{ID: r.shardID, Start: hashkey.Max(), End: hashkey.Uint128{}}
		}
		l.verify(out, &again, r, sh)
	}
	if len(st.unverified) > 0 {
		l.refresh(nil)
	}
	return again
}

// maxMapReads bounds the reads of the shard map an aggregate that landed
// on a shard the map does not know waits for before its records are sent
// again.
const maxMapReads = 3

// takeRate takes entry r's share of its shard's rate and returns 0, or
// takes nothing and returns how long r must wait for it.
func (l *loop[T]) takeRate(r *record[T]) time.Duration {
	if l.stage == nil || l.stage.lim == nil || r.shard == nil || l.stage.auto {
		return 0
	}
	return l.stage.lim.Take(r.shard.ID, 1, r.size)
}

// noteShard counts an entry of a response for its predicted shard, taken
// or throttled, for reportShards.
func (l *loop[T]) noteShard(r *record[T], throttled bool) {
	st := l.stage
	if st == nil || st.lim == nil || r.shard == nil {
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
func (l *loop[T]) abortStage(out *settlement[T]) {
	st := l.stage
	for _, r := range st.drain() {
		l.fail(out, r, failAborted, "Aborted", nil)
	}
	for _, r := range st.unverified {
		r.maybeWritten = true
		l.fail(out, r, failAborted, "Aborted", nil)
	}
	st.unverified = nil
}

// failKeyless fails a record without a partition key, which only a stream
// whose service places records itself takes.
func (l *loop[T]) failKeyless(out *settlement[T], r *record[T]) {
	l.fail(out, r, failFatal, "InvalidPartitionKey",
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
