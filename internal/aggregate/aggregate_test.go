package aggregate

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/go-pkg/inskinesis/internal/aggregate/aggregatetest"
	"github.com/go-pkg/inskinesis/internal/hashkey"
)

type rec struct {
	pk, ehk string
	data    []byte
}

func newBuilder(t testing.TB, l Limits) *Builder {
	t.Helper()
	b, err := New(l)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reference builds the expected message with protobuf-go from the records,
// with tables in order of first appearance, as the KPL orders them.
func reference(recs []rec) []byte {
	var m aggregatetest.Message
	pk := map[string]uint64{}
	ehk := map[string]uint64{}
	for _, r := range recs {
		i, ok := pk[r.pk]
		if !ok {
			i = uint64(len(m.PartitionKeyTable))
			pk[r.pk] = i
			m.PartitionKeyTable = append(m.PartitionKeyTable, r.pk)
		}
		raw := aggregatetest.RawRecord{PartitionKeyIndex: i, Data: r.data}
		if r.ehk != "" {
			j, ok := ehk[r.ehk]
			if !ok {
				j = uint64(len(m.ExplicitHashKeyTable))
				ehk[r.ehk] = j
				m.ExplicitHashKeyTable = append(m.ExplicitHashKeyTable, r.ehk)
			}
			raw.ExplicitHashKeyIndex = &j
		}
		m.Records = append(m.Records, raw)
	}
	return aggregatetest.Marshal(m)
}

func manyKeys(n int) []rec {
	out := make([]rec, n)
	for i := range out {
		out[i] = rec{pk: fmt.Sprintf("key-%d", i), data: []byte{byte(i)}}
	}
	return out
}

func TestBuildMatchesProtobufGo(t *testing.T) {
	ehk := hashkey.Max().String()
	tests := []struct {
		name string
		recs []rec
	}{
		{"one record", []rec{{"a", "", []byte("x")}}},
		{"one record with empty data", []rec{{"pk", "", nil}}},
		{"repeated partition keys share one table entry", []rec{{"k1", "", []byte("1")}, {"k2", "", []byte("2")}, {"k1", "", []byte("3")}}},
		{"explicit hash keys, shared and not", []rec{{"k1", ehk, []byte("1")}, {"k2", "0", []byte("2")}, {"k3", ehk, []byte("3")}}},
		{"a mix of records with and without explicit hash key", []rec{{"k1", "", []byte("1")}, {"k2", "7", []byte("2")}, {"k1", "", nil}}},
		{"multi-byte unicode keys", []rec{{"ключ-🔑", "", []byte("u")}, {"日本", "", []byte("v")}}},
		{"200 distinct keys need two-byte indexes", manyKeys(200)},
		{"data of 127 and 128 bytes straddle a varint boundary", []rec{{"a", "", bytes.Repeat([]byte{1}, 127)}, {"a", "", bytes.Repeat([]byte{2}, 128)}}},
		{"data of 16384 bytes needs a three-byte length", []rec{{"a", "", bytes.Repeat([]byte{3}, 16384)}, {"b", "", nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t, Limits{MaxBytes: MaxMaxBytes, MaxCount: 100000})
			for i, r := range tt.recs {
				want := b.SizeWith(r.pk, r.ehk, len(r.data))
				if !b.Add(r.pk, r.ehk, r.data) {
					t.Fatalf("Add %d refused", i)
				}
				if b.Size() != want {
					t.Fatalf("after Add %d: Size = %d, SizeWith predicted %d", i, b.Size(), want)
				}
			}
			out := b.Build([]byte("prefix"))
			if !bytes.HasPrefix(out, []byte("prefix")) {
				t.Fatal("Build did not append to dst")
			}
			out = out[len("prefix"):]
			if len(out) != b.EncodedLen() || b.Size() != len(out)+len(PartitionKey) {
				t.Fatalf("len(Build) = %d, EncodedLen = %d, Size = %d", len(out), b.EncodedLen(), b.Size())
			}
			if !bytes.HasPrefix(out, []byte(Magic)) {
				t.Fatalf("missing magic: % x", out[:4])
			}
			body := out[len(Magic) : len(out)-DigestLen]
			sum := md5.Sum(body)
			if !bytes.Equal(sum[:], out[len(out)-DigestLen:]) {
				t.Fatal("digest is not the MD5 of the protobuf message")
			}
			if want := reference(tt.recs); !bytes.Equal(body, want) {
				t.Fatalf("protobuf message differs from protobuf-go's:\n got % x\nwant % x", body, want)
			}
			got, err := aggregatetest.Decode(body)
			if err != nil {
				t.Fatalf("protobuf-go cannot parse the message: %v", err)
			}
			if len(got) != len(tt.recs) {
				t.Fatalf("protobuf-go finds %d records, want %d", len(got), len(tt.recs))
			}
			for i, r := range tt.recs {
				g := got[i]
				if g.PartitionKey != r.pk || g.ExplicitHashKey != r.ehk || g.HasEHK != (r.ehk != "") || !bytes.Equal(g.Data, r.data) {
					t.Fatalf("record %d = %+v, want %+v", i, g, r)
				}
			}
		})
	}
}

func TestBuildMatchesProtowire(t *testing.T) {
	// The same message built field by field with protowire.
	b := newBuilder(t, Limits{})
	b.Add("p1", "", []byte("d1"))
	b.Add("p2", "99", []byte("d2"))
	var want []byte
	want = protowire.AppendTag(want, 1, protowire.BytesType)
	want = protowire.AppendString(want, "p1")
	want = protowire.AppendTag(want, 1, protowire.BytesType)
	want = protowire.AppendString(want, "p2")
	want = protowire.AppendTag(want, 2, protowire.BytesType)
	want = protowire.AppendString(want, "99")
	for _, r := range []struct {
		pk   uint64
		ehk  int
		data string
	}{{0, -1, "d1"}, {1, 0, "d2"}} {
		var inner []byte
		inner = protowire.AppendTag(inner, 1, protowire.VarintType)
		inner = protowire.AppendVarint(inner, r.pk)
		if r.ehk >= 0 {
			inner = protowire.AppendTag(inner, 2, protowire.VarintType)
			inner = protowire.AppendVarint(inner, uint64(r.ehk))
		}
		inner = protowire.AppendTag(inner, 3, protowire.BytesType)
		inner = protowire.AppendString(inner, r.data)
		want = protowire.AppendTag(want, 3, protowire.BytesType)
		want = protowire.AppendBytes(want, inner)
	}
	out := b.Build(nil)
	if got := out[len(Magic) : len(out)-DigestLen]; !bytes.Equal(got, want) {
		t.Fatalf("got % x\nwant % x", got, want)
	}
}

func TestVarintLenMatchesProtowire(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 16383, 16384, 1<<21 - 1, 1 << 21, 1<<63 - 1, 1 << 63, ^uint64(0)} {
		if got, want := varintLen(v), protowire.SizeVarint(v); got != want {
			t.Fatalf("varintLen(%d) = %d, want %d", v, got, want)
		}
		if got, want := appendVarint(nil, v), protowire.AppendVarint(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("appendVarint(%d) = % x, want % x", v, got, want)
		}
	}
}

