package inskinesis

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHookRecordUnbufferedRetries(t *testing.T) {
	for _, tc := range []struct {
		attempts, want int
	}{
		{0, 0},
		{1, 0},
		{2, 1},
		{7, 6},
	} {
		assert.Equal(t, tc.want, RecordUnbuffered{Attempts: tc.attempts}.Retries(), "attempts %d", tc.attempts)
	}
}

func TestHookRecordUnbufferedErrorCode(t *testing.T) {
	failed := errors.New("failed")
	for _, tc := range []struct {
		name     string
		e        RecordUnbuffered
		wantCode string
		wantOK   bool
	}{
		{"delivered", RecordUnbuffered{EntryRecords: 1}, "", false},
		{"rejected", RecordUnbuffered{Err: failed, Code: "AccessDeniedException", Reason: FailRejected}, "", false},
		{"retries exhausted", RecordUnbuffered{Err: failed, Code: "InternalFailure", Reason: FailRetriesExhausted}, "retries_exhausted", true},
		{"expired", RecordUnbuffered{Err: failed, Reason: FailExpired}, "expired", true},
		{"aborted", RecordUnbuffered{Err: failed, Reason: FailAborted}, "aborted", true},
		{"lost from the spool", RecordUnbuffered{Err: failed, Reason: FailLost}, "lost", true},
	} {
		code, ok := tc.e.ErrorCode()
		assert.Equal(t, tc.wantCode, code, tc.name)
		assert.Equal(t, tc.wantOK, ok, tc.name)
	}
}

func TestHookRecordUnbufferedKinesisRecord(t *testing.T) {
	failed := errors.New("failed")
	for _, tc := range []struct {
		name   string
		e      RecordUnbuffered
		wantN  int
		wantOK bool
	}{
		{"sent alone", RecordUnbuffered{SequenceNumber: "1", EntryRecords: 1}, 1, true},
		{"first of an aggregate", RecordUnbuffered{SequenceNumber: "1", EntryRecords: 5}, 5, true},
		{"later in an aggregate", RecordUnbuffered{SequenceNumber: "1", SubSequenceNumber: 3, EntryRecords: 5}, 0, false},
		{"failed", RecordUnbuffered{Err: failed, Reason: FailExpired}, 0, false},
	} {
		n, ok := tc.e.KinesisRecord()
		assert.Equal(t, tc.wantN, n, tc.name)
		assert.Equal(t, tc.wantOK, ok, tc.name)
	}
}

func TestHookRequestDoneErrors(t *testing.T) {
	type codeN struct {
		Code string
		N    int
	}
	failed := errors.New("failed")
	for _, tc := range []struct {
		name string
		e    RequestDone
		want []codeN
	}{
		{"all written", RequestDone{Entries: 3, WrittenEntries: 3}, nil},
		{"whole call", RequestDone{Entries: 3, Err: failed, Code: "Timeout"}, []codeN{{"Timeout", 1}}},
		{"entries", RequestDone{
			Entries: 10, WrittenEntries: 5,
			Failures: []CodeCount{
				{Code: "ProvisionedThroughputExceededException", Entries: 4, Records: 40},
				{Code: "InternalFailure", Entries: 1, Records: 2},
			},
		}, []codeN{{"ProvisionedThroughputExceededException", 4}, {"InternalFailure", 1}}},
		{"whole call and entries", RequestDone{
			Err: failed, Code: "ConnectionReset",
			Failures: []CodeCount{{Code: "InternalFailure", Entries: 2, Records: 2}},
		}, []codeN{{"ConnectionReset", 1}, {"InternalFailure", 2}}},
	} {
		var got []codeN
		for code, n := range tc.e.Errors() {
			got = append(got, codeN{code, n})
		}
		assert.Equal(t, tc.want, got, tc.name)
	}

	// Stopping early stops the iteration.
	e := RequestDone{Err: failed, Code: "Timeout", Failures: []CodeCount{{Code: "InternalFailure", Entries: 1}}}
	var got []string
	for code := range e.Errors() {
		got = append(got, code)
		break
	}
	assert.Equal(t, []string{"Timeout"}, got)
}

func TestHookShardMapResult(t *testing.T) {
	for _, tc := range []struct {
		e    ShardMap
		want string
	}{
		{ShardMap{Shards: 4, Changed: true}, "ok"},
		{ShardMap{Shards: 4}, "ok"},
		{ShardMap{Shards: 4, Err: errors.New("throttled")}, "error"},
	} {
		assert.Equal(t, tc.want, tc.e.Result(), "%+v", tc.e)
	}
}

func TestHookAggregationValue(t *testing.T) {
	for _, tc := range []struct {
		on   bool
		want int
	}{
		{true, 1},
		{false, 0},
	} {
		assert.Equal(t, tc.want, Aggregation{On: tc.on, Reason: "test"}.Value(), "on %v", tc.on)
	}
}
