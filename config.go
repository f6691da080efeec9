package inskinesis

import (
	"fmt"
	"log/slog"
	"reflect"
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
	DefaultThrottleTTL            = 30 * time.Second
	DefaultErrorBufferSize        = 1024
	DefaultAggregationMaxBytes    = aggregate.DefaultMaxBytes
	DefaultAggregationMaxCount    = aggregate.DefaultMaxCount
	DefaultSpoolMaxBytes          = 1 << 30
	DefaultSpoolSync              = 100 * time.Millisecond
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

	// StreamName is the name of the Kinesis stream. Required unless
	// StreamARN is set; when both are set, StreamName must be the name in
	// the ARN.
	StreamName string

	// StreamARN is the stream's ARN,
	// arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME, where PARTITION is
	// aws, aws-cn, aws-us-gov or another aws-… partition, ACCOUNT is 12
	// digits and NAME follows the stream-name rule. Set it instead of
	// StreamName, or together with it. The stream then sends it on every
	// call (PutRecords, ListShards, DescribeStreamSummary), as AWS
	// recommends; writing to a stream of another account through its
	// resource policy needs it. When Region is empty and Client is nil, the
	// region is taken from the ARN. Some local Kinesis servers (kinesalite)
	// do not know ARNs: give them StreamName as well. Default: none.
	StreamARN string

	// Codec encodes records. Default: JSON (codec/json).
	Codec Codec[T]

	// Partitioner picks each record's partition key. Default: a random
	// version-4 UUID per record (partition.UUID), which spreads records
	// evenly over the shards. The key must be 1 to 256 Unicode code points
	// of valid UTF-8; Put rejects a record whose key is not. On a stream
	// with service-managed distribution (AUTO), which ignores keys, it may
	// return "": the record is then sent without a key. The stream knows
	// the distribution only when it reads the stream summary (with
	// AggregateRecords or ShardRateLimit, and the
	// kinesis:DescribeStreamSummary permission); until it has found AUTO,
	// an empty key is ErrInvalidPartitionKey.
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
	// ErrBufferFull. Default 500; at most 16777216 (2^24).
	MaxBatchSize int

	// MaxBufferedBytes bounds the encoded bytes (data plus keys) the stream
	// holds at once, like MaxBatchSize bounds records. A record larger than
	// the bound is still taken when the stream holds nothing else. Default
	// 32 MiB; at most 1 TiB (2^40). It counts what Kinesis counts, not the heap: each record held
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
	// failure (an internal failure, a server error, a timeout, a dropped
	// connection) before it is reported with ErrRetriesExhausted. Throttling
	// is not such a failure: a throttled record waits and goes again without
	// using up a retry, bounded by RecordTTL, or by ThrottleTTL when
	// RecordTTL is not set; a record that was throttled and also failed
	// counts only its failures. Default 3; a negative value disables
	// retries of failures (throttled records still go again); at most 2^30
	// (1073741824), enough to retry until RecordTTL.
	RetryCount int

	// RetryInterval is the first retry's backoff window. Each further
	// attempt of the record, throttled or failed, doubles it, up to
	// MaxRetryInterval, and the actual delay is drawn uniformly from the
	// window (full jitter); throttled records use a window twice as long.
	// Default 100 ms; at most 1 h.
	RetryInterval time.Duration

	// MaxRetryInterval caps the backoff window. Default 5 s; at most 1 h.
	MaxRetryInterval time.Duration

	// FlushInterval is the longest a record waits for its batch to fill
	// before the batch is sent anyway. Default 100 ms; at most 1 h.
	FlushInterval time.Duration

	// RequestTimeout bounds each PutRecords call, so that a stuck connection
	// cannot hold records forever. A call that times out may still have
	// written its records; they are retried and may then be written twice.
	// It also bounds each read of the shard map. Default 30 s; at most 1 h.
	RequestTimeout time.Duration

	// RecordTTL, when positive, is the longest a record may spend in the
	// stream: a record still undelivered after it is reported with
	// ErrRecordExpired instead of being retried. It also bounds how long a
	// record keeps going again through throttling, in place of ThrottleTTL.
	// Default: no limit (RetryCount and ThrottleTTL still apply); at most
	// 7 days.
	RecordTTL time.Duration

	// ThrottleTTL bounds how long a record may keep waiting through
	// throttling when RecordTTL is not set: a record that Kinesis throttles
	// (ProvisionedThroughputExceededException, or a whole call refused with
	// ProvisionedThroughputExceeded, LimitExceeded or KMSThrottling) once
	// ThrottleTTL has passed since it was put is reported with
	// ErrRecordExpired, which wraps the last throttling error. Until then a
	// throttled record is sent again after backoff without using up
	// RetryCount. It is measured from when the stream took the record from
	// Put (the time Put waited for buffer space does not count). Ignored
	// when RecordTTL is set. Default 30 s (the KPL's RecordTtl); negative
	// values are rejected.
	ThrottleTTL time.Duration

	// MaxRecordSize is the stream's maximum record size, data plus partition
	// key: Put rejects larger records with ErrRecordTooLarge, because one
	// oversized record makes Kinesis fail the whole request. With
	// AggregateRecords or ShardRateLimit, NewKinesis reads the stream's own
	// maximum (MaxRecordSizeInKiB of DescribeStreamSummary) and uses it when
	// MaxRecordSize is unset; a MaxRecordSize above it is a *ConfigError.
	// Otherwise set it when the stream was configured for larger records
	// (UpdateMaxRecordSize). Default 1 MiB (or the stream's, as above); at
	// most 10 MiB.
	MaxRecordSize int

	// OrderByKey, when true, writes the records of each partition key in Put
	// order, even across retries and with MaxGroup above 1. Kinesis does not
	// promise any order within one PutRecords call, so the stream then has
	// at most one record of a key in flight or awaiting retry at a time:
	// records of one key travel one request round trip apart, so a hot key
	// is limited to about one record per round trip (tens to hundreds per
	// second), while many distinct keys still batch together. Records
	// without a key (on a stream with service-managed distribution, see
	// Partitioner) have no order to keep and are not held back. Default
	// false.
	OrderByKey bool

	// ErrorBufferSize is the capacity of the channel returned by Error. When
	// it is full, further errors are not sent on it (the stream never waits
	// for a reader) and Stats counts them in ErrorsDropped; the records are
	// still reported to their callbacks. The channel is allocated at its
	// full capacity when the stream starts. Default 1024; at most 1048576
	// (2^20).
	ErrorBufferSize int

	// Logger, when set, receives the stream's log lines, each with a
	// "stream" attribute: its start and settings, reads and changes of the
	// shard map and their failures (Warn), aggregation turned on or off,
	// throttling (Warn) and records not delivered (Error), each at most
	// once per 10 s with the count since the last line, and its stop with
	// what was delivered and what was given up. Nothing is logged per
	// record at Info or above. Default nil: the stream logs nothing.
	Logger *slog.Logger

	// Hooks observe the stream: each implements any of the Hook*
	// interfaces (HookRecordBuffered, HookRecordUnbuffered,
	// HookRequestDone, HookThrottle, HookRetry, HookShardMap,
	// HookAggregation), and the stream calls those it implements,
	// synchronously, on its own goroutines. See Hook. Packages plugin/inprom
	// and plugin/inotel provide hooks that export metrics. Default: none.
	Hooks []Hook

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
	// early whenever it holds MaxBatchSize records.
	//
	// Aggregation does not work on streams with service-managed
	// distribution (RecordDistributionStrategy AUTO), which place records
	// whatever their keys. As the KPL does, the stream reads the stream
	// summary (DescribeStreamSummary, if Client implements
	// DescribeStreamSummaryAPI) at start, with shard map refreshes (at most
	// once a second: its rate limit is shared by the whole account) and
	// every minute while AUTO, and sends plain records while the stream is
	// AUTO (Stats.AggregationActive, Stats.ServiceManagedDistribution).
	// This needs the kinesis:DescribeStreamSummary permission: without it
	// the stream keeps aggregating and says why in Stats.DistributionErr.
	// Each aggregate ends with the MD5 of its contents, which consumers
	// check; the aggregates of a call that carries several of 1 KiB or
	// more are hashed together, 8 or 16 at once in the vector lanes of one
	// core on CPUs with AVX2 or AVX-512, by a goroutine the stream starts
	// for the first such call (with about 1.5 MiB of buffers) and stops
	// when it stops.
	// Default false.
	AggregateRecords bool

	// AggregationMaxBytes bounds one aggregated Kinesis record, data plus
	// its partition key, as Kinesis counts it. Default 51200 (the KPL's
	// AggregationMaxSize) or MaxRecordSize if smaller; from 21 (the
	// format's 20 bytes of framing and one more) to MaxRecordSize. Checked
	// when set, even without AggregateRecords.
	AggregationMaxBytes int

	// AggregationMaxCount bounds the records packed into one aggregate.
	// Default 1000; at most 1048576 (2^20).
	AggregationMaxCount int

	// ShardRateLimit, when positive, makes the stream hold back the records
	// of a shard that would exceed this percentage of the shard's write
	// limits (1000 records/s and 1 MiB/s), as the KPL's RateLimit does, so
	// that a hot shard is slowed down locally instead of throttled by
	// Kinesis. The percentage is a ceiling: each shard's own rate adapts
	// below it (additive increase, multiplicative decrease, as TCP does),
	// so that several producers writing to one shard settle on the shard's
	// capacity between them instead of throttling each other. When Kinesis
	// throttles a shard, its rate is cut by 4 records/s per throttled entry,
	// at most by half, once per round trip; while its calls succeed it
	// regains 2 % of the ceiling per second. A throttled shard does not
	// slow the others. Like aggregation, it needs the shard map
	// (ListShardsAPI), reads the stream summary at start, and is off while
	// the stream has service-managed distribution (AUTO), where shards
	// cannot be predicted. The KPL uses 150. Default 0: no local limit; at
	// most 1000.
	ShardRateLimit int

	// SpoolDir, when set, makes the stream durable across a crash of the
	// process: every record is written to a spool in this directory
	// (created if missing) before Put returns, and leaves it once it is
	// delivered or reported failed. A stream started on a directory that
	// holds records an earlier process left unsettled sends them first,
	// marked MaybeDuplicate. Records beyond MaxBatchSize or
	// MaxBufferedBytes wait on disk instead of in memory, so that Put
	// blocks (and TryPut fails) only when the spool is full: a long outage
	// fills the disk, not the heap. One stream at a time may use a
	// directory; another gets an error wrapping ErrSpoolLocked. Records
	// put with PutAsync or PutSync, whose callbacks cannot outlive the
	// process, still wait for room in memory. Default "": no spool, and
	// nothing changes.
	SpoolDir string

	// SpoolMaxBytes bounds the disk the spool takes. Default 1 GiB; from
	// 1 MiB (and at least twice MaxRecordSize) to 2^50.
	SpoolMaxBytes int64

	// SpoolSync is how often the spool is synced to stable storage
	// (fsync). A record Put accepted survives the process being killed at
	// once; a crash of the machine loses at most the records written since
	// the last sync. A negative value makes every Put wait for a sync that
	// covers its record (concurrent Puts share one: group commit), so that
	// a record Put accepted survives a machine crash too. Default 100 ms;
	// at most 1 h.
	SpoolSync time.Duration

	// Client sends the requests. Default: a *kinesis.Client built from the
	// default AWS configuration chain for Region. A nil pointer (a nil
	// *kinesis.Client) is refused with a *ConfigError.
	//
	// The stream passes options to each of its calls: they wrap the
	// client's HTTP client as HTTPClient does (unless it is wrapped
	// already), so that a race between the SDK and net/http cannot close a
	// connection under a response and make a written call look failed, and
	// for PutRecords they turn the client's own retries off, since the
	// stream retries itself. A *kinesis.Client of your own therefore needs
	// neither; wrapping its HTTP client with HTTPClient yourself protects
	// its other calls too.
	Client PutRecordsAPI
}

