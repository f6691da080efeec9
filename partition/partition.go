// Package partition holds ready-made partitioners: functions that choose the
// partition key of each record.
//
// A partitioner is a plain func(T) string, so every function here can be
// assigned to the stream's Partitioner[T] type and composed with ordinary
// Go code.
//
// Kinesis sends a record to the shard whose hash key range holds the MD5
// hash of its partition key, so records with equal keys go to the same shard
// in the order they were put, and distinct keys spread over the shards. The
// key is also stored with the record and counts, as UTF-8 bytes, towards
// the record's size limit.
//
// The stream checks every key before sending: it must be valid UTF-8 of 1
// to 256 Unicode code points. Put fails for a record whose key breaks these
// rules, and in particular for an empty key; the partitioners here never
// return one unless the functions or the key given to them do.
//
// Every partitioner here is safe for concurrent use and holds no mutable
// state.
package partition

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// UUID returns a partitioner that gives each record a new random (version 4)
// UUID in its canonical 36-character form, such as
// "f47ac10b-58cc-4372-a567-0e02b2c3d479". Records then spread evenly over
// all shards, with no order kept between them. It is the stream's default.
//
// The 122 random bits come from math/rand/v2's global generator (ChaCha8,
// seeded from the operating system, per thread, without a lock or a system
// call per record). It is not for secrets: the keys are only meant to be
// distinct and evenly spread. Each call allocates once, for the string.
func UUID[T any]() func(T) string {
	return func(T) string { return newUUID() }
}

// newUUID returns a random version 4, variant 10 (RFC 9562) UUID string.
func newUUID() string {
	hi, lo := rand.Uint64(), rand.Uint64()
	var b [16]byte
	for i := range 8 {
		b[i] = byte(hi >> (56 - 8*i))
		b[8+i] = byte(lo >> (56 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // variant 10
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

// Static returns a partitioner that gives every record the same key, so all
// records go to one shard, in order. That shard's limits (1 MB/s and 1000
// records/s) then bound the whole stream's throughput.
//
// key is not checked here; if it is empty or otherwise invalid (see the
// package doc), every Put fails.
func Static[T any](key string) func(T) string {
	return func(T) string { return key }
}

// Stringer returns a partitioner that uses each record's String method as
// its key, for record types that already name their entity that way.
//
// A record whose String method returns an empty string makes Put fail.
func Stringer[T fmt.Stringer]() func(T) string {
	return func(v T) string { return v.String() }
}

// Hash returns a partitioner whose key is the 64-bit FNV-1a hash of f's
// result, written as 16 lower-case hexadecimal digits, such as
// "cbf29ce484222325" for an empty input.
//
// Use it when the natural key is not a valid partition key as it is: binary
// identifiers, strings that may be empty, longer than 256 code points or
// not valid UTF-8. Every input gives a valid key, and equal inputs give
// equal keys in every process and every version of this package, so records
// of one entity still go to one shard, in order. Distinct inputs may rarely
// share a key (and so a shard); that costs nothing but spread.
//
// f is called once per record; it may return a string or a byte slice. Each
// call allocates once, for the key.
func Hash[T any, K string | []byte](f func(T) K) func(T) string {
	return func(v T) string {
		h := fnv1a(f(v))
		var b [8]byte
		for i := range 8 {
			b[i] = byte(h >> (56 - 8*i))
		}
		var s [16]byte
		hex.Encode(s[:], b[:])
		return string(s[:])
	}
}

// Spread returns a partitioner that spreads the records of each key over
// buckets keys, for hot keys whose traffic exceeds one shard's limits
// (1 MB/s, 1000 records/s). The key of a record is key(v) + "-" + a bucket
// number from 0 to buckets-1, chosen at random for each record, such as
// "tenant-7-3".
//
// Records that share key(v) then land on up to buckets shards and lose their
// relative order; consumers that need it must merge them, for example by a
// sequence number or timestamp in the record. Use SpreadBy to keep order
// per sub-key instead.
//
// The suffix adds up to 1 + the number of digits of buckets-1 code points to
// the key, which must then still fit in 256. With buckets below 2 there is
// nothing to spread over: the partitioner returns key(v) unchanged.
func Spread[T any](key func(T) string, buckets int) func(T) string {
	if buckets < 2 {
		return key
	}
	return func(v T) string {
		return key(v) + "-" + strconv.Itoa(rand.IntN(buckets))
	}
}

// SpreadBy is Spread with a bucket chosen by a hash of by(v) instead of at
// random, such as key "tenant-7" spread by user ID. Records with equal key(v)
// and equal by(v) always get the same key, so they keep their order, while
// a hot key(v) still spreads over up to buckets shards. The bucket is the
// 64-bit FNV-1a hash of by(v) modulo buckets, the same in every process and
// every version of this package.
//
// With buckets below 2 it returns key(v) unchanged, like Spread.
func SpreadBy[T any](key func(T) string, by func(T) string, buckets int) func(T) string {
	if buckets < 2 {
		return key
	}
	return func(v T) string {
		return key(v) + "-" + strconv.FormatUint(fnv1a(by(v))%uint64(buckets), 10)
	}
}

// fnv1a returns the 64-bit FNV-1a hash of s.
func fnv1a[K string | []byte](s K) uint64 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime64
	}
	return h
}
