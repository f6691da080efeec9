package aggregation

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/go-pkg/inskinesis/internal/aggregate"
	"github.com/go-pkg/inskinesis/internal/aggregate/aggregatetest"
	"github.com/go-pkg/inskinesis/internal/hashkey"
)

type in struct {
	pk, ehk string
	data    []byte
}

func build(t testing.TB, recs ...in) []byte {
	t.Helper()
	b, err := aggregate.New(aggregate.Limits{MaxBytes: aggregate.MaxMaxBytes, MaxCount: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if !b.Add(r.pk, r.ehk, r.data) {
			t.Fatalf("builder refused %+v", r)
		}
	}
	return b.Build(nil)
}

func u64(v uint64) *uint64 { return &v }

func checkSame(t *testing.T, got []UserRecord, want []in) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d user records, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.PartitionKey != w.pk || g.ExplicitHashKey != w.ehk || !bytes.Equal(g.Data, w.data) || g.SubSequenceNumber != uint64(i) || !g.Aggregated {
			t.Fatalf("user record %d = %+v, want %+v at sub-sequence %d", i, g, w, i)
		}
	}
}

func TestDeaggregateRoundTrip(t *testing.T) {
	max := hashkey.Max().String()
	tests := []struct {
		name string
		recs []in
	}{
		{"one record", []in{{"a", "", []byte("x")}}},
		{"empty data", []in{{"k", "", nil}, {"k", "", []byte{}}}},
		{"shared and distinct keys keep their order", []in{{"k1", "", []byte("1")}, {"k2", "", []byte("2")}, {"k1", "", []byte("3")}}},
		{"explicit hash keys mixed with none", []in{{"k1", max, []byte("1")}, {"k2", "", []byte("2")}, {"k3", "0", []byte("3")}, {"k4", max, nil}}},
		{"multi-byte unicode keys", []in{{"ключ-🔑", "", []byte("u")}, {"日本語", "", []byte("v")}}},
		{"binary data", []in{{"b", "", []byte{0, 0xff, 0xF3, 0x89, 0x9A, 0xC2}}}},
		{"many distinct keys, beyond the stack tables", func() []in {
			var out []in
			for i := range 100 {
				out = append(out, in{fmt.Sprintf("key-%d", i), fmt.Sprint(i), []byte(strings.Repeat("d", i))})
			}
			return out
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := build(t, tt.recs...)
			got, agg, err := DeaggregateData(data)
			if err != nil || !agg {
				t.Fatalf("DeaggregateData: aggregated=%v err=%v", agg, err)
			}
			checkSame(t, got, tt.recs)
			for _, g := range got {
				if len(g.Data) != cap(g.Data) {
					t.Fatal("Data has spare capacity into the following bytes")
				}
			}
		})
	}
}

func TestDeaggregateCarriesTheOuterRecord(t *testing.T) {
	ts := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	agg := types.Record{
		Data:                        build(t, in{"k1", "", []byte("a")}, in{"k2", "", []byte("b")}),
		PartitionKey:                aws.String(aggregate.PartitionKey),
		SequenceNumber:              aws.String("49590338271490256608559692538361571095921575989136588898"),
		ApproximateArrivalTimestamp: &ts,
	}
	got, err := Deaggregate(agg)
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, got, []in{{"k1", "", []byte("a")}, {"k2", "", []byte("b")}})
	for _, g := range got {
		if g.SequenceNumber != *agg.SequenceNumber || !g.ApproximateArrivalTimestamp.Equal(ts) {
			t.Fatalf("outer fields not copied: %+v", g)
		}
	}

	plain := types.Record{Data: []byte("hello"), PartitionKey: aws.String("user-7"), SequenceNumber: aws.String("1")}
	got, err = Deaggregate(plain)
	if err != nil || len(got) != 1 {
		t.Fatalf("plain record: %v %v", got, err)
	}
	if g := got[0]; g.PartitionKey != "user-7" || string(g.Data) != "hello" || g.Aggregated || g.SequenceNumber != "1" || g.SubSequenceNumber != 0 {
		t.Fatalf("plain record came back as %+v", g)
	}

	dst := []UserRecord{{PartitionKey: "kept"}}
	dst, err = AppendDeaggregated(dst, agg)
	if err != nil || len(dst) != 3 || dst[0].PartitionKey != "kept" || dst[2].PartitionKey != "k2" {
		t.Fatalf("AppendDeaggregated = %+v, %v", dst, err)
	}
}

