package codec

import "bytes"

// Bytes is a pass-through Codec for records that are already encoded: the
// record's bytes are the Kinesis record's data, unchanged.
//
// The zero value is ready to use and safe for concurrent use. Encode and
// Decode never fail; they return a nil error so that Bytes satisfies
// Codec[[]byte].
type Bytes struct{}

var _ Codec[[]byte] = Bytes{}

// Encode appends v to dst and returns the extended slice. It does not keep v.
// The error is always nil.
func (Bytes) Encode(dst []byte, v []byte) ([]byte, error) {
	return append(dst, v...), nil
}

// Decode returns a copy of data, so the result stays valid after the caller
// reuses data. A nil data gives a nil slice and an empty non-nil data gives an
// empty non-nil slice. The error is always nil.
func (Bytes) Decode(data []byte) ([]byte, error) {
	return bytes.Clone(data), nil
}
