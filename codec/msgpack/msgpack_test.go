package msgpack_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	vmsgpack "github.com/vmihailenco/msgpack/v5"
	"go.uber.org/goleak"

	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/codec/internal/codectest"
	"github.com/go-pkg/inskinesis/codec/msgpack"
)

// TestMain fails the package if any test leaves a goroutine behind, such as
// the ones msgpack.Unmarshal's preallocation option starts.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type address struct {
	Street string `msgpack:"street"`
	City   string `msgpack:"city,omitempty"`
}

type user struct {
	ID      int64             `msgpack:"id"`
	Name    string            `msgpack:"name"`
	Email   string            `msgpack:"email,omitempty"`
	Tags    []string          `msgpack:"tags"`
	Address *address          `msgpack:"address"`
	Attrs   map[string]string `msgpack:"attrs"`
	Payload []byte            `msgpack:"payload"`
	Score   float64           `msgpack:"score"`
	Ratio   float32           `msgpack:"ratio"`
	Active  bool              `msgpack:"active"`
	Counts  map[string]int    `msgpack:"counts"`
	Secret  string            `msgpack:"-"`
}

var _ codec.Codec[user] = msgpack.Codec[user]{}

func fullUser() user {
	return user{
		ID:      -42,
		Name:    "Zoë 🚀 <admin> & co",
		Email:   "zoe@example.com",
		Tags:    []string{"a", "b", "ünïcödé", ""},
		Address: &address{Street: "1 Rue de la Paix", City: "Paris"},
		Attrs:   map[string]string{"k": "v", "日本": "語", "": "empty key"},
		Payload: []byte{0, 1, 2, 0xff, '\n'},
		Score:   -12.5e-7,
		Ratio:   0.25,
		Active:  true,
		Counts:  map[string]int{"min": math.MinInt, "max": math.MaxInt, "zero": 0},
	}
}

