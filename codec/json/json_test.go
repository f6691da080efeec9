package json_test

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/codec/internal/codectest"
	"github.com/go-pkg/inskinesis/codec/json"
)

type address struct {
	Street string `json:"street"`
	City   string `json:"city,omitempty"`
}

type user struct {
	ID      int64             `json:"id"`
	Name    string            `json:"name"`
	Email   string            `json:"email,omitempty"`
	Tags    []string          `json:"tags"`
	Address *address          `json:"address"`
	Attrs   map[string]string `json:"attrs"`
	Payload []byte            `json:"payload"`
	Score   float64           `json:"score"`
	Active  bool              `json:"active"`
	Created time.Time         `json:"created"`
}

var _ codec.Codec[user] = json.Codec[user]{}

func fullUser() user {
	return user{
		ID:      42,
		Name:    "Zoë 🚀 <admin> & co",
		Email:   "zoe@example.com",
		Tags:    []string{"a", "b", "ünïcödé", ""},
		Address: &address{Street: "1 Rue de la Paix", City: "Paris"},
		Attrs:   map[string]string{"k": "v", "日本": "語", "": "empty key"},
		Payload: []byte{0, 1, 2, 0xff, '\n'},
		Score:   -12.5e-7,
		Active:  true,
		Created: time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.UTC),
	}
}

