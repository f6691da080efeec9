package inskinesis

import (
	"fmt"
	"regexp"
	"time"

	"github.com/go-pkg/inskinesis/internal/aggregate"
)

// Limits of the Kinesis Data Streams API that the stream enforces before it
// sends anything.
const (
	// MaxRecordsPerRequest is the most records one PutRecords call may carry.
	MaxRecordsPerRequest = 500
	// MaxRequestBytes is the most bytes one PutRecords call may carry, data
	// and partition keys counted (10 MiB since October 2025).
	MaxRequestBytes = 10 << 20
	// DefaultMaxRecordSize is a stream's maximum record size (data plus
	// partition key) unless the stream was configured otherwise.
	DefaultMaxRecordSize = 1 << 20
	// MaxRecordSizeLimit is the largest maximum record size a stream can be
	// configured with (UpdateMaxRecordSize).
	MaxRecordSizeLimit = 10 << 20
	// MaxPartitionKeyLength is the longest partition key, in Unicode code
	// points.
	MaxPartitionKeyLength = 256
)

// Defaults of the Config fields.
const (
	DefaultMaxStreamBatchSize     = 100
	DefaultMaxStreamBatchByteSize = 256 << 10
	DefaultMaxBatchSize           = 500
	DefaultMaxBufferedBytes       = 32 << 20
	DefaultMaxGroup               = 1
	DefaultRetryCount             = 3
	DefaultRetryInterval          = 100 * time.Millisecond
	DefaultMaxRetryInterval       = 5 * time.Second
	DefaultFlushInterval          = 100 * time.Millisecond
	DefaultRequestTimeout         = 30 * time.Second
	DefaultErrorBufferSize        = 1024
	DefaultAggregationMaxBytes    = aggregate.DefaultMaxBytes
	DefaultAggregationMaxCount    = aggregate.DefaultMaxCount
)

