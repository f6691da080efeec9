// Package aggregation reads back records written with KPL aggregation: it
// splits an aggregated Kinesis record into the user records it holds, and
// decodes them with the Codec they were written with.
//
// An aggregated record, as the Kinesis Producer Library (KPL) writes it, is
//
//	| 0xF3 0x89 0x9A 0xC2 | AggregatedRecord protobuf message | MD5 of the message (16 bytes) |
//
// Deaggregation follows the Kinesis Client Library (KCL): a record without
// the magic prefix, too short to hold a digest, with a digest that does not
// match, or whose message does not parse (malformed wire format or a missing
// required field) is not an aggregate, and comes back as one plain user
// record with the outer record's partition key and data. A record that
// parses but names a key outside its key tables is corrupt: the functions
// return ErrCorrupt.
//
// The functions never panic on hostile input, and allocate in proportion to
// what the input holds rather than to counts it claims. The Data of the user
// records they return shares memory with the input; copy it to keep it past
// the input's lifetime.
package aggregation

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/internal/aggregate"
	"github.com/go-pkg/inskinesis/internal/hashkey"
)

// UserRecord is one record as the producer put it, read back from Kinesis.
type UserRecord struct {
	// PartitionKey is the user record's partition key, or for a plain record
	// the Kinesis record's.
	PartitionKey string
	// ExplicitHashKey is the user record's explicit hash key, "" when it has
	// none. Kinesis does not return the explicit hash key of plain records,
	// so it is always "" for them.
	ExplicitHashKey string
	// Data is the user record's data. It shares memory with the input.
	Data []byte
	// SubSequenceNumber is the user record's position inside its aggregate,
	// from 0; it is 0 for a plain record.
	SubSequenceNumber uint64
	// Aggregated is true when the record came out of an aggregate.
	Aggregated bool
	// SequenceNumber and ApproximateArrivalTimestamp are those of the
	// Kinesis record that carried the user record; they are empty for the
	// functions that take bytes.
	SequenceNumber              string
	ApproximateArrivalTimestamp time.Time
}

// ErrCorrupt is returned, wrapped with details, for an aggregated record
// whose message parses but is not consistent: a user record names a
// partition key or explicit hash key index outside its table, or an empty
// explicit hash key. The KCL fails on such records too.
var ErrCorrupt = errors.New("aggregation: corrupt aggregated record")

// Deaggregate returns the user records carried by the Kinesis record r, in
// order: those of an aggregate, or r itself as one plain user record (see
// the package documentation). An aggregate may hold no user records. The
// error is ErrCorrupt (wrapped) for a corrupt aggregate, and then no records
// are returned.
func Deaggregate(r types.Record) ([]UserRecord, error) {
	return AppendDeaggregated(nil, r)
}

// AppendDeaggregated is Deaggregate appending to dst, so that a caller can
// reuse one slice across records. On error it returns dst unchanged.
func AppendDeaggregated(dst []UserRecord, r types.Record) ([]UserRecord, error) {
	start := len(dst)
	dst, aggregated, err := AppendDeaggregatedData(dst, r.Data)
	if err != nil {
		return dst, err
	}
	seq := aws.ToString(r.SequenceNumber)
	ts := aws.ToTime(r.ApproximateArrivalTimestamp)
	for i := start; i < len(dst); i++ {
		dst[i].SequenceNumber = seq
		dst[i].ApproximateArrivalTimestamp = ts
		if !aggregated {
			dst[i].PartitionKey = aws.ToString(r.PartitionKey)
		}
	}
	return dst, nil
}

// DeaggregateData is Deaggregate for the data of a Kinesis record alone. A
// plain record comes back as one user record with an empty partition key.
// aggregated reports whether data is an aggregate.
func DeaggregateData(data []byte) (records []UserRecord, aggregated bool, err error) {
	return AppendDeaggregatedData(nil, data)
}

// AppendDeaggregatedData is DeaggregateData appending to dst. On error it
// returns dst unchanged.
func AppendDeaggregatedData(dst []UserRecord, data []byte) (out []UserRecord, aggregated bool, err error) {
	body, ok := unframe(data)
	if ok {
		var sc counts
		if sc, ok = scan(body); ok {
			out, err = appendRecords(dst, body, sc)
			return out, true, err
		}
	}
	return append(dst, UserRecord{Data: data}), false, nil
}

// unframe checks the magic prefix and the digest, and returns the protobuf
// message. Like the KCL, it requires more than the 16 digest bytes after the
// prefix.
func unframe(data []byte) ([]byte, bool) {
	if len(data) <= len(aggregate.Magic)+aggregate.DigestLen || string(data[:len(aggregate.Magic)]) != aggregate.Magic {
		return nil, false
	}
	body, digest := aggregate.Parts(data)
	if sum := md5.Sum(body); !bytes.Equal(sum[:], digest) {
		return nil, false
	}
	return body, true
}

