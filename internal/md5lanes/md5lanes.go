// Package md5lanes computes the MD5 digests of many messages at once: on a
// CPU with AVX2 or AVX-512, one core hashes 8 or 16 messages in the lanes
// of its vector registers (github.com/minio/md5-simd), for about a third of
// the CPU time of hashing them one after another with crypto/md5. MD5 runs
// one block after another within a message, so a single message gains
// nothing; the messages must be many and independent, as a PutRecords
// call's KPL aggregates are.
package md5lanes

import (
	"crypto/md5"
	"sync"

	md5simd "github.com/minio/md5-simd"
)

// minLanes is the fewest messages worth handing to the lanes, and
// minLaneBytes the shortest message: each costs about 850 ns to hand over
// and take back, which crypto/md5 on the caller's goroutine beats below
// about 1 KB (it hashes about 850 MB/s on one core; the lanes, 16 at a
// time, about 3 GB/s).
const (
	minLanes     = 3
	minLaneBytes = 1 << 10
)

// numLanes is how many messages a set of lanes takes at once: md5-simd's
// 16 (AVX-512; with AVX2 it runs two sets of 8), which it declares on amd64
// alone.
const numLanes = 16

// maxSets bounds the sets of lanes, and so the calls hashing through the
// lanes at once; a call that finds none free hashes with crypto/md5 on its
// own goroutine. The one goroutine of md5-simd fills its 16 lanes from
// every set, and scans all of them after each round, so more sets only
// cost it time (and md5-simd never forgets a set once made).
const maxSets = 4

// Hasher hashes sets of messages, from any number of goroutines at once.
// It starts a goroutine of md5-simd's (and about 1.5 MiB of its buffers) on
// first use; Close stops them once no call uses them. The zero Hasher is
// ready to use.
type Hasher struct {
	mu     sync.Mutex
	srv    md5simd.Server
	free   [][]md5simd.Hasher // lane sets no call uses, each of numLanes
	users  int                // calls of Sum using srv, each with a set of its own
	closed bool
}

// Sum writes the MD5 digest of msgs[i] into sums[i] (16 bytes each) for
// every i. Messages shorter than 1 KiB, every message when fewer than 3
// are that long, and every message when 4 calls already use the lanes, are
// hashed by crypto/md5 on the caller's goroutine. After Close it still
// works, on crypto/md5 alone.
func (h *Hasher) Sum(msgs [][]byte, sums [][]byte) {
	long := 0
	for _, m := range msgs {
		if len(m) >= minLaneBytes {
			long++
		}
	}
	if long < minLanes {
		scalar(msgs, sums)
		return
	}
	lanes := h.take()
	if lanes == nil {
		scalar(msgs, sums)
		return
	}
	defer h.give(lanes)
	var into [numLanes][]byte // where the digest of each lane in use goes
	n := 0
	for i, m := range msgs {
		if len(m) < minLaneBytes {
			scalar(msgs[i:i+1], sums[i:i+1])
			continue
		}
		lanes[n].Reset()
		_, _ = lanes[n].Write(m) // it cannot fail on an open Hasher
		into[n] = sums[i]
		if n++; n == len(lanes) {
			sumLanes(lanes[:n], into[:n])
			n = 0
		}
	}
	sumLanes(lanes[:n], into[:n])
}

// sumLanes writes the digest of each lane's message into into.
func sumLanes(lanes []md5simd.Hasher, into [][]byte) {
	for i, l := range lanes {
		l.Sum(into[i][:0])
	}
}

func scalar(msgs [][]byte, sums [][]byte) {
	for i, m := range msgs {
		d := md5.Sum(m)
		copy(sums[i], d[:])
	}
}

// take returns a set of lanes for one call of Sum, or nil after Close and
// when maxSets are in use.
func (h *Hasher) take() []md5simd.Hasher {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	var lanes []md5simd.Hasher
	switch n := len(h.free); {
	case n > 0:
		lanes = h.free[n-1]
		h.free = h.free[:n-1]
	case h.users < maxSets: // every set made is in use
		if h.srv == nil {
			h.srv = md5simd.NewServer()
		}
		lanes = make([]md5simd.Hasher, numLanes)
		for i := range lanes {
			lanes[i] = h.srv.NewHash()
		}
	default:
		return nil
	}
	h.users++
	return lanes
}

// give takes back the lanes of a call of Sum; the last call to end after
// Close stops the server.
func (h *Hasher) give(lanes []md5simd.Hasher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.users--
	h.free = append(h.free, lanes)
	if h.closed && h.users == 0 {
		h.stop()
	}
}

// Close stops the hashing goroutine once no call of Sum uses it (at once
// if none does). Sum still works after Close, on crypto/md5 alone. Close
// may be called more than once.
func (h *Hasher) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.users == 0 {
		h.stop()
	}
}

func (h *Hasher) stop() {
	for _, lanes := range h.free {
		for _, l := range lanes {
			l.Close()
		}
	}
	h.free = nil
	if h.srv != nil {
		h.srv.Close()
		h.srv = nil
	}
}
