package kinesistest

import (
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// ErrStreamNotFound is returned (wrapped) by the inspection helpers when the
// server holds no stream of the given name.
var ErrStreamNotFound = errors.New("kinesistest: stream not found")

// Record is a record as the server stores it.
type Record struct {
	// ShardID is the shard that holds the record, e.g. "shardId-000000000001".
	ShardID string
	// SequenceNumber is the number PutRecord(s) returned for it.
	SequenceNumber string
	// PartitionKey is the record's partition key.
	PartitionKey string
	// ExplicitHashKey is the hash key the producer gave, or "" if none.
	ExplicitHashKey string
	// Data is the record's data. It is shared with the server and must not
	// be modified.
	Data []byte
	// ArrivalTime is when the server stored the record, on its clock (see
	// WithClock). GetRecords reports it rounded to the millisecond.
	ArrivalTime time.Time
}

// Kinesis returns the record as GetRecords returns it, a types.Record, for
// code that consumes the SDK's records, such as aggregation.Deaggregate and
// aggregation.Decode. ApproximateArrivalTimestamp is ArrivalTime rounded to
// the millisecond, as GetRecords reports it; Data is shared with the server
// and must not be modified.
func (r Record) Kinesis() types.Record {
	seq, key := r.SequenceNumber, r.PartitionKey
	at := time.UnixMilli(r.ArrivalTime.UnixMilli())
	return types.Record{
		Data:                        r.Data,
		PartitionKey:                &key,
		SequenceNumber:              &seq,
		ApproximateArrivalTimestamp: &at,
		EncryptionType:              types.EncryptionTypeNone,
	}
}

// KinesisRecords is Records with each record as GetRecords returns it (see
// Record.Kinesis), ready for aggregation.Decode. It returns an error
// wrapping ErrStreamNotFound when there is no such stream.
func (s *Server) KinesisRecords(stream string) ([]types.Record, error) {
	recs, err := s.Records(stream)
	if err != nil {
		return nil, err
	}
	out := make([]types.Record, len(recs))
	for i, r := range recs {
		out[i] = r.Kinesis()
	}
	return out, nil
}

// Shard describes a shard of a stream.
type Shard struct {
	// ID is the shard id, e.g. "shardId-000000000000".
	ID string
	// ParentID and AdjacentParentID name the shards this one came from by
	// SplitShard (ParentID only) or MergeShards (both); "" for the shards a
	// stream was created with.
	ParentID, AdjacentParentID string
	// StartingHashKey and EndingHashKey bound the hash keys the shard owns,
	// both included.
	StartingHashKey, EndingHashKey *big.Int
	// StartingSequenceNumber is the shard's first sequence number, below
	// that of any of its records.
	StartingSequenceNumber string
	// EndingSequenceNumber is set once the shard is closed (split or merged)
	// and is at or above the sequence numbers of all its records.
	EndingSequenceNumber string
	// Open reports whether the shard takes new records.
	Open bool
	// Records is the number of records the shard holds.
	Records int
}

// Contains reports whether hashKey falls in the shard's hash key range.
func (s Shard) Contains(hashKey *big.Int) bool {
	return s.StartingHashKey.Cmp(hashKey) <= 0 && hashKey.Cmp(s.EndingHashKey) <= 0
}

// CreateStream creates a PROVISIONED stream of the given number of shards
// with the server's default maximum record size, as CreateStream through the
// API would, and ACTIVE at once. It returns an error when the name is not
// valid for Kinesis, shards is below 1, the stream exists or the shard quota
// would be exceeded.
func (s *Server) CreateStream(name string, shards int) error {
	if len(name) < 1 || len(name) > 128 || !isName(name) {
		return fmt.Errorf("kinesistest: invalid stream name %q: want 1 to 128 of [a-zA-Z0-9_.-]", name)
	}
	if shards < 1 {
		return fmt.Errorf("kinesistest: CreateStream(%q, %d): want at least one shard", name, shards)
	}
	if err := s.createStream(name, shards, s.maxKiB, modeProvisioned); err != nil {
		return fmt.Errorf("kinesistest: CreateStream(%q): %w", name, err)
	}
	return nil
}

func (s *Server) stream(name string) (*stream, error) {
	s.mu.RLock()
	st := s.streams[name]
	s.mu.RUnlock()
	if st == nil {
		return nil, fmt.Errorf("%w: %q", ErrStreamNotFound, name)
	}
	return st, nil
}

// Records returns every record a stream holds, shard by shard in shard id
// order, and in sequence number order within a shard, without going through
// GetRecords. It returns an error wrapping ErrStreamNotFound when there is
// no such stream.
func (s *Server) Records(stream string) ([]Record, error) {
	st, err := s.stream(stream)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for _, sh := range st.shards {
		n += len(sh.records)
	}
	out := make([]Record, 0, n)
	for _, sh := range st.shards {
		out = st.appendRecords(out, sh)
	}
	return out, nil
}

// ShardRecords returns the records of one shard in sequence number order.
// It returns an error wrapping ErrStreamNotFound when there is no such
// stream, and an error when the stream has no such shard.
func (s *Server) ShardRecords(stream, shardID string) ([]Record, error) {
	st, err := s.stream(stream)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	sh := st.shard(shardID)
	if sh == nil {
		return nil, fmt.Errorf("kinesistest: stream %q has no shard %q", stream, shardID)
	}
	return st.appendRecords(make([]Record, 0, len(sh.records)), sh), nil
}

// appendRecords appends sh's records to out. Callers hold st.mu.
func (st *stream) appendRecords(out []Record, sh *shard) []Record {
	for i := range sh.records {
		r := &sh.records[i]
		out = append(out, Record{
			ShardID:         sh.id,
			SequenceNumber:  formatSeq(st.epoch, r.counter, sh.idx),
			PartitionKey:    r.key,
			ExplicitHashKey: r.ehk,
			Data:            r.data,
			ArrivalTime:     time.Unix(0, r.arrival),
		})
	}
	return out
}

// Shards returns a stream's shards, open and closed, in shard id order. It
// returns an error wrapping ErrStreamNotFound when there is no such stream.
func (s *Server) Shards(stream string) ([]Shard, error) {
	st, err := s.stream(stream)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]Shard, 0, len(st.shards))
	for _, sh := range st.shards {
		out = append(out, Shard{
			ID:                     sh.id,
			ParentID:               sh.parent,
			AdjacentParentID:       sh.adjParent,
			StartingHashKey:        sh.start.big(),
			EndingHashKey:          sh.end.big(),
			StartingSequenceNumber: sh.startSeq(st.epoch),
			EndingSequenceNumber:   sh.endSeq(st.epoch),
			Open:                   !sh.closed,
			Records:                len(sh.records),
		})
	}
	return out, nil
}