func TestMaxBytesIsExact(t *testing.T) {
	// Find the size of an aggregate of two records, then set MaxBytes to it:
	// the second record must fit, and one more byte of data must not.
	probe := newBuilder(t, Limits{})
	probe.Add("first", "", []byte("0123456789"))
	exact := probe.SizeWith("second", "", 20)
	tests := []struct {
		name     string
		maxBytes int
		dataLen  int
		fits     bool
	}{
		{"a record that reaches MaxBytes exactly fits", exact, 20, true},
		{"one byte more does not", exact, 21, false},
		{"one byte less of limit does not", exact - 1, 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t, Limits{MaxBytes: tt.maxBytes})
			if !b.Add("first", "", []byte("0123456789")) {
				t.Fatal("first record refused")
			}
			before := b.Build(nil)
			data := bytes.Repeat([]byte("z"), tt.dataLen)
			if got := b.Fits("second", "", len(data)); got != tt.fits {
				t.Fatalf("Fits = %v, want %v", got, tt.fits)
			}
			if got := b.Add("second", "", data); got != tt.fits {
				t.Fatalf("Add = %v, want %v", got, tt.fits)
			}
			if b.Size() > tt.maxBytes {
				t.Fatalf("Size %d exceeds MaxBytes %d", b.Size(), tt.maxBytes)
			}
			if !tt.fits {
				if b.Len() != 1 || !bytes.Equal(b.Build(nil), before) {
					t.Fatal("a refused Add changed the builder")
				}
			} else if b.Size() != tt.maxBytes {
				t.Fatalf("Size = %d, want exactly %d", b.Size(), tt.maxBytes)
			}
		})
	}
}

