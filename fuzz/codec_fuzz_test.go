package fuzz

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/codec/json"
	"github.com/go-pkg/inskinesis/codec/msgpack"
	protocodec "github.com/go-pkg/inskinesis/codec/proto"
	"github.com/go-pkg/inskinesis/internal/testpb"
)

// codecRecord is a small record with the field kinds users put in records.
type codecRecord struct {
	Name    string            `json:"name" msgpack:"name"`
	N       int64             `json:"n" msgpack:"n"`
	Score   float64           `json:"score" msgpack:"score"`
	Active  bool              `json:"active" msgpack:"active"`
	Payload []byte            `json:"payload" msgpack:"payload"`
	Tags    []string          `json:"tags" msgpack:"tags"`
	Attrs   map[string]string `json:"attrs" msgpack:"attrs"`
	Nested  *codecNested      `json:"nested,omitempty" msgpack:"nested,omitempty"`
}

type codecNested struct {
	Flag bool   `json:"flag" msgpack:"flag"`
	U    uint32 `json:"u" msgpack:"u"`
}

// newCodecRecord builds a record from fuzz inputs; the choices of nil or
// empty slices and maps also come from the inputs.
func newCodecRecord(name string, n int64, score float64, active bool, payload []byte, tag, key, val string) codecRecord {
	r := codecRecord{Name: name, N: n, Score: score, Active: active, Payload: payload}
	if tag != "" || n%2 == 0 {
		r.Tags = []string{tag, name}
	}
	if key != "" || val != "" {
		r.Attrs = map[string]string{key: val, "fixed": tag}
	}
	if active {
		r.Nested = &codecNested{Flag: n < 0, U: uint32(n)}
	}
	return r
}

// sameRecord compares records, with floats compared by their bits so that a
// NaN equals itself.
func sameRecord(a, b codecRecord) bool {
	if math.Float64bits(a.Score) != math.Float64bits(b.Score) {
		return false
	}
	a.Score, b.Score = 0, 0
	return reflect.DeepEqual(a, b)
}

// validStrings reports whether every string in r is valid UTF-8.
func validStrings(r codecRecord) bool {
	ok := utf8.ValidString(r.Name)
	for _, s := range r.Tags {
		ok = ok && utf8.ValidString(s)
	}
	for k, v := range r.Attrs {
		ok = ok && utf8.ValidString(k) && utf8.ValidString(v)
	}
	return ok
}

func addRecordSeeds(f *testing.F) {
	f.Add("", int64(0), 0.0, false, []byte(nil), "", "", "")
	f.Add("zoë 🚀 <b>&</b>", int64(-1), 1.5, true, []byte{0, 0xff}, "tag", "k", "v")
	f.Add("\xff\xfe", int64(math.MaxInt64), math.Inf(1), true, []byte("x"), "\x00", "日本", "\u2028")
	f.Add(strings.Repeat("a", 300), int64(math.MinInt64), math.NaN(), false, bytes.Repeat([]byte{7}, 1000), "", "", "v")
	f.Add("\"quoted\\\"", int64(3), -0.0, true, []byte{}, "t", "", "")
}

func FuzzCodecBytesRoundTrip(f *testing.F) {
	f.Add([]byte(nil), []byte(nil))
	f.Add([]byte("prefix"), []byte("record"))
	f.Add([]byte{}, []byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, prefix, rec []byte) {
		var c codec.Bytes
		dst := bytes.Clone(prefix)
		data, err := c.Encode(dst, rec)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		if !bytes.HasPrefix(data, prefix) {
			t.Fatalf("Encode lost the prefix: %q", data)
		}
		got, err := c.Decode(data[len(prefix):])
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if !bytes.Equal(got, rec) {
			t.Fatalf("round trip: got %q, want %q", got, rec)
		}
		if len(got) > 0 && &got[0] == &data[len(prefix)] {
			t.Fatal("Decode returned its input, not a copy")
		}
	})
}