// Config configures a Stream. The zero value of every optional field selects
// its documented default; NewKinesis returns a *ConfigError naming the first
// field it cannot accept.
type Config[T any] struct {
	// Region is the AWS region of the stream, used to build a client from the
	// default AWS configuration chain (environment, shared config files,
	// instance roles; AWS_ENDPOINT_URL_KINESIS is honoured). Required unless
	// Client is set.
	Region string

	// StreamName is the name of the Kinesis stream. Required.
	StreamName string

	// Codec encodes records. Default: JSON (codec/json).
	Codec Codec[T]

	// Partitioner picks each record's partition key. Default: a random
	// version-4 UUID per record (partition.UUID), which spreads records
	// evenly over the shards. The key must be 1 to 256 Unicode code points
	// of valid UTF-8; Put rejects a record whose key is not.
	Partitioner Partitioner[T]

	// ExplicitHashKey, when set, gives each record an explicit hash key that
	// routes it to a shard in place of the MD5 of its partition key: a
	// decimal number from 0 to 2^128-1. An empty string means none. Default:
	// none.
	ExplicitHashKey func(record T) string

	// MaxStreamBatchSize is the most records sent in one PutRecords call.
	// Default 100; at most 500.
	MaxStreamBatchSize int

	// MaxStreamBatchByteSize is the most bytes, data plus partition keys,
	// sent in one PutRecords call. Default 256 KiB; at most 10 MiB. A single
	// record larger than this (but within MaxRecordSize) is sent in a call
	// of its own.
	MaxStreamBatchByteSize int

	// MaxBatchSize is the most records the stream holds at once: waiting for
	// a batch, in flight, or waiting to be retried. Put blocks while it is
	// reached, PutContext until its context ends, and TryPut returns
	// ErrBufferFull. Default 500.
	MaxBatchSize int

	// MaxBufferedBytes bounds the encoded bytes (data plus keys) the stream
	// holds at once, like MaxBatchSize bounds records. A record larger than
	// the bound is still taken when the stream holds nothing else. Default
	// 32 MiB. It counts what Kinesis counts, not the heap: each record held
	// also takes about 400 bytes of bookkeeping (more with a large T, whose
	// value is kept), and with AggregateRecords its data and key are copied
	// into its aggregate too, so budget about MaxBufferedBytes plus
	// MaxBatchSize times 400 bytes, or with aggregation twice
	// MaxBufferedBytes plus MaxBatchSize times 420 bytes. Records waiting
	// for their PutAsync callback are not counted (see PutAsync).
	MaxBufferedBytes int

	// MaxGroup is the most PutRecords calls in flight at once. Default 1; at
	// most 1024.
	MaxGroup int

	// RetryCount is how many times a record is sent again after a retryable
	// failure (throttling, an internal failure, a timeout) before it is
	// reported. Default 3; a negative value disables retries.
	RetryCount int

	// RetryInterval is the first retry's backoff window. Each further retry
	// doubles it, up to MaxRetryInterval, and the actual delay is drawn
	// uniformly from the window (full jitter); throttled records use a
	// window twice as long. Default 100 ms.
	RetryInterval time.Duration

	// MaxRetryInterval caps the backoff window. Default 5 s.
	MaxRetryInterval time.Duration

	// FlushInterval is the longest a record waits for its batch to fill
	// before the batch is sent anyway. Default 100 ms.
	FlushInterval time.Duration

	// RequestTimeout bounds each PutRecords call, so that a stuck connection
	// cannot hold records forever. A call that times out may still have
	// written its records; they are retried and may then be written twice.
	// Default 30 s.
	RequestTimeout time.Duration

	// RecordTTL, when positive, is the longest a record may spend in the
	// stream: a record still undelivered after it is reported with
	// ErrRecordExpired instead of being retried. Default: no limit (the
	// retry count still applies).
	RecordTTL time.Duration

	// MaxRecordSize is the stream's maximum record size, data plus partition
	// key: Put rejects larger records with ErrRecordTooLarge, because one
	// oversized record makes Kinesis fail the whole request. Set it when
	// the stream was configured for larger records (UpdateMaxRecordSize).
	// Default 1 MiB; at most 10 MiB.
	MaxRecordSize int

	// OrderByKey, when true, writes the records of each partition key in Put
	// order, even across retries and with MaxGroup above 1. Kinesis does not
	// promise any order within one PutRecords call, so the stream then has
	// at most one record of a key in flight or awaiting retry at a time:
	// records of one key travel one request round trip apart, so a hot key
	// is limited to about one record per round trip (tens to hundreds per
	// second), while many distinct keys still batch together. Default false.
	OrderByKey bool

	// ErrorBufferSize is the capacity of the channel returned by Error. When
	// it is full, further errors are not sent on it (the stream never waits
	// for a reader) and Stats counts them in ErrorsDropped; the records are
	// still reported to their callbacks. Default 1024.
	ErrorBufferSize int

	// AggregateRecords, when true, packs many records bound for the same
	// shard into one Kinesis record in the aggregation format of the Kinesis
	// Producer Library, which the Kinesis Client Library, Lambda and package
	// aggregation unpack. A shard takes 1000 records/s: with small records,
	// aggregation lets it carry up to its 1 MB/s instead. Consumers that do
	// not deaggregate see the packed records as opaque data, so leave it off
	// unless every consumer deaggregates. The stream predicts each record's
	// shard from a shard map it reads with ListShards (Client must then also
	// implement ListShardsAPI) and refreshes it when the stream reshards.
	// Each record keeps its own partition key and explicit hash key inside
	// the aggregate; a lone record is sent as it is. After a reshard, an
	// aggregate may land on a shard that does not own all its records; the
	// KCL drops such an aggregate, so the stream sends those records again
	// and marks them MaybeDuplicate (a consumer that does not check shard
	// ranges sees them twice). Raise MaxBatchSize
	// with it (to several thousand records): the stream seals its aggregates
	// early whenever it holds MaxBatchSize records. Default false.
	AggregateRecords bool

	// AggregationMaxBytes bounds one aggregated Kinesis record, data plus
	// its partition key, as Kinesis counts it. Default 51200 (the KPL's
	// AggregationMaxSize); at most MaxRecordSize.
	AggregationMaxBytes int

	// AggregationMaxCount bounds the records packed into one aggregate.
	// Default 1000.
	AggregationMaxCount int

	// ShardRateLimit, when positive, makes the stream hold back the records
	// of a shard that would exceed this percentage of the shard's write
	// limits (1000 records/s and 1 MiB/s), as the KPL's RateLimit does, so
	// that a hot shard is slowed down locally instead of throttled by
	// Kinesis. Like aggregation, it needs the shard map (ListShardsAPI).
	// The KPL uses 150. Default 0: no local limit.
	ShardRateLimit int

	// Client sends the requests. Default: a *kinesis.Client built from the
	// default AWS configuration chain for Region, whose HTTP client hides
	// request bodies' WriteTo from net/http (a race between the SDK and
	// net/http can otherwise close a connection under a response, making a
	// written call look failed; wrap a client of your own with HTTPClient).
	// The stream turns the client's own retries off for PutRecords, since
	// it retries itself.
	Client PutRecordsAPI
}

// maxMaxGroup bounds MaxGroup: more calls in flight than this only add
// contention (the KPL defaults to 24 connections).
const maxMaxGroup = 1024

var streamNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

// settings is a Config with its defaults resolved.
type settings struct {
	streamName       string
	batchRecords     int
	batchBytes       int
	bufferRecords    int
	bufferBytes      int
	maxGroup         int
	retryCount       int
	retryInterval    time.Duration
	maxRetryInterval time.Duration
	flushInterval    time.Duration
	requestTimeout   time.Duration
	recordTTL        time.Duration
	maxRecordSize    int
	orderByKey       bool
	errorBuffer      int
	aggregate        bool
	aggMaxBytes      int
	aggMaxCount      int
	rateLimit        int
}