func TestMaxCount(t *testing.T) {
	b := newBuilder(t, Limits{MaxCount: 3})
	for i := range 3 {
		if !b.Add("k", "", []byte{byte(i)}) {
			t.Fatalf("record %d refused under MaxCount", i)
		}
	}
	if b.Fits("k", "", 0) || b.Add("k", "", nil) {
		t.Fatal("a fourth record was accepted with MaxCount 3")
	}
	if b.Len() != 3 {
		t.Fatalf("Len = %d, want 3", b.Len())
	}
}

func TestSoloSize(t *testing.T) {
	tests := []struct {
		name, pk, ehk string
		dataLen       int
	}{
		{"small", "a", "", 1},
		{"with explicit hash key", "key", "340282366920938463463374607431768211455", 300},
		{"empty data", "k", "", 0},
		{"large data", strings.Repeat("p", 256), "", 60000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t, Limits{MaxBytes: MaxMaxBytes})
			want := SoloSize(tt.pk, tt.ehk, tt.dataLen)
			if got := b.SizeWith(tt.pk, tt.ehk, tt.dataLen); got != want {
				t.Fatalf("SizeWith on an empty builder = %d, SoloSize = %d", got, want)
			}
			b.Add(tt.pk, tt.ehk, make([]byte, tt.dataLen))
			if b.Size() != want {
				t.Fatalf("Size = %d, SoloSize = %d", b.Size(), want)
			}
			small := newBuilder(t, Limits{MaxBytes: want - 1})
			if small.Add(tt.pk, tt.ehk, make([]byte, tt.dataLen)) {
				t.Fatal("an empty builder accepted a record larger than MaxBytes")
			}
		})
	}
}

func TestSingleAndOuterKeys(t *testing.T) {
	b := newBuilder(t, Limits{})
	if _, _, _, ok := b.Single(); ok {
		t.Fatal("Single on an empty builder reports ok")
	}
	if b.ExplicitHashKey() != "" || b.Size() != 0 || b.EncodedLen() != 0 || len(b.Build(nil)) != 0 {
		t.Fatal("an empty builder reports a record")
	}
	data := []byte("payload")
	b.Add("user-1", "", data)
	data[0] = 'X' // the builder copied the data
	pk, ehk, got, ok := b.Single()
	if !ok || pk != "user-1" || ehk != "" || string(got) != "payload" {
		t.Fatalf("Single = %q %q %q %v", pk, ehk, got, ok)
	}
	if want := hashkey.Of("user-1").String(); b.ExplicitHashKey() != want {
		t.Fatalf("ExplicitHashKey = %s, want MD5 of the first key %s", b.ExplicitHashKey(), want)
	}
	if got := string(b.AppendExplicitHashKey([]byte("x"))); got != "x"+hashkey.Of("user-1").String() {
		t.Fatalf("AppendExplicitHashKey = %s", got)
	}
	b.Add("user-2", "", []byte("two"))
	if _, _, _, ok := b.Single(); ok {
		t.Fatal("Single reports ok with two records")
	}
	if want := hashkey.Of("user-1").String(); b.ExplicitHashKey() != want {
		t.Fatal("the outer hash key is not the first record's")
	}

	b.Reset()
	b.Add("user-3", "12345", []byte("three"))
	b.Add("user-4", "", nil)
	if b.ExplicitHashKey() != "12345" || string(b.AppendExplicitHashKey(nil)) != "12345" {
		t.Fatalf("ExplicitHashKey = %s, want the first record's explicit hash key", b.ExplicitHashKey())
	}
	b.Reset()
	b.Add("user-5", "42", []byte("five"))
	if pk, ehk, got, ok := b.Single(); !ok || pk != "user-5" || ehk != "42" || string(got) != "five" {
		t.Fatalf("Single = %q %q %q %v", pk, ehk, got, ok)
	}
}

func TestResetGivesAFreshBuilder(t *testing.T) {
	b := newBuilder(t, Limits{})
	b.Add("k1", "1", []byte("a"))
	b.Add("k2", "2", []byte("b"))
	b.Reset()
	if b.Len() != 0 || b.Size() != 0 {
		t.Fatal("Reset left records")
	}
	b.Add("k2", "", []byte("c"))
	b.Add("k3", "", []byte("d"))
	fresh := newBuilder(t, Limits{})
	fresh.Add("k2", "", []byte("c"))
	fresh.Add("k3", "", []byte("d"))
	if !bytes.Equal(b.Build(nil), fresh.Build(nil)) {
		t.Fatal("a reset builder builds differently from a new one")
	}
}

