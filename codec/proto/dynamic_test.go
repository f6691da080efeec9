package proto_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	protocodec "github.com/go-pkg/inskinesis/codec/proto"
	"github.com/go-pkg/inskinesis/internal/testpb"
)

// TestDynamicMessages: a codec made with ForPrototype decodes into
// *dynamicpb.Message (and into the proto.Message interface), which the zero
// codec cannot make; what it decodes equals the generated message.
func TestDynamicMessages(t *testing.T) {
	desc := (&testpb.Event{}).ProtoReflect().Descriptor()
	want := fullEvent()
	data, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	asEvent := func(t *testing.T, m proto.Message) *testpb.Event {
		t.Helper()
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var e testpb.Event
		if err := proto.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		return &e
	}

	t.Run("dynamicpb", func(t *testing.T) {
		prototype := dynamicpb.NewMessage(desc)
		c := protocodec.ForPrototype(prototype)
		got, err := c.Decode(data)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if got.Descriptor().FullName() != desc.FullName() {
			t.Fatalf("decoded a %s, want a %s", got.Descriptor().FullName(), desc.FullName())
		}
		if e := asEvent(t, got); !proto.Equal(e, want) {
			t.Errorf("decoded %v, want %v", e, want)
		}
		if prototype.Has(desc.Fields().ByName("id")) {
			t.Error("Decode changed the prototype")
		}
		again, err := c.Encode(nil, got)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		if e := asEvent(t, mustDecode(t, protocodec.ForPrototype(prototype), again)); !proto.Equal(e, want) {
			t.Errorf("round trip gave %v, want %v", e, want)
		}
		second, err := c.Decode(data)
		if err != nil || second == got {
			t.Errorf("a second Decode gave %p (%v), want a new message other than %p", second, err, got)
		}
	})
	t.Run("proto.Message", func(t *testing.T) {
		c := protocodec.ForPrototype[proto.Message](&testpb.Event{})
		got, err := c.Decode(data)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		e, ok := got.(*testpb.Event)
		if !ok || !proto.Equal(e, want) {
			t.Errorf("decoded %T %v, want %v", got, got, want)
		}
	})
	t.Run("the zero codec cannot make dynamic messages", func(t *testing.T) {
		if _, err := (protocodec.Codec[*dynamicpb.Message]{}).Decode(data); err == nil {
			t.Error("Decode made a dynamic message without a descriptor")
		}
	})
	t.Run("a nil prototype gives the zero codec", func(t *testing.T) {
		var nilMsg *dynamicpb.Message
		c := protocodec.ForPrototype(nilMsg)
		if _, err := c.Decode(data); err == nil {
			t.Error("Decode made a message from a nil prototype")
		}
		generated := protocodec.ForPrototype[*testpb.Event](nil)
		if e, err := generated.Decode(data); err != nil || !proto.Equal(e, want) {
			t.Errorf("the zero codec of a generated type: %v, %v", e, err)
		}
	})
}

func mustDecode[T proto.Message](t *testing.T, c protocodec.Codec[T], data []byte) T {
	t.Helper()
	v, err := c.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
