// Package putjson writes the JSON body of a Kinesis PutRecords call (the
// awsJson1_1 protocol) in one pass into one buffer: each record's data is
// base64-encoded in place, where the SDK's serializer makes a string of
// each one and copies the whole body once more at the end.
package putjson

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// awsJSON11 is the protocol of the Kinesis API the body is written in.
var awsJSON11 = smithy.ShapeID{Namespace: "aws.protocols", Name: "awsJson1_1"}

// Wrap returns the protocol of a Kinesis client (kinesis.Options.Protocol)
// with its PutRecords bodies written by Append: in one buffer, without the
// SDK's string per record and copy of the whole body. p itself still sets
// the method and the headers, and serializes every other call and the
// PutRecords inputs Append does not support. Any other p (nil, another
// protocol, or a protocol of the user's, even one wrapping the SDK's, which
// may depend on the input it serializes) is returned as it is.
func Wrap(p smithyhttp.ClientProtocol) smithyhttp.ClientProtocol {
	if sdk, ok := p.(*awsjson.Protocol); !ok || sdk.ID() != awsJSON11 {
		return p
	}
	return protocol{p}
}

type protocol struct{ smithyhttp.ClientProtocol }

func (p protocol) SerializeRequest(ctx context.Context, op *smithy.OperationSchema, in smithy.Serializable, req *smithyhttp.Request) error {
	pr, ok := in.(*kinesis.PutRecordsInput)
	if !ok || !Supported(pr) {
		return p.ClientProtocol.SerializeRequest(ctx, op, in, req)
	}
	if err := p.ClientProtocol.SerializeRequest(ctx, op, &kinesis.PutRecordsInput{}, req); err != nil {
		return err
	}
	var stream io.Reader
	if buf, ok := ctx.Value(bufferKey{}).(*Buffer); ok {
		buf.Release() // a caller that forgot: the last body cannot be read again
		buf.b = Append(slices.Grow(buf.b[:0], Size(pr)), pr)
		buf.body = &body{b: buf.b}
		stream = buf.body
	} else {
		stream = bytes.NewReader(Append(make([]byte, 0, Size(pr)), pr))
	}
	sreq, err := req.SetStream(stream)
	if err != nil {
		return fmt.Errorf("set stream: %w", err)
	}
	*req = *sreq
	return nil
}

// Buffer keeps the bytes of one PutRecords body at a time for the next
// call, so that a caller that makes its calls one after another (as each of
// a producer's requests does) does not allocate a body per call. Pass it to
// the call's context with WithBuffer, and call Release once the call has
// returned. The zero Buffer is ready to use.
type Buffer struct {
	b    []byte
	body *body // the body of the last call, until Release
}

// maxKept bounds the bytes a Buffer keeps between calls: a PutRecords body
// of 5 MiB of data is about 7 MB once base64-encoded.
const maxKept = 8 << 20

type bufferKey struct{}

// WithBuffer returns ctx carrying b: the body of a PutRecords call made
// with ctx through a protocol from Wrap is written into b's bytes.
func WithBuffer(ctx context.Context, b *Buffer) context.Context {
	return context.WithValue(ctx, bufferKey{}, b)
}

// Release ends the body of the last call written into b, so that its bytes
// can take the next call's. Whatever reads that body from now on reads
// io.EOF: net/http may read a request body after the response has come
// (see package transport), and must not read another call's bytes. The SDK
// (smithy-go) already cuts its own wrapper of the body off when the call
// returns, so that the stream can be reused; Release does not rely on it.
func (b *Buffer) Release() {
	if b.body != nil {
		b.body.release()
		b.body = nil
	}
	if cap(b.b) > maxKept {
		b.b = nil
	}
}

// body is a request body over a Buffer's bytes that reads io.EOF once
// released. It seeks, and tells its length, as the SDK needs to sign it.
type body struct {
	mu  sync.Mutex
	b   []byte // nil once released
	off int
}