func TestNewLimits(t *testing.T) {
	tests := []struct {
		name string
		in   Limits
		want Limits
		err  error
	}{
		{"zero takes the defaults", Limits{}, Limits{DefaultMaxBytes, DefaultMaxCount}, nil},
		{"set values are kept", Limits{MaxBytes: 1000, MaxCount: 5}, Limits{1000, 5}, nil},
		{"the largest MaxBytes", Limits{MaxBytes: MaxMaxBytes}, Limits{MaxMaxBytes, DefaultMaxCount}, nil},
		{"negative MaxBytes", Limits{MaxBytes: -1}, Limits{}, ErrLimits},
		{"negative MaxCount", Limits{MaxCount: -1}, Limits{}, ErrLimits},
		{"MaxBytes above 10 MiB", Limits{MaxBytes: MaxMaxBytes + 1}, Limits{}, ErrLimits},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := New(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("New error = %v, want %v", err, tt.err)
			}
			if err == nil && b.Limits() != tt.want {
				t.Fatalf("Limits = %+v, want %+v", b.Limits(), tt.want)
			}
		})
	}
}

func TestRandomFillsRespectLimits(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for round := range 200 {
		l := Limits{MaxBytes: 100 + r.IntN(5000), MaxCount: 1 + r.IntN(50)}
		b := newBuilder(t, l)
		var added []rec
		for {
			rc := rec{pk: fmt.Sprintf("k%d", r.IntN(20)), data: make([]byte, r.IntN(300))}
			if r.IntN(3) == 0 {
				rc.ehk = fmt.Sprint(r.IntN(1000))
			}
			predicted := b.SizeWith(rc.pk, rc.ehk, len(rc.data))
			ok := b.Add(rc.pk, rc.ehk, rc.data)
			if ok != (predicted <= l.MaxBytes && len(added) < l.MaxCount) {
				t.Fatalf("round %d: Add = %v with predicted size %d, limit %+v, count %d", round, ok, predicted, l, len(added))
			}
			if !ok {
				break
			}
			added = append(added, rc)
			if b.Size() > l.MaxBytes {
				t.Fatalf("round %d: Size %d > MaxBytes %d", round, b.Size(), l.MaxBytes)
			}
		}
		if len(added) == 0 {
			continue
		}
		out := b.Build(nil)
		if !bytes.Equal(out[len(Magic):len(out)-DigestLen], reference(added)) {
			t.Fatalf("round %d: message differs from protobuf-go's", round)
		}
	}
}

func TestAddDoesNotAllocateInSteadyState(t *testing.T) {
	b := newBuilder(t, Limits{})
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = fmt.Sprintf("partition-key-%d", i)
	}
	data := bytes.Repeat([]byte("d"), 100)
	buf := make([]byte, 0, DefaultMaxBytes)
	fill := func() {
		b.Reset()
		for i := 0; b.Add(keys[i%len(keys)], "", data); i++ {
		}
		buf = b.Build(buf[:0])
		buf = b.AppendExplicitHashKey(buf)
	}
	fill() // grow the buffers
	if allocs := testing.AllocsPerRun(20, fill); allocs != 0 {
		t.Fatalf("a full fill, build and reset allocates %v times, want 0", allocs)
	}
}

