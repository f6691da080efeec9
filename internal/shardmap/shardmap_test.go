package shardmap

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis/internal/hashkey"
)

func u(s string) hashkey.Uint128 {
	h, err := hashkey.Parse(s)
	if err != nil {
		panic(err)
	}
	return h
}

func shard(id string, start, end hashkey.Uint128) types.Shard {
	return types.Shard{
		ShardId:             aws.String(id),
		HashKeyRange:        &types.HashKeyRange{StartingHashKey: aws.String(start.String()), EndingHashKey: aws.String(end.String())},
		SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")},
	}
}

func closed(s types.Shard) types.Shard {
	s.SequenceNumberRange = &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1"), EndingSequenceNumber: aws.String("2")}
	return s
}

// even splits the key space into n shards the way CreateStream does.
func even(n int) []types.Shard {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	out := make([]types.Shard, n)
	for i := range n {
		lo := new(big.Int).Div(new(big.Int).Mul(space, big.NewInt(int64(i))), big.NewInt(int64(n)))
		hi := new(big.Int).Div(new(big.Int).Mul(space, big.NewInt(int64(i+1))), big.NewInt(int64(n)))
		hi.Sub(hi, big.NewInt(1))
		out[i] = shard(fmt.Sprintf("shardId-%012d", i), u(lo.String()), u(hi.String()))
	}
	return out
}

func mustBuild(t testing.TB, shards []types.Shard) *Snapshot {
	t.Helper()
	s, err := Build(shards)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func next(h hashkey.Uint128) hashkey.Uint128 { n, _ := h.Next(); return n }

func TestOwnerMatchesLinearScan(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 100} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			shards := even(n)
			rand.New(rand.NewPCG(1, uint64(n))).Shuffle(len(shards), func(i, j int) { shards[i], shards[j] = shards[j], shards[i] })
			s := mustBuild(t, shards)
			if err := s.Check(); err != nil {
				t.Fatalf("an even split is reported inconsistent: %v", err)
			}
			if s.Len() != n {
				t.Fatalf("Len = %d", s.Len())
			}
			var probes []hashkey.Uint128
			for _, sh := range s.Shards() {
				probes = append(probes, sh.Start, sh.End)
			}
			r := rand.New(rand.NewPCG(2, 3))
			for range 1000 {
				probes = append(probes, hashkey.Uint128{Hi: r.Uint64(), Lo: r.Uint64()})
			}
			for i := range 100 {
				probes = append(probes, hashkey.Of(fmt.Sprint("key-", i)))
			}
			for _, h := range probes {
				got, ok := lookup(s, h)
				var want Shard
				found := 0
				for _, sh := range s.Shards() {
					if sh.Contains(h) {
						want = sh
						found++
					}
				}
				if found != 1 || !ok || got != want {
					t.Fatalf("Owner(%s) = %+v %v, linear scan %+v (%d owners)", h, got, ok, want, found)
				}
				if s.Shards()[got.Index] != got {
					t.Fatal("Index does not point at the shard")
				}
				if p := s.Owner(h); p != &s.Shards()[got.Index] {
					t.Fatalf("Owner(%s) = %p, want the snapshot's own %s", h, p, got.ID)
				}
				if p := s.Shard(got.ID); p != &s.Shards()[got.Index] {
					t.Fatalf("Shard(%s) = %p, want the snapshot's own", got.ID, p)
				}
			}
		})
	}
}

func TestSnapshotBasics(t *testing.T) {
	s := mustBuild(t, append(even(2), closed(shard("shardId-old", hashkey.Uint128{}, hashkey.Max()))))
	if s.Len() != 2 {
		t.Fatalf("a closed shard was kept: %d shards", s.Len())
	}
	if s.Shard("shardId-old") != nil {
		t.Fatal("Shard finds a closed shard")
	}
	if sh := s.Shard("shardId-000000000001"); sh == nil || sh.Index != 1 || sh.End != hashkey.Max() {
		t.Fatalf("Shard = %+v", sh)
	}
	if got, ok := lookup(s, hashkey.Max()); !ok || got.ID != "shardId-000000000001" {
		t.Fatalf("Owner(Max) = %+v %v", got, ok)
	}
	if got, ok := lookup(s, hashkey.Uint128{}); !ok || got.ID != "shardId-000000000000" {
		t.Fatalf("Owner(0) = %+v %v", got, ok)
	}
}

