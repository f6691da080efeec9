package proto_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/codec/internal/codectest"
	protocodec "github.com/go-pkg/inskinesis/codec/proto"
	"github.com/go-pkg/inskinesis/internal/testpb"
)

var _ codec.Codec[*testpb.Event] = protocodec.Codec[*testpb.Event]{}

func fullEvent() *testpb.Event {
	return &testpb.Event{
		Id:         "evt-1",
		User:       "Zoë 🚀 <admin> & co",
		AtUnixNano: 1_700_000_000_123_456_789,
		Payload:    []byte{0, 1, 2, 0xff, '\n'},
		Tags:       []string{"a", "ünïcödé", ""},
		Attrs:      map[string]string{"k": "v", "日本": "語", "": "empty key"},
	}
}

func TestRoundTrip(t *testing.T) {
	large := fullEvent()
	large.Payload = bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	large.User = strings.Repeat("é", 100_000)
	for i := range 10_000 {
		large.Tags = append(large.Tags, fmt.Sprint(i))
		large.Attrs[fmt.Sprint("k", i)] = fmt.Sprint("v", i)
	}

	tests := []struct {
		name string
		in   *testpb.Event
	}{
		{"every field set", fullEvent()},
		{"empty message", &testpb.Event{}},
		{"empty but non-nil payload, tags and attrs", &testpb.Event{Payload: []byte{}, Tags: []string{}, Attrs: map[string]string{}}},
		{"negative timestamp", &testpb.Event{AtUnixNano: -1}},
		{"large payload, long unicode string, many tags and attrs", large},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c protocodec.Codec[*testpb.Event]
			data, err := c.Encode(nil, tt.in)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := c.Decode(data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got == tt.in {
				t.Fatal("Decode returned the encoded message itself")
			}
			if !proto.Equal(got, tt.in) {
				t.Fatalf("round trip changed the message:\n got %v\nwant %v", got, tt.in)
			}
		})
	}
}

func TestEncodeMatchesMarshal(t *testing.T) {
	ev := fullEvent()
	ev.Attrs = nil // map entries have no fixed order
	want, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := protocodec.Codec[*testpb.Event]{}.Encode(nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode = %x\nproto.Marshal = %x", got, want)
	}
}

func TestEncodeAppendsToDst(t *testing.T) {
	dst := make([]byte, 0, 128)
	dst = append(dst, "prefix"...)
	got, err := protocodec.Codec[*testpb.Event]{}.Encode(dst, &testpb.Event{Id: "x"})
	if err != nil {
		t.Fatal(err)
	}
	want := "prefix\x0a\x01x" // field 1, length-delimited, 1 byte
	if string(got) != want {
		t.Fatalf("Encode = %q, want %q", got, want)
	}
	if &got[0] != &dst[0] {
		t.Fatal("Encode reallocated although dst had room")
	}
}

