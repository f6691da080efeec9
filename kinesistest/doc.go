// Package kinesistest runs an in-process Amazon Kinesis Data Streams server
// for tests, in the spirit of net/http/httptest: start it, point the real
// aws-sdk-go-v2 Kinesis client at it, and inspect what landed.
//
//	srv := kinesistest.Start(t)             // or NewServer + Close
//	_ = srv.CreateStream("orders", 4)
//	client := srv.Client()                  // *kinesis.Client for srv.URL()
//	// ... code under test writes with client ...
//	recs, _ := srv.Records("orders")
//	kr, _ := srv.KinesisRecords("orders")   // as types.Record, e.g. for aggregation.Decode
//
// The server listens on 127.0.0.1 on a random port and speaks the awsJson1_1
// protocol of the SDKs (POST /, X-Amz-Target: Kinesis_20131202.<Operation>,
// JSON bodies with base64 blobs, errors as {"__type": code, "message": …}).
// It does not check signatures. It implements CreateStream, DeleteStream,
// DescribeStream, DescribeStreamSummary, ListStreams, ListShards, PutRecord,
// PutRecords, GetShardIterator, GetRecords, SplitShard, MergeShards,
// UpdateMaxRecordSize and UpdateStreamRecordDistributionStrategy; any other
// target gets UnknownOperationException. Every operation that names a
// stream takes StreamName, StreamARN (arn:aws:kinesis:us-east-1:
// 000000000000:stream/NAME, see Region and AccountID) or both; both must
// then name the same stream (InvalidArgumentException otherwise), and an
// ARN of another account or region gives ResourceNotFoundException.
//
// # Behaviour of AWS it reproduces
//
//   - Streams split the 128-bit hash key space evenly as AWS does; a record
//     goes to the open shard owning MD5(partition key) read as a big-endian
//     unsigned integer, or its ExplicitHashKey.
//   - PutRecords takes 1..500 records and at most 10 MiB in all (data plus
//     partition keys). A record may hold at most the stream's maximum record
//     size (1 MiB unless set by CreateStream's MaxRecordSizeInKiB,
//     UpdateMaxRecordSize or WithMaxRecordSizeKiB), data and partition key
//     (UTF-8 bytes) counted together. Partition keys hold 1..256 Unicode code
//     points; ExplicitHashKey must match 0|([1-9]\d{0,38}) and be at most
//     2^128-1. A single bad record fails the whole request:
//     ValidationException for member constraints and sizes,
//     InvalidArgumentException for an ExplicitHashKey above 2^128-1 and for
//     a request over 10 MiB ("Records size exceeds 10 MB limit"), as AWS
//     answers.
//   - Sequence numbers are 56-digit decimal strings that strictly increase
//     within a shard and follow arrival order across the shards of a stream.
//   - Optional per-shard write limits (WithShardLimits) answer
//     ProvisionedThroughputExceededException per record, with AWS's message
//     "Rate exceeded for shard … in stream … under account …".
//   - UpdateStreamRecordDistributionStrategy (by StreamARN, ON_DEMAND
//     streams only, as on AWS) sets AUTO or USER_PARTITION_KEY, which
//     DescribeStreamSummary reports as RecordDistributionStrategy. Under
//     AUTO the server places records on the open shards in turn, ignoring
//     partition keys and ExplicitHashKey, accepts records without a
//     partition key, and refuses PutRecord's SequenceNumberForOrdering.
//   - ListShards pages with MaxResults and NextToken (which may not come
//     with StreamName) and filters with ShardFilter; closed shards keep
//     their EndingSequenceNumber after SplitShard and MergeShards.
//
// # Where it differs from AWS
//
// Streams and reshards are ACTIVE at once (no CREATING or UPDATING), records
// are never trimmed (no retention), read limits are not enforced, enhanced
// fan-out, encryption, tags, consumers and DryRun are not implemented, and the
// account shard quota defaults to 10000 open shards (WithShardQuota).
//
// # Failures for tests
//
// WithFaults and Server.SetFaults inject, deterministically from a seed,
// per-record InternalFailure, whole-request errors (500 InternalFailure, 503
// ServiceUnavailable, 400 ProvisionedThroughputExceededException or
// LimitExceededException), latency, and connections closed without an
// answer before or after the records were written. Stats counts what
// happened. The clock is injectable (WithClock), so throttling tests need no
// sleeps.
package kinesistest