func TestBuildRejectsMalformedShards(t *testing.T) {
	good := shard("s", hashkey.Uint128{}, hashkey.Max())
	noRange := good
	noRange.HashKeyRange = nil
	tests := []struct {
		name   string
		shards []types.Shard
	}{
		{"no ID", []types.Shard{{HashKeyRange: good.HashKeyRange}}},
		{"no range", []types.Shard{noRange}},
		{"a malformed start", []types.Shard{{ShardId: aws.String("s"), HashKeyRange: &types.HashKeyRange{StartingHashKey: aws.String("x"), EndingHashKey: aws.String("1")}}}},
		{"a missing end", []types.Shard{{ShardId: aws.String("s"), HashKeyRange: &types.HashKeyRange{StartingHashKey: aws.String("0")}}}},
		{"an end above 2^128-1", []types.Shard{{ShardId: aws.String("s"), HashKeyRange: &types.HashKeyRange{StartingHashKey: aws.String("0"), EndingHashKey: aws.String("340282366920938463463374607431768211456")}}}},
		{"a start above the end", []types.Shard{shard("s", hashkey.Uint128{Lo: 2}, hashkey.Uint128{Lo: 1})}},
		{"an ID twice", []types.Shard{good, good}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Build(tt.shards); !errors.Is(err, ErrBadShard) {
				t.Fatalf("Build error = %v, want ErrBadShard", err)
			}
		})
	}
}

func TestReshardListings(t *testing.T) {
	half := u("170141183460469231731687303715884105727") // 2^127-1
	quarter := u("85070591730234615865843651857942052863")
	p := shard("shardId-000000000000", hashkey.Uint128{}, hashkey.Max())
	c1 := shard("shardId-000000000001", hashkey.Uint128{}, half)
	c2 := shard("shardId-000000000002", next(half), hashkey.Max())
	q := shard("shardId-000000000003", hashkey.Uint128{}, quarter)
	twin := shard("shardId-000000000009", next(half), hashkey.Max()) // same range as c2

	type probe struct {
		h  hashkey.Uint128
		id string // "" for no shard
	}
	tests := []struct {
		name       string
		shards     []types.Shard
		consistent bool
		probes     []probe
	}{
		{"a split, parent still listed: the children win", []types.Shard{p, c1, c2}, false,
			[]probe{{hashkey.Uint128{}, "shardId-000000000001"}, {half, "shardId-000000000001"}, {next(half), "shardId-000000000002"}, {hashkey.Max(), "shardId-000000000002"}}},
		{"a split with one child listed: the parent keeps the rest", []types.Shard{p, c1}, false,
			[]probe{{half, "shardId-000000000001"}, {next(half), "shardId-000000000000"}, {hashkey.Max(), "shardId-000000000000"}}},
		{"a merge, parents still listed: the parents win", []types.Shard{c1, c2, closed(q), p}, false,
			[]probe{{half, "shardId-000000000001"}, {next(half), "shardId-000000000002"}}},
		{"nested three deep: the narrowest wins", []types.Shard{p, c1, q}, false,
			[]probe{{quarter, "shardId-000000000003"}, {next(quarter), "shardId-000000000001"}, {next(half), "shardId-000000000000"}}},
		{"equal ranges: the greatest ID wins", []types.Shard{c1, c2, twin}, false,
			[]probe{{next(half), "shardId-000000000009"}, {half, "shardId-000000000001"}}},
		{"a gap at the end", []types.Shard{c1}, false,
			[]probe{{half, "shardId-000000000001"}, {next(half), ""}, {hashkey.Max(), ""}}},
		{"a gap at the start", []types.Shard{c2}, false,
			[]probe{{hashkey.Uint128{}, ""}, {half, ""}, {next(half), "shardId-000000000002"}}},
		{"a gap in the middle", []types.Shard{q, c2}, false,
			[]probe{{quarter, "shardId-000000000003"}, {next(quarter), ""}, {half, ""}, {next(half), "shardId-000000000002"}}},
		{"no shard", nil, false, []probe{{hashkey.Uint128{}, ""}, {hashkey.Max(), ""}}},
		{"a clean split", []types.Shard{closed(p), c1, c2}, true,
			[]probe{{half, "shardId-000000000001"}, {next(half), "shardId-000000000002"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustBuild(t, tt.shards)
			if err := s.Check(); (err == nil) != tt.consistent || (err != nil && !errors.Is(err, ErrInconsistent)) {
				t.Fatalf("Check = %v, want consistent=%v", err, tt.consistent)
			}
			for _, p := range tt.probes {
				got, ok := lookup(s, p.h)
				if ok != (p.id != "") || got.ID != p.id {
					t.Fatalf("Owner(%s) = %q %v, want %q", p.h, got.ID, ok, p.id)
				}
				if ok && !got.Contains(p.h) {
					t.Fatal("Owner returned a shard that does not contain the key")
				}
			}
		})
	}
}

// fakeAPI serves pages of shards and records the requests.
type fakeAPI struct {
	mu      sync.Mutex
	pages   [][]types.Shard
	tokens  []string // NextToken returned with each page; "" at the end
	err     error
	calls   []kinesis.ListShardsInput
	entered chan struct{} // if set, signalled on entry
	release chan struct{} // if set, waited on before answering
}

func (f *fakeAPI) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.release != nil {
		<-f.release
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, *in)
	if f.err != nil {
		return nil, f.err
	}
	page := 0
	if in.NextToken != nil {
		page, _ = strconv.Atoi(*in.NextToken)
	}
	out := &kinesis.ListShardsOutput{Shards: f.pages[page]}
	if page < len(f.tokens) && f.tokens[page] != "" {
		out.NextToken = aws.String(f.tokens[page])
	}
	return out, nil
}