// BenchmarkAddBuild fills a default builder with 100-byte records under 16
// partition keys and builds it; ns/op and allocs/op are per aggregate.
func BenchmarkAddBuild(b *testing.B) {
	bld, _ := New(Limits{})
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = fmt.Sprintf("partition-key-%d", i)
	}
	data := bytes.Repeat([]byte("d"), 100)
	buf := make([]byte, 0, DefaultMaxBytes)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		bld.Reset()
		i := 0
		for ; bld.Add(keys[i%len(keys)], "", data); i++ {
		}
		n += i
		buf = bld.Build(buf[:0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/record")
	b.SetBytes(int64(len(buf)))
}

// BenchmarkAdd measures one Add of a 100-byte record.
func BenchmarkAdd(b *testing.B) {
	bld, _ := New(Limits{MaxCount: 1 << 30})
	data := bytes.Repeat([]byte("d"), 100)
	b.ReportAllocs()
	for b.Loop() {
		if !bld.Add("partition-key", "", data) {
			bld.Reset()
		}
	}
}

// Reserve must take and refuse exactly the records Add would, and size the
// aggregate exactly as Build then writes it.
func TestReserveSizesAsAddBuilds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for round := range 200 {
		l := Limits{MaxBytes: 100 + r.IntN(5000), MaxCount: 1 + r.IntN(50)}
		sizer, builder, appender := newBuilder(t, l), newBuilder(t, l), newBuilder(t, l)
		for {
			rc := rec{pk: fmt.Sprintf("k%d", r.IntN(20)), data: make([]byte, r.IntN(300))}
			if r.IntN(3) == 0 {
				rc.ehk = fmt.Sprint(r.IntN(1000))
			}
			slot, reserved := sizer.Reserve(rc.pk, rc.ehk, len(rc.data))
			added := builder.Add(rc.pk, rc.ehk, rc.data)
			if reserved != added {
				t.Fatalf("round %d: Reserve = %v, Add = %v", round, reserved, added)
			}
			if reserved && !appender.Append(rc.pk, rc.ehk, slot, rc.data) {
				t.Fatalf("round %d: Append refused the slot Reserve gave", round)
			}
			if sizer.Size() != builder.Size() || sizer.Len() != builder.Len() || sizer.ExplicitHashKey() != builder.ExplicitHashKey() {
				t.Fatalf("round %d: Reserve sized %d bytes, %d records, key %q; Add %d, %d, %q", round,
					sizer.Size(), sizer.Len(), sizer.ExplicitHashKey(), builder.Size(), builder.Len(), builder.ExplicitHashKey())
			}
			if !added {
				break
			}
		}
		built := builder.Build(nil)
		if got, want := len(built), sizer.EncodedLen(); got != want {
			t.Fatalf("round %d: Build wrote %d bytes, Reserve sized %d", round, got, want)
		}
		if !bytes.Equal(appender.Build(nil), built) {
			t.Fatalf("round %d: Append built other bytes than Add", round)
		}
		if len(built) > 0 {
			// BuildUndigested leaves the digest to the caller, after
			// whatever dst held.
			undigested := appender.BuildUndigested([]byte("dst"))
			msg, digest := Parts(undigested[3:])
			if !bytes.Equal(digest, make([]byte, DigestLen)) {
				t.Fatalf("round %d: BuildUndigested wrote a digest", round)
			}
			sum := md5.Sum(msg)
			copy(digest, sum[:])
			if string(undigested[:3]) != "dst" || !bytes.Equal(undigested[3:], built) {
				t.Fatalf("round %d: BuildUndigested with the MD5 of its message is not what Build wrote", round)
			}
		}
		if appender.Len() > 0 && appender.Add("k", "", nil) {
			t.Fatalf("round %d: Add took a record after Append", round)
		}
		if sizer.Len() > 0 && sizer.Add("k", "", nil) {
			t.Fatalf("round %d: Add took a record after Reserve", round)
		}
		if _, _, _, ok := sizer.Single(); ok && sizer.Len() > 0 {
			t.Fatalf("round %d: Single answered after Reserve", round)
		}
		sizer.Reset()
		if !sizer.Add("k", "", nil) || len(sizer.Build(nil)) != sizer.EncodedLen() {
			t.Fatalf("round %d: a reset Builder does not build", round)
		}
	}
}

func TestBuildAfterReservePanics(t *testing.T) {
	b := newBuilder(t, Limits{})
	b.Reserve("k", "", 10)
	defer func() {
		if recover() == nil {
			t.Fatal("Build after Reserve did not panic")
		}
	}()
	b.Build(nil)
}

// Append refuses records in another order than Reserve sized them.
func TestAppendRefusesAnotherOrder(t *testing.T) {
	sizer, b := newBuilder(t, Limits{}), newBuilder(t, Limits{})
	s1, _ := sizer.Reserve("a", "", 1)
	s2, _ := sizer.Reserve("b", "7", 1)
	if b.Append("b", "7", s2, []byte("x")) {
		t.Fatal("Append took the second record first")
	}
	if !b.Append("a", "", s1, []byte("x")) || b.Append("b", "", s1, []byte("x")) {
		t.Fatal("Append took a record whose key is not that of its slot")
	}
	if !b.Append("b", "7", s2, []byte("x")) || b.Size() != sizer.Size() {
		t.Fatalf("Append sized %d, Reserve %d", b.Size(), sizer.Size())
	}
}

// BenchmarkReserve sizes records as the shard stage does: under one key,
// and under a key per record.
func BenchmarkReserve(b *testing.B) {
	data := make([]byte, 100)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("%08x-7a9e-4f31-9c2d-%012x", i, i)
	}
	for _, per := range []string{"static", "record"} {
		b.Run("key="+per, func(b *testing.B) {
			bl, _ := New(Limits{})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				k := keys[0]
				if per == "record" {
					k = keys[i%len(keys)]
				}
				if _, ok := bl.Reserve(k, "", len(data)); !ok {
					bl.Reset()
				}
				i++
			}
		})
	}
}
