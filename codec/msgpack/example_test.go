package msgpack_test

import (
	"fmt"

	"github.com/go-pkg/inskinesis/codec/msgpack"
)

func ExampleCodec() {
	type Order struct {
		ID    string   `msgpack:"id"`
		Items []string `msgpack:"items"`
		Note  string   `msgpack:"note,omitempty"`
		Total int      // no tag: the key is "Total"
	}

	var c msgpack.Codec[Order] // the zero value is ready to use
	data, err := c.Encode(nil, Order{ID: "o-1", Items: []string{"tea", "cake"}, Total: 7})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d bytes: %q\n", len(data), data)

	o, err := c.Decode(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%+v\n", o)

	_, err = c.Decode(data[:len(data)-1])
	fmt.Println(err)
	// Output:
	// 31 bytes: "\x83\xa2id\xa3o-1\xa5items\x92\xa3tea\xa4cake\xa5Total\a"
	// {ID:o-1 Items:[tea cake] Note: Total:7}
	// codec/msgpack: decode msgpack_test.Order: malformed data: unexpected end of data
}