func (f *fakeAPI) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func TestListPaginates(t *testing.T) {
	shards := even(5)
	api := &fakeAPI{pages: [][]types.Shard{shards[:2], shards[2:4], shards[4:]}, tokens: []string{"1", "2", ""}}
	got, err := List(context.Background(), api, Stream{StreamName: "orders", StreamARN: "arn:aws:kinesis:us-east-1:123456789012:stream/orders"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("List returned %d shards, want 5", len(got))
	}
	if len(api.calls) != 3 {
		t.Fatalf("%d calls, want 3", len(api.calls))
	}
	first := api.calls[0]
	if aws.ToString(first.StreamName) != "orders" || first.StreamARN == nil || first.NextToken != nil ||
		first.ShardFilter == nil || first.ShardFilter.Type != types.ShardFilterTypeAtLatest || aws.ToInt32(first.MaxResults) != PageSize {
		t.Fatalf("first call = %+v", first)
	}
	for i, c := range api.calls[1:] {
		if c.StreamName != nil || c.StreamARN != nil || c.ShardFilter != nil || c.ExclusiveStartShardId != nil ||
			aws.ToString(c.NextToken) != strconv.Itoa(i+1) || aws.ToInt32(c.MaxResults) != PageSize {
			t.Fatalf("call %d sends more than NextToken and MaxResults: %+v", i+1, c)
		}
	}
}

func TestListErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		api  *fakeAPI
		want error
	}{
		{"an API error is wrapped", &fakeAPI{err: boom}, boom},
		{"a repeated NextToken", &fakeAPI{pages: [][]types.Shard{nil, nil}, tokens: []string{"1", "1"}}, ErrPaging},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := List(context.Background(), tt.api, Stream{StreamName: "s"}); !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewNeedsAStream(t *testing.T) {
	if _, err := New(&fakeAPI{}, Stream{}); !errors.Is(err, ErrNoStream) {
		t.Fatalf("error = %v", err)
	}
	if _, err := New(nil, Stream{StreamName: "s"}); !errors.Is(err, ErrNoStream) {
		t.Fatalf("error = %v", err)
	}
	if _, err := New(&fakeAPI{}, Stream{StreamARN: "arn"}); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshKeepsTheOldSnapshotOnError(t *testing.T) {
	api := &fakeAPI{pages: [][]types.Shard{even(2)}}
	m, _ := New(api, Stream{StreamName: "s"})
	if m.Current() != nil {
		t.Fatal("a new map has a snapshot")
	}
	first, err := m.Refresh(context.Background())
	if err != nil || first == nil || m.Current() != first || first.Len() != 2 {
		t.Fatalf("Refresh = %v, %v", first, err)
	}
	api.err = errors.New("throttled")
	got, err := m.Refresh(context.Background())
	if err == nil || got != first || m.Current() != first {
		t.Fatalf("a failed refresh replaced the snapshot: %v %v", got, err)
	}
	api.err = nil
	api.pages = [][]types.Shard{{shard("bad", hashkey.Uint128{Lo: 5}, hashkey.Uint128{Lo: 1})}}
	if _, err := m.Refresh(context.Background()); !errors.Is(err, ErrBadShard) || m.Current() != first {
		t.Fatalf("a malformed listing: %v", err)
	}
}

func TestRefreshIfCurrentCoalesces(t *testing.T) {
	api := &fakeAPI{pages: [][]types.Shard{even(4)}}
	m, _ := New(api, Stream{StreamName: "s"})
	seen, err := m.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]*Snapshot, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := m.RefreshIfCurrent(context.Background(), seen)
			if err != nil {
				t.Error(err)
			}
			results[i] = s
		}()
	}
	wg.Wait()
	if n := api.callCount(); n != 2 {
		t.Fatalf("%d ListShards calls, want 2 (the first Refresh and one for all stale reports)", n)
	}
	for _, r := range results {
		if r == seen || r != m.Current() {
			t.Fatal("a caller got the stale snapshot back")
		}
	}
}