// roundTrip returns a test that checks Decode(Encode(v)) equals v.
func roundTrip[T any](v T) func(*testing.T) {
	return func(t *testing.T) {
		t.Helper()
		var c json.Codec[T]
		data, err := c.Encode(nil, v)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		if !stdjson.Valid(data) {
			t.Fatalf("Encode produced invalid JSON: %q", data)
		}
		if bytes.HasSuffix(data, []byte("\n")) {
			t.Fatalf("Encode left a trailing newline: %q", data)
		}
		got, err := c.Decode(data)
		if err != nil {
			t.Fatalf("Decode(%q): %v", data, err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Fatalf("round trip changed the value:\n got %#v\nwant %#v\njson %s", got, v, data)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	large := fullUser()
	large.Payload = bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	large.Name = strings.Repeat("é", 100_000)

	tests := []struct {
		name string
		run  func(*testing.T)
	}{
		{"struct with nested pointer, slice, map and bytes", roundTrip(fullUser())},
		{"zero struct", roundTrip(user{})},
		{"empty but non-nil slices and map", roundTrip(user{Tags: []string{}, Attrs: map[string]string{}, Payload: []byte{}})},
		{"large payload and long unicode string", roundTrip(large)},
		{"pointer to struct", roundTrip(&address{Street: "x"})},
		{"nil pointer", roundTrip[*address](nil)},
		{"plain string with escapes", roundTrip("quote \" backslash \\ tab \t nul \x00 line\u2028sep")},
		{"empty string", roundTrip("")},
		{"integer extremes", roundTrip([]int64{math.MinInt64, -1, 0, 1, math.MaxInt64})},
		{"float extremes", roundTrip([]float64{math.SmallestNonzeroFloat64, math.MaxFloat64, -0.1, 1e21})},
		{"interface map with float64 numbers", roundTrip(map[string]any{"n": 1.5, "s": "x", "l": []any{true, nil}})},
		{"raw message kept verbatim", roundTrip(stdjson.RawMessage(`{"a":[1,2,3]}`))},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

func TestEncodeAppendsToDst(t *testing.T) {
	dst := make([]byte, 0, 128)
	dst = append(dst, "prefix"...)
	got, err := json.Codec[address]{}.Encode(dst, address{Street: "s"})
	if err != nil {
		t.Fatal(err)
	}
	want := `prefix{"street":"s"}`
	if string(got) != want {
		t.Fatalf("Encode = %q, want %q", got, want)
	}
	if &got[0] != &dst[0] {
		t.Fatal("Encode reallocated although dst had room")
	}
}

func TestEncodeDoesNotEscapeHTML(t *testing.T) {
	got, err := json.Codec[string]{}.Encode(nil, "<a href='x'>&</a>")
	if err != nil {
		t.Fatal(err)
	}
	want := `"<a href='x'>&</a>"`
	if string(got) != want {
		t.Fatalf("Encode = %s, want %s", got, want)
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		enc  func(dst []byte) ([]byte, error)
	}{
		{"NaN float", func(dst []byte) ([]byte, error) { return json.Codec[float64]{}.Encode(dst, math.NaN()) }},
		{"infinite float in a struct", func(dst []byte) ([]byte, error) {
			return json.Codec[user]{}.Encode(dst, user{Score: math.Inf(1)})
		}},
		{"channel", func(dst []byte) ([]byte, error) { return json.Codec[chan int]{}.Encode(dst, make(chan int)) }},
		{"function in an interface", func(dst []byte) ([]byte, error) { return json.Codec[any]{}.Encode(dst, func() {}) }},
		{"failing MarshalJSON", func(dst []byte) ([]byte, error) { return json.Codec[failing]{}.Encode(dst, failing{}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := tt.enc(dst)
			if err == nil {
				t.Fatalf("Encode succeeded with %q, want an error", got)
			}
			if !strings.HasPrefix(err.Error(), "codec/json: encode ") {
				t.Errorf("error %q lacks the codec/json prefix", err)
			}
			if string(got) != "keep" {
				t.Errorf("Encode returned %q on error, want dst unchanged", got)
			}
		})
	}
}

type failing struct{}

var errFailing = errors.New("failing marshaler")

func (failing) MarshalJSON() ([]byte, error) { return nil, errFailing }

func TestEncodeErrorWraps(t *testing.T) {
	_, err := json.Codec[failing]{}.Encode(nil, failing{})
	if !errors.Is(err, errFailing) {
		t.Fatalf("error %v does not wrap the marshaler's error", err)
	}
	_, err = json.Codec[float64]{}.Encode(nil, math.NaN())
	var uv *stdjson.UnsupportedValueError
	if !errors.As(err, &uv) {
		t.Fatalf("error %v does not wrap *json.UnsupportedValueError", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"empty input", ""},
		{"only white space", " \n\t"},
		{"truncated object", `{"id":1`},
		{"wrong type for a field", `{"id":"not a number"}`},
		{"two values", `{} {}`},
		{"trailing garbage", `{}x`},
		{"bare word", `nul`},
		{"invalid bytes", "\xff\xfe\x00\x01"},
		{"number out of range", `{"id":1e999}`},
		{"deep nesting", strings.Repeat("[", 20000) + strings.Repeat("]", 20000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Codec[user]{}.Decode([]byte(tt.data))
			if err == nil {
				t.Fatalf("Decode(%q) = %#v, want an error", tt.data, got)
			}
			if !strings.HasPrefix(err.Error(), "codec/json: decode json_test.user: ") {
				t.Errorf("error %q lacks the codec/json prefix and type", err)
			}
			if !reflect.DeepEqual(got, user{}) {
				t.Errorf("Decode returned %#v with its error, want the zero value", got)
			}
		})
	}
}

func TestDecodeErrorWraps(t *testing.T) {
	_, err := json.Codec[user]{}.Decode([]byte(`{"id":`))
	var se *stdjson.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %v does not wrap *json.SyntaxError", err)
	}
}

func TestDecodeDoesNotKeepData(t *testing.T) {
	data := []byte(`{"name":"abc","payload":"AQI="}`)
	got, err := json.Codec[user]{}.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = ' '
	}
	if got.Name != "abc" || !bytes.Equal(got.Payload, []byte{1, 2}) {
		t.Fatalf("decoded value changed with its input: %#v", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	var c json.Codec[user] // one zero value shared by all goroutines
	codectest.ConcurrentRoundTrip(t, c, func(g, i int) user {
		v := fullUser()
		v.ID = int64(g*1000 + i)
		v.Tags = append(v.Tags, strings.Repeat("t", i))
		return v
	}, func(a, b user) bool { return reflect.DeepEqual(a, b) })
}

func TestEncodeAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	v := address{Street: "1 Main St", City: "Springfield"}
	buf := make([]byte, 0, 256)
	tests := []struct {
		name   string
		encode func() error
		want   float64
	}{
		// A struct value is boxed into an interface for encoding/json: one
		// allocation, which json.Marshal pays too on top of its result.
		{"struct value", func() (err error) { buf, err = json.Codec[address]{}.Encode(buf[:0], v); return err }, 1},
		{"pointer to struct", func() (err error) { buf, err = json.Codec[*address]{}.Encode(buf[:0], &v); return err }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(1000, func() {
				if err := tt.encode(); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > tt.want {
				t.Fatalf("Encode into a large enough buffer allocated %v times per call, want at most %v", allocs, tt.want)
			}
		})
	}
}

// marshalAppend is the alternative to the pooled encoder that Encode was
// measured against: one allocation per call for json.Marshal's result.
func marshalAppend(dst []byte, v any) ([]byte, error) {
	b, err := stdjson.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func BenchmarkEncode(b *testing.B) {
	v := fullUser()
	b.Run("codec", func(b *testing.B) {
		var c json.Codec[user]
		buf := make([]byte, 0, 1024)
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = c.Encode(buf[:0], v)
		}
	})
	b.Run("marshal-append", func(b *testing.B) {
		buf := make([]byte, 0, 1024)
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = marshalAppend(buf[:0], v)
		}
	})
	b.Run("codec-parallel", func(b *testing.B) {
		var c json.Codec[user]
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 0, 1024)
			for pb.Next() {
				buf, _ = c.Encode(buf[:0], v)
			}
		})
	})
	b.Run("marshal-append-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 0, 1024)
			for pb.Next() {
				buf, _ = marshalAppend(buf[:0], v)
			}
		})
	})
}

func BenchmarkDecode(b *testing.B) {
	var c json.Codec[user]
	data, err := c.Encode(nil, fullUser())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := c.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
