package kinesistest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"time"
)

// Faults describes the failures the server injects into write requests
// (PutRecord and PutRecords). Other operations are never affected. The zero
// value injects nothing.
//
// Faults are drawn from a pseudo-random generator seeded with Seed, and only
// for write requests that are well formed and name an existing stream
// (validation errors and ResourceNotFoundException come first and draw
// nothing). For each such request the draws happen in this fixed order, each
// only when its rate is above zero, whatever the earlier draws decided:
//
//  1. DropConnectionRate: one draw.
//  2. RequestErrorRate: one draw, then one more to choose the error.
//  3. RecordFailureRate: one draw per record, in request order.
//  4. DropAfterWriteRate: one draw.
//
// So the same Seed, the same Faults and the same sequence of requests give
// the same outcomes. Requests that run concurrently reach the generator in
// whatever order they arrive, so only a sequential run is reproducible.
//
// The outcomes are applied in the order: Latency, then a dropped connection
// (nothing written), then a request error (nothing written), then the
// per-record failures and the shard limits, then a connection dropped after
// the write. Records that get a per-record failure or belong to a failed
// request are not stored.
type Faults struct {
	// Seed seeds the generator. Two servers with the same Seed draw the same
	// faults. Default 0 (a valid seed).
	Seed int64

	// RecordFailureRate is the probability, in [0, 1], that a record fails
	// with ErrorCode "InternalFailure" (message "Internal service failure.").
	// In PutRecords the other records go on; PutRecord, which has no
	// per-record result, fails as a whole with HTTP 500 InternalFailure.
	RecordFailureRate float64

	// RequestErrorRate is the probability, in [0, 1], that a write request
	// fails as a whole with one of these, chosen by the generator among
	// RequestErrors (default: all four):
	// HTTP 500 InternalFailure, HTTP 503 ServiceUnavailable,
	// HTTP 400 ProvisionedThroughputExceededException,
	// HTTP 400 LimitExceededException.
	RequestErrorRate float64

	// RequestErrors restricts the errors RequestErrorRate chooses from, for
	// tests of one classification. Default (nil): all four.
	RequestErrors []RequestError

	// Latency delays each write request that reaches the fault draws (well
	// formed, existing stream) by this duration before anything is written
	// or answered. It runs on the real clock, not the one of WithClock;
	// Close ends the wait, and the request then fails with HTTP 503
	// ServiceUnavailable without writing. Default 0.
	Latency time.Duration

	// DropConnectionRate is the probability, in [0, 1], that the server
	// closes the connection without answering and without writing anything.
	// The client sees a transport error and cannot tell whether the records
	// were written (here they were not).
	DropConnectionRate float64

	// DropAfterWriteRate is the probability, in [0, 1], that the server
	// writes the records (subject to the per-record failures and the shard
	// limits) and then closes the connection without answering. A client that
	// retries then writes duplicates, as on AWS; Stats reports how many
	// records were written this way.
	DropAfterWriteRate float64
}

// RequestError is a whole-request error that Faults can inject.
type RequestError string

// The whole-request errors that Faults can inject.
const (
	// RequestInternalFailure is HTTP 500 with code InternalFailure.
	RequestInternalFailure RequestError = "InternalFailure"
	// RequestServiceUnavailable is HTTP 503 with code ServiceUnavailable.
	RequestServiceUnavailable RequestError = "ServiceUnavailable"
	// RequestThroughputExceeded is HTTP 400 with code
	// ProvisionedThroughputExceededException.
	RequestThroughputExceeded RequestError = "ProvisionedThroughputExceededException"
	// RequestLimitExceeded is HTTP 400 with code LimitExceededException.
	RequestLimitExceeded RequestError = "LimitExceededException"
)

func (e RequestError) status() int {
	switch e {
	case RequestInternalFailure:
		return http.StatusInternalServerError
	case RequestServiceUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

func (f Faults) validate() error {
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"RecordFailureRate", f.RecordFailureRate},
		{"RequestErrorRate", f.RequestErrorRate},
		{"DropConnectionRate", f.DropConnectionRate},
		{"DropAfterWriteRate", f.DropAfterWriteRate},
	} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return fmt.Errorf("kinesistest: Faults.%s = %v, want a value in [0, 1]", r.name, r.v)
		}
	}
	if f.Latency < 0 {
		return fmt.Errorf("kinesistest: Faults.Latency = %v, want >= 0", f.Latency)
	}
	for _, e := range f.RequestErrors {
		switch e {
		case RequestInternalFailure, RequestServiceUnavailable, RequestThroughputExceeded, RequestLimitExceeded:
		default:
			return fmt.Errorf("kinesistest: Faults.RequestErrors holds unknown %q", e)
		}
	}
	return nil
}

// faultPlan is what the generator decided for one write request.
type faultPlan struct {
	latency     time.Duration
	dropBefore  bool
	reqErr      RequestError // "" for none
	recordFail  []bool       // nil when no record fails
	dropAfter   bool
	recordFails int
}

func newRNG(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
}

// plan draws the faults for a write request of n records. Callers hold the
// server's fault lock.
func (f *Faults) plan(rng *rand.Rand, n int) faultPlan {
	p := faultPlan{latency: f.Latency}
	if f.DropConnectionRate > 0 {
		p.dropBefore = rng.Float64() < f.DropConnectionRate
	}
	if f.RequestErrorRate > 0 {
		hit := rng.Float64() < f.RequestErrorRate
		kinds := f.RequestErrors
		if len(kinds) == 0 {
			kinds = []RequestError{RequestInternalFailure, RequestServiceUnavailable, RequestThroughputExceeded, RequestLimitExceeded}
		}
		k := kinds[rng.IntN(len(kinds))]
		if hit {
			p.reqErr = k
		}
	}
	if f.RecordFailureRate > 0 {
		for i := 0; i < n; i++ {
			if rng.Float64() < f.RecordFailureRate {
				if p.recordFail == nil {
					p.recordFail = make([]bool, n)
				}
				p.recordFail[i] = true
				p.recordFails++
			}
		}
	}
	if f.DropAfterWriteRate > 0 {
		p.dropAfter = rng.Float64() < f.DropAfterWriteRate
	}
	return p
}