// counts describes a well-formed AggregatedRecord message.
type counts struct {
	pk, ehk, records int
	keyBytes         int
}

// Field numbers of the format.
const (
	fieldPartitionKeyTable    = 1
	fieldExplicitHashKeyTable = 2
	fieldRecords              = 3

	fieldPartitionKeyIndex    = 1
	fieldExplicitHashKeyIndex = 2
	fieldData                 = 3
	fieldTags                 = 4

	fieldTagKey = 1
)

// scan checks that body is a well-formed AggregatedRecord message with its
// required fields, and counts its entries.
func scan(body []byte) (counts, bool) {
	var c counts
	for len(body) > 0 {
		f, n := nextField(body)
		if n < 0 {
			return counts{}, false
		}
		body = body[n:]
		if f.typ != wireBytes {
			continue
		}
		switch f.num {
		case fieldPartitionKeyTable:
			c.pk++
			c.keyBytes += len(f.payload)
		case fieldExplicitHashKeyTable:
			c.ehk++
			c.keyBytes += len(f.payload)
		case fieldRecords:
			if !validRecord(f.payload) {
				return counts{}, false
			}
			c.records++
		}
	}
	return c, true
}

// validRecord checks a Record message: well formed, with its required
// partition_key_index and data, and well-formed tags.
func validRecord(msg []byte) bool {
	var hasPK, hasData bool
	for len(msg) > 0 {
		f, n := nextField(msg)
		if n < 0 {
			return false
		}
		msg = msg[n:]
		switch {
		case f.num == fieldPartitionKeyIndex && f.typ == wireVarint:
			hasPK = true
		case f.num == fieldData && f.typ == wireBytes:
			hasData = true
		case f.num == fieldTags && f.typ == wireBytes:
			if !validTag(f.payload) {
				return false
			}
		}
	}
	return hasPK && hasData
}

// validTag checks a Tag message: well formed, with its required key.
func validTag(msg []byte) bool {
	var hasKey bool
	for len(msg) > 0 {
		f, n := nextField(msg)
		if n < 0 {
			return false
		}
		msg = msg[n:]
		if f.num == fieldTagKey && f.typ == wireBytes {
			hasKey = true
		}
	}
	return hasKey
}

// smallTables is the number of table entries held on the stack.
const smallTables = 32

// appendRecords resolves the user records of a scanned message. All keys
// share one string allocation.
func appendRecords(dst []UserRecord, body []byte, c counts) ([]UserRecord, error) {
	var small [smallTables]string
	var tables []string
	if n := c.pk + c.ehk; n <= smallTables {
		tables = small[:n]
	} else {
		tables = make([]string, n)
	}
	pks, ehks := tables[:0:c.pk], tables[c.pk:c.pk]

	var keys strings.Builder
	keys.Grow(c.keyBytes)
	for rest := body; len(rest) > 0; {
		f, n := nextField(rest)
		rest = rest[n:]
		if f.typ != wireBytes || (f.num != fieldPartitionKeyTable && f.num != fieldExplicitHashKeyTable) {
			continue
		}
		off := keys.Len()
		keys.Write(f.payload)
		k := keys.String()[off:]
		if f.num == fieldPartitionKeyTable {
			pks = append(pks, k)
		} else {
			ehks = append(ehks, k)
		}
	}

	start := len(dst)
	dst = slices.Grow(dst, c.records)
	var sub uint64
	for rest := body; len(rest) > 0; {
		f, n := nextField(rest)
		rest = rest[n:]
		if f.num != fieldRecords || f.typ != wireBytes {
			continue
		}
		u, err := resolve(f.payload, pks, ehks)
		if err != nil {
			clear(dst[start:])
			return dst[:start], fmt.Errorf("%w: user record %d: %v", ErrCorrupt, sub, err)
		}
		u.SubSequenceNumber = sub
		sub++
		dst = append(dst, u)
	}
	return dst, nil
}

