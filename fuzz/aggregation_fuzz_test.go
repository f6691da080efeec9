package fuzz

import (
	"bytes"
	"crypto/md5"
	"errors"
	"testing"

	"github.com/go-pkg/inskinesis/aggregation"
	"github.com/go-pkg/inskinesis/internal/aggregate"
	"github.com/go-pkg/inskinesis/internal/aggregate/aggregatetest"
	"github.com/go-pkg/inskinesis/internal/hashkey"
)

// aggUserRecord is a user record as the builder takes it.
type aggUserRecord struct {
	pk, ehk string
	data    []byte
}

// aggFramed reports whether data passes the framing checks of the KCL
// (magic, more than a digest after it, matching MD5) and returns the body.
func aggFramed(data []byte) ([]byte, bool) {
	if len(data) <= len(aggregate.Magic)+aggregate.DigestLen || !bytes.HasPrefix(data, []byte(aggregate.Magic)) {
		return nil, false
	}
	body := data[len(aggregate.Magic) : len(data)-aggregate.DigestLen]
	sum := md5.Sum(body)
	return body, bytes.Equal(sum[:], data[len(data)-aggregate.DigestLen:])
}

// aggCheckDeaggregate checks DeaggregateData on data against protobuf-go,
// and that what it returns re-aggregates to the same user records.
func aggCheckDeaggregate(t *testing.T, data []byte) {
	recs, agg, err := aggregation.DeaggregateData(data)
	body, framed := aggFramed(data)
	var refParseErr error
	if framed {
		_, refParseErr = aggregatetest.Unmarshal(body)
	}
	if agg != (framed && refParseErr == nil) {
		t.Fatalf("aggregated=%v, framed=%v, protobuf-go parse error=%v", agg, framed, refParseErr)
	}
	if !agg {
		if err != nil || len(recs) != 1 || !bytes.Equal(recs[0].Data, data) || recs[0].Aggregated {
			t.Fatalf("a non-aggregate came back as %+v, %v", recs, err)
		}
		return
	}

	ref, refErr := aggregatetest.Decode(body)
	emptyEHK := false
	for _, r := range ref {
		emptyEHK = emptyEHK || (r.HasEHK && r.ExplicitHashKey == "")
	}
	if wantErr := refErr != nil || emptyEHK; (err != nil) != wantErr {
		t.Fatalf("err=%v, but protobuf-go error=%v (empty explicit hash key: %v)", err, refErr, emptyEHK)
	}
	if err != nil {
		if !errors.Is(err, aggregation.ErrCorrupt) || len(recs) != 0 {
			t.Fatalf("err=%v with records %+v, want ErrCorrupt alone", err, recs)
		}
		return
	}
	if len(recs) != len(ref) {
		t.Fatalf("%d user records, protobuf-go reads %d", len(recs), len(ref))
	}
	var in []aggUserRecord
	for i, r := range recs {
		if r.PartitionKey != ref[i].PartitionKey || r.ExplicitHashKey != ref[i].ExplicitHashKey || !bytes.Equal(r.Data, ref[i].Data) ||
			r.SubSequenceNumber != uint64(i) || !r.Aggregated {
			t.Fatalf("user record %d = %+v, protobuf-go reads %+v", i, r, ref[i])
		}
		in = append(in, aggUserRecord{r.PartitionKey, r.ExplicitHashKey, r.Data})
	}
	if len(in) == 0 {
		return
	}

	// Re-aggregate. The builder numbers keys by first use, which can take
	// longer varints than the input's numbering, so the bound is generous.
	b, err := aggregate.New(aggregate.Limits{MaxBytes: aggregate.MaxMaxBytes, MaxCount: len(in)})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range in {
		if !b.Add(r.pk, r.ehk, r.data) {
			t.Fatalf("re-aggregation refused user record %d of an input of %d bytes", i, len(data))
		}
	}
	again, agg2, err := aggregation.DeaggregateData(b.Build(nil))
	if err != nil || !agg2 {
		t.Fatalf("re-aggregated record: aggregated=%v err=%v", agg2, err)
	}
	aggSame(t, again, in)
}

// aggSame checks user records against what was put in.
func aggSame(t *testing.T, got []aggregation.UserRecord, want []aggUserRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d user records, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.PartitionKey != w.pk || g.ExplicitHashKey != w.ehk || !bytes.Equal(g.Data, w.data) || g.SubSequenceNumber != uint64(i) {
			t.Fatalf("user record %d = %q %q %q (sub %d), want %q %q %q", i, g.PartitionKey, g.ExplicitHashKey, g.Data, g.SubSequenceNumber, w.pk, w.ehk, w.data)
		}
	}
}

// FuzzAggDeaggregate feeds arbitrary bytes to the deaggregator, both as a
// whole Kinesis record and framed as an aggregate's message (so that inputs
// get past the digest check): it must never panic, must agree with
// protobuf-go on what parses, and what it returns must re-aggregate to the
// same user records.
func FuzzAggDeaggregate(f *testing.F) {
	b, _ := aggregate.New(aggregate.Limits{})
	b.Add("ключ-🔑", "", []byte("one"))
	b.Add("k2", hashkey.Max().String(), nil)
	b.Add("ключ-🔑", "", []byte{0, 0xff})
	built := b.Build(nil)
	f.Add(built)
	f.Add(built[len(aggregate.Magic) : len(built)-aggregate.DigestLen])
	f.Add([]byte("plain record"))
	f.Fuzz(func(t *testing.T, data []byte) {
		aggCheckDeaggregate(t, data)
		aggCheckDeaggregate(t, aggregatetest.Frame(data))
	})
}