// maxMaxGroup bounds MaxGroup: more calls in flight than this only add
// contention (the KPL defaults to 24 connections).
const maxMaxGroup = 1024

// Upper bounds of the other numeric Config fields. They keep a mistyped
// value (math.MaxInt64, a unit slip) from overflowing a computation,
// allocating without bound or crashing the process, while leaving ample
// room for every sensible setting.
const (
	// maxBufferRecords bounds MaxBatchSize: 16 Mi records, thousands of
	// times the default and far above what aggregation needs (a few
	// thousand); more is a memory hazard, not a buffer.
	maxBufferRecords = 1 << 24
	// maxBufferBytes bounds MaxBufferedBytes: 1 TiB is beyond any machine
	// the stream would buffer on, and keeps byte counts far from overflow.
	maxBufferBytes = int64(1) << 40
	// maxRetryCount bounds RetryCount: 2^30 retries at the shortest
	// backoff (1 ms) outlast the longest RecordTTL (7 days), so a count
	// meant as "retry until RecordTTL" is accepted; a larger one can only
	// be a mistyped value.
	maxRetryCount = 1 << 30
	// maxInterval bounds RetryInterval, MaxRetryInterval, FlushInterval and
	// RequestTimeout: an hour is longer than any useful wait for a batch, a
	// backoff or one call, and keeps time arithmetic far from overflow.
	maxInterval = time.Hour
	// maxRecordTTL bounds RecordTTL: a week, the longest retention a
	// stream has without paying for extended retention (the maximum is 365
	// days, but records older than a consumer's retention are of no use
	// held in a producer's memory).
	maxRecordTTL = 7 * 24 * time.Hour
	// maxErrorBuffer bounds ErrorBufferSize: the channel is allocated at
	// its full size up front (16 bytes an error), so 1 Mi errors is 16 MiB.
	maxErrorBuffer = 1 << 20
	// maxAggCount bounds AggregationMaxCount: an aggregate of at most 10
	// MiB holds fewer than 1 Mi records of a few bytes each.
	maxAggCount = 1 << 20
	// minSpoolBytes and maxSpoolBytes bound SpoolMaxBytes, which must also
	// be at least twice MaxRecordSize: below 1 MiB a spool is of no use; 1
	// PiB is beyond any disk.
	minSpoolBytes = int64(1) << 20
	maxSpoolBytes = int64(1) << 50
	// maxRateLimit bounds ShardRateLimit, a percentage of a shard's write
	// limits: above 10 times them the limiter would never hold back a
	// record that Kinesis accepts.
	maxRateLimit = 1000
)

var streamNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

// settings is a Config with its defaults resolved.
type settings struct {
	streamName       string // as configured; may be empty when streamARN is set
	streamARN        string
	region           string // Region, or the ARN's region when Region is empty
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
	throttleTTL      time.Duration
	maxRecordSize    int
	orderByKey       bool
	errorBuffer      int
	aggregate        bool
	aggMaxBytes      int
	aggMaxCount      int
	rateLimit        int
	spoolDir         string
	spoolMaxBytes    int64
	spoolSync        time.Duration
}

func (c *Config[T]) resolve() (settings, error) {
	s := settings{
		streamName:       c.StreamName,
		streamARN:        c.StreamARN,
		region:           c.Region,
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
		throttleTTL:      orDefault(c.ThrottleTTL, DefaultThrottleTTL),
		maxRecordSize:    orDefault(c.MaxRecordSize, DefaultMaxRecordSize),
		orderByKey:       c.OrderByKey,
		errorBuffer:      orDefault(c.ErrorBufferSize, DefaultErrorBufferSize),
		aggregate:        c.AggregateRecords,
		aggMaxBytes:      c.AggregationMaxBytes,
		aggMaxCount:      orDefault(c.AggregationMaxCount, DefaultAggregationMaxCount),
		rateLimit:        c.ShardRateLimit,
		spoolDir:         c.SpoolDir,
		spoolMaxBytes:    orDefault(c.SpoolMaxBytes, DefaultSpoolMaxBytes),
		spoolSync:        orDefault(c.SpoolSync, DefaultSpoolSync),
	}
	if s.retryCount < 0 {
		s.retryCount = 0
	}
	if s.aggregate && s.aggMaxBytes == 0 {
		s.aggMaxBytes = min(DefaultAggregationMaxBytes, s.maxRecordSize)
	}
	var arn streamARN
	if c.StreamARN != "" {
		var err error
		if arn, err = parseStreamARN(c.StreamARN); err != nil {
			return s, configErr("StreamARN", err.Error())
		}
		if s.region == "" {
			s.region = arn.region
		}
	}
	switch {
	case c.StreamName == "" && c.StreamARN == "":
		return s, configErr("StreamName", "is required (or StreamARN)")
	case c.StreamName != "" && !streamNameRE.MatchString(c.StreamName):
		return s, configErr("StreamName", fmt.Sprintf("%q is not a valid stream name (1 to 128 of a-z, A-Z, 0-9, _ . -)", c.StreamName))
	case c.StreamName != "" && c.StreamARN != "" && arn.name != c.StreamName:
		return s, configErr("StreamARN", fmt.Sprintf("%q names stream %q, not StreamName %q", c.StreamARN, arn.name, c.StreamName))
	case s.region == "" && c.Client == nil:
		return s, configErr("Region", "is required when Client is not set")
	case isNil(c.Client):
		return s, configErr("Client", fmt.Sprintf("is a nil %T", c.Client))
	case s.batchRecords < 1 || s.batchRecords > MaxRecordsPerRequest:
		return s, configErr("MaxStreamBatchSize", fmt.Sprintf("%d is outside 1..%d", c.MaxStreamBatchSize, MaxRecordsPerRequest))
	case s.batchBytes < 1 || s.batchBytes > MaxRequestBytes:
		return s, configErr("MaxStreamBatchByteSize", fmt.Sprintf("%d is outside 1..%d", c.MaxStreamBatchByteSize, MaxRequestBytes))
	case s.bufferRecords < 1 || s.bufferRecords > maxBufferRecords:
		return s, configErr("MaxBatchSize", fmt.Sprintf("%d is outside 1..%d", c.MaxBatchSize, maxBufferRecords))
	case s.bufferBytes < 1 || int64(s.bufferBytes) > maxBufferBytes:
		return s, configErr("MaxBufferedBytes", fmt.Sprintf("%d is outside 1..%d", c.MaxBufferedBytes, maxBufferBytes))
	case s.maxGroup < 1 || s.maxGroup > maxMaxGroup:
		return s, configErr("MaxGroup", fmt.Sprintf("%d is outside 1..%d", c.MaxGroup, maxMaxGroup))
	case c.RetryCount > maxRetryCount:
		return s, configErr("RetryCount", fmt.Sprintf("%d is above %d", c.RetryCount, maxRetryCount))
	case s.retryInterval < 0 || s.retryInterval > maxInterval:
		return s, configErr("RetryInterval", fmt.Sprintf("%v is outside 0..%v", c.RetryInterval, maxInterval))
	case s.maxRetryInterval < 0 || s.maxRetryInterval > maxInterval:
		return s, configErr("MaxRetryInterval", fmt.Sprintf("%v is outside 0..%v", c.MaxRetryInterval, maxInterval))
	case s.flushInterval < 0 || s.flushInterval > maxInterval:
		return s, configErr("FlushInterval", fmt.Sprintf("%v is outside 0..%v", c.FlushInterval, maxInterval))
	case s.requestTimeout < 0 || s.requestTimeout > maxInterval:
		return s, configErr("RequestTimeout", fmt.Sprintf("%v is outside 0..%v", c.RequestTimeout, maxInterval))
	case s.recordTTL < 0 || s.recordTTL > maxRecordTTL:
		return s, configErr("RecordTTL", fmt.Sprintf("%v is outside 0..%v", c.RecordTTL, maxRecordTTL))
	case s.throttleTTL < 0 || s.throttleTTL > maxRecordTTL:
		return s, configErr("ThrottleTTL", fmt.Sprintf("%v is outside 0..%v", c.ThrottleTTL, maxRecordTTL))
	case s.maxRecordSize < 1 || s.maxRecordSize > MaxRecordSizeLimit:
		return s, configErr("MaxRecordSize", fmt.Sprintf("%d is outside 1..%d", c.MaxRecordSize, MaxRecordSizeLimit))
	case s.errorBuffer < 0 || s.errorBuffer > maxErrorBuffer:
		return s, configErr("ErrorBufferSize", fmt.Sprintf("%d is outside 0..%d", c.ErrorBufferSize, maxErrorBuffer))
	case (s.aggregate || c.AggregationMaxBytes != 0) && (s.aggMaxBytes < aggregate.Overhead+1 || s.aggMaxBytes > s.maxRecordSize):
		return s, configErr("AggregationMaxBytes", fmt.Sprintf("%d is outside %d..MaxRecordSize (%d)", c.AggregationMaxBytes, aggregate.Overhead+1, s.maxRecordSize))
	case s.aggMaxCount < 1 || s.aggMaxCount > maxAggCount:
		return s, configErr("AggregationMaxCount", fmt.Sprintf("%d is outside 1..%d", c.AggregationMaxCount, maxAggCount))
	case s.rateLimit < 0 || s.rateLimit > maxRateLimit:
		return s, configErr("ShardRateLimit", fmt.Sprintf("%d is outside 0..%d", c.ShardRateLimit, maxRateLimit))
	case s.spoolMaxBytes < minSpoolBytes || s.spoolMaxBytes > maxSpoolBytes:
		return s, configErr("SpoolMaxBytes", fmt.Sprintf("%d is outside %d..%d", c.SpoolMaxBytes, minSpoolBytes, maxSpoolBytes))
	case s.spoolSync > maxInterval:
		return s, configErr("SpoolSync", fmt.Sprintf("%v is above %v", c.SpoolSync, maxInterval))
	}
	if s.spoolDir != "" && s.spoolMaxBytes < 2*int64(s.maxRecordSize) {
		// Two: a record of MaxRecordSize must fit beside what the spool
		// holds when it is half full.
		return s, configErr("SpoolMaxBytes", fmt.Sprintf("%d is less than twice MaxRecordSize (%d)", s.spoolMaxBytes, s.maxRecordSize))
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

// isNil reports whether v holds a nil pointer (or other nil reference): a
// typed nil that compares unequal to nil and panics when called.
func isNil(v any) bool {
	if v == nil {
		return false // not set at all: a default client is built
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// names returns the stream's name and ARN for a request's input: nil when
// not configured.
func (s *settings) names() (name, arn *string) {
	if s.streamName != "" {
		name = &s.streamName
	}
	if s.streamARN != "" {
		arn = &s.streamARN
	}
	return name, arn
}

// stream names the stream in messages and errors: its name, or its ARN when
// only the ARN was configured.
func (s *settings) stream() string {
	if s.streamName != "" {
		return s.streamName
	}
	return s.streamARN
}

func orDefault[N int | int64 | time.Duration](v, def N) N {
	if v == 0 {
		return def
	}
	return v
}
