// Package msgpack is a codec for records encoded as MessagePack with
// github.com/vmihailenco/msgpack/v5.
//
// Its package name is msgpack, like the library's; a file that needs both
// imports one under another name:
//
//	import (
//		vmsgpack "github.com/vmihailenco/msgpack/v5"
//
//		"github.com/go-pkg/inskinesis/codec/msgpack"
//	)
//
// Records are encoded with the library's default options. In particular:
//
//   - A struct is written as a map keyed by its exported Go field names as
//     they are ("UserID", not "userId" or "user_id"). `json:"..."` tags are
//     ignored. Rename a field with a `msgpack:"name"` tag, leave it out with
//     `msgpack:"-"`, drop it when empty with `msgpack:",omitempty"`, or write
//     the whole struct as an array by adding a field named _msgpack of type
//     struct{} with the tag `msgpack:",as_array"`. Consumers in other
//     languages see these keys.
//   - Map keys are written in Go's map iteration order, so the bytes for a
//     record holding a map may differ from one Encode to the next; decoding
//     gives back the same value.
//   - Sized integers (int8..int64, uint8..uint64) and floats are written at
//     their Go width; int and uint in the shortest form that holds the value.
//   - A time.Time is written as the MessagePack timestamp extension (-1) and
//     decodes in time.Local, so compare times with time.Time.Equal.
//   - Decoding into an interface value gives int8..int64 and uint8..uint64
//     as the data holds them, map[string]any for maps and []any for arrays.
//   - msgpack.CustomEncoder / CustomDecoder and msgpack.Marshaler /
//     Unmarshaler methods are honoured.
//
// Encode appends to the caller's buffer through a pooled encoder, so that
// encoding costs no allocation of its own once the buffer is large enough.
//
// Decode first checks that the data is exactly one well-formed MessagePack
// value nested at most 10000 deep, and that no string, binary, extension,
// array or map header declares more bytes or elements than the data holds.
// Only then does it hand the data to the library, so a short malformed
// record cannot make the library allocate gigabytes for a declared length
// it never reads. For the same reason it refuses data in which an extension
// stands where a map is expected and its data starts like a map: the
// library would read that map without the checks. Extension types
// registered with msgpack.RegisterExt, and timestamps, decode as usual; but
// a decoder registered with msgpack.RegisterExtDecoder that reads
// MessagePack values from its extension's data fails when that data starts
// with a map or nil (read the data as bytes, with Decoder.ReadFull, instead).
package msgpack

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	vmsgpack "github.com/vmihailenco/msgpack/v5"

	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/codec/internal/appendbuf"
)

// Codec encodes records of type T as MessagePack.
//
// The zero value is ready to use and safe for concurrent use; it holds no
// state, so it may be copied freely.
type Codec[T any] struct{}

var _ codec.Codec[struct{}] = Codec[struct{}]{}

// Encode appends the MessagePack encoding of v to dst and returns the
// extended slice. It does not keep dst or v.
//
// It fails, returning dst unchanged and an error that starts with
// "codec/msgpack: encode" and wraps the library's error, when v holds a value
// the library cannot encode (a channel, a function, a complex number) or a
// custom encoding method fails.
func (Codec[T]) Encode(dst []byte, v T) ([]byte, error) {
	e := encoderPool.Get().(*appendEncoder)
	e.w.Buf = dst
	err := e.enc.Encode(v)
	out := e.w.Buf
	e.w.Buf = nil // do not keep the caller's buffer in the pool
	encoderPool.Put(e)
	if err != nil {
		return dst, fmt.Errorf("codec/msgpack: encode %s: %w", reflect.TypeFor[T](), err)
	}
	return out, nil
}

// Decode parses data, which must hold exactly one MessagePack value, into a
// new T. It does not keep data. Map keys that match no field of a struct are
// skipped.
//
// It fails, returning the zero T and an error that starts with
// "codec/msgpack: decode", when data is empty, malformed (see the package
// doc), followed by trailing bytes, or does not fit T. It does not panic on
// any input: a panic inside the library (such as a map key of a type Go
// cannot hash) is returned as an error too.
func (Codec[T]) Decode(data []byte) (v T, err error) {
	d := decoderPool.Get().(*readerDecoder)
	d.r.prefixes, err = validate(data, d.r.prefixes[:0])
	if err != nil {
		decoderPool.Put(d)
		return v, fmt.Errorf("codec/msgpack: decode %s: %w", reflect.TypeFor[T](), err)
	}
	defer func() {
		if r := recover(); r != nil {
			var zero T
			v, err = zero, fmt.Errorf("codec/msgpack: decode %s: panic in msgpack: %v", reflect.TypeFor[T](), r)
		}
	}()
	d.r.r.Reset(data)
	err = d.dec.Decode(&v)
	left := d.r.r.Len()
	d.r.r.Reset(nil) // do not keep the caller's data in the pool
	decoderPool.Put(d)
	if err == nil && left != 0 {
		err = fmt.Errorf("%d trailing bytes after the value", left)
	}
	if err != nil {
		var zero T
		return zero, fmt.Errorf("codec/msgpack: decode %s: %w", reflect.TypeFor[T](), err)
	}
	return v, nil
}

// appendEncoder is a msgpack encoder whose writer appends to a caller's slice.
type appendEncoder struct {
	w   appendbuf.Writer
	enc *vmsgpack.Encoder
}

// readerDecoder is a msgpack decoder reading from a reusable guardReader,
// which the library reads directly, without buffering ahead.
type readerDecoder struct {
	r   guardReader
	dec *vmsgpack.Decoder
}

// guardReader is a bytes.Reader that refuses to read a single byte at the
// offsets in prefixes, sorted: there the library would read the data of an
// extension as a map (see validate). It never does so on data that this
// codec encoded for the same type: extension data (timestamps, types
// registered with msgpack.RegisterExt) is read with Read.
type guardReader struct {
	r        bytes.Reader
	prefixes []int
}

var errExtAsMap = errors.New("malformed data: extension where a map is expected")

func (g *guardReader) Read(p []byte) (int, error) { return g.r.Read(p) }

func (g *guardReader) ReadByte() (byte, error) {
	if len(g.prefixes) > 0 {
		if _, found := slices.BinarySearch(g.prefixes, int(g.r.Size())-g.r.Len()); found {
			return 0, errExtAsMap
		}
	}
	return g.r.ReadByte()
}

func (g *guardReader) UnreadByte() error { return g.r.UnreadByte() }

// The pools cache encoders and decoders between calls; they hold no record
// data. The decoders are not configured with UsePreallocateValues (which
// msgpack.Unmarshal turns on): that option starts a goroutine per decoded
// type that never ends.
var (
	encoderPool = sync.Pool{
		New: func() any {
			e := new(appendEncoder)
			e.enc = vmsgpack.NewEncoder(&e.w)
			return e
		},
	}
	decoderPool = sync.Pool{
		New: func() any {
			d := new(readerDecoder)
			d.dec = vmsgpack.NewDecoder(&d.r)
			return d
		},
	}
)