// aggKeys and aggHashKeys are the keys FuzzAggBuilder draws from: shared
// and distinct, one byte to 256 code points, unicode.
var (
	aggKeys = []string{"a", "b", "partition-key", "ключ-🔑", "日本語", string(bytes.Repeat([]byte("🔑"), 256)), "x", "0"}
	aggEHKs = []string{"", "", "", "0", "1", "170141183460469231731687303715884105728", hashkey.Max().String()}
)

// aggScript turns fuzz bytes into user records: each takes three bytes
// (key, hash key, data length) and data that depends on its position. At
// most 256 records are made, to keep each run fast.
func aggScript(script []byte) []aggUserRecord {
	var out []aggUserRecord
	for i := 0; i+3 <= len(script) && len(out) < 256; i += 3 {
		n := int(script[i+2]) * int(script[i+2]) / 16 // 0..4064 bytes, mostly small
		data := make([]byte, n)
		for j := range data {
			data[j] = byte(i + j)
		}
		out = append(out, aggUserRecord{
			pk:   aggKeys[int(script[i])%len(aggKeys)],
			ehk:  aggEHKs[int(script[i+1])%len(aggEHKs)],
			data: data,
		})
	}
	return out
}

// aggReference is the size, as the builder's Size counts it, of the
// aggregate protobuf-go writes for recs.
func aggReference(recs []aggUserRecord) int {
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
	return aggregate.Overhead + len(aggregatetest.Marshal(m)) + len(aggregate.PartitionKey)
}

// FuzzAggBuilder adds scripted user records to a builder with fuzzed limits,
// flushing whenever it reports full: the size bound is never broken, sizes
// are exact (checked against protobuf-go), a refusal is only ever due to a
// limit, each aggregate deaggregates to exactly its records in order, and
// every record comes out once, aggregated or (when too large alone) raw.
func FuzzAggBuilder(f *testing.F) {
	f.Add(uint16(0), uint8(0), []byte("\x00\x00\x10\x01\x01\x20\x02\x03\x30\x00\x00\x00"))
	f.Add(uint16(200), uint8(2), []byte("\x03\x04\x40\x05\x05\xff\x00\x00\x01\x06\x06\x80"))
	f.Fuzz(func(t *testing.T, maxBytes uint16, maxCount uint8, script []byte) {
		limits := aggregate.Limits{MaxBytes: int(maxBytes), MaxCount: int(maxCount) % 64}
		b, err := aggregate.New(limits)
		if err != nil {
			t.Fatal(err)
		}
		limits = b.Limits()
		records := aggScript(script)

		var pending, out []aggUserRecord
		flush := func() {
			if b.Len() == 0 {
				return
			}
			if size := aggReference(pending); b.Size() != size {
				t.Fatalf("Size = %d, protobuf-go's aggregate makes %d", b.Size(), size)
			}
			built := b.Build(nil)
			if len(built) != b.EncodedLen() || b.Size() != len(built)+len(aggregate.PartitionKey) || b.Size() > limits.MaxBytes {
				t.Fatalf("built %d bytes, EncodedLen %d, Size %d, MaxBytes %d", len(built), b.EncodedLen(), b.Size(), limits.MaxBytes)
			}
			got, agg, err := aggregation.DeaggregateData(built)
			if err != nil || !agg {
				t.Fatalf("aggregated=%v err=%v", agg, err)
			}
			aggSame(t, got, pending)
			out = append(out, pending...)
			pending = pending[:0]
			b.Reset()
		}
		for _, r := range records {
			predicted := b.SizeWith(r.pk, r.ehk, len(r.data))
			if b.Add(r.pk, r.ehk, r.data) {
				pending = append(pending, r)
				if b.Size() != predicted || b.Size() > limits.MaxBytes || b.Len() > limits.MaxCount {
					t.Fatalf("after Add: Size %d (predicted %d), Len %d, limits %+v", b.Size(), predicted, b.Len(), limits)
				}
				continue
			}
			if b.Len() < limits.MaxCount && predicted <= limits.MaxBytes {
				t.Fatalf("Add refused a record that fits: size %d, Len %d, limits %+v", predicted, b.Len(), limits)
			}
			if actual := aggReference(append(pending[:len(pending):len(pending)], r)); b.Len() < limits.MaxCount && actual <= limits.MaxBytes {
				t.Fatalf("Add refused a record whose aggregate would be %d bytes, limit %d", actual, limits.MaxBytes)
			}
			flush()
			if b.Add(r.pk, r.ehk, r.data) {
				pending = append(pending, r)
				continue
			}
			// Too large alone: the caller sends it raw.
			if solo := aggregate.SoloSize(r.pk, r.ehk, len(r.data)); solo <= limits.MaxBytes {
				t.Fatalf("an empty builder refused a record of solo size %d under MaxBytes %d", solo, limits.MaxBytes)
			}
			out = append(out, r)
		}
		flush()
		if len(out) != len(records) {
			t.Fatalf("%d records out of %d in", len(out), len(records))
		}
		for i := range records {
			if out[i].pk != records[i].pk || out[i].ehk != records[i].ehk || !bytes.Equal(out[i].data, records[i].data) {
				t.Fatalf("record %d out of order or changed", i)
			}
		}
	})
}
