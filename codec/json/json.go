// Package json is a codec for records encoded as JSON with the standard
// library's encoding/json.
//
// Its package name is json, like the standard library's; a file that needs
// both imports one under another name:
//
//	import (
//		stdjson "encoding/json"
//
//		"github.com/go-pkg/inskinesis/codec/json"
//	)
//
// Records are encoded as encoding/json encodes them: exported fields only,
// renamed, omitted or stringified with `json:"..."` struct tags, and
// json.Marshaler / json.Unmarshaler methods honoured. Each record is one JSON
// value with no trailing newline. Two choices differ from json.Marshal:
//
//   - HTML escaping is off: '<', '>' and '&' are written as they are, not as
//     \u003c, \u003e and \u0026. Kinesis records are read by programs, not
//     embedded in HTML pages, and the output is shorter and greppable. Any
//     JSON parser reads both forms as the same string.
//   - Encode appends to the caller's buffer through a pooled json.Encoder, so
//     that encoding a record costs no allocation of its own once the buffer
//     is large enough (json.Marshal allocates a fresh slice per call).
//
// Strings are written as valid UTF-8: encoding/json replaces each invalid
// byte with U+FFFD, so a string holding invalid UTF-8 does not survive a
// round trip unchanged. Use a []byte field (written as base64) for binary
// data.
package json

import (
	stdjson "encoding/json"
	"fmt"
	"reflect"
	"sync"

	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/codec/internal/appendbuf"
)

// Codec encodes records of type T as JSON with encoding/json.
//
// The zero value is ready to use and safe for concurrent use; it holds no
// state, so it may be copied freely.
type Codec[T any] struct{}

var _ codec.Codec[struct{}] = Codec[struct{}]{}

// Encode appends the JSON encoding of v to dst and returns the extended
// slice, without a trailing newline and with HTML escaping off (see the
// package doc). It does not keep dst or v.
//
// It fails, returning dst unchanged and an error that starts with
// "codec/json: encode" and wraps encoding/json's error (for errors.As, e.g.
// *json.UnsupportedValueError), when v holds a value encoding/json cannot
// encode: a channel, a function, a complex number, a NaN or infinite float, a
// cycle, or a failing MarshalJSON or MarshalText method.
func (Codec[T]) Encode(dst []byte, v T) ([]byte, error) {
	e := encoderPool.Get().(*appendEncoder)
	e.w.Buf = dst
	err := e.enc.Encode(v)
	out := e.w.Buf
	e.w.Buf = nil // do not keep the caller's buffer in the pool
	encoderPool.Put(e)
	if err != nil {
		return dst, fmt.Errorf("codec/json: encode %s: %w", reflect.TypeFor[T](), err)
	}
	// json.Encoder ends every value with '\n'; a record does not need it.
	return out[:len(out)-1], nil
}

// Decode parses data, which must hold exactly one JSON value (surrounding
// white space allowed), into a new T. It does not keep data.
//
// Decoding follows json.Unmarshal: object keys match field names or tags
// case-insensitively, unknown keys are ignored, and numbers decoded into an
// interface value become float64.
//
// It fails, returning the zero T and an error that starts with
// "codec/json: decode" and wraps encoding/json's error (e.g.
// *json.SyntaxError, *json.UnmarshalTypeError), when data is not valid JSON,
// holds more than one value, or does not fit T.
func (Codec[T]) Decode(data []byte) (T, error) {
	var v T
	if err := stdjson.Unmarshal(data, &v); err != nil {
		var zero T
		return zero, fmt.Errorf("codec/json: decode %s: %w", reflect.TypeFor[T](), err)
	}
	return v, nil
}

// appendEncoder is a json.Encoder whose writer appends to a caller's slice.
type appendEncoder struct {
	w   appendbuf.Writer
	enc *stdjson.Encoder
}

// encoderPool caches appendEncoders between calls. It holds no record data:
// Encode clears the buffer before putting an encoder back.
var encoderPool = sync.Pool{
	New: func() any {
		e := new(appendEncoder)
		e.enc = stdjson.NewEncoder(&e.w)
		e.enc.SetEscapeHTML(false)
		return e
	},
}
