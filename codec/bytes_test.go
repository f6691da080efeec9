package codec_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/go-pkg/inskinesis/codec"
)

func TestBytesRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{name: "nil record decodes to nil", in: nil},
		{name: "empty record decodes to empty", in: []byte{}},
		{name: "one byte", in: []byte{0}},
		{name: "text with unicode", in: []byte("héllo, 世界 🌍")},
		{name: "invalid UTF-8 passes through unchanged", in: []byte{0xff, 0xfe, 0x80}},
		{name: "large payload of 1 MiB", in: bytes.Repeat([]byte{0xab, 0x00, 0x7f}, 1<<20/3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c codec.Bytes
			enc, err := c.Encode(nil, tt.in)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !bytes.Equal(enc, tt.in) {
				t.Fatalf("Encode = %q, want %q", enc, tt.in)
			}
			dec, err := c.Decode(enc)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !bytes.Equal(dec, tt.in) {
				t.Fatalf("Decode = %q, want %q", dec, tt.in)
			}
			direct, _ := c.Decode(tt.in)
			if (direct == nil) != (tt.in == nil) {
				t.Fatalf("Decode(%#v) nil-ness = %v, want %v", tt.in, direct == nil, tt.in == nil)
			}
		})
	}
}

func TestBytesEncodeKeepsPrefix(t *testing.T) {
	dst := make([]byte, 0, 64)
	dst = append(dst, "prefix:"...)
	got, err := codec.Bytes{}.Encode(dst, []byte("record"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "prefix:record" {
		t.Fatalf("Encode = %q, want %q", got, "prefix:record")
	}
	if &got[0] != &dst[0] {
		t.Fatal("Encode reallocated although dst had room")
	}
}

func TestBytesDecodeCopies(t *testing.T) {
	data := []byte("abc")
	got, err := codec.Bytes{}.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	data[0] = 'X'
	if string(got) != "abc" {
		t.Fatalf("Decode result changed with its input: %q", got)
	}
}

func TestBytesConcurrent(t *testing.T) {
	var c codec.Bytes
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for i := range 500 {
				want := fmt.Sprintf("g%d-i%d-%s", g, i, strings.Repeat("x", i%7))
				var err error
				buf, err = c.Encode(buf[:0], []byte(want))
				if err != nil {
					errs <- err
					return
				}
				got, err := c.Decode(buf)
				if err != nil {
					errs <- err
					return
				}
				if string(got) != want {
					errs <- fmt.Errorf("got %q, want %q", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func ExampleBytes() {
	var c codec.Bytes
	data, _ := c.Encode([]byte("header|"), []byte("already encoded"))
	fmt.Printf("%s\n", data)

	rec, _ := c.Decode(data)
	fmt.Printf("%s\n", rec)
	// Output:
	// header|already encoded
	// header|already encoded
}
