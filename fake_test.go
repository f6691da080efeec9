package inskinesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// fakeKinesis is an in-memory PutRecords endpoint with fault injection for
// the unit tests. It checks the request against the service's limits, as
// Kinesis does, and records every call and every stored record.
type fakeKinesis struct {
	mu      sync.Mutex
	rng     *rand.Rand
	stored  []storedRecord
	calls   [][]storedRecord // the entries of every call, as sent (see forget)
	ncalls  int              // calls made
	seq     int
	invalid []string // requests Kinesis would have rejected, and why
	sdkOpts int      // calls whose options turned SDK retries off

	// failRecord, when set, decides per entry whether it fails with a code.
	failRecord func(rng *rand.Rand, e types.PutRecordsRequestEntry) string
	// failCall, when set, decides per call whether it fails as a whole;
	// written reports whether the entries were stored anyway.
	failCall func(rng *rand.Rand, call int) (err error, written bool)
	// block, when set, is waited on (or the call's context) before answering.
	block chan struct{}
	// started, when set, gets a value as each call starts.
	started chan struct{}
	// forget, when set, keeps no call in calls, for a test of the
	// stream's memory; stored still holds what was written.
	forget bool
}

type storedRecord struct {
	Data    string
	Key     string
	HashKey string
}

func newFake(seed uint64) *fakeKinesis {
	return &fakeKinesis{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (f *fakeKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	var o kinesis.Options
	for _, fn := range optFns {
		fn(&o)
	}
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if o.RetryMaxAttempts == 1 {
		f.sdkOpts++
	}
	entries := make([]storedRecord, len(in.Records))
	size := 0
	for i, e := range in.Records {
		entries[i] = storedRecord{Data: string(e.Data), Key: aws.ToString(e.PartitionKey), HashKey: aws.ToString(e.ExplicitHashKey)}
		size += len(e.Data) + len(aws.ToString(e.PartitionKey))
	}
	f.ncalls++
	if !f.forget {
		f.calls = append(f.calls, entries)
	}
	if n := len(in.Records); n < 1 || n > MaxRecordsPerRequest {
		f.invalid = append(f.invalid, fmt.Sprintf("%d records", n))
	}
	if size > MaxRequestBytes {
		f.invalid = append(f.invalid, fmt.Sprintf("%d bytes", size))
	}
	if aws.ToString(in.StreamName) == "" {
		f.invalid = append(f.invalid, "no stream name")
	}
	if f.failCall != nil {
		if err, written := f.failCall(f.rng, f.ncalls); err != nil {
			if written {
				f.stored = append(f.stored, entries...)
			}
			return nil, err
		}
	}
	out := &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, len(in.Records))}
	for i, e := range in.Records {
		if f.failRecord != nil {
			if code := f.failRecord(f.rng, e); code != "" {
				out.Records[i] = types.PutRecordsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("injected")}
				out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
				continue
			}
		}
		f.seq++
		f.stored = append(f.stored, entries[i])
		out.Records[i] = types.PutRecordsResultEntry{ShardId: aws.String("shardId-000000000000"), SequenceNumber: aws.String(strconv.Itoa(f.seq))}
	}
	return out, nil
}

func (f *fakeKinesis) snapshot() (stored []storedRecord, calls [][]storedRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]storedRecord(nil), f.stored...), append([][]storedRecord(nil), f.calls...)
}