func TestEncodeThroughInterfaceType(t *testing.T) {
	var c protocodec.Codec[proto.Message]
	got, err := c.Encode(nil, &testpb.Event{Id: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "\x0a\x01x" {
		t.Fatalf("Encode = %q", got)
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		enc    func(dst []byte) ([]byte, error)
		is     error
		prefix string
	}{
		{
			name:   "nil pointer",
			enc:    func(dst []byte) ([]byte, error) { return protocodec.Codec[*testpb.Event]{}.Encode(dst, nil) },
			is:     protocodec.ErrNilMessage,
			prefix: "codec/proto: encode *testpb.Event: ",
		},
		{
			name:   "nil interface",
			enc:    func(dst []byte) ([]byte, error) { return protocodec.Codec[proto.Message]{}.Encode(dst, nil) },
			is:     protocodec.ErrNilMessage,
			prefix: "codec/proto: encode protoreflect.ProtoMessage: ",
		},
		{
			name: "typed nil in an interface",
			enc: func(dst []byte) ([]byte, error) {
				return protocodec.Codec[proto.Message]{}.Encode(dst, (*testpb.Event)(nil))
			},
			is:     protocodec.ErrNilMessage,
			prefix: "codec/proto: encode protoreflect.ProtoMessage: ",
		},
		{
			name: "invalid UTF-8 in a string field",
			enc: func(dst []byte) ([]byte, error) {
				return protocodec.Codec[*testpb.Event]{}.Encode(dst, &testpb.Event{User: "\xff"})
			},
			prefix: "codec/proto: encode *testpb.Event: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := tt.enc(dst)
			if err == nil {
				t.Fatalf("Encode succeeded with %q, want an error", got)
			}
			if !strings.HasPrefix(err.Error(), tt.prefix) {
				t.Errorf("error %q does not start with %q", err, tt.prefix)
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
		data []byte
	}{
		{"lone 0xff", []byte{0xff}},
		{"truncated varint", []byte{0x18, 0x80}},
		{"length beyond the end", []byte{0x0a, 0x05, 'a', 'b'}},
		{"field number zero", []byte{0x00, 0x01}},
		{"end group without start", protowire.AppendTag(nil, 9, protowire.EndGroupType)},
		{"invalid UTF-8 in a string field", []byte{0x12, 0x02, 0xff, 0xfe}},
		{"reserved wire type 6", []byte{0x0e}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := protocodec.Codec[*testpb.Event]{}.Decode(tt.data)
			if err == nil {
				t.Fatalf("Decode(%x) = %v, want an error", tt.data, got)
			}
			if !strings.HasPrefix(err.Error(), "codec/proto: decode *testpb.Event: ") {
				t.Errorf("error %q lacks the codec/proto prefix and type", err)
			}
			if got != nil {
				t.Errorf("Decode returned %v with its error, want nil", got)
			}
		})
	}
}

func TestDecodeEmptyData(t *testing.T) {
	got, err := protocodec.Codec[*testpb.Event]{}.Decode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || !proto.Equal(got, &testpb.Event{}) {
		t.Fatalf("Decode(nil) = %v, want an empty, non-nil message", got)
	}
}

func TestDecodeIntoInterfaceTypeFails(t *testing.T) {
	got, err := protocodec.Codec[proto.Message]{}.Decode([]byte{0x0a, 0x01, 'x'})
	if err == nil {
		t.Fatalf("Decode = %v, want an error", got)
	}
	if !strings.HasPrefix(err.Error(), "codec/proto: decode protoreflect.ProtoMessage: ") {
		t.Errorf("error %q lacks the codec/proto prefix and type", err)
	}
}

func TestDecodeDoesNotKeepData(t *testing.T) {
	data, err := protocodec.Codec[*testpb.Event]{}.Encode(nil, &testpb.Event{User: "abc", Payload: []byte{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := protocodec.Codec[*testpb.Event]{}.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 0
	}
	if got.GetUser() != "abc" || !bytes.Equal(got.GetPayload(), []byte{1, 2}) {
		t.Fatalf("decoded message changed with its input: %v", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	var c protocodec.Codec[*testpb.Event] // one zero value shared by all goroutines
	codectest.ConcurrentRoundTrip(t, c, func(g, i int) *testpb.Event {
		v := fullEvent()
		v.Id = fmt.Sprintf("g%d-i%d", g, i)
		v.Tags = append(v.Tags, strings.Repeat("t", i))
		return v
	}, func(a, b *testpb.Event) bool { return proto.Equal(a, b) })
}

func TestEncodeAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	ev := fullEvent()
	ev.Attrs = nil // encoding a map allocates to iterate it
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(1000, func() {
		var err error
		buf, err = protocodec.Codec[*testpb.Event]{}.Encode(buf[:0], ev)
		if err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Encode into a large enough buffer allocated %v times per call, want 0", allocs)
	}
}

func BenchmarkEncode(b *testing.B) {
	var c protocodec.Codec[*testpb.Event]
	ev := fullEvent()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = c.Encode(buf[:0], ev)
	}
}

func BenchmarkDecode(b *testing.B) {
	var c protocodec.Codec[*testpb.Event]
	data, err := c.Encode(nil, fullEvent())
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
