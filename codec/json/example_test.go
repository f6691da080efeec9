package json_test

import (
	"fmt"

	"github.com/go-pkg/inskinesis/codec/json"
)

func ExampleCodec() {
	type Order struct {
		ID    string   `json:"id"`
		Items []string `json:"items"`
		Note  string   `json:"note,omitempty"`
	}

	var c json.Codec[Order] // the zero value is ready to use
	data, err := c.Encode(nil, Order{ID: "o-1", Items: []string{"tea", "<cake>"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s\n", data)

	o, err := c.Decode(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%+v\n", o)

	_, err = c.Decode([]byte(`{"id": 7}`))
	fmt.Println(err)
	// Output:
	// {"id":"o-1","items":["tea","<cake>"]}
	// {ID:o-1 Items:[tea <cake>] Note:}
	// codec/json: decode json_test.Order: json: cannot unmarshal number into Go struct field Order.id of type string
}
