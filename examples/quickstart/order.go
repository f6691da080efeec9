package main

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Order is the record the quickstart streams: an order placed in a web
// shop. Orders are partitioned by UserID, so the orders of one user land on
// one shard.
type Order struct {
	// Run identifies one run of the quickstart, so that the read-back counts
	// only this run's records on a stream that holds older ones.
	Run string `json:"run" msgpack:"run"`
	// Seq numbers the orders of a run from 0; the read-back checks that
	// each number arrives exactly once.
	Seq         int64     `json:"seq" msgpack:"seq"`
	ID          string    `json:"id" msgpack:"id"`
	UserID      string    `json:"user_id" msgpack:"user_id"`
	AmountCents int64     `json:"amount_cents" msgpack:"amount_cents"`
	Currency    string    `json:"currency" msgpack:"currency"`
	Items       int       `json:"items" msgpack:"items"`
	PlacedAt    time.Time `json:"placed_at" msgpack:"placed_at"`
	Tags        []string  `json:"tags,omitempty" msgpack:"tags,omitempty"`
}

// orderSource makes a reproducible sequence of realistic orders.
type orderSource struct {
	run   string
	users int
	rng   *rand.Rand
	start time.Time
}

var (
	currencies = []string{"EUR", "USD", "GBP", "SEK"}
	tagPool    = []string{"mobile", "web", "gift", "express", "first-order", "coupon", "b2b"}
)

func newOrderSource(run string, users int, seed uint64) *orderSource {
	return &orderSource{
		run:   run,
		users: users,
		rng:   rand.New(rand.NewPCG(seed, seed^0x5eed)),
		start: time.Now().UTC(),
	}
}

// order returns the order numbered seq.
func (s *orderSource) order(seq int64) Order {
	o := Order{
		Run:         s.run,
		Seq:         seq,
		ID:          fmt.Sprintf("%s-%08d", s.run, seq),
		UserID:      fmt.Sprintf("user-%06d", s.rng.IntN(s.users)),
		AmountCents: 199 + s.rng.Int64N(50000),
		Currency:    currencies[s.rng.IntN(len(currencies))],
		Items:       1 + s.rng.IntN(8),
		PlacedAt:    s.start.Add(time.Duration(seq) * time.Millisecond),
	}
	for range s.rng.IntN(3) {
		o.Tags = append(o.Tags, tagPool[s.rng.IntN(len(tagPool))])
	}
	return o
}