func frame(body []byte) []byte { return aggregatetest.Frame(body) }

func TestNotAnAggregateIsPassedThrough(t *testing.T) {
	good := build(t, in{"k", "", []byte("d")}, in{"k2", "", []byte("e")})
	badDigest := bytes.Clone(good)
	badDigest[len(badDigest)-1] ^= 1
	badBody := bytes.Clone(good)
	badBody[5] ^= 0x40

	var noData []byte // a record without its required data field
	noData = protowire.AppendTag(noData, 1, protowire.VarintType)
	noData = protowire.AppendVarint(noData, 0)
	var noPK []byte // a record without its required partition key index
	noPK = protowire.AppendTag(noPK, 3, protowire.BytesType)
	noPK = protowire.AppendString(noPK, "x")
	var tagNoKey []byte // a tag without its required key
	tagNoKey = protowire.AppendTag(tagNoKey, 2, protowire.BytesType)
	tagNoKey = protowire.AppendString(tagNoKey, "v")
	withRecord := func(rec []byte) []byte {
		var m []byte
		m = protowire.AppendTag(m, 1, protowire.BytesType)
		m = protowire.AppendString(m, "k")
		m = protowire.AppendTag(m, 3, protowire.BytesType)
		return protowire.AppendBytes(m, rec)
	}
	var recWithBadTag []byte
	recWithBadTag = protowire.AppendTag(recWithBadTag, 1, protowire.VarintType)
	recWithBadTag = protowire.AppendVarint(recWithBadTag, 0)
	recWithBadTag = protowire.AppendTag(recWithBadTag, 3, protowire.BytesType)
	recWithBadTag = protowire.AppendString(recWithBadTag, "x")
	recWithBadTag = protowire.AppendTag(recWithBadTag, 4, protowire.BytesType)
	recWithBadTag = protowire.AppendBytes(recWithBadTag, tagNoKey)

	tests := []struct {
		name string
		data []byte
	}{
		{"empty data", nil},
		{"plain text", []byte("hello")},
		{"magic only", []byte(aggregate.Magic)},
		{"magic and a digest with an empty message, as the KCL requires more", frame(nil)},
		{"a wrong digest", badDigest},
		{"a message that does not parse (digest matching)", frame(badBody[4 : len(badBody)-16])},
		{"a truncated varint", frame([]byte{0x0a, 0x80})},
		{"a length beyond the message", frame([]byte{0x0a, 0x05, 'a'})},
		{"a length of 2^40", frame([]byte{0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20})},
		{"a varint of 11 bytes", frame([]byte{0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})},
		{"a ten-byte varint above 2^64", frame([]byte{0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02})},
		{"field number 0", frame([]byte{0x02, 0x00})},
		{"a reserved wire type", frame([]byte{0x0e})},
		{"an end group without start", frame([]byte{0x0c})},
		{"a group left open", frame([]byte{0x2b, 0x08, 0x01})},
		{"a group closed with another number", frame([]byte{0x2b, 0x34})},
		{"a record without data", frame(withRecord(noData))},
		{"a record without partition key index", frame(withRecord(noPK))},
		{"a tag without key", frame(withRecord(recWithBadTag))},
		{"a record that is not a message", frame(withRecord([]byte{0xff}))},
		{"the magic with another byte", append([]byte("\xF3\x89\x9A\xC3"), good[4:]...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, agg, err := DeaggregateData(tt.data)
			if err != nil || agg {
				t.Fatalf("aggregated=%v err=%v, want a plain record", agg, err)
			}
			if len(got) != 1 || !bytes.Equal(got[0].Data, tt.data) || got[0].Aggregated || got[0].PartitionKey != "" {
				t.Fatalf("got %+v, want the input as one plain record", got)
			}
			if body, ok := unframe(tt.data); ok {
				if _, err := aggregatetest.Unmarshal(body); err == nil {
					t.Fatal("protobuf-go parses what was passed through")
				}
			}
		})
	}
}

