package inskinesis

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
)

var (
	// ErrClosed is returned by Put and its variants after the stream began to
	// shut down (FlushAndStopStreaming or Close).
	ErrClosed = errors.New("inskinesis: stream closed")

	// ErrBufferFull is returned by TryPut when the stream already holds
	// MaxBatchSize records or MaxBufferedBytes bytes.
	ErrBufferFull = errors.New("inskinesis: buffer full")

	// ErrRecordTooLarge is returned by Put when a record's data plus
	// partition key exceed the stream's maximum record size
	// (Config.MaxRecordSize, 1 MiB unless configured).
	ErrRecordTooLarge = errors.New("inskinesis: record too large")

	// ErrInvalidPartitionKey is returned by Put when a record's partition
	// key is empty, longer than 256 Unicode code points, or not valid UTF-8.
	// An empty key is valid only while the stream has found service-managed
	// distribution (AUTO; see Config.Partitioner); a record taken so and
	// not yet sent when the stream goes back to partition keys is reported
	// with this cause (code "InvalidPartitionKey").
	ErrInvalidPartitionKey = errors.New("inskinesis: invalid partition key")

	// ErrInvalidHashKey is returned by Put when a record's explicit hash key
	// is not a decimal number from 0 to 2^128-1.
	ErrInvalidHashKey = errors.New("inskinesis: invalid explicit hash key")

	// ErrEncode is returned by Put when the codec fails to encode a record
	// (or panics); the codec's own error is wrapped too.
	ErrEncode = errors.New("inskinesis: encode record")

	// ErrRetriesExhausted is the cause of a PutError for records that still
	// failed after Config.RetryCount retries. The last failure, with its
	// AWS error code, is wrapped too.
	ErrRetriesExhausted = errors.New("inskinesis: retries exhausted")

	// ErrRecordExpired is the cause of a PutError for records that were not
	// delivered within Config.RecordTTL, or that Kinesis still throttled
	// Config.ThrottleTTL after they were put (when RecordTTL is not set).
	// The last error, with its AWS error code, is wrapped too when there
	// was one.
	ErrRecordExpired = errors.New("inskinesis: record expired")

	// ErrAborted is the cause of a PutError for records that were not
	// delivered when a shutdown's context ended (Close). Records whose
	// request was in flight then may or may not have been written.
	ErrAborted = errors.New("inskinesis: shutdown aborted before delivery")

	// ErrInCallback is returned by Flush and Close when called from a
	// PutAsync callback: they wait for callbacks to finish, so they would
	// wait for the very callback that called them. Close (and
	// FlushAndStopStreaming) still starts the shutdown; Done tells when it
	// has finished.
	ErrInCallback = errors.New("inskinesis: called from a PutAsync callback")

	// ErrInvalidConfig is matched by every *ConfigError.
	ErrInvalidConfig = errors.New("inskinesis: invalid config")
)

// ConfigError reports a Config field that NewKinesis cannot accept.
// errors.Is(err, ErrInvalidConfig) is true for it.
type ConfigError struct {
	Field  string // the Config field, e.g. "MaxStreamBatchSize"
	Reason string
}

func configErr(field, reason string) error { return &ConfigError{Field: field, Reason: reason} }

func (e *ConfigError) Error() string {
	return "inskinesis: invalid config: " + e.Field + " " + e.Reason
}