// resolve reads one validated Record message and looks up its keys.
func resolve(msg []byte, pks, ehks []string) (UserRecord, error) {
	var (
		pkIdx, ehkIdx uint64
		hasEHK        bool
		data          []byte
	)
	for len(msg) > 0 {
		f, n := nextField(msg)
		msg = msg[n:]
		switch {
		case f.num == fieldPartitionKeyIndex && f.typ == wireVarint:
			pkIdx = f.v
		case f.num == fieldExplicitHashKeyIndex && f.typ == wireVarint:
			ehkIdx, hasEHK = f.v, true
		case f.num == fieldData && f.typ == wireBytes:
			data = f.payload
		}
	}
	if pkIdx >= uint64(len(pks)) {
		return UserRecord{}, fmt.Errorf("partition key index %d outside a table of %d", pkIdx, len(pks))
	}
	u := UserRecord{PartitionKey: pks[pkIdx], Data: data, Aggregated: true}
	if hasEHK {
		if ehkIdx >= uint64(len(ehks)) {
			return UserRecord{}, fmt.Errorf("explicit hash key index %d outside a table of %d", ehkIdx, len(ehks))
		}
		if u.ExplicitHashKey = ehks[ehkIdx]; u.ExplicitHashKey == "" {
			return UserRecord{}, errors.New("empty explicit hash key")
		}
	}
	return u, nil
}

// EffectiveHashKey returns the decimal hash key that routes u: its
// ExplicitHashKey when set, else the MD5 hash of its partition key. For a
// plain record this is the hash of its partition key even if the producer
// sent it with an explicit hash key, which Kinesis does not return.
func (u UserRecord) EffectiveHashKey() string {
	if u.ExplicitHashKey != "" {
		return u.ExplicitHashKey
	}
	return hashkey.Of(u.PartitionKey).String()
}

// ErrHashKey is returned, wrapped, by InRange for a hash key that is not a
// decimal integer in 0..2^128-1 without leading zeros.
var ErrHashKey = errors.New("aggregation: invalid hash key")

// InRange reports whether every aggregated user record in records routes
// into the shard hash key range hr (inclusive). The KCL drops a whole
// aggregate when one of its user records falls outside the range of the
// shard it was read from, so an aggregate is only readable by the KCL if
// InRange holds for its user records and that shard's range. Plain records
// are skipped: Kinesis itself put them in their shard. The error wraps
// ErrHashKey for a malformed bound of hr or a malformed explicit hash key.
func InRange(records []UserRecord, hr types.HashKeyRange) (bool, error) {
	lo, err := hashkey.Parse(aws.ToString(hr.StartingHashKey))
	if err != nil {
		return false, fmt.Errorf("%w: starting hash key %q", ErrHashKey, aws.ToString(hr.StartingHashKey))
	}
	hi, err := hashkey.Parse(aws.ToString(hr.EndingHashKey))
	if err != nil {
		return false, fmt.Errorf("%w: ending hash key %q", ErrHashKey, aws.ToString(hr.EndingHashKey))
	}
	for _, u := range records {
		if !u.Aggregated {
			continue
		}
		h := hashkey.Of(u.PartitionKey)
		if u.ExplicitHashKey != "" {
			if h, err = hashkey.Parse(u.ExplicitHashKey); err != nil {
				return false, fmt.Errorf("%w: explicit hash key %q of user record %d", ErrHashKey, u.ExplicitHashKey, u.SubSequenceNumber)
			}
		}
		if h.Less(lo) || hi.Less(h) {
			return false, nil
		}
	}
	return true, nil
}

// Decode deaggregates records and decodes every user record's data with c,
// in order, so that a consumer reads back the values a producer wrote with
// the same Codec. On error it returns the values decoded so far and an error
// naming the record (index in records) and user record (sub-sequence
// number) that failed, wrapping ErrCorrupt or the Codec's error.
func Decode[T any](c codec.Codec[T], records []types.Record) ([]T, error) {
	var (
		out  []T
		subs []UserRecord
		err  error
	)
	for i, r := range records {
		if subs, err = AppendDeaggregated(subs[:0], r); err != nil {
			return out, fmt.Errorf("aggregation: record %d: %w", i, err)
		}
		for _, u := range subs {
			v, err := c.Decode(u.Data)
			if err != nil {
				return out, fmt.Errorf("aggregation: record %d, user record %d: %w", i, u.SubSequenceNumber, err)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// All yields the user records of records in order. A corrupt aggregate
// yields one zero UserRecord with its error (wrapping ErrCorrupt, and
// naming the record's index), and the sequence goes on with the next
// record; the caller may stop there.
func All(records []types.Record) iter.Seq2[UserRecord, error] {
	return func(yield func(UserRecord, error) bool) {
		var subs []UserRecord
		var err error
		for i, r := range records {
			if subs, err = AppendDeaggregated(subs[:0], r); err != nil {
				if !yield(UserRecord{}, fmt.Errorf("aggregation: record %d: %w", i, err)) {
					return
				}
				continue
			}
			for _, u := range subs {
				if !yield(u, nil) {
					return
				}
			}
		}
	}
}
