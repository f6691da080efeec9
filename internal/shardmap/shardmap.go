// Package shardmap keeps the map from hash keys to the open shards of a
// Kinesis stream, so that a producer can predict the shard of each record
// and aggregate only records of one shard together.
//
// The map is read from ListShards (up to 1000 shards a page; the first call
// names the stream and asks for ShardFilter AT_LATEST, the open shards; the
// next ones send only NextToken and MaxResults). A Snapshot is immutable;
// Map holds the current one behind an atomic pointer, so lookups never lock
// and a refresh never blocks them.
//
// # Reshards
//
// Open shards normally tile the hash key space 0..2^128-1 exactly. While a
// stream reshards, ListShards can for a moment list a parent together with
// its children (an overlap), or miss a range (a gap). A Snapshot is still
// built from such a listing, and Check reports the first gap or overlap:
//
//   - Where ranges overlap, Owner returns the narrowest shard that contains
//     the key (on a tie, the greatest shard ID, the newest shard). Records
//     grouped by that answer hash into a range that every listed shard
//     containing it also contains, so an aggregate built from them is within
//     the range of a parent or a child alike.
//   - Where there is a gap, Owner reports no shard: the caller should send
//     such records unaggregated, which is always safe, and refresh later.
//
// Closed shards (those with an EndingSequenceNumber, which servers that
// ignore ShardFilter may list) are left out.
package shardmap

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis/internal/hashkey"
)