func TestCorruptAggregates(t *testing.T) {
	tests := []struct {
		name string
		msg  aggregatetest.Message
	}{
		{"partition key index outside the table", aggregatetest.Message{
			PartitionKeyTable: []string{"k"},
			Records:           []aggregatetest.RawRecord{{PartitionKeyIndex: 0, Data: []byte("ok")}, {PartitionKeyIndex: 1, Data: []byte("x")}},
		}},
		{"partition key index with an empty table", aggregatetest.Message{
			Records: []aggregatetest.RawRecord{{PartitionKeyIndex: 0}},
		}},
		{"huge partition key index", aggregatetest.Message{
			PartitionKeyTable: []string{"k"},
			Records:           []aggregatetest.RawRecord{{PartitionKeyIndex: ^uint64(0)}},
		}},
		{"explicit hash key index outside the table", aggregatetest.Message{
			PartitionKeyTable:    []string{"k"},
			ExplicitHashKeyTable: []string{"1"},
			Records:              []aggregatetest.RawRecord{{PartitionKeyIndex: 0, ExplicitHashKeyIndex: u64(1)}},
		}},
		{"an empty explicit hash key", aggregatetest.Message{
			PartitionKeyTable:    []string{"k"},
			ExplicitHashKeyTable: []string{""},
			Records:              []aggregatetest.RawRecord{{PartitionKeyIndex: 0, ExplicitHashKeyIndex: u64(0)}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := frame(aggregatetest.Marshal(tt.msg))
			dst := []UserRecord{{PartitionKey: "before"}}
			got, agg, err := AppendDeaggregatedData(dst, data)
			if !errors.Is(err, ErrCorrupt) || !agg {
				t.Fatalf("aggregated=%v err=%v, want ErrCorrupt", agg, err)
			}
			if len(got) != 1 || got[0].PartitionKey != "before" {
				t.Fatalf("dst changed on error: %+v", got)
			}
			if _, err := Deaggregate(types.Record{Data: data}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Deaggregate error = %v", err)
			}
		})
	}
}

func TestUnusualButValidEncodings(t *testing.T) {
	// Hand-made messages that protobuf-go accepts; each must deaggregate to
	// what protobuf-go reads.
	rec := func(fields ...[]byte) []byte { return bytes.Join(fields, nil) }
	varint := func(num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
	}
	bytesField := func(num protowire.Number, v string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	msgField := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	group := func(num protowire.Number, inner []byte) []byte {
		b := protowire.AppendTag(nil, num, protowire.StartGroupType)
		b = append(b, inner...)
		return protowire.AppendTag(b, num, protowire.EndGroupType)
	}
	tests := []struct {
		name string
		body []byte
		want []in
	}{
		{"tables after the records", rec(
			msgField(3, rec(varint(1, 1), bytesField(3, "d0"))),
			msgField(3, rec(varint(1, 0), varint(2, 0), bytesField(3, "d1"))),
			bytesField(1, "k0"), bytesField(2, "77"), bytesField(1, "k1"),
		), []in{{"k1", "", []byte("d0")}, {"k0", "77", []byte("d1")}}},
		{"fields of a record in reverse order", rec(
			bytesField(1, "k"),
			msgField(3, rec(bytesField(3, "d"), varint(1, 0))),
		), []in{{"k", "", []byte("d")}}},
		{"repeated singular fields: the last wins", rec(
			bytesField(1, "k0"), bytesField(1, "k1"),
			msgField(3, rec(varint(1, 0), bytesField(3, "first"), varint(1, 1), bytesField(3, "last"))),
		), []in{{"k1", "", []byte("last")}}},
		{"unknown fields of every wire type, groups nested", rec(
			varint(9, 5),
			protowire.AppendFixed32(protowire.AppendTag(nil, 10, protowire.Fixed32Type), 1),
			protowire.AppendFixed64(protowire.AppendTag(nil, 11, protowire.Fixed64Type), 1),
			group(12, rec(varint(1, 1), group(13, bytesField(2, "x")))),
			bytesField(1, "k"),
			msgField(3, rec(varint(1, 0), varint(7, 1), group(8, nil), bytesField(3, "d"))),
		), []in{{"k", "", []byte("d")}}},
		{"a known field with another wire type is unknown", rec(
			varint(1, 3), // partition_key_table as a varint
			bytesField(1, "k"),
			msgField(3, rec(varint(1, 0), bytesField(2, "not-an-index"), bytesField(3, "d"))),
		), []in{{"k", "", []byte("d")}}},
		{"tags are read and ignored", rec(
			bytesField(1, "k"),
			msgField(3, rec(varint(1, 0), bytesField(3, "d"), msgField(4, rec(bytesField(1, "tk"), bytesField(2, "tv"))), msgField(4, bytesField(1, "only-key")))),
		), []in{{"k", "", []byte("d")}}},
		{"a non-minimal varint index", rec(
			bytesField(1, "k"),
			msgField(3, rec(protowire.AppendTag(nil, 1, protowire.VarintType), []byte{0x80, 0x80, 0x00}, bytesField(3, "d"))),
		), []in{{"k", "", []byte("d")}}},
		{"a ten-byte varint", rec(
			bytesField(1, "k"),
			msgField(3, rec(varint(9, ^uint64(0)), varint(1, 0), bytesField(3, "d"))),
		), []in{{"k", "", []byte("d")}}},
		{"tables without records", rec(bytesField(1, "k"), bytesField(2, "1")), nil},
		{"unused table entries, including an invalid hash key", rec(
			bytesField(1, "unused"), bytesField(1, "k"), bytesField(2, "not a number"),
			msgField(3, rec(varint(1, 1), bytesField(3, "d"))),
		), []in{{"k", "", []byte("d")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, err := aggregatetest.Decode(tt.body)
			if err != nil {
				t.Fatalf("protobuf-go rejects the test message: %v", err)
			}
			if len(ref) != len(tt.want) {
				t.Fatalf("protobuf-go reads %d records, the test expects %d", len(ref), len(tt.want))
			}
			got, agg, err := DeaggregateData(frame(tt.body))
			if err != nil || !agg {
				t.Fatalf("aggregated=%v err=%v", agg, err)
			}
			checkSame(t, got, tt.want)
		})
	}
}

// TestDifferentialAgainstProtobufGo mutates valid messages at random: our
// decision to treat the input as an aggregate must match protobuf-go's
// ability to parse it, and the records must match.
func TestDifferentialAgainstProtobufGo(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	base := aggregatetest.Marshal(aggregatetest.Message{
		PartitionKeyTable:    []string{"k0", "k1"},
		ExplicitHashKeyTable: []string{"12"},
		Records: []aggregatetest.RawRecord{
			{PartitionKeyIndex: 0, Data: []byte("data-0")},
			{PartitionKeyIndex: 1, ExplicitHashKeyIndex: u64(0), Data: []byte("data-1"), Tags: []aggregatetest.Tag{{Key: "t"}}},
		},
	})
	agreeParsed := 0
	for i := range 20000 {
		body := bytes.Clone(base)
		for range 1 + r.IntN(3) {
			switch op := r.IntN(4); {
			case op == 0 && len(body) > 0:
				body[r.IntN(len(body))] = byte(r.Uint32())
			case op == 1 && len(body) > 0:
				body[r.IntN(len(body))] ^= 1 << r.IntN(8)
			case op == 2 && len(body) > 0:
				j := r.IntN(len(body))
				body = append(body[:j], body[j+1:]...)
			default:
				j := r.IntN(len(body) + 1)
				body = append(body[:j], append([]byte{byte(r.Uint32())}, body[j:]...)...)
			}
		}
		ref, refErr := aggregatetest.Decode(body)
		_, refParseErr := aggregatetest.Unmarshal(body)
		got, agg, err := DeaggregateData(frame(body))
		if len(body) == 0 {
			continue // too short for the KCL framing rule
		}
		if agg != (refParseErr == nil) {
			t.Fatalf("case %d: aggregated=%v but protobuf-go parse error=%v; body % x", i, agg, refParseErr, body)
		}
		if !agg {
			continue
		}
		if (err != nil) != (refErr != nil) {
			t.Fatalf("case %d: err=%v, reference err=%v; body % x", i, err, refErr, body)
		}
		if err != nil {
			continue
		}
		agreeParsed++
		if len(got) != len(ref) {
			t.Fatalf("case %d: %d records, reference %d", i, len(got), len(ref))
		}
		for j := range got {
			if got[j].PartitionKey != ref[j].PartitionKey || got[j].ExplicitHashKey != ref[j].ExplicitHashKey || !bytes.Equal(got[j].Data, ref[j].Data) {
				t.Fatalf("case %d record %d: %+v, reference %+v", i, j, got[j], ref[j])
			}
		}
	}
	if agreeParsed < 1000 {
		t.Fatalf("only %d mutated messages parsed; the test does not exercise the decoder", agreeParsed)
	}
}

func TestHostileInputAllocatesLittle(t *testing.T) {
	// Claims of huge lengths and counts must not turn into allocations.
	inputs := [][]byte{
		frame([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}),
		frame(bytes.Repeat([]byte{0x2b}, 5000)), // deeply nested groups
		frame(bytes.Repeat([]byte{0x0a, 0x00}, 500)),
	}
	for i, data := range inputs {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		out, _, _ := DeaggregateData(data)
		runtime.ReadMemStats(&after)
		if grown := after.TotalAlloc - before.TotalAlloc; grown > 64<<10 {
			t.Fatalf("input %d of %d bytes allocated %d bytes", i, len(data), grown)
		}
		_ = out
	}
}

func TestDeaggregateAllocations(t *testing.T) {
	var recs []in
	for i := 0; i < 500; i++ {
		recs = append(recs, in{fmt.Sprintf("k%d", i%16), "", bytes.Repeat([]byte{byte(i)}, 100)})
	}
	data := build(t, recs...)
	dst := make([]UserRecord, 0, 500)
	allocs := testing.AllocsPerRun(50, func() {
		var err error
		if dst, err = AppendDeaggregated(dst[:0], types.Record{Data: data}); err != nil || len(dst) != 500 {
			t.Fatalf("%d records, %v", len(dst), err)
		}
	})
	if allocs > 1 {
		t.Fatalf("AppendDeaggregated with a reused slice allocates %v times, want at most 1 (the keys)", allocs)
	}
}

func TestInRange(t *testing.T) {
	h := func(pk string) hashkey.Uint128 { return hashkey.Of(pk) }
	k1 := h("k1")
	prev := k1 // k1 - 1
	if prev.Lo == 0 {
		prev.Hi--
	}
	prev.Lo--
	rng := func(lo, hi hashkey.Uint128) types.HashKeyRange {
		return types.HashKeyRange{StartingHashKey: aws.String(lo.String()), EndingHashKey: aws.String(hi.String())}
	}
	whole := rng(hashkey.Uint128{}, hashkey.Max())
	recs := func(list ...in) []UserRecord {
		out, _, err := DeaggregateData(build(t, list...))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tests := []struct {
		name    string
		records []UserRecord
		hr      types.HashKeyRange
		want    bool
		err     error
	}{
		{"everything is inside the whole key space", recs(in{"k1", "", nil}, in{"k2", "5", nil}), whole, true, nil},
		{"a range that starts at the key's hash", recs(in{"k1", "", nil}), rng(k1, hashkey.Max()), true, nil},
		{"a range that ends at the key's hash", recs(in{"k1", "", nil}), rng(hashkey.Uint128{}, k1), true, nil},
		{"a range that ends just below the key's hash", recs(in{"k1", "", nil}), rng(hashkey.Uint128{}, prev), false, nil},
		{"the explicit hash key decides, not the partition key", recs(in{"k1", "7", nil}), rng(hashkey.Uint128{Lo: 7}, hashkey.Uint128{Lo: 7}), true, nil},
		{"one record outside is enough", recs(in{"a", "7", nil}, in{"b", "8", nil}), rng(hashkey.Uint128{Lo: 7}, hashkey.Uint128{Lo: 7}), false, nil},
		{"plain records are skipped", []UserRecord{{PartitionKey: "k1", Data: []byte("x")}}, rng(hashkey.Uint128{}, hashkey.Uint128{}), true, nil},
		{"an invalid explicit hash key", []UserRecord{{PartitionKey: "k", ExplicitHashKey: "x1", Aggregated: true}}, whole, false, ErrHashKey},
		{"an invalid range bound", nil, types.HashKeyRange{StartingHashKey: aws.String("-1"), EndingHashKey: aws.String("1")}, false, ErrHashKey},
		{"a missing range bound", nil, types.HashKeyRange{StartingHashKey: aws.String("0")}, false, ErrHashKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := InRange(tt.records, tt.hr)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("error = %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("InRange = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEffectiveHashKey(t *testing.T) {
	if got := (UserRecord{PartitionKey: "a"}).EffectiveHashKey(); got != hashkey.Of("a").String() {
		t.Fatalf("EffectiveHashKey = %s", got)
	}
	if got := (UserRecord{PartitionKey: "a", ExplicitHashKey: "9"}).EffectiveHashKey(); got != "9" {
		t.Fatalf("EffectiveHashKey = %s", got)
	}
}

type stringCodec struct{}

var errNotUTF8 = errors.New("not UTF-8")

func (stringCodec) Encode(dst []byte, v string) ([]byte, error) { return append(dst, v...), nil }
func (stringCodec) Decode(b []byte) (string, error) {
	if !utf8.Valid(b) {
		return "", errNotUTF8
	}
	return string(b), nil
}

func TestDecode(t *testing.T) {
	records := []types.Record{
		{Data: build(t, in{"a", "", []byte("one")}, in{"b", "", []byte("two")}), PartitionKey: aws.String("a")},
		{Data: []byte("three"), PartitionKey: aws.String("c")},
		{Data: build(t, in{"d", "", []byte("four")}), PartitionKey: aws.String("d")},
	}
	got, err := Decode[string](stringCodec{}, records)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "one,two,three,four" {
		t.Fatalf("Decode = %v", got)
	}

	bad := append(records[:1:1], types.Record{Data: build(t, in{"e", "", []byte{0xff}}, in{"f", "", []byte("x")})})
	got, err = Decode[string](stringCodec{}, bad)
	if !errors.Is(err, errNotUTF8) || !strings.Contains(err.Error(), "record 1, user record 0") {
		t.Fatalf("error = %v", err)
	}
	if strings.Join(got, ",") != "one,two" {
		t.Fatalf("values before the error = %v", got)
	}

	corrupt := frame(aggregatetest.Marshal(aggregatetest.Message{Records: []aggregatetest.RawRecord{{PartitionKeyIndex: 3}}}))
	if _, err := Decode[string](stringCodec{}, []types.Record{{Data: corrupt}}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error = %v, want ErrCorrupt", err)
	}
}

func TestAll(t *testing.T) {
	corrupt := frame(aggregatetest.Marshal(aggregatetest.Message{Records: []aggregatetest.RawRecord{{PartitionKeyIndex: 3}}}))
	records := []types.Record{
		{Data: build(t, in{"a", "", []byte("1")}, in{"b", "", []byte("2")})},
		{Data: corrupt},
		{Data: []byte("3"), PartitionKey: aws.String("p")},
	}
	var seen []string
	errs := 0
	for u, err := range All(records) {
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "record 1") {
				t.Fatalf("error = %v", err)
			}
			errs++
			continue
		}
		seen = append(seen, string(u.Data))
	}
	if strings.Join(seen, ",") != "1,2,3" || errs != 1 {
		t.Fatalf("All yielded %v with %d errors", seen, errs)
	}
	n := 0
	for range All(records) {
		n++
		break
	}
	if n != 1 {
		t.Fatal("All went on after break")
	}
}

func TestUnframeDigest(t *testing.T) {
	body := []byte{0x0a, 0x01, 'k'}
	data := frame(body)
	sum := md5.Sum(body)
	if !bytes.Equal(data[len(data)-16:], sum[:]) {
		t.Fatal("test framing is wrong")
	}
	if got, ok := unframe(data); !ok || !bytes.Equal(got, body) {
		t.Fatalf("unframe = % x %v", got, ok)
	}
}

// BenchmarkDeaggregate splits a 50 KB aggregate of 100-byte records.
func BenchmarkDeaggregate(b *testing.B) {
	bld, _ := aggregate.New(aggregate.Limits{})
	for i := 0; bld.Add(fmt.Sprintf("partition-key-%d", i%16), "", bytes.Repeat([]byte{byte(i)}, 100)); i++ {
	}
	data := bld.Build(nil)
	r := types.Record{Data: data, PartitionKey: aws.String("a"), SequenceNumber: aws.String("1")}
	dst := make([]UserRecord, 0, bld.Len())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = AppendDeaggregated(dst[:0], r)
	}
	b.ReportMetric(float64(len(dst)), "records/op")
}