func TestRefreshHonoursContextWhileWaiting(t *testing.T) {
	api := &fakeAPI{pages: [][]types.Shard{even(1)}, entered: make(chan struct{}), release: make(chan struct{})}
	m, _ := New(api, Stream{StreamName: "s"})
	done := make(chan error)
	go func() {
		_, err := m.Refresh(context.Background())
		done <- err
	}()
	<-api.entered // the first refresh holds the map
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Refresh(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	close(api.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentOwnersAndRefreshes(t *testing.T) {
	api := &fakeAPI{pages: [][]types.Shard{even(8)}}
	m, _ := New(api, Stream{StreamName: "s"})
	if _, err := m.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				if _, ok := lookup(m.Current(), hashkey.Of(fmt.Sprint(g, i))); !ok {
					t.Error("lookup failed")
					return
				}
			}
		}()
	}
	for range 20 {
		if _, err := m.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

func TestOwnerDoesNotAllocate(t *testing.T) {
	s := mustBuild(t, even(1000))
	h := hashkey.Of("key")
	if allocs := testing.AllocsPerRun(100, func() { lookup(s, h) }); allocs != 0 {
		t.Fatalf("Owner allocates %v times", allocs)
	}
}

// BenchmarkOwner looks up partition key hashes in a 1000-shard map.
func BenchmarkOwner(b *testing.B) {
	s := mustBuild(b, even(1000))
	keys := make([]hashkey.Uint128, 1024)
	for i := range keys {
		keys[i] = hashkey.Of(fmt.Sprint("key-", i))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := lookup(s, keys[i&1023]); !ok {
			b.Fatal("no shard")
		}
		i++
	}
}

// lookup is Owner as a copy and a found flag, as the tests compare shards.
func lookup(s *Snapshot, h hashkey.Uint128) (Shard, bool) {
	if o := s.Owner(h); o != nil {
		return *o, true
	}
	return Shard{}, false
}