func FuzzCodecJSONRoundTrip(f *testing.F) {
	addRecordSeeds(f)
	f.Fuzz(func(t *testing.T, name string, n int64, score float64, active bool, payload []byte, tag, key, val string) {
		var c json.Codec[codecRecord]
		in := newCodecRecord(name, n, score, active, payload, tag, key, val)
		data, err := c.Encode([]byte("prefix"), in)
		if math.IsNaN(score) || math.IsInf(score, 0) {
			if err == nil {
				t.Fatalf("Encode of score %v succeeded, want an error", score)
			}
			return
		}
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		data, ok := bytes.CutPrefix(data, []byte("prefix"))
		if !ok {
			t.Fatalf("Encode lost the prefix: %q", data)
		}
		got, err := c.Decode(data)
		if err != nil {
			t.Fatalf("Decode(%q): %v", data, err)
		}
		for _, s := range []string{name, tag, key, val} {
			if !utf8.ValidString(s) {
				// encoding/json writes invalid UTF-8 as U+FFFD: only the
				// decoded strings' validity can be checked.
				if !validStrings(got) {
					t.Fatalf("decoded strings are not valid UTF-8: %+v", got)
				}
				return
			}
		}
		if !sameRecord(got, in) {
			t.Fatalf("round trip:\n got %#v\nwant %#v\njson %s", got, in, data)
		}
	})
}

func FuzzCodecJSONDecode(f *testing.F) {
	f.Add([]byte(`{"name":"x","n":1,"score":1.5,"active":true,"payload":"AP8=","tags":["a"],"attrs":{"k":"v"},"nested":{"flag":true,"u":7}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"name":"\ud800","n":1e3}`))
	f.Add([]byte(`[1,{"a":[true,null,"x"]}]`))
	f.Add([]byte("{\"name\":\"\xff\"}"))
	f.Add([]byte(`{"n":`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Decoding any bytes must not panic; what decodes must survive a
		// round trip.
		var c json.Codec[codecRecord]
		if r, err := c.Decode(data); err == nil {
			enc, err := c.Encode(nil, r)
			if err != nil {
				t.Fatalf("Encode of decoded %#v: %v", r, err)
			}
			again, err := c.Decode(enc)
			if err != nil {
				t.Fatalf("Decode(%q): %v", enc, err)
			}
			if !sameRecord(again, r) {
				t.Fatalf("round trip of decoded value:\n got %#v\nwant %#v", again, r)
			}
		}
		var ca json.Codec[any]
		if v, err := ca.Decode(data); err == nil {
			enc, err := ca.Encode(nil, v)
			if err != nil {
				t.Fatalf("Encode of decoded %#v: %v", v, err)
			}
			again, err := ca.Decode(enc)
			if err != nil {
				t.Fatalf("Decode(%q): %v", enc, err)
			}
			if !reflect.DeepEqual(again, v) {
				t.Fatalf("round trip of decoded value:\n got %#v\nwant %#v", again, v)
			}
		}
	})
}

func FuzzCodecMsgpackRoundTrip(f *testing.F) {
	addRecordSeeds(f)
	f.Fuzz(func(t *testing.T, name string, n int64, score float64, active bool, payload []byte, tag, key, val string) {
		var c msgpack.Codec[codecRecord]
		in := newCodecRecord(name, n, score, active, payload, tag, key, val)
		data, err := c.Encode([]byte("prefix"), in)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		data, ok := bytes.CutPrefix(data, []byte("prefix"))
		if !ok {
			t.Fatalf("Encode lost the prefix: %q", data)
		}
		got, err := c.Decode(data)
		if err != nil {
			t.Fatalf("Decode(%x): %v", data, err)
		}
		if !sameRecord(got, in) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, in)
		}
	})
}

