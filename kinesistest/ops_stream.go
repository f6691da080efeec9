package kinesistest

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"time"
)

const (
	modeProvisioned   = "PROVISIONED"
	modeOnDemand      = "ON_DEMAND"
	onDemandShards    = 4
	retentionHours    = 24
	maxListShards     = 1000
	defaultListShards = 1000
)

type createStreamIn struct {
	StreamName         *string      `json:"StreamName"`
	ShardCount         *int64       `json:"ShardCount"`
	MaxRecordSizeInKiB *int64       `json:"MaxRecordSizeInKiB"`
	StreamModeDetails  *streamModeW `json:"StreamModeDetails"`
}

// opCreateStream creates a stream that is ACTIVE at once (AWS passes through
// CREATING for some seconds first; waiters and polls work the same).
// A stream in ON_DEMAND mode starts with 4 shards when ShardCount is absent;
// a PROVISIONED stream (the default mode) needs ShardCount.
func (s *Server) opCreateStream(c *call) (any, *apiError) {
	var in createStreamIn
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.checkString(in.StreamName, "streamName", true, 1, 128, isName, namePatternText)
	v.checkInt(in.ShardCount, "shardCount", false, 1, 1<<31-1)
	v.checkInt(in.MaxRecordSizeInKiB, "maxRecordSizeInKiB", false, minRecordKiB, maxRecordKiB)
	mode := modeProvisioned
	if in.StreamModeDetails != nil {
		mode = in.StreamModeDetails.StreamMode
		if mode != modeProvisioned && mode != modeOnDemand {
			v.add(quoteVal(mode), "streamModeDetails.streamMode", "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]")
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	shards := onDemandShards
	switch {
	case in.ShardCount != nil:
		shards = int(*in.ShardCount)
	case mode == modeProvisioned:
		return nil, clientErr(codeInvalidArgument, "ShardCount is required for a stream in PROVISIONED mode.")
	}
	kib := s.maxKiB
	if in.MaxRecordSizeInKiB != nil {
		kib = int(*in.MaxRecordSizeInKiB)
	}
	if err := s.createStream(*in.StreamName, shards, kib, mode); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (s *Server) createStream(name string, shards, kib int, mode string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams[name] != nil {
		return clientErr(codeInUse, "Stream %s under account %s already exists.", name, AccountID)
	}
	if s.openShards+shards > s.maxShards {
		return clientErr(codeLimitExceeded,
			"This request would exceed the shard limit for the account %s in %s. Current shard count for the account: %d. Limit: %d. Number of additional shards that would have resulted from this request: %d.",
			AccountID, Region, s.openShards, s.maxShards, shards)
	}
	s.epoch++
	s.streams[name] = newStream(name, s.arn(name), s.epoch, s.now(), shards, kib<<10, mode)
	s.openShards += shards
	return nil
}

func (s *Server) opDeleteStream(c *call) (any, *apiError) {
	var in streamRef
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	var v violations
	in.check(&v)
	if err := v.err(); err != nil {
		return nil, err
	}
	st, err := s.lookup(in)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams[st.name] != st {
		return nil, errStreamGone(st.name)
	}
	delete(s.streams, st.name)
	st.mu.Lock()
	st.deleted = true
	s.openShards -= st.openCount()
	st.mu.Unlock()
	return struct{}{}, nil
}

type streamSummaryW struct {
	StreamName              string             `json:"StreamName"`
	StreamARN               string             `json:"StreamARN"`
	StreamStatus            string             `json:"StreamStatus"`
	StreamModeDetails       streamModeW        `json:"StreamModeDetails"`
	RetentionPeriodHours    int                `json:"RetentionPeriodHours"`
	StreamCreationTimestamp epochTime          `json:"StreamCreationTimestamp"`
	EnhancedMonitoring      []enhancedMetricsW `json:"EnhancedMonitoring"`
	EncryptionType          string             `json:"EncryptionType"`
	OpenShardCount          int                `json:"OpenShardCount"`
	ConsumerCount           int                `json:"ConsumerCount"`
	MaxRecordSizeInKiB      int                `json:"MaxRecordSizeInKiB"`
	// RecordDistributionStrategy is USER_PARTITION_KEY or AUTO.
	RecordDistributionStrategy string `json:"RecordDistributionStrategy"`
}

func (s *Server) opDescribeStreamSummary(c *call) (any, *apiError) {
	var in streamRef
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	var v violations
	in.check(&v)
	if err := v.err(); err != nil {
		return nil, err
	}
	st, err := s.lookup(in)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.deleted {
		return nil, errStreamGone(st.name)
	}
	return struct {
		StreamDescriptionSummary streamSummaryW `json:"StreamDescriptionSummary"`
	}{streamSummaryW{
		StreamName:                 st.name,
		StreamARN:                  st.arn,
		StreamStatus:               "ACTIVE",
		StreamModeDetails:          streamModeW{st.mode},
		RetentionPeriodHours:       retentionHours,
		StreamCreationTimestamp:    epochTime(st.created),
		EnhancedMonitoring:         []enhancedMetricsW{{ShardLevelMetrics: []string{}}},
		EncryptionType:             "NONE",
		OpenShardCount:             st.openCount(),
		MaxRecordSizeInKiB:         st.maxRecordSize >> 10,
		RecordDistributionStrategy: st.distribution,
	}}, nil
}

type describeStreamIn struct {
	streamRef
	Limit                 *int64  `json:"Limit"`
	ExclusiveStartShardId *string `json:"ExclusiveStartShardId"`
}

func (s *Server) opDescribeStream(c *call) (any, *apiError) {
	var in describeStreamIn
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	var v violations
	in.check(&v)
	v.checkInt(in.Limit, "limit", false, 1, 10000)
	v.checkString(in.ExclusiveStartShardId, "exclusiveStartShardId", false, 1, 128, isName, namePatternText)
	if err := v.err(); err != nil {
		return nil, err
	}
	st, err := s.lookup(in.streamRef)
	if err != nil {
		return nil, err
	}
	limit := 100
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	after := -1
	if in.ExclusiveStartShardId != nil {
		if idx, ok := parseShardName(*in.ExclusiveStartShardId); ok {
			after = idx
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.deleted {
		return nil, errStreamGone(st.name)
	}
	shards := []shardW{}
	more := false
	for _, sh := range st.shards {
		if sh.idx <= after {
			continue
		}
		if len(shards) == limit {
			more = true
			break
		}
		shards = append(shards, st.wireShard(sh))
	}
	type desc struct {
		StreamName              string             `json:"StreamName"`
		StreamARN               string             `json:"StreamARN"`
		StreamStatus            string             `json:"StreamStatus"`
		StreamModeDetails       streamModeW        `json:"StreamModeDetails"`
		Shards                  []shardW           `json:"Shards"`
		HasMoreShards           bool               `json:"HasMoreShards"`
		RetentionPeriodHours    int                `json:"RetentionPeriodHours"`
		StreamCreationTimestamp epochTime          `json:"StreamCreationTimestamp"`
		EnhancedMonitoring      []enhancedMetricsW `json:"EnhancedMonitoring"`
		EncryptionType          string             `json:"EncryptionType"`
	}
	return struct {
		StreamDescription desc `json:"StreamDescription"`
	}{desc{
		StreamName:              st.name,
		StreamARN:               st.arn,
		StreamStatus:            "ACTIVE",
		StreamModeDetails:       streamModeW{st.mode},
		Shards:                  shards,
		HasMoreShards:           more,
		RetentionPeriodHours:    retentionHours,
		StreamCreationTimestamp: epochTime(st.created),
		EnhancedMonitoring:      []enhancedMetricsW{{ShardLevelMetrics: []string{}}},
		EncryptionType:          "NONE",
	}}, nil
}

// wireShard describes sh. Callers hold st.mu.
func (st *stream) wireShard(sh *shard) shardW {
	return shardW{
		ShardId:               sh.id,
		ParentShardId:         sh.parent,
		AdjacentParentShardId: sh.adjParent,
		HashKeyRange:          hashKeyRangeW{sh.start.String(), sh.end.String()},
		SequenceNumberRange:   seqRangeW{sh.startSeq(st.epoch), sh.endSeq(st.epoch)},
	}
}

type listStreamsIn struct {
	Limit                    *int64  `json:"Limit"`
	ExclusiveStartStreamName *string `json:"ExclusiveStartStreamName"`
	NextToken                *string `json:"NextToken"`
}

type streamSummaryListW struct {
	StreamName              string      `json:"StreamName"`
	StreamARN               string      `json:"StreamARN"`
	StreamStatus            string      `json:"StreamStatus"`
	StreamModeDetails       streamModeW `json:"StreamModeDetails"`
	StreamCreationTimestamp epochTime   `json:"StreamCreationTimestamp"`
}

// opListStreams lists streams in name order. Its NextToken is the last name
// returned, base64-encoded.
func (s *Server) opListStreams(c *call) (any, *apiError) {
	var in listStreamsIn
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.checkInt(in.Limit, "limit", false, 1, 10000)
	v.checkString(in.ExclusiveStartStreamName, "exclusiveStartStreamName", false, 1, 128, isName, namePatternText)
	if err := v.err(); err != nil {
		return nil, err
	}
	limit := 100
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	after := ""
	if in.ExclusiveStartStreamName != nil {
		after = *in.ExclusiveStartStreamName
	}
	if in.NextToken != nil {
		b, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		if err != nil {
			return nil, clientErr(codeInvalidArgument, "Invalid NextToken.")
		}
		after = string(b)
	}
	s.mu.RLock()
	list := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		if st.name > after {
			list = append(list, st)
		}
	}
	s.mu.RUnlock()
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	more := len(list) > limit
	if more {
		list = list[:limit]
	}
	names := make([]string, 0, len(list))
	sums := make([]streamSummaryListW, 0, len(list))
	for _, st := range list {
		names = append(names, st.name)
		sums = append(sums, streamSummaryListW{st.name, st.arn, "ACTIVE", streamModeW{st.mode}, epochTime(st.created)})
	}
	out := struct {
		StreamNames     []string             `json:"StreamNames"`
		HasMoreStreams  bool                 `json:"HasMoreStreams"`
		NextToken       string               `json:"NextToken,omitempty"`
		StreamSummaries []streamSummaryListW `json:"StreamSummaries"`
	}{StreamNames: names, HasMoreStreams: more, StreamSummaries: sums}
	if more {
		out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(names[len(names)-1]))
	}
	return out, nil
}

type shardFilterW struct {
	Type      string   `json:"Type"`
	ShardId   *string  `json:"ShardId"`
	Timestamp *float64 `json:"Timestamp"`
}

type listShardsIn struct {
	streamRef
	NextToken               *string       `json:"NextToken"`
	MaxResults              *int64        `json:"MaxResults"`
	ExclusiveStartShardId   *string       `json:"ExclusiveStartShardId"`
	ShardFilter             *shardFilterW `json:"ShardFilter"`
	StreamCreationTimestamp *float64      `json:"StreamCreationTimestamp"`
}

// listToken is the content of a ListShards NextToken: where the listing
// stands and the filter it applies.
type listToken struct {
	Stream string        `json:"s"`
	Epoch  uint64        `json:"e"`
	After  int           `json:"a"`
	Issued int64         `json:"t"` // Unix milliseconds
	Filter *shardFilterW `json:"f,omitempty"`
}

// opListShards lists a stream's shards in shard id order, up to MaxResults
// (default and most 1000) a page. NextToken is valid for 300 seconds and may
// not come with StreamName or ExclusiveStartShardId, as on AWS.
func (s *Server) opListShards(c *call) (any, *apiError) {
	var in listShardsIn
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	var v violations
	in.check(&v)
	v.checkString(in.NextToken, "nextToken", false, 1, 1048576, nil, "")
	v.checkInt(in.MaxResults, "maxResults", false, 1, 10000)
	v.checkString(in.ExclusiveStartShardId, "exclusiveStartShardId", false, 1, 128, isName, namePatternText)
	if in.ShardFilter != nil {
		switch in.ShardFilter.Type {
		case "AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST", "AT_TIMESTAMP", "FROM_TIMESTAMP":
		default:
			v.add(quoteVal(in.ShardFilter.Type), "shardFilter.type",
				"Member must satisfy enum value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]")
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	hasName := in.StreamName != nil || in.StreamARN != nil
	now := s.now()
	var tok listToken
	switch {
	case in.NextToken != nil && hasName:
		return nil, clientErr(codeInvalidArgument, "NextToken and StreamName cannot be provided together.")
	case in.NextToken != nil && in.ExclusiveStartShardId != nil:
		return nil, clientErr(codeInvalidArgument, "NextToken and ExclusiveStartShardId cannot be provided together.")
	case in.NextToken != nil:
		b, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		if err != nil || json.Unmarshal(b, &tok) != nil || tok.Stream == "" {
			return nil, clientErr(codeInvalidArgument, "Invalid NextToken.")
		}
		if now.Sub(time.UnixMilli(tok.Issued)) > nextTokenTTL {
			return nil, clientErr(codeExpiredNextToken, "The timestamp for this token has expired. Token timestamp: %d, current time: %d.", tok.Issued, now.UnixMilli())
		}
	case !hasName:
		return nil, clientErr(codeInvalidArgument, "Either NextToken or StreamName should be provided.")
	default:
		tok.After = -1
		if in.ExclusiveStartShardId != nil {
			if idx, ok := parseShardName(*in.ExclusiveStartShardId); ok {
				tok.After = idx
			}
		}
		if f := in.ShardFilter; f != nil {
			switch f.Type {
			case "AFTER_SHARD_ID":
				if f.ShardId == nil {
					return nil, clientErr(codeInvalidArgument, "Must specify ShardId in ShardFilter when ShardFilter type is AFTER_SHARD_ID.")
				}
			case "AT_TIMESTAMP", "FROM_TIMESTAMP":
				if f.Timestamp == nil {
					return nil, clientErr(codeInvalidArgument, "Must specify Timestamp in ShardFilter when ShardFilter type is %s.", f.Type)
				}
			}
			tok.Filter = f
		}
	}
	var st *stream
	if in.NextToken != nil {
		s.mu.RLock()
		st = s.streams[tok.Stream]
		s.mu.RUnlock()
		if st == nil || st.epoch != tok.Epoch {
			return nil, errStreamGone(tok.Stream)
		}
	} else {
		var err *apiError
		if st, err = s.lookup(in.streamRef); err != nil {
			return nil, err
		}
		tok.Stream, tok.Epoch = st.name, st.epoch
	}
	limit := defaultListShards
	if in.MaxResults != nil {
		limit = min(int(*in.MaxResults), maxListShards)
	}

	st.mu.Lock()
	defer st.mu.Unlock()
	if st.deleted {
		return nil, errStreamGone(st.name)
	}
	keep := shardFilterFunc(st, tok.Filter)
	shards := []shardW{}
	last, more := tok.After, false
	for _, sh := range st.shards {
		if sh.idx <= tok.After || !keep(sh) {
			continue
		}
		if len(shards) == limit {
			more = true
			break
		}
		shards = append(shards, st.wireShard(sh))
		last = sh.idx
	}
	out := struct {
		Shards    []shardW `json:"Shards"`
		NextToken string   `json:"NextToken,omitempty"`
	}{Shards: shards}
	if more {
		tok.After, tok.Issued = last, now.UnixMilli()
		b, _ := json.Marshal(tok)
		out.NextToken = base64.RawURLEncoding.EncodeToString(b)
	}
	return out, nil
}

// shardFilterFunc returns the test a ShardFilter applies. Nothing is ever
// trimmed here, so the trim horizon is the stream's creation: AT_TRIM_HORIZON
// gives the shards the stream was created with and FROM_TRIM_HORIZON all.
func shardFilterFunc(st *stream, f *shardFilterW) func(*shard) bool {
	if f == nil {
		return func(*shard) bool { return true }
	}
	switch f.Type {
	case "AFTER_SHARD_ID":
		after, ok := parseShardName(*f.ShardId)
		if !ok {
			after = -1
		}
		return func(sh *shard) bool { return sh.idx > after }
	case "AT_TRIM_HORIZON":
		return func(sh *shard) bool { return !sh.created.After(st.created) && sh.parent == "" }
	case "AT_LATEST":
		return func(sh *shard) bool { return !sh.closed }
	case "AT_TIMESTAMP":
		t := timeFromEpoch(*f.Timestamp)
		return func(sh *shard) bool { return !sh.created.After(t) && (!sh.closed || sh.closedAt.After(t)) }
	case "FROM_TIMESTAMP":
		t := timeFromEpoch(*f.Timestamp)
		return func(sh *shard) bool { return !sh.closed || sh.closedAt.After(t) }
	}
	return func(*shard) bool { return true } // FROM_TRIM_HORIZON
}

type splitShardIn struct {
	streamRef
	ShardToSplit       *string `json:"ShardToSplit"`
	NewStartingHashKey *string `json:"NewStartingHashKey"`
}

// opSplitShard splits an open shard at once (AWS passes through UPDATING):
// the parent closes with an EndingSequenceNumber and two open children take
// [start, NewStartingHashKey-1] and [NewStartingHashKey, end].
func (s *Server) opSplitShard(c *call) (any, *apiError) {
	var in splitShardIn
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	var v violations
	in.check(&v)
	v.checkString(in.ShardToSplit, "shardToSplit", true, 1, 128, isName, namePatternText)
	v.checkString(in.NewStartingHashKey, "newStartingHashKey", true, 1, 128, isExplicitHashKeyForm, ehkPatternText)
	if err := v.err(); err != nil {
		return nil, err
	}
	st, err := s.lookup(in.streamRef)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.deleted {
		return nil, errStreamGone(st.name)
	}
	sh := st.shard(*in.ShardToSplit)
	if sh == nil {
		return nil, clientErr(codeNotFound, "Could not find shard %s in stream %s under account %s.", *in.ShardToSplit, st.name, AccountID)
	}
	if sh.closed {
		return nil, clientErr(codeInvalidArgument, "Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for splitting.", sh.id, st.name, AccountID)
	}
	h, ok := parseDecimalU128(*in.NewStartingHashKey)
	lo, _ := sh.start.add1()
	if !ok || h.cmp(lo) <= 0 || h.cmp(sh.end) >= 0 {
		return nil, clientErr(codeInvalidArgument,
			"NewStartingHashKey %s used in SplitShard() on shard %s in stream %s under account %s is not both greater than one plus the shard's StartingHashKey %s and less than the shard's EndingHashKey %s.",
			*in.NewStartingHashKey, sh.id, st.name, AccountID, sh.start, sh.end)
	}
	if s.openShards+1 > s.maxShards {
		return nil, clientErr(codeLimitExceeded, "This request would exceed the shard limit for the account %s in %s. Current shard count for the account: %d. Limit: %d. Number of additional shards that would have resulted from this request: 1.",
			AccountID, Region, s.openShards, s.maxShards)
	}
	now := s.now()
	st.closeShard(sh, now)
	st.addShard(sh.start, h.sub1(), sh.id, "", now)
	st.addShard(h, sh.end, sh.id, "", now)
	st.reindex()
	s.openShards++
	return struct{}{}, nil
}

// closeShard closes sh: its last sequence number is the stream's counter now,
// which is at or above every record it holds. Callers hold st.mu.
func (st *stream) closeShard(sh *shard, now time.Time) {
	sh.closed, sh.endCounter, sh.closedAt = true, st.counter, now
}

// addShard appends a new open shard. Callers hold st.mu and call reindex.
func (st *stream) addShard(start, end u128, parent, adjParent string, now time.Time) {
	idx := len(st.shards)
	st.shards = append(st.shards, &shard{
		idx: idx, id: shardName(idx), start: start, end: end,
		parent: parent, adjParent: adjParent, startCounter: st.counter, created: now,
	})
}

type mergeShardsIn struct {
	streamRef
	ShardToMerge         *string `json:"ShardToMerge"`
	AdjacentShardToMerge *string `json:"AdjacentShardToMerge"`
}

// opMergeShards merges two open shards whose hash key ranges touch into one
// (at once; AWS passes through UPDATING). The child's ParentShardId is
// ShardToMerge and its AdjacentParentShardId is AdjacentShardToMerge.
func (s *Server) opMergeShards(c *call) (any, *apiError) {
	var in mergeShardsIn
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	var v violations
	in.check(&v)
	v.checkString(in.ShardToMerge, "shardToMerge", true, 1, 128, isName, namePatternText)
	v.checkString(in.AdjacentShardToMerge, "adjacentShardToMerge", true, 1, 128, isName, namePatternText)
	if err := v.err(); err != nil {
		return nil, err
	}
	st, err := s.lookup(in.streamRef)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.deleted {
		return nil, errStreamGone(st.name)
	}
	a, b := st.shard(*in.ShardToMerge), st.shard(*in.AdjacentShardToMerge)
	for i, sh := range []*shard{a, b} {
		id := []string{*in.ShardToMerge, *in.AdjacentShardToMerge}[i]
		if sh == nil {
			return nil, clientErr(codeNotFound, "Could not find shard %s in stream %s under account %s.", id, st.name, AccountID)
		}
		if sh.closed {
			return nil, clientErr(codeInvalidArgument, "Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for merging.", sh.id, st.name, AccountID)
		}
	}
	lo, hi := a, b
	if b.start.cmp(a.start) < 0 {
		lo, hi = b, a
	}
	next, overflow := lo.end.add1()
	if a == b || overflow || next.cmp(hi.start) != 0 {
		return nil, clientErr(codeInvalidArgument, "Shards %s and %s in stream %s under account %s are not an adjacent pair of shards eligible for merging.", a.id, b.id, st.name, AccountID)
	}
	now := s.now()
	st.closeShard(a, now)
	st.closeShard(b, now)
	st.addShard(lo.start, hi.end, a.id, b.id, now)
	st.reindex()
	s.openShards--
	return struct{}{}, nil
}

type updateMaxRecordSizeIn struct {
	streamRef
	MaxRecordSizeInKiB *int64 `json:"MaxRecordSizeInKiB"`
}

func (s *Server) opUpdateMaxRecordSize(c *call) (any, *apiError) {
	var in updateMaxRecordSizeIn
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	var v violations
	in.check(&v)
	v.checkInt(in.MaxRecordSizeInKiB, "maxRecordSizeInKiB", true, minRecordKiB, maxRecordKiB)
	if err := v.err(); err != nil {
		return nil, err
	}
	st, err := s.lookup(in.streamRef)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.deleted {
		return nil, errStreamGone(st.name)
	}
	st.maxRecordSize = int(*in.MaxRecordSizeInKiB) << 10
	return struct{}{}, nil
}

// Record distribution strategies (UpdateStreamRecordDistributionStrategy).
const (
	distUser = "USER_PARTITION_KEY"
	distAuto = "AUTO"
)

type updateDistributionIn struct {
	StreamARN                  *string `json:"StreamARN"`
	RecordDistributionStrategy *string `json:"RecordDistributionStrategy"`
}

// opUpdateStreamRecordDistributionStrategy sets a stream's record
// distribution strategy. As on AWS it names the stream by StreamARN alone,
// applies to ON_DEMAND streams only (InvalidArgumentException otherwise),
// and takes effect at once: under AUTO, records go to the open shards in
// turn, whatever their partition key and ExplicitHashKey, and need no
// partition key.
func (s *Server) opUpdateStreamRecordDistributionStrategy(c *call) (any, *apiError) {
	var in updateDistributionIn
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.checkString(in.StreamARN, "streamARN", true, 1, 2048, nil, "")
	v.checkString(in.RecordDistributionStrategy, "recordDistributionStrategy", true, 0, 0, nil, "")
	if in.RecordDistributionStrategy != nil && *in.RecordDistributionStrategy != distUser && *in.RecordDistributionStrategy != distAuto {
		v.add(quoteVal(*in.RecordDistributionStrategy), "recordDistributionStrategy", "Member must satisfy enum value set: [AUTO, USER_PARTITION_KEY]")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	st, err := s.lookup(streamRef{StreamARN: in.StreamARN})
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.deleted {
		return nil, errStreamGone(st.name)
	}
	if st.mode != modeOnDemand {
		return nil, clientErr(codeInvalidArgument, "Record distribution strategy can only be updated for streams in ON_DEMAND mode. Stream %s under account %s is in %s mode.", st.name, AccountID, st.mode)
	}
	st.distribution = *in.RecordDistributionStrategy
	return struct{}{}, nil
}
