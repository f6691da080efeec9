// Package codec defines how records are turned into the bytes stored in
// Kinesis and back. Its sub-packages hold the implementations: codec/json,
// codec/msgpack and codec/proto. This package itself also holds Bytes, a
// pass-through codec for records that are already encoded.
//
// A Codec knows nothing of Kinesis; the stream calls it once per record, on
// the goroutine that puts the record.
package codec

// Codec turns a record of type T into bytes, and bytes back into a record.
//
// Encode appends the encoding of v to dst and returns the extended slice, in
// the manner of strconv.AppendInt, so that callers can reuse buffers. It must
// not keep dst or v after it returns. Decode parses data, which it must not
// keep either. Both must be safe for concurrent use.
type Codec[T any] interface {
	Encode(dst []byte, v T) ([]byte, error)
	Decode(data []byte) (T, error)
}