func FuzzCodecMsgpackDecode(f *testing.F) {
	var c msgpack.Codec[codecRecord]
	for _, r := range []codecRecord{
		newCodecRecord("x", 1, 1.5, true, []byte{0, 0xff}, "a", "k", "v"),
		{},
	} {
		data, err := c.Encode(nil, r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})               // array32 with 2^32-1 elements
	f.Add([]byte{0x81, 0xa4, 't', 'a', 'g', 's', 0xdc, 0xff}) // truncated array16
	f.Add([]byte{0x81, 0x91, 0x01, 0x02})                     // map with an array key
	f.Add([]byte{0xd6, 0xff, 0x00, 0x00, 0x00, 0x01})         // timestamp extension
	f.Add([]byte{0xc1})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Decoding any bytes must not panic; a record that decodes must
		// survive a round trip.
		if r, err := c.Decode(data); err == nil {
			enc, err := c.Encode(nil, r)
			if err != nil {
				t.Fatalf("Encode of decoded %#v: %v", r, err)
			}
			again, err := c.Decode(enc)
			if err != nil {
				t.Fatalf("Decode(%x): %v", enc, err)
			}
			if !sameRecord(again, r) {
				t.Fatalf("round trip of decoded value:\n got %#v\nwant %#v", again, r)
			}
		}
		if v, err := (msgpack.Codec[any]{}).Decode(data); err == nil {
			if _, err := (msgpack.Codec[any]{}).Encode(nil, v); err != nil {
				t.Fatalf("Encode of decoded %#v: %v", v, err)
			}
		}
		_, _ = msgpack.Codec[map[any]any]{}.Decode(data)
		_, _ = msgpack.Codec[[]int64]{}.Decode(data)
	})
}

func FuzzCodecProtoRoundTrip(f *testing.F) {
	f.Add("", "", int64(0), []byte(nil), "", "", "")
	f.Add("evt-1", "zoë 🚀", int64(-1), []byte{0, 0xff}, "tag", "k", "v")
	f.Add("\xff", "u", int64(math.MaxInt64), []byte{}, "", "", "")
	f.Add("id", "u", int64(math.MinInt64), []byte("x"), "\x00", "日本", "\xfe")
	f.Fuzz(func(t *testing.T, id, user string, at int64, payload []byte, tag, key, val string) {
		var c protocodec.Codec[*testpb.Event]
		in := &testpb.Event{Id: id, User: user, AtUnixNano: at, Payload: payload}
		if tag != "" {
			in.Tags = []string{tag, id}
		}
		if key != "" || val != "" {
			in.Attrs = map[string]string{key: val}
		}
		data, err := c.Encode([]byte("prefix"), in)
		for _, s := range []string{id, user, tag, key, val} {
			if !utf8.ValidString(s) {
				// proto3 strings must be valid UTF-8.
				if err == nil {
					t.Fatalf("Encode of invalid UTF-8 %q succeeded, want an error", s)
				}
				return
			}
		}
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		data, ok := bytes.CutPrefix(data, []byte("prefix"))
		if !ok {
			t.Fatalf("Encode lost the prefix: %q", data)
		}
		got, err := c.Decode(data)
		if err != nil {
			t.Fatalf("Decode(%x): %v", data, err)
		}
		if !proto.Equal(got, in) {
			t.Fatalf("round trip:\n got %v\nwant %v", got, in)
		}
	})
}

func FuzzCodecProtoDecode(f *testing.F) {
	var c protocodec.Codec[*testpb.Event]
	full, err := c.Encode(nil, &testpb.Event{
		Id: "e", User: "u", AtUnixNano: 1, Payload: []byte{1},
		Tags: []string{"a"}, Attrs: map[string]string{"k": "v"},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x05, 'a', 'b'})        // length beyond the end
	f.Add([]byte{0x12, 0x02, 0xff, 0xfe})      // invalid UTF-8 in a string
	f.Add([]byte{0x3a, 0x03, 0x0a, 0x01, 'k'}) // map entry without a value
	f.Add([]byte{0xf8, 0x01, 0x01})            // unknown field 31
	f.Fuzz(func(t *testing.T, data []byte) {
		// Decoding any bytes must not panic; a message that decodes must
		// survive a round trip, unknown fields included.
		m, err := c.Decode(data)
		if err != nil {
			if m != nil {
				t.Fatalf("Decode returned %v with error %v", m, err)
			}
			return
		}
		enc, err := c.Encode(nil, m)
		if err != nil {
			t.Fatalf("Encode of decoded %v: %v", m, err)
		}
		again, err := c.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(%x): %v", enc, err)
		}
		if !proto.Equal(again, m) {
			t.Fatalf("round trip of decoded message:\n got %v\nwant %v", again, m)
		}
	})
}