// lister is the part of the Kinesis client the map needs: the root
// package's ListShardsAPI, which *kinesis.Client satisfies.
type lister interface {
	ListShards(ctx context.Context, params *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
}

// PageSize is the MaxResults sent with every ListShards call, the largest
// Kinesis allows.
const PageSize = 1000

// maxPages bounds a listing, against a server that never stops paging.
const maxPages = 100000

// Errors. They are returned wrapped; compare with errors.Is.
var (
	// ErrInconsistent is wrapped by Snapshot.Check when the open shards do
	// not tile the hash key space: a gap, an overlap, or no shard at all.
	ErrInconsistent = errors.New("shardmap: open shards do not cover the hash key space exactly")
	// ErrBadShard is returned by Build (and so by Refresh) for a shard with
	// no ID, a missing or malformed hash key range, or a repeated ID.
	ErrBadShard = errors.New("shardmap: malformed shard")
	// ErrPaging is returned by List when ListShards repeats a NextToken or
	// pages without end.
	ErrPaging = errors.New("shardmap: ListShards paging does not end")
)

// Shard is an open shard and its inclusive hash key range.
type Shard struct {
	ID         string
	Start, End hashkey.Uint128
	// Index is the shard's position in its Snapshot's Shards, so that
	// callers can keep per-shard state in a slice.
	Index int
}

// Contains reports whether h is in the shard's range.
func (s Shard) Contains(h hashkey.Uint128) bool {
	return !h.Less(s.Start) && !s.End.Less(h)
}

// segment is a piece of the key space, from start to the next segment's
// start, owned by one shard (an index into shards) or by none (-1).
type segment struct {
	start hashkey.Uint128
	shard int
}

// Snapshot is an immutable shard map. Its methods are safe for concurrent
// use.
type Snapshot struct {
	shards   []Shard // sorted by Start, then End, then ID
	segments []segment
	byID     map[string]int
	problem  error
}

// Build makes a Snapshot from shards as ListShards returns them, leaving out
// closed shards. It fails with ErrBadShard (wrapped) for a shard without ID,
// with a missing or malformed range or a start above its end, or with an ID
// seen twice. Gaps and overlaps are not errors; see Check.
func Build(shards []types.Shard) (*Snapshot, error) {
	s := &Snapshot{byID: make(map[string]int, len(shards))}
	for _, sh := range shards {
		if sh.SequenceNumberRange != nil && sh.SequenceNumberRange.EndingSequenceNumber != nil {
			continue // closed
		}
		id := aws.ToString(sh.ShardId)
		if id == "" {
			return nil, fmt.Errorf("%w: no shard ID", ErrBadShard)
		}
		if sh.HashKeyRange == nil {
			return nil, fmt.Errorf("%w: %s has no hash key range", ErrBadShard, id)
		}
		start, err := hashkey.Parse(aws.ToString(sh.HashKeyRange.StartingHashKey))
		if err != nil {
			return nil, fmt.Errorf("%w: %s starting hash key %q: %v", ErrBadShard, id, aws.ToString(sh.HashKeyRange.StartingHashKey), err)
		}
		end, err := hashkey.Parse(aws.ToString(sh.HashKeyRange.EndingHashKey))
		if err != nil {
			return nil, fmt.Errorf("%w: %s ending hash key %q: %v", ErrBadShard, id, aws.ToString(sh.HashKeyRange.EndingHashKey), err)
		}
		if end.Less(start) {
			return nil, fmt.Errorf("%w: %s range ends before it starts", ErrBadShard, id)
		}
		if _, dup := s.byID[id]; dup {
			return nil, fmt.Errorf("%w: %s listed twice", ErrBadShard, id)
		}
		s.byID[id] = -1
		s.shards = append(s.shards, Shard{ID: id, Start: start, End: end})
	}
	slices.SortFunc(s.shards, func(a, b Shard) int {
		return cmp.Or(a.Start.Cmp(b.Start), a.End.Cmp(b.End), cmp.Compare(a.ID, b.ID))
	})
	for i := range s.shards {
		s.shards[i].Index = i
		s.byID[s.shards[i].ID] = i
	}
	s.problem = s.check()
	if s.problem == nil {
		// The common case: the shards are the segments.
		s.segments = make([]segment, len(s.shards))
		for i, sh := range s.shards {
			s.segments[i] = segment{start: sh.Start, shard: i}
		}
	} else {
		s.segments = s.paint()
	}
	return s, nil
}

// check finds the first gap or overlap of the sorted shards.
func (s *Snapshot) check() error {
	if len(s.shards) == 0 {
		return fmt.Errorf("%w: no open shard", ErrInconsistent)
	}
	if first := s.shards[0]; first.Start != (hashkey.Uint128{}) {
		return fmt.Errorf("%w: no shard owns 0..%s", ErrInconsistent, minus1(first.Start))
	}
	for i := 1; i < len(s.shards); i++ {
		prev, cur := s.shards[i-1], s.shards[i]
		next, _ := prev.End.Next()
		switch {
		case prev.End == hashkey.Max() || cur.Start.Less(next):
			return fmt.Errorf("%w: %s and %s overlap", ErrInconsistent, prev.ID, cur.ID)
		case next.Less(cur.Start):
			return fmt.Errorf("%w: no shard owns %s..%s", ErrInconsistent, next, minus1(cur.Start))
		}
	}
	if last := s.shards[len(s.shards)-1]; last.End != hashkey.Max() {
		next, _ := last.End.Next()
		return fmt.Errorf("%w: no shard owns %s..%s", ErrInconsistent, next, hashkey.Max())
	}
	return nil
}

func minus1(u hashkey.Uint128) hashkey.Uint128 {
	if u.Lo == 0 {
		u.Hi--
	}
	u.Lo--
	return u
}

// paint splits the key space at every range boundary and gives each piece
// to the narrowest shard containing it (on a tie, the greatest ID), or to
// none. The cost is the number of pieces each shard covers, summed: small
// for the few overlapping shards of a reshard.
func (s *Snapshot) paint() []segment {
	bounds := []hashkey.Uint128{{}}
	for _, sh := range s.shards {
		bounds = append(bounds, sh.Start)
		if next, ok := sh.End.Next(); ok {
			bounds = append(bounds, next)
		}
	}
	slices.SortFunc(bounds, hashkey.Uint128.Cmp)
	bounds = slices.Compact(bounds)
	segs := make([]segment, len(bounds))
	for i, b := range bounds {
		segs[i] = segment{start: b, shard: -1}
	}
	// Widest first, so that narrower shards paint over them; among equal
	// widths, the greatest ID last.
	order := make([]int, len(s.shards))
	for i := range order {
		order[i] = i
	}
	width := func(sh Shard) hashkey.Uint128 {
		return sub(sh.End, sh.Start)
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(width(s.shards[b]).Cmp(width(s.shards[a])), cmp.Compare(s.shards[a].ID, s.shards[b].ID))
	})
	for _, i := range order {
		sh := s.shards[i]
		j, _ := slices.BinarySearchFunc(segs, sh.Start, func(sg segment, h hashkey.Uint128) int { return sg.start.Cmp(h) })
		for ; j < len(segs) && !sh.End.Less(segs[j].start); j++ {
			segs[j].shard = i
		}
	}
	// Merge neighbours with the same owner.
	return slices.CompactFunc(segs, func(a, b segment) bool { return a.shard == b.shard })
}

// sub returns a-b for a >= b.
func sub(a, b hashkey.Uint128) hashkey.Uint128 {
	lo := a.Lo - b.Lo
	borrow := uint64(0)
	if a.Lo < b.Lo {
		borrow = 1
	}
	return hashkey.Uint128{Hi: a.Hi - b.Hi - borrow, Lo: lo}
}

// Check returns nil when the open shards tile the hash key space exactly,
// and otherwise an error wrapping ErrInconsistent that names the first gap
// or overlap. A snapshot with a problem still answers Owner as the package
// documentation describes.
func (s *Snapshot) Check() error { return s.problem }

// Len returns the number of open shards.
func (s *Snapshot) Len() int { return len(s.shards) }

// Shards returns the open shards sorted by starting hash key. The slice is
// shared: do not modify it.
func (s *Snapshot) Shards() []Shard { return s.shards }

