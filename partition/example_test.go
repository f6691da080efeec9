package partition_test

import (
	"fmt"
	"strings"

	"github.com/go-pkg/inskinesis/partition"
)

type Order struct {
	ID       string
	Customer string
	Tenant   string
}

func ExampleUUID() {
	p := partition.UUID[Order]()
	k1, k2 := p(Order{ID: "o-1"}), p(Order{ID: "o-1"})
	fmt.Println(len(k1), k1[14:15], k1 != k2)
	// Output: 36 4 true
}

func ExampleStatic() {
	p := partition.Static[Order]("orders")
	fmt.Println(p(Order{ID: "o-1"}), p(Order{ID: "o-2"}))
	// Output: orders orders
}

type Customer string

func (c Customer) String() string { return "customer/" + string(c) }

func ExampleStringer() {
	p := partition.Stringer[Customer]()
	fmt.Println(p("c-42"))
	// Output: customer/c-42
}

func ExampleHash() {
	// A key that may be empty or too long becomes 16 hex digits; equal
	// customers still share a key, and so a shard and an order.
	p := partition.Hash(func(o Order) string { return o.Customer })
	fmt.Println(p(Order{Customer: ""}))
	fmt.Println(p(Order{Customer: strings.Repeat("x", 1000)}) == p(Order{Customer: strings.Repeat("x", 1000)}))
	// Output:
	// cbf29ce484222325
	// true
}

func ExampleSpread() {
	// A hot tenant spread over 4 keys, "big-0" to "big-3", at random.
	p := partition.Spread(func(o Order) string { return o.Tenant }, 4)
	k := p(Order{Tenant: "big"})
	fmt.Println(k == "big-0" || k == "big-1" || k == "big-2" || k == "big-3")
	// Output: true
}

func ExampleSpreadBy() {
	// A hot tenant spread over 4 keys by customer: each customer's orders
	// keep one key, and so their order.
	p := partition.SpreadBy(
		func(o Order) string { return o.Tenant },
		func(o Order) string { return o.Customer },
		4,
	)
	a := p(Order{Tenant: "big", Customer: "c-1", ID: "o-1"})
	b := p(Order{Tenant: "big", Customer: "c-1", ID: "o-2"})
	fmt.Println(a == b, strings.HasPrefix(a, "big-"))
	// Output: true true
}
