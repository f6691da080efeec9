// Package inskinesis streams typed records into Amazon Kinesis Data Streams.
//
// A Stream[T] takes records of any type T, encodes each with a Codec[T]
// (JSON unless configured; see codec/json, codec/msgpack, codec/proto),
// picks its partition key with a Partitioner[T] (a random UUID unless
// configured; see package partition), and checks it against the service's
// limits at once, so that a bad record fails its own Put and nothing else.
// Records then wait in a bounded buffer, go out in PutRecords calls cut to
// the count and byte limits, and are retried one by one when Kinesis
// rejects them. Every record is either delivered or reported:
//
//	Put(v) ─> encode, partition, check ─> bounded buffer (Put blocks when full)
//	       ─> batches (count, bytes, FlushInterval) ─> up to MaxGroup PutRecords calls
//	       ─> per record: delivered (Result with shard and sequence number)
//	                      retryable ─> back to the front of the queue after backoff
//	                      not retryable or out of retries ─> *PutError[T] on Error()
//
// The work per record is spread so that no one goroutine caps a stream:
// each Put encodes, partitions and checks its record on the caller's
// goroutine (and, with AggregateRecords or ShardRateLimit, computes the
// hash key that routes it); one goroutine of the stream decides which
// records go together and when, and settles their outcomes; and each
// PutRecords call builds its own input, KPL aggregates included, on the
// goroutine that makes it. Each piece of state has one owner: a lock-guarded
// ledger counts what the stream holds and has finished (for backpressure
// and Flush) and holds the inbox Put hands records in through; the loop
// alone owns the queue, the records waiting to be retried, the calls in
// flight and the shard stage, and settles each round's outcomes at once:
// the space goes back to Put, failures are reported once per cause, and
// each record goes to its caller.
//
// # Delivery guarantees
//
// Kinesis is at-least-once, and so is the stream: a record Put accepted is
// delivered, or it is reported, with its value and the reason, on the Error
// channel and to its PutAsync callback. A record is written twice only when
// an attempt's outcome was unknown (a timeout, a dropped connection, a
// server error) and it was sent again; Result.MaybeDuplicate and
// PutError.MaybeWritten say so. FlushAndStopStreaming delivers everything
// already put before it returns; Close does so within a deadline, returns
// by it, and returns what it had to give up: the records not delivered, and
// those whose callbacks it did not run.
//
// # Retries
//
// Only the entries of a PutRecords response that carry an ErrorCode are sent
// again, oldest first and ahead of newer records, after exponential backoff
// with full jitter (Config.RetryInterval, doubling to Config.MaxRetryInterval,
// longer when throttled), up to Config.RetryCount times. Throttling is
// backpressure, not failure: a throttled attempt costs no retry, and a
// throttled record goes again until Config.RecordTTL, or Config.ThrottleTTL
// (30 s) without one, has passed; only the other failures count against
// RetryCount. Errors no retry can fix (ValidationException,
// ResourceNotFoundException, AccessDeniedException, the KMS errors) fail the
// records at once. The SDK's own retries are turned off for these calls, so
// the two do not multiply.
//
// # Observability
//
// Config.Logger (a *slog.Logger) receives the stream's log lines: start,
// shard-map reads and their failures, aggregation turned on or off,
// throttling and failed records (rate-limited), and the stop. Config.Hooks
// takes values implementing any of the Hook* interfaces (HookRecordBuffered,
// HookRecordUnbuffered, HookRequestDone, HookThrottle, HookRetry,
// HookShardMap, HookAggregation), called synchronously with an event per
// record, call, throttle, retry or shard-map read. Without them a stream
// pays nothing. The modules plugin/inprom and plugin/inotel turn the hooks
// into the Kinesis Producer Library's metrics for Prometheus and
// OpenTelemetry.
//
// # Stream ARNs, AUTO streams and large records
//
// Config.StreamARN names the stream by its ARN, alone or with StreamName,
// and is sent on every call. With AggregateRecords or ShardRateLimit the
// stream reads the stream summary (DescribeStreamSummaryAPI): on a stream
// whose service places records itself (RecordDistributionStrategy AUTO)
// it sends plain records and takes records without a partition key, and
// it takes the stream's maximum record size when Config.MaxRecordSize is
// unset. Stats reports what it found.
//
// # Durability
//
// Config.SpoolDir keeps every record in an on-disk spool from Put until its
// outcome is known: Put returns once the record is in the spool file, so a
// record survives the process being killed (and a machine crash after the
// next sync, every Config.SpoolSync); a stream started on the directory
// sends what an earlier process left first, flagged MaybeDuplicate; and
// records beyond MaxBatchSize or MaxBufferedBytes wait on disk, so that an
// outage fills the disk, not the heap.
package inskinesis