// roundTrip returns a test that checks Decode(Encode(v)) equals v.
func roundTrip[T any](v T) func(*testing.T) {
	return func(t *testing.T) {
		t.Helper()
		var c msgpack.Codec[T]
		data, err := c.Encode(nil, v)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		got, err := c.Decode(data)
		if err != nil {
			t.Fatalf("Decode(%x): %v", data, err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Fatalf("round trip changed the value:\n got %#v\nwant %#v", got, v)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	large := fullUser()
	large.Payload = bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	large.Name = strings.Repeat("é", 100_000)
	large.Tags = make([]string, 70_000) // needs an array32 header
	for i := range large.Tags {
		large.Tags[i] = fmt.Sprint(i)
	}

	tests := []struct {
		name string
		run  func(*testing.T)
	}{
		{"struct with nested pointer, slice, maps and bytes", roundTrip(fullUser())},
		{"zero struct", roundTrip(user{})},
		{"empty but non-nil slices and maps", roundTrip(user{Tags: []string{}, Attrs: map[string]string{}, Payload: []byte{}, Counts: map[string]int{}})},
		{"large payload, long unicode string, long array", roundTrip(large)},
		{"pointer to struct", roundTrip(&address{Street: "x"})},
		{"nil pointer", roundTrip[*address](nil)},
		{"string with every kind of byte", roundTrip("nul \x00 invalid \xff\xfe UTF-8 kept as is")},
		{"empty string", roundTrip("")},
		{"integer extremes", roundTrip([]int64{math.MinInt64, -1, 0, 1, math.MaxInt64})},
		{"unsigned extremes", roundTrip([]uint64{0, math.MaxUint8, math.MaxUint32, math.MaxUint64})},
		{"float extremes", roundTrip([]float64{math.SmallestNonzeroFloat64, math.MaxFloat64, math.Inf(-1), -0.1})},
		{"interface map with sized numbers", roundTrip(map[string]any{"n": int64(-5), "u": uint64(7), "f": 1.5, "s": "x", "l": []any{true, nil}})},
		{"array-encoded struct", roundTrip(point{X: 1, Y: -2})},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

type point struct {
	_msgpack struct{} `msgpack:",as_array"`
	X, Y     int32
}

func TestTimeRoundTrip(t *testing.T) {
	type event struct{ At time.Time }
	want := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("X", 3600))
	var c msgpack.Codec[event]
	data, err := c.Encode(nil, event{At: want})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !got.At.Equal(want) {
		t.Fatalf("time round trip: got %v, want %v", got.At, want)
	}
}

func TestFieldNames(t *testing.T) {
	type plain struct {
		UserID string `json:"user_id"` // json tags are ignored
		Tagged string `msgpack:"tagged_name"`
		Hidden string `msgpack:"-"`
		Empty  string `msgpack:",omitempty"`
	}
	data, err := msgpack.Codec[plain]{}.Encode(nil, plain{UserID: "u", Tagged: "t", Hidden: "h"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := msgpack.Codec[map[string]any]{}.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"UserID": "u", "tagged_name": "t"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("encoded keys = %v, want %v", got, want)
	}
}

func TestEncodeAppendsToDst(t *testing.T) {
	dst := make([]byte, 0, 128)
	dst = append(dst, "prefix"...)
	got, err := msgpack.Codec[string]{}.Encode(dst, "s")
	if err != nil {
		t.Fatal(err)
	}
	want := "prefix\xa1s" // fixstr of length 1
	if string(got) != want {
		t.Fatalf("Encode = %q, want %q", got, want)
	}
	if &got[0] != &dst[0] {
		t.Fatal("Encode reallocated although dst had room")
	}
}

func TestEncodeMatchesLibrary(t *testing.T) {
	v := fullUser()
	v.Attrs, v.Counts = nil, nil // maps have no fixed order
	want, err := vmsgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := msgpack.Codec[user]{}.Encode(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode = %x\nmsgpack.Marshal = %x", got, want)
	}
}

type failing struct{}

var errFailing = errors.New("failing marshaler")

func (failing) MarshalMsgpack() ([]byte, error) { return nil, errFailing }

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		enc  func(dst []byte) ([]byte, error)
		is   error
	}{
		{"channel", func(dst []byte) ([]byte, error) { return msgpack.Codec[chan int]{}.Encode(dst, make(chan int)) }, nil},
		{"function in an interface", func(dst []byte) ([]byte, error) { return msgpack.Codec[any]{}.Encode(dst, func() {}) }, nil},
		{"failing marshaler", func(dst []byte) ([]byte, error) { return msgpack.Codec[failing]{}.Encode(dst, failing{}) }, errFailing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := tt.enc(dst)
			if err == nil {
				t.Fatalf("Encode succeeded with %q, want an error", got)
			}
			if !strings.HasPrefix(err.Error(), "codec/msgpack: encode ") {
				t.Errorf("error %q lacks the codec/msgpack prefix", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			if string(got) != "keep" {
				t.Errorf("Encode returned %q on error, want dst unchanged", got)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"empty input", ""},
		{"never-used code 0xc1", "\xc1"},
		{"truncated int64", "\xd3\x00\x01"},
		{"truncated map", "\x82\xa2id\x01"},
		{"wrong type for a field", "\x81\xa2id\xa1x"},
		{"two values", "\x80\x80"},
		{"array32 claiming four billion elements", "\x81\xa4tags\xdd\xff\xff\xff\xff"},
		{"map32 claiming four billion entries", "\x81\xa5attrs\xdf\xff\xff\xff\xff"},
		{"str32 claiming four gigabytes", "\x81\xa4name\xdb\xff\xff\xff\xff"},
		{"bin32 claiming four gigabytes", "\x81\xa7payload\xc6\xff\xff\xff\xff"},
		{"ext32 claiming four gigabytes", "\xc9\xff\xff\xff\xff\x01"},
		{"deep nesting", strings.Repeat("\x91", 20000) + "\xc0"},
		{"array where a map is expected", "\x92\x01\x02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := msgpack.Codec[user]{}.Decode([]byte(tt.data))
			if err == nil {
				t.Fatalf("Decode(%q) = %#v, want an error", tt.data, got)
			}
			if !strings.HasPrefix(err.Error(), "codec/msgpack: decode msgpack_test.user: ") {
				t.Errorf("error %q lacks the codec/msgpack prefix and type", err)
			}
			if !reflect.DeepEqual(got, user{}) {
				t.Errorf("Decode returned %#v with its error, want the zero value", got)
			}
		})
	}
}

func TestDecodeHugeArrayIntoSliceOfInts(t *testing.T) {
	// Without the length check, the library would allocate 32 GB here.
	_, err := msgpack.Codec[[]int64]{}.Decode([]byte("\xdd\xff\xff\xff\xff\x01"))
	if err == nil {
		t.Fatal("Decode succeeded, want an error")
	}
}

func TestDecodeExtensionWhereMapExpected(t *testing.T) {
	// The library reads an extension where it expects a map as a prefix to
	// skip, then reads a map from the extension's data. Here that map would
	// hold an array key declaring 1.2 billion elements: the library would
	// allocate 19 GB. Decode refuses instead.
	data := []byte("\xd70\x88\xddH\xb9\xaa0\xc80")
	tests := []struct {
		name   string
		decode func() error
	}{
		{"map[any]any", func() error { _, err := msgpack.Codec[map[any]any]{}.Decode(data); return err }},
		{"map[string]string", func() error { _, err := msgpack.Codec[map[string]string]{}.Decode(data); return err }},
		{"map field in a struct", func() error {
			_, err := msgpack.Codec[user]{}.Decode(append([]byte("\x81\xa5attrs"), data...))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.decode()
			if err == nil || !strings.Contains(err.Error(), "extension where a map is expected") {
				t.Fatalf("Decode error = %v, want one about an extension where a map is expected", err)
			}
		})
	}
}

func TestTimeWhoseDataLooksLikeAMap(t *testing.T) {
	// A timestamp with 0.55 s of nanoseconds is encoded as fixext8 whose
	// data starts with 0x83, a fixmap header; it must still decode.
	type event struct {
		At    time.Time
		Attrs map[string]string
	}
	want := event{At: time.Unix(1_700_000_000, 550_000_000), Attrs: map[string]string{"k": "v"}}
	var c msgpack.Codec[event]
	data, err := c.Encode(nil, want)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("\xd7\xff"))
	if i < 0 || data[i+2]&0xf0 != 0x80 {
		t.Fatalf("encoding %x lacks a timestamp whose data starts with a fixmap header", data)
	}
	got, err := c.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !got.At.Equal(want.At) || !reflect.DeepEqual(got.Attrs, want.Attrs) {
		t.Fatalf("round trip: got %+v, want %+v", got, want)
	}
}

func TestDecodeUnhashableMapKey(t *testing.T) {
	// A map whose key is an array: the library would panic storing it in a
	// map[any]any; Decode returns an error instead.
	data := []byte("\x81\x91\x01\x02")
	got, err := msgpack.Codec[map[any]any]{}.Decode(data)
	if err == nil {
		t.Fatalf("Decode = %v, want an error", got)
	}
	if !strings.HasPrefix(err.Error(), "codec/msgpack: decode map[interface {}]interface {}: ") {
		t.Errorf("error %q lacks the codec/msgpack prefix and type", err)
	}
	if !strings.Contains(err.Error(), "unhashable") {
		t.Errorf("error %q does not tell the cause", err)
	}
}

func TestDecodeDoesNotKeepData(t *testing.T) {
	data, err := msgpack.Codec[user]{}.Encode(nil, user{Name: "abc", Payload: []byte{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := msgpack.Codec[user]{}.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 0
	}
	if got.Name != "abc" || !bytes.Equal(got.Payload, []byte{1, 2}) {
		t.Fatalf("decoded value changed with its input: %#v", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	var c msgpack.Codec[user] // one zero value shared by all goroutines
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
	// The library allocates once per struct that has omitempty fields, so
	// this type has none.
	type place struct {
		Street string `msgpack:"street"`
		City   string `msgpack:"city"`
	}
	v := place{Street: "1 Main St", City: "Springfield"}
	buf := make([]byte, 0, 256)
	tests := []struct {
		name   string
		encode func() error
		want   float64
	}{
		// A struct value is boxed into an interface for the library: one
		// allocation, which msgpack.Marshal pays too on top of its buffer.
		{"struct value", func() (err error) { buf, err = msgpack.Codec[place]{}.Encode(buf[:0], v); return err }, 1},
		{"pointer to struct", func() (err error) { buf, err = msgpack.Codec[*place]{}.Encode(buf[:0], &v); return err }, 0},
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

func BenchmarkEncode(b *testing.B) {
	v := fullUser()
	b.Run("codec", func(b *testing.B) {
		var c msgpack.Codec[user]
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
			m, _ := vmsgpack.Marshal(v)
			buf = append(buf[:0], m...)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	var c msgpack.Codec[user]
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