func (c *Config[T]) resolve() (settings, error) {
	s := settings{
		streamName:       c.StreamName,
		batchRecords:     orDefault(c.MaxStreamBatchSize, DefaultMaxStreamBatchSize),
		batchBytes:       orDefault(c.MaxStreamBatchByteSize, DefaultMaxStreamBatchByteSize),
		bufferRecords:    orDefault(c.MaxBatchSize, DefaultMaxBatchSize),
		bufferBytes:      orDefault(c.MaxBufferedBytes, DefaultMaxBufferedBytes),
		maxGroup:         orDefault(c.MaxGroup, DefaultMaxGroup),
		retryCount:       orDefault(c.RetryCount, DefaultRetryCount),
		retryInterval:    orDefault(c.RetryInterval, DefaultRetryInterval),
		maxRetryInterval: orDefault(c.MaxRetryInterval, DefaultMaxRetryInterval),
		flushInterval:    orDefault(c.FlushInterval, DefaultFlushInterval),
		requestTimeout:   orDefault(c.RequestTimeout, DefaultRequestTimeout),
		recordTTL:        c.RecordTTL,
		maxRecordSize:    orDefault(c.MaxRecordSize, DefaultMaxRecordSize),
		orderByKey:       c.OrderByKey,
		errorBuffer:      orDefault(c.ErrorBufferSize, DefaultErrorBufferSize),
		aggregate:        c.AggregateRecords,
		aggMaxBytes:      c.AggregationMaxBytes,
		aggMaxCount:      orDefault(c.AggregationMaxCount, DefaultAggregationMaxCount),
		rateLimit:        c.ShardRateLimit,
	}
	if s.retryCount < 0 {
		s.retryCount = 0
	}
	if s.aggregate && s.aggMaxBytes == 0 {
		s.aggMaxBytes = min(DefaultAggregationMaxBytes, s.maxRecordSize)
	}
	switch {
	case c.StreamName == "":
		return s, configErr("StreamName", "is required")
	case !streamNameRE.MatchString(c.StreamName):
		return s, configErr("StreamName", fmt.Sprintf("%q is not a valid stream name (1 to 128 of a-z, A-Z, 0-9, _ . -)", c.StreamName))
	case c.Region == "" && c.Client == nil:
		return s, configErr("Region", "is required when Client is not set")
	case s.batchRecords < 1 || s.batchRecords > MaxRecordsPerRequest:
		return s, configErr("MaxStreamBatchSize", fmt.Sprintf("%d is outside 1..%d", c.MaxStreamBatchSize, MaxRecordsPerRequest))
	case s.batchBytes < 1 || s.batchBytes > MaxRequestBytes:
		return s, configErr("MaxStreamBatchByteSize", fmt.Sprintf("%d is outside 1..%d", c.MaxStreamBatchByteSize, MaxRequestBytes))
	case s.bufferRecords < 1:
		return s, configErr("MaxBatchSize", fmt.Sprintf("%d is not positive", c.MaxBatchSize))
	case s.bufferBytes < 1:
		return s, configErr("MaxBufferedBytes", fmt.Sprintf("%d is not positive", c.MaxBufferedBytes))
	case s.maxGroup < 1 || s.maxGroup > maxMaxGroup:
		return s, configErr("MaxGroup", fmt.Sprintf("%d is outside 1..%d", c.MaxGroup, maxMaxGroup))
	case s.retryInterval < 0:
		return s, configErr("RetryInterval", "is negative")
	case s.maxRetryInterval < 0:
		return s, configErr("MaxRetryInterval", "is negative")
	case s.flushInterval < 0:
		return s, configErr("FlushInterval", "is negative")
	case s.requestTimeout < 0:
		return s, configErr("RequestTimeout", "is negative")
	case s.recordTTL < 0:
		return s, configErr("RecordTTL", "is negative")
	case s.maxRecordSize < 1 || s.maxRecordSize > MaxRecordSizeLimit:
		return s, configErr("MaxRecordSize", fmt.Sprintf("%d is outside 1..%d", c.MaxRecordSize, MaxRecordSizeLimit))
	case s.errorBuffer < 0:
		return s, configErr("ErrorBufferSize", "is negative")
	case s.aggregate && (s.aggMaxBytes < aggregate.Overhead+1 || s.aggMaxBytes > s.maxRecordSize):
		return s, configErr("AggregationMaxBytes", fmt.Sprintf("%d is outside %d..MaxRecordSize (%d)", c.AggregationMaxBytes, aggregate.Overhead+1, s.maxRecordSize))
	case s.aggMaxCount < 1:
		return s, configErr("AggregationMaxCount", fmt.Sprintf("%d is not positive", c.AggregationMaxCount))
	case s.rateLimit < 0:
		return s, configErr("ShardRateLimit", "is negative")
	}
	if (s.aggregate || s.rateLimit > 0) && c.Client != nil {
		if _, ok := c.Client.(ListShardsAPI); !ok {
			field := "AggregateRecords"
			if !s.aggregate {
				field = "ShardRateLimit"
			}
			return s, configErr(field, "needs a Client that implements ListShardsAPI, to read the shard map")
		}
	}
	if s.maxRetryInterval < s.retryInterval {
		s.maxRetryInterval = s.retryInterval
	}
	return s, nil
}

func orDefault[N int | time.Duration](v, def N) N {
	if v == 0 {
		return def
	}
	return v
}
