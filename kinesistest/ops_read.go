package kinesistest

import (
	"encoding/base64"
	"encoding/binary"
	"sort"
	"time"
)

const (
	iterVersion     = 1
	iterHeader      = 1 + 8 + 4 + 8 + 8
	maxGetRecords   = 10000
	maxGetRecordsSz = 10 << 20
)

// iterator is the content of a shard iterator: a position (an index into
// the shard's records, which are never trimmed) and when it was issued.
type iterator struct {
	epoch  uint64
	shard  int
	pos    int
	issued int64 // Unix nanoseconds
	stream string
}

func (it iterator) encode() string {
	b := make([]byte, iterHeader, iterHeader+len(it.stream))
	b[0] = iterVersion
	binary.BigEndian.PutUint64(b[1:], it.epoch)
	binary.BigEndian.PutUint32(b[9:], uint32(it.shard))
	binary.BigEndian.PutUint64(b[13:], uint64(it.pos))
	binary.BigEndian.PutUint64(b[21:], uint64(it.issued))
	b = append(b, it.stream...)
	return base64.StdEncoding.EncodeToString(b)
}

func decodeIterator(s string) (iterator, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) <= iterHeader || b[0] != iterVersion {
		return iterator{}, false
	}
	it := iterator{
		epoch:  binary.BigEndian.Uint64(b[1:]),
		shard:  int(binary.BigEndian.Uint32(b[9:])),
		pos:    int(binary.BigEndian.Uint64(b[13:])),
		issued: int64(binary.BigEndian.Uint64(b[21:])),
		stream: string(b[iterHeader:]),
	}
	if it.pos < 0 || it.shard < 0 || !isName(it.stream) {
		return iterator{}, false
	}
	return it, true
}

type getShardIteratorIn struct {
	streamRef
	ShardId                *string  `json:"ShardId"`
	ShardIteratorType      *string  `json:"ShardIteratorType"`
	StartingSequenceNumber *string  `json:"StartingSequenceNumber"`
	Timestamp              *float64 `json:"Timestamp"`
}

// opGetShardIterator supports TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER,
// AFTER_SEQUENCE_NUMBER and AT_TIMESTAMP. Iterators expire after 5 minutes
// on the server's clock.
func (s *Server) opGetShardIterator(c *call) (any, *apiError) {
	var in getShardIteratorIn
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	var v violations
	in.check(&v)
	v.checkString(in.ShardId, "shardId", true, 1, 128, isName, namePatternText)
	if in.ShardIteratorType == nil {
		v.add("null", "shardIteratorType", "Member must not be null")
	} else {
		switch *in.ShardIteratorType {
		case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP":
		default:
			v.add(quoteVal(*in.ShardIteratorType), "shardIteratorType",
				"Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]")
		}
	}
	v.checkString(in.StartingSequenceNumber, "startingSequenceNumber", false, 0, 0, isSequenceNumberForm, seqPatternText)
	if err := v.err(); err != nil {
		return nil, err
	}
	st, err := s.lookup(in.streamRef)
	if err != nil {
		return nil, err
	}
	typ := *in.ShardIteratorType
	now := s.now()

	st.mu.Lock()
	defer st.mu.Unlock()
	if st.deleted {
		return nil, errStreamGone(st.name)
	}
	sh := st.shard(*in.ShardId)
	if sh == nil {
		return nil, clientErr(codeNotFound, "Shard %s in stream %s under account %s does not exist", *in.ShardId, st.name, AccountID)
	}
	bySeq := typ == "AT_SEQUENCE_NUMBER" || typ == "AFTER_SEQUENCE_NUMBER"
	if bySeq != (in.StartingSequenceNumber != nil) {
		have := "no StartingSequenceNumber"
		if in.StartingSequenceNumber != nil {
			have = "also a StartingSequenceNumber"
		}
		return nil, clientErr(codeInvalidArgument,
			"Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified %s and %s.", typ, have)
	}
	var pos int
	switch typ {
	case "TRIM_HORIZON":
		pos = 0
	case "LATEST":
		pos = len(sh.records)
	case "AT_TIMESTAMP":
		if in.Timestamp == nil {
			return nil, clientErr(codeInvalidArgument, "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.")
		}
		t := timeFromEpoch(*in.Timestamp)
		if t.After(now) {
			return nil, clientErr(codeInvalidArgument, "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: %d, currentTimestampInMillis: %d", t.UnixMilli(), now.UnixMilli())
		}
		tn := t.UnixNano()
		pos = sort.Search(len(sh.records), func(i int) bool { return sh.records[i].arrival >= tn })
	default:
		seq := *in.StartingSequenceNumber
		p, ok := parseSeq(seq)
		switch {
		case !ok:
			return nil, clientErr(codeInvalidArgument, "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid.", seq, sh.id, st.name, AccountID)
		case p.shardIdx != sh.idx:
			return nil, clientErr(codeInvalidArgument, "Invalid StartingSequenceNumber. It encodes %s, while it was used in a call to a shard with %s", shardName(p.shardIdx), sh.id)
		case p.epoch != st.epoch:
			return nil, clientErr(codeInvalidArgument, "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid because it did not come from this stream.", seq, sh.id, st.name, AccountID)
		}
		target := p.counter
		if typ == "AFTER_SEQUENCE_NUMBER" {
			target++
		}
		pos = sort.Search(len(sh.records), func(i int) bool { return sh.records[i].counter >= target })
	}
	it := iterator{epoch: st.epoch, shard: sh.idx, pos: pos, issued: now.UnixNano(), stream: st.name}
	return struct {
		ShardIterator string `json:"ShardIterator"`
	}{it.encode()}, nil
}