// Is reports whether target is ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// PutError reports records that the stream could not deliver. It reaches the
// caller on the Error channel (read it with errors.As), in Result.Err, and
// from Close.
//
// Which records a PutError holds depends on where it comes from:
//   - On Error, records failed together for the same reason share one
//     PutError: Records may hold other callers' records.
//   - In Result.Err (a PutAsync callback or PutSync), Records holds that
//     one record alone, with its own Attempts and MaybeWritten, so that a
//     caller never counts or re-queues records that are not its own.
//   - From Close, Records holds every record the shutdown gave up on.
//
// So a failed record is reported on Error once, and to its callback once;
// handle it in one of the two places. The records Close gives up on are
// also on Error (and their callbacks, if any, run with ErrAborted), except
// those whose callbacks Close gave up on, which are only in Close's error.
type PutError[T any] struct {
	// Records are the records not delivered, as they were put.
	Records []T
	// Raw holds the records not delivered that were read back from the
	// spool (Config.SpoolDir) and that Codec.Decode could no longer turn
	// into a value, such as records an earlier process wrote with another
	// codec: they are reported with their encoding instead. Records does
	// not hold them. Empty without a spool.
	Raw []RawRecord
	// Code is the AWS error code of the last failure (for example
	// "ResourceNotFoundException" or "ProvisionedThroughputExceededException"),
	// or a local reason when AWS sent none ("Timeout", "ConnectionReset",
	// "Expired", "Aborted", "MalformedResponse"; for a call the SDK did not
	// send, "InvalidParameter", "SerializationError", "SigningError",
	// "RequestNotBuilt" or "CredentialsError"; "Rejected" in a PutSync
	// Result for a record it could not put).
	Code string
	// Attempts is how many times the records were sent (the largest count
	// among them when they differ).
	Attempts int
	// MaybeWritten is true when at least one of the records may have been
	// written after all: an attempt's outcome was unknown (a timeout, a
	// dropped connection, a server error).
	MaybeWritten bool
	// Err is the cause. It matches ErrRetriesExhausted, ErrRecordExpired or
	// ErrAborted where those apply, and wraps the AWS error, which
	// errors.As reads as a smithy.APIError.
	Err error
}

// merge adds records that failed for the same reason to e.
func (e *PutError[T]) merge(records []T, raw []RawRecord, attempts int, maybeWritten bool) {
	e.Records = append(e.Records, records...)
	e.Raw = append(e.Raw, raw...)
	e.Attempts = max(e.Attempts, attempts)
	e.MaybeWritten = e.MaybeWritten || maybeWritten
}

func (e *PutError[T]) Error() string {
	var b strings.Builder
	n := len(e.Records) + len(e.Raw)
	fmt.Fprintf(&b, "inskinesis: %d record", n)
	if n != 1 {
		b.WriteByte('s')
	}
	fmt.Fprintf(&b, " not delivered after %d attempt", e.Attempts)
	if e.Attempts != 1 {
		b.WriteByte('s')
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *PutError[T]) Unwrap() error { return e.Err }

// RawRecord is a record reported with its encoding, because its value
// could not be decoded (see PutError.Raw).
type RawRecord struct {
	PartitionKey    string
	ExplicitHashKey string // empty when none
	Data            []byte // the encoded record, as stored in the spool
	Err             error  // why Codec.Decode failed
}

// RecordError is the failure of one entry of a PutRecords response, which
// Kinesis reports with an error code and message but no error of the call.
// It satisfies smithy.APIError, so that errors.As(err, &apiErr) reads the
// code whether the whole call or one record failed.
type RecordError struct {
	Code    string
	Message string
}

var _ smithy.APIError = (*RecordError)(nil)

func (e *RecordError) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// ErrorCode returns the AWS error code.
func (e *RecordError) ErrorCode() string { return e.Code }

// ErrorMessage returns the AWS error message.
func (e *RecordError) ErrorMessage() string { return e.Message }

// ErrorFault reports the fault as the service's: per-record failures are
// throttling or internal failures.
func (e *RecordError) ErrorFault() smithy.ErrorFault { return smithy.FaultServer }

// onePutError is a PutError for one record, with its Records backed by the
// same allocation.
type onePutError[T any] struct {
	pe  PutError[T]
	rec [1]T
}

// newRecordPutError returns the PutError of r alone, for its Result.
func newRecordPutError[T any](r *record[T], code string, cause error) *PutError[T] {
	o := &onePutError[T]{rec: [1]T{r.value}}
	o.pe = PutError[T]{Records: o.rec[:], Code: code, Attempts: r.attempts, MaybeWritten: r.maybeWritten, Err: cause}
	return &o.pe
}
