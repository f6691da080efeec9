package inskinesis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// DescribeStreamSummaryAPI is the part of the Kinesis API that aggregation
// and the shard rate limit use to read a stream's record distribution
// strategy and maximum record size. *kinesis.Client satisfies it. A Client
// without it still works: the stream then assumes the stream places records
// by partition key, and keeps aggregating (Stats.DistributionErr says so).
type DescribeStreamSummaryAPI interface {
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
}

var _ DescribeStreamSummaryAPI = (*kinesis.Client)(nil)

// ErrStreamSummaryUnavailable is matched by Stats.DistributionErr when the
// stream could not read the stream summary (DescribeStreamSummary): the
// Client does not implement DescribeStreamSummaryAPI, the caller lacks the
// kinesis:DescribeStreamSummary permission, or the call failed. The AWS
// error, if any, is wrapped too.
var ErrStreamSummaryUnavailable = errors.New("inskinesis: stream summary unavailable")

// distributionRecheck is how often a stream that found service-managed
// distribution reads the summary again, to notice a switch back to
// partition keys. NewKinesis reads it (tests shorten it).
var distributionRecheck = time.Minute

// summaryMinInterval is the least time between two reads of the summary:
// DescribeStreamSummary has a low account-wide rate limit, shared with
// every other client of the account. A refresh sooner than this reads the
// shard map alone, and the summary follows as soon as allowed. NewKinesis
// reads it (tests shorten it).
var summaryMinInterval = time.Second

// summary is what the stream takes from DescribeStreamSummary.
type summary struct {
	auto          bool // RecordDistributionStrategy AUTO
	maxRecordSize int  // bytes; 0 when the summary leaves it out
}

// distState is the record distribution state shown by Stats and read by
// Put. It is replaced, never changed.
type distState struct {
	auto        bool
	aggregating bool
	err         error
}

// readSummary calls DescribeStreamSummary for the stream. A panic of the
// client is an error. Every error wraps ErrStreamSummaryUnavailable.
func readSummary(ctx context.Context, client PutRecordsAPI, set *settings) (sum summary, err error) {
	api, ok := client.(DescribeStreamSummaryAPI)
	if !ok {
		return sum, fmt.Errorf("%w: the Client does not implement DescribeStreamSummaryAPI", ErrStreamSummaryUnavailable)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: DescribeStreamSummary panicked: %v", ErrStreamSummaryUnavailable, p)
		}
	}()
	in := &kinesis.DescribeStreamSummaryInput{}
	in.StreamName, in.StreamARN = set.names()
	out, err := api.DescribeStreamSummary(ctx, in, wrapHTTPClient)
	if err != nil {
		return sum, fmt.Errorf("%w: DescribeStreamSummary of stream %q: %w", ErrStreamSummaryUnavailable, set.stream(), err)
	}
	if out == nil || out.StreamDescriptionSummary == nil {
		return sum, fmt.Errorf("%w: DescribeStreamSummary of stream %q answered no summary", ErrStreamSummaryUnavailable, set.stream())
	}
	d := out.StreamDescriptionSummary
	sum.auto = d.RecordDistributionStrategy == types.RecordDistributionStrategyAuto
	if d.MaxRecordSizeInKiB != nil && *d.MaxRecordSizeInKiB > 0 {
		sum.maxRecordSize = min(int(*d.MaxRecordSizeInKiB)<<10, MaxRecordSizeLimit)
	}
	return sum, nil
}

// applySummary fits the settings to the stream's maximum record size: it
// takes the stream's value when MaxRecordSize is unset, and refuses a
// configured MaxRecordSize above it.
func applySummary(set *settings, configured int, sum summary) error {
	if sum.maxRecordSize == 0 {
		return nil
	}
	if configured == 0 {
		set.maxRecordSize = sum.maxRecordSize
		return nil
	}
	if configured > sum.maxRecordSize {
		return configErr("MaxRecordSize", fmt.Sprintf("%d is above the maximum record size of stream %q, %d bytes (MaxRecordSizeInKiB %d)",
			configured, set.stream(), sum.maxRecordSize, sum.maxRecordSize>>10))
	}
	return nil
}

// setDistribution is the one place where the stream's record distribution
// state changes. auto is the state as last known: true when the service
// places records itself (RecordDistributionStrategy AUTO), which turns
// aggregation and shard prediction off. readErr, when not nil, is why the
// summary could not be read this time; auto is then the state kept. On the
// switch to AUTO, the records waiting in aggregation builders go on as plain
// records; aggregates already queued are taken apart when they come up (see
// current), and their records go plain too.
func (l *loop[T]) setDistribution(auto bool, readErr error) {
	st := l.stage
	was := st.auto
	st.auto = auto
	prev := l.s.dist.Load()
	next := &distState{auto: auto, aggregating: st.agg.MaxBytes > 0 && !auto, err: readErr}
	l.s.dist.Store(next)
	l.s.distributionChanged(prev, next)
	if auto {
		st.recheckAt = l.now.Add(st.recheck)
	}
	if !auto || was {
		return
	}
	for _, r := range st.drain() {
		r.shard, r.snap = nil, nil
		l.push(r, false)
	}
}

// serviceManaged reports whether the stream last found the service placing
// records itself, so that a record needs no partition key.
func (s *Stream[T]) serviceManaged() bool {
	d := s.dist.Load()
	return d != nil && d.auto
}

// distributionChanged tells the log and the hooks what changed between two
// distribution states (prev is nil at start): aggregation turned on or off,
// and a stream summary that could not be read.
func (s *Stream[T]) distributionChanged(prev, next *distState) {
	if s.set.aggregate && (prev == nil || prev.aggregating != next.aggregating) {
		switch {
		case next.aggregating && prev == nil:
			s.aggregationChanged(true, "Config.AggregateRecords is set")
		case next.aggregating:
			s.aggregationChanged(true, "the stream places records by partition key again (RecordDistributionStrategy USER_PARTITION_KEY)")
		default:
			s.aggregationChanged(false, "the service places the stream's records itself (RecordDistributionStrategy AUTO): consumers would drop aggregates")
		}
	}
	if s.hooks.log != nil && next.err != nil && (prev == nil || prev.err == nil) {
		s.hooks.log.summaryUnreadable(next.err)
	}
}