type getRecordsIn struct {
	ShardIterator *string `json:"ShardIterator"`
	Limit         *int64  `json:"Limit"`
}

type recordW struct {
	SequenceNumber              string    `json:"SequenceNumber"`
	ApproximateArrivalTimestamp epochTime `json:"ApproximateArrivalTimestamp"`
	Data                        []byte    `json:"Data"`
	PartitionKey                string    `json:"PartitionKey"`
}

type getRecordsOut struct {
	Records            []recordW     `json:"Records"`
	NextShardIterator  *string       `json:"NextShardIterator,omitempty"`
	MillisBehindLatest int64         `json:"MillisBehindLatest"`
	ChildShards        []childShardW `json:"ChildShards,omitempty"`
}

// opGetRecords returns up to Limit records (default and most 10000) and at
// most 10 MiB of data from the iterator's position. When the returned records
// reach the end of a closed shard, NextShardIterator is absent and
// ChildShards names the shards that follow. MillisBehindLatest is zero when
// the response reaches the shard's last record, else the time from the
// arrival of the last returned record to now. Read throughput limits are not
// enforced.
func (s *Server) opGetRecords(c *call) (any, *apiError) {
	var in getRecordsIn
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.checkString(in.ShardIterator, "shardIterator", true, 1, 512, nil, "")
	v.checkInt(in.Limit, "limit", false, 1, maxGetRecords)
	if err := v.err(); err != nil {
		return nil, err
	}
	it, ok := decodeIterator(*in.ShardIterator)
	if !ok {
		return nil, clientErr(codeInvalidArgument, "Invalid ShardIterator.")
	}
	now := s.now()
	if age := now.Sub(time.Unix(0, it.issued)); age > iteratorTTL {
		return nil, clientErr(codeExpiredIterator,
			"Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of %d milliseconds.",
			time.Unix(0, it.issued).UTC().Format(time.UnixDate), now.UTC().Format(time.UnixDate), iteratorTTL.Milliseconds())
	}
	limit := maxGetRecords
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	s.mu.RLock()
	st := s.streams[it.stream]
	s.mu.RUnlock()
	if st == nil || st.epoch != it.epoch {
		return nil, clientErr(codeNotFound, "Shard %s in stream %s under account %s does not exist", shardName(it.shard), it.stream, AccountID)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.deleted || it.shard >= len(st.shards) {
		return nil, clientErr(codeNotFound, "Shard %s in stream %s under account %s does not exist", shardName(it.shard), it.stream, AccountID)
	}
	sh := st.shards[it.shard]
	if it.pos > len(sh.records) {
		return nil, clientErr(codeInvalidArgument, "Invalid ShardIterator.")
	}
	out := getRecordsOut{Records: []recordW{}}
	end, size := it.pos, 0
	for end < len(sh.records) && end-it.pos < limit {
		r := &sh.records[end]
		sz := len(r.data) + len(r.key)
		if end > it.pos && size+sz > maxGetRecordsSz {
			break
		}
		size += sz
		out.Records = append(out.Records, recordW{
			SequenceNumber:              formatSeq(st.epoch, r.counter, sh.idx),
			ApproximateArrivalTimestamp: epochTime(time.Unix(0, r.arrival)),
			Data:                        r.data,
			PartitionKey:                r.key,
		})
		end++
	}
	if end < len(sh.records) && end > it.pos {
		out.MillisBehindLatest = max(0, now.Sub(time.Unix(0, sh.records[end-1].arrival)).Milliseconds())
	} else if end < len(sh.records) {
		out.MillisBehindLatest = max(0, now.Sub(time.Unix(0, sh.records[end].arrival)).Milliseconds())
	}
	if sh.closed && end == len(sh.records) {
		for _, child := range st.shards {
			if child.parent == sh.id || child.adjParent == sh.id {
				parents := []string{child.parent}
				if child.adjParent != "" {
					parents = append(parents, child.adjParent)
				}
				out.ChildShards = append(out.ChildShards, childShardW{
					ShardId: child.id, ParentShards: parents,
					HashKeyRange: hashKeyRangeW{child.start.String(), child.end.String()},
				})
			}
		}
		return out, nil
	}
	next := iterator{epoch: it.epoch, shard: it.shard, pos: end, issued: now.UnixNano(), stream: it.stream}.encode()
	out.NextShardIterator = &next
	return out, nil
}
