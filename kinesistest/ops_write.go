package kinesistest

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// pendingRecord is a validated record on its way to a shard.
type pendingRecord struct {
	key  string
	ehk  string
	data []byte
	hash u128
	size int // data plus UTF-8 partition key bytes
}

// validateEntry applies the member constraints of one record. prefix is
// "records.N.member." in PutRecords and "" in PutRecord.
// keyRequired is false on a stream whose service places records itself.
func validateEntry(v *violations, prefix string, data []byte, key, ehk *string, keyRequired bool) {
	v.checkString(key, prefix+"partitionKey", keyRequired, 1, 256, nil, "")
	if data == nil {
		v.add("null", prefix+"data", "Member must not be null")
	}
	v.checkString(ehk, prefix+"explicitHashKey", false, 0, 0, isExplicitHashKeyForm, ehkPatternText)
}

// sizeCheck applies the record size limit of the stream: data, and data
// plus partition key, at most maxSize bytes.
func sizeCheck(v *violations, prefix string, p *pendingRecord, maxSize int) {
	if len(p.data) > maxSize {
		v.add(blobVal(len(p.data)), prefix+"data", fmt.Sprintf("Member must have length less than or equal to %d", maxSize))
		return
	}
	if p.size > maxSize {
		v.add(blobVal(len(p.data)), prefix+"data", fmt.Sprintf(
			"Member must have length less than or equal to %d, counted with the partition key (%d bytes of data plus %d bytes of partition key)",
			maxSize, len(p.data), len(p.key)))
	}
}

// pending builds the record and checks its ExplicitHashKey range.
func pending(data []byte, key, ehk *string) (pendingRecord, *apiError) {
	var p pendingRecord
	if key != nil {
		p.key = *key
	}
	p.data = data
	p.size = len(data) + len(p.key)
	if ehk != nil {
		h, ok := parseDecimalU128(*ehk)
		if !ok {
			return p, clientErr(codeInvalidArgument, "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was %s", *ehk)
		}
		p.ehk, p.hash = *ehk, h
	} else {
		p.hash = hashKeyOf(p.key)
	}
	return p, nil
}

