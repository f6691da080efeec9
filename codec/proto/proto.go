// Package proto is a codec for records that are protocol buffer messages,
// encoded in the binary wire format with google.golang.org/protobuf.
//
// Its package name is proto, like google.golang.org/protobuf/proto, which
// most files that use it import too; import this one under another name:
//
//	import (
//		"google.golang.org/protobuf/proto"
//
//		protocodec "github.com/go-pkg/inskinesis/codec/proto"
//	)
//
//	var c protocodec.Codec[*eventpb.Event] // the zero value is ready
//
// T is the generated message pointer type, such as *eventpb.Event. Decode
// makes each new message from T itself, so the codec needs no prototype
// value and no registry look-up. For messages whose Go type does not tell
// their message type, such as *dynamicpb.Message, build the codec with
// ForPrototype:
//
//	c := protocodec.ForPrototype(dynamicpb.NewMessage(desc))
//
// Encoding uses proto.MarshalOptions{} (the defaults): fields in field-number
// order, map entries in no fixed order (so the bytes for a message with a
// map may differ from one Encode to the next), unknown fields written back
// as they were read. Decoding uses proto.Unmarshal's defaults: unknown fields
// are kept, proto3 strings must be valid UTF-8, proto2 required fields must
// be set, and nesting is limited to 10000 levels.
package proto

import (
	"errors"
	"fmt"
	"reflect"

	protobuf "google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/go-pkg/inskinesis/codec"
)

// ErrNilMessage is wrapped by the error Encode returns for a nil message,
// whether a nil pointer of a generated type or a nil interface.
var ErrNilMessage = errors.New("nil message")

// Codec encodes records of the protocol buffer message type T (a generated
// message pointer type, such as *eventpb.Event) in the binary wire format.
//
// The zero value is ready to use for generated message types; ForPrototype
// makes one for other message types. A Codec is safe for concurrent use and
// may be copied freely.
type Codec[T protobuf.Message] struct {
	mt protoreflect.MessageType // the type of new messages; nil: T's
}

// ForPrototype returns a Codec whose Decode makes each new message of the
// message type of prototype (prototype.ProtoReflect().Type().New()), not
// from T. Use it when T's zero value cannot make messages: for
// *dynamicpb.Message (pass dynamicpb.NewMessage(descriptor)), or for T the
// proto.Message interface. prototype itself is neither kept nor changed. A
// nil or invalid prototype gives the zero Codec, which makes messages from
// T.
func ForPrototype[T protobuf.Message](prototype T) (c Codec[T]) {
	defer func() {
		if recover() != nil {
			c = Codec[T]{}
		}
	}()
	if any(prototype) == nil {
		return Codec[T]{}
	}
	return Codec[T]{mt: prototype.ProtoReflect().Type()}
}

var _ codec.Codec[protobuf.Message] = Codec[protobuf.Message]{}

// Encode appends the wire-format encoding of v to dst and returns the
// extended slice. It does not keep dst or v. An empty message (every field
// at its default) encodes to no bytes at all.
//
// It fails, returning dst unchanged and an error that starts with
// "codec/proto: encode", when v is nil (the error wraps ErrNilMessage), when
// a proto3 string field holds invalid UTF-8, or when a proto2 required
// field is not set (the error then wraps the protobuf library's error).
func (Codec[T]) Encode(dst []byte, v T) ([]byte, error) {
	if any(v) == nil || !v.ProtoReflect().IsValid() {
		return dst, fmt.Errorf("codec/proto: encode %s: %w", reflect.TypeFor[T](), ErrNilMessage)
	}
	out, err := protobuf.MarshalOptions{}.MarshalAppend(dst, v)
	if err != nil {
		return dst, fmt.Errorf("codec/proto: encode %s: %w", reflect.TypeFor[T](), err)
	}
	return out, nil
}

// Decode parses data into a new message of type T. It does not keep data:
// bytes fields are copied. Empty data decodes to an empty message, as the
// wire format has no framing.
//
// It fails, returning the zero T (a nil pointer) and an error that starts
// with "codec/proto: decode", when data is not valid wire format for T
// (truncated, a bad tag or wire type, invalid UTF-8 in a proto3 string, a
// missing proto2 required field), or when T is not a concrete message type
// from which a new message can be made (such as the proto.Message interface
// itself, or *dynamicpb.Message) and the codec was not made by ForPrototype.
func (c Codec[T]) Decode(data []byte) (T, error) {
	var zero T
	m, err := c.newMessage()
	if err != nil {
		return zero, fmt.Errorf("codec/proto: decode %s: %w", reflect.TypeFor[T](), err)
	}
	if err := protobuf.Unmarshal(data, m); err != nil {
		return zero, fmt.Errorf("codec/proto: decode %s: %w", reflect.TypeFor[T](), err)
	}
	return m, nil
}

// newMessage returns a new, empty message of type T: of the prototype's
// message type, or else from the zero T, a nil pointer, whose ProtoReflect
// method generated types implement for nil receivers.
func (c Codec[T]) newMessage() (m T, err error) {
	var zero T
	if c.mt != nil {
		m, ok := c.mt.New().Interface().(T)
		if !ok {
			return zero, errors.New("the prototype makes messages of another Go type")
		}
		return m, nil
	}
	if any(zero) == nil {
		return zero, errors.New("type parameter is an interface, not a concrete message type")
	}
	defer func() {
		if r := recover(); r != nil {
			m, err = zero, fmt.Errorf("cannot make a new message: %v", r)
		}
	}()
	m, ok := zero.ProtoReflect().Type().New().Interface().(T)
	if !ok {
		return zero, errors.New("the message type makes messages of another Go type")
	}
	return m, nil
}
