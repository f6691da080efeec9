package proto_test

import (
	"fmt"

	protocodec "github.com/go-pkg/inskinesis/codec/proto"
	"github.com/go-pkg/inskinesis/internal/testpb"
)

func ExampleCodec() {
	// T is the generated message pointer type; the zero value is ready.
	var c protocodec.Codec[*testpb.Event]

	data, err := c.Encode(nil, &testpb.Event{Id: "e-1", User: "zoë", Tags: []string{"new"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d bytes\n", len(data))

	ev, err := c.Decode(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.GetId(), ev.GetUser(), ev.GetTags())

	_, err = c.Encode(nil, nil)
	fmt.Println(err)
	// Output:
	// 16 bytes
	// e-1 zoë [new]
	// codec/proto: encode *testpb.Event: nil message
}