func (s *Server) opPutRecords(c *call) (any, *apiError) {
	s.stats.writeRequests.Add(1)
	var in putRecordsIn
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	var v violations
	in.check(&v)
	keyRequired := !s.autoDistribution(in.streamRef)
	switch {
	case in.Records == nil:
		v.add("null", "records", "Member must not be null")
	case len(in.Records) < 1:
		v.add("'[]'", "records", "Member must have length greater than or equal to 1")
	case len(in.Records) > maxPutRecords:
		v.add(fmt.Sprintf("'[%d records]'", len(in.Records)), "records", "Member must have length less than or equal to 500")
	}
	for i := range in.Records {
		e := &in.Records[i]
		validateEntry(&v, "records."+strconv.Itoa(i+1)+".member.", e.Data, e.PartitionKey, e.ExplicitHashKey, keyRequired)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	st, aerr := s.lookup(in.streamRef)
	if aerr != nil {
		return nil, aerr
	}
	st.mu.Lock()
	maxSize := st.maxRecordSize
	st.mu.Unlock()

	recs := make([]pendingRecord, len(in.Records))
	total := 0
	for i := range in.Records {
		e := &in.Records[i]
		p, err := pending(e.Data, e.PartitionKey, e.ExplicitHashKey)
		if err != nil {
			return nil, err
		}
		sizeCheck(&v, "records."+strconv.Itoa(i+1)+".member.", &p, maxSize)
		recs[i] = p
		total += p.size
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if total > maxRequestBytes {
		return nil, clientErr(codeInvalidArgument, "Records size exceeds 10 MB limit")
	}

	plan := s.drawFaults(len(recs))
	if !s.sleep(c, plan.latency) {
		return nil, &apiError{status: http.StatusServiceUnavailable, code: codeServiceUnavail, msg: "The server is shutting down."}
	}
	if plan.dropBefore {
		s.stats.dropBefore.Add(1)
		s.stats.inFailedReqs.Add(int64(len(recs)))
		c.drop()
		return nil, nil
	}
	if plan.reqErr != "" {
		s.stats.injected.Add(1)
		s.stats.inFailedReqs.Add(int64(len(recs)))
		return nil, injectedError(plan.reqErr, st.name)
	}

	out := putRecordsOut{Records: make([]putResultW, len(recs))}
	var accepted, throttled int64
	now := s.now()
	st.mu.Lock()
	if st.deleted {
		st.mu.Unlock()
		return nil, errStreamGone(st.name)
	}
	for i := range recs {
		r := &out.Records[i]
		if plan.recordFail != nil && plan.recordFail[i] {
			r.ErrorCode, r.ErrorMessage = codeInternalFailure, "Internal service failure."
			continue
		}
		sh, seq, ok := st.store(&recs[i], now, s.limits)
		if !ok {
			throttled++
			r.ErrorCode, r.ErrorMessage = codeThroughput, throttleMessage(sh.id, st.name)
			continue
		}
		accepted++
		r.ShardId, r.SequenceNumber = sh.id, seq
	}
	st.mu.Unlock()
	out.FailedRecordCount = plan.recordFails + int(throttled)
	s.stats.accepted.Add(accepted)
	s.stats.throttled.Add(throttled)
	s.stats.internal.Add(int64(plan.recordFails))

	if plan.dropAfter {
		s.stats.dropAfter.Add(1)
		s.stats.dropRecs.Add(accepted)
		c.drop()
		return nil, nil
	}
	return out, nil
}

func throttleMessage(shardID, stream string) string {
	return fmt.Sprintf("Rate exceeded for shard %s in stream %s under account %s.", shardID, stream, AccountID)
}

func injectedError(e RequestError, stream string) *apiError {
	msg := "Internal service failure."
	switch e {
	case RequestServiceUnavailable:
		msg = "Service Unavailable. Please try again later."
	case RequestThroughputExceeded, RequestLimitExceeded:
		msg = fmt.Sprintf("Rate exceeded for stream %s under account %s.", stream, AccountID)
	}
	return &apiError{status: e.status(), code: string(e), msg: msg}
}

// store routes p to its shard and appends it there if the shard limits admit
// it. It returns the shard, the sequence number and whether it was stored.
// Callers hold st.mu.
func (st *stream) store(p *pendingRecord, now time.Time, limits ShardLimits) (*shard, string, bool) {
	sh := st.place(p.hash)
	if limits.enabled() && !sh.bucket.take(now, limits, p.size) {
		return sh, "", false
	}
	st.counter++
	sh.records = append(sh.records, record{counter: st.counter, arrival: now.UnixNano(), key: p.key, ehk: p.ehk, data: p.data})
	return sh, formatSeq(st.epoch, st.counter, sh.idx), true
}

func (s *Server) opPutRecord(c *call) (any, *apiError) {
	s.stats.writeRequests.Add(1)
	var in putRecordIn
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	var v violations
	in.check(&v)
	auto := s.autoDistribution(in.streamRef)
	validateEntry(&v, "", in.Data, in.PartitionKey, in.ExplicitHashKey, !auto)
	v.checkString(in.SequenceNumberForOrdering, "sequenceNumberForOrdering", false, 0, 0, isSequenceNumberForm, seqPatternText)
	if err := v.err(); err != nil {
		return nil, err
	}
	st, aerr := s.lookup(in.streamRef)
	if aerr != nil {
		return nil, aerr
	}
	if auto && in.SequenceNumberForOrdering != nil {
		return nil, clientErr(codeInvalidArgument, "SequenceNumberForOrdering is not supported for stream %s under account %s, whose record distribution strategy is AUTO.", st.name, AccountID)
	}
	st.mu.Lock()
	maxSize := st.maxRecordSize
	st.mu.Unlock()
	p, aerr := pending(in.Data, in.PartitionKey, in.ExplicitHashKey)
	if aerr != nil {
		return nil, aerr
	}
	sizeCheck(&v, "", &p, maxSize)
	if err := v.err(); err != nil {
		return nil, err
	}

	plan := s.drawFaults(1)
	if !s.sleep(c, plan.latency) {
		return nil, &apiError{status: http.StatusServiceUnavailable, code: codeServiceUnavail, msg: "The server is shutting down."}
	}
	if plan.dropBefore {
		s.stats.dropBefore.Add(1)
		s.stats.inFailedReqs.Add(1)
		c.drop()
		return nil, nil
	}
	if plan.reqErr != "" {
		s.stats.injected.Add(1)
		s.stats.inFailedReqs.Add(1)
		return nil, injectedError(plan.reqErr, st.name)
	}
	if plan.recordFails > 0 {
		s.stats.internal.Add(1)
		return nil, &apiError{status: http.StatusInternalServerError, code: codeInternalFailure, msg: "Internal service failure."}
	}
	now := s.now()
	st.mu.Lock()
	if st.deleted {
		st.mu.Unlock()
		return nil, errStreamGone(st.name)
	}
	sh, seq, ok := st.store(&p, now, s.limits)
	st.mu.Unlock()
	if !ok {
		s.stats.throttled.Add(1)
		return nil, clientErr(codeThroughput, "%s", throttleMessage(sh.id, st.name))
	}
	s.stats.accepted.Add(1)
	if plan.dropAfter {
		s.stats.dropAfter.Add(1)
		s.stats.dropRecs.Add(1)
		c.drop()
		return nil, nil
	}
	return putRecordOut{SequenceNumber: seq, ShardId: sh.id}, nil
}