var errSeek = errors.New("putjson: seek out of the body")

func (r *body) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

// WriteTo hands a hash (the SDK's payload digest) the rest of the body in
// one Write, and anything else the body by Read: a Write that blocks (a
// network connection) must not hold the body from Release.
func (r *body) WriteTo(w io.Writer) (int64, error) {
	h, ok := w.(hash.Hash)
	if !ok {
		return io.Copy(w, struct{ io.Reader }{r})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off >= len(r.b) {
		return 0, nil
	}
	n, err := h.Write(r.b[r.off:])
	r.off += n
	return int64(n), err
}

func (r *body) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch whence {
	case io.SeekCurrent:
		offset += int64(r.off)
	case io.SeekEnd:
		offset += int64(len(r.b))
	}
	if offset < 0 || offset > int64(len(r.b)) {
		return int64(r.off), errSeek
	}
	r.off = int(offset)
	return offset, nil
}

// Len is the number of bytes left to read.
func (r *body) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.b) - r.off
}

func (r *body) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.b, r.off = nil, 0
}

// Supported reports whether Append writes every field set in in: inputs
// with DryRun or StreamId are left to the SDK's serializer. Fields the SDK
// may add later are not seen here: TestAppendKnowsEveryField fails on an
// SDK whose input has a field Append does not know.
func Supported(in *kinesis.PutRecordsInput) bool {
	return in.DryRun == nil && in.StreamId == nil
}

// Size returns the bytes Append writes for in when no string needs
// escaping: a capacity that is right for nearly every call.
func Size(in *kinesis.PutRecordsInput) int {
	n := len(`{"Records":[],"StreamARN":"","StreamName":""}`) + strLen(in.StreamARN) + strLen(in.StreamName)
	for i := range in.Records {
		e := &in.Records[i]
		n += len(`{"Data":"","ExplicitHashKey":"","PartitionKey":""},`) +
			base64.StdEncoding.EncodedLen(len(e.Data)) + strLen(e.ExplicitHashKey) + strLen(e.PartitionKey)
	}
	return n
}

func strLen(p *string) int {
	if p == nil {
		return 0
	}
	return len(*p)
}

// Append appends the JSON body of in to dst. Fields that are nil are left
// out, as the SDK leaves them out; Supported must hold.
func Append(dst []byte, in *kinesis.PutRecordsInput) []byte {
	dst = append(dst, '{')
	comma := false
	if in.Records != nil {
		dst = append(dst, `"Records":[`...)
		for i := range in.Records {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendEntry(dst, &in.Records[i])
		}
		dst = append(dst, ']')
		comma = true
	}
	dst, comma = appendField(dst, comma, "StreamARN", in.StreamARN)
	dst, _ = appendField(dst, comma, "StreamName", in.StreamName)
	return append(dst, '}')
}

func appendEntry(dst []byte, e *types.PutRecordsRequestEntry) []byte {
	dst = append(dst, '{')
	comma := false
	if e.Data != nil {
		dst = append(dst, `"Data":"`...)
		dst = appendBase64(dst, e.Data)
		dst = append(dst, '"')
		comma = true
	}
	dst, comma = appendField(dst, comma, "ExplicitHashKey", e.ExplicitHashKey)
	dst, _ = appendField(dst, comma, "PartitionKey", e.PartitionKey)
	return append(dst, '}')
}

// appendField appends "name":"value" when v is not nil, after a comma when
// one is due, and reports whether one is due after it.
func appendField(dst []byte, comma bool, name string, v *string) ([]byte, bool) {
	if v == nil {
		return dst, comma
	}
	if comma {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	dst = append(dst, `":`...)
	return appendString(dst, *v), true
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, and bytes that are not UTF-8 replaced by U+FFFD, as
// encoding/json does.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if b >= 0x20 && b != '"' && b != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch b {
		case '"', '\\':
			dst = append(dst, '\\', b)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