// Owner returns the shard that owns hash key h, in place (the snapshot's
// own: do not modify it), or nil when no listed shard owns it (a gap
// during a reshard, or an empty map). It does not allocate.
func (s *Snapshot) Owner(h hashkey.Uint128) *Shard {
	// The last segment starting at or below h.
	lo, hi := 0, len(s.segments)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if h.Less(s.segments[mid].start) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo == 0 {
		return nil
	}
	i := s.segments[lo-1].shard
	if i < 0 || !s.shards[i].Contains(h) {
		return nil // a gap, or past the end of the last shard
	}
	return &s.shards[i]
}

// Shard returns the open shard with this ID, in place (the snapshot's
// own: do not modify it), or nil when there is none.
func (s *Snapshot) Shard(id string) *Shard {
	i, ok := s.byID[id]
	if !ok {
		return nil
	}
	return &s.shards[i]
}

// Stream names the stream whose shards a Map lists. Set StreamName, or
// StreamARN, or both; servers that do not know ARNs need the name.
type Stream struct {
	StreamName string
	StreamARN  string
}

// ErrNoStream is returned by New when neither the stream name nor its ARN is
// set, or the API is nil.
var ErrNoStream = errors.New("shardmap: no ListShards API or no stream name or ARN")

// Map holds the current Snapshot of a stream's open shards and rebuilds it on
// demand. Its methods are safe for concurrent use; refreshes run one at a
// time.
type Map struct {
	api    lister
	stream Stream
	cur    atomic.Pointer[Snapshot]
	// sem serializes refreshes; a channel so that waiting honours contexts.
	sem chan struct{}
}

// New returns a Map with no snapshot yet; call Refresh before Current. It
// fails with ErrNoStream when api is nil or stream names nothing.
func New(api lister, stream Stream) (*Map, error) {
	if api == nil || (stream.StreamName == "" && stream.StreamARN == "") {
		return nil, ErrNoStream
	}
	return &Map{api: api, stream: stream, sem: make(chan struct{}, 1)}, nil
}

// Current returns the latest snapshot, or nil before the first successful
// Refresh.
func (m *Map) Current() *Snapshot { return m.cur.Load() }

// Refresh lists the stream's open shards, installs the new snapshot and
// returns it. On error (from ListShards, wrapped, or ErrBadShard, ErrPaging)
// the current snapshot stays. A snapshot with gaps or overlaps is installed
// without error: see Snapshot.Check.
func (m *Map) Refresh(ctx context.Context) (*Snapshot, error) {
	return m.refresh(ctx, nil, true)
}

// RefreshIfCurrent is Refresh unless the current snapshot is no longer seen,
// the one the caller found stale: another caller has refreshed since, and
// the newer snapshot is returned without listing again. Producers call it
// when a record lands on a shard other than the predicted one, so that many
// such reports cost one listing.
func (m *Map) RefreshIfCurrent(ctx context.Context, seen *Snapshot) (*Snapshot, error) {
	return m.refresh(ctx, seen, false)
}

func (m *Map) refresh(ctx context.Context, seen *Snapshot, force bool) (*Snapshot, error) {
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return m.Current(), ctx.Err()
	}
	defer func() { <-m.sem }()
	if cur := m.Current(); !force && cur != seen && cur != nil {
		return cur, nil
	}
	shards, err := List(ctx, m.api, m.stream)
	if err != nil {
		return m.Current(), err
	}
	snap, err := Build(shards)
	if err != nil {
		return m.Current(), err
	}
	m.cur.Store(snap)
	return snap, nil
}

// List returns every shard ListShards reports for the stream with
// ShardFilter AT_LATEST, following NextToken. Errors from ListShards are
// returned wrapped; a repeated NextToken, or more than 100000 pages, gives
// ErrPaging.
func List(ctx context.Context, api lister, stream Stream) ([]types.Shard, error) {
	in := &kinesis.ListShardsInput{
		MaxResults:  aws.Int32(PageSize),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest},
	}
	if stream.StreamName != "" {
		in.StreamName = aws.String(stream.StreamName)
	}
	if stream.StreamARN != "" {
		in.StreamARN = aws.String(stream.StreamARN)
	}
	var shards []types.Shard
	var prevToken string
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, ErrPaging
		}
		out, err := api.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("shardmap: ListShards: %w", err)
		}
		shards = append(shards, out.Shards...)
		token := aws.ToString(out.NextToken)
		if token == "" {
			return shards, nil
		}
		if token == prevToken {
			return nil, fmt.Errorf("%w: NextToken repeated", ErrPaging)
		}
		prevToken = token
		// With NextToken, Kinesis forbids the stream and the filter.
		in = &kinesis.ListShardsInput{MaxResults: aws.Int32(PageSize), NextToken: aws.String(token)}
	}
}
