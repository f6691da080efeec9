// Package retry classifies Kinesis PutRecords failures and computes backoff
// delays. It follows the service's documented error codes: per-record
// failures are only ever ProvisionedThroughputExceededException or
// InternalFailure (both retryable), while whole-request errors are either
// throttling or server faults (retryable) or client faults such as
// ValidationException or ResourceNotFoundException (not retryable).
package retry

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"syscall"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/smithy-go"
)

// Class says what a failure means for the records it touched.
type Class struct {
	// Retryable is true when sending the records again may succeed.
	Retryable bool
	// Throttled is true when the service asked the producer to slow down;
	// backoff is then longer.
	Throttled bool
	// Unknown is true when the records may have been written although the
	// call failed (a timeout, a dropped connection, a server error): a resend
	// may then write them twice.
	Unknown bool
	// Code is the AWS error code, or a short local reason when there is none.
	Code string
}

// Codes of errors that no retry can fix.
var fatal = map[string]bool{
	"ValidationException":         true,
	"InvalidArgumentException":    true,
	"ResourceNotFoundException":   true,
	"AccessDeniedException":       true,
	"KMSAccessDeniedException":    true,
	"KMSDisabledException":        true,
	"KMSInvalidStateException":    true,
	"KMSNotFoundException":        true,
	"KMSOptInRequired":            true,
	"UnrecognizedClientException": true,
	"InvalidSignatureException":   true,
	"MissingAuthenticationToken":  true,
	"IncompleteSignature":         true,
	"SerializationException":      true,
	"UnknownOperationException":   true,
}

// Codes that mean "slow down"; the request was not processed.
var throttles = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"LimitExceededException":                 true,
	"KMSThrottlingException":                 true,
	"ThrottlingException":                    true,
	"Throttling":                             true,
	"RequestLimitExceeded":                   true,
	"TooManyRequestsException":               true,
}

// Record classifies the ErrorCode of one entry of a PutRecords response.
// Kinesis documents two codes, ProvisionedThroughputExceededException and
// InternalFailure; neither wrote the record. Any other code is treated as
// retryable too, so that an unexpected code cannot drop a record.
func Record(code string) Class {
	return Class{Retryable: true, Throttled: throttles[code], Code: code}
}

// Phase is how far the SDK took a call before it failed. The stream learns
// it from markers it adds to the SDK's middleware stack of each call.
type Phase uint8

const (
	// PhaseUnknown: the call was not traced (a client that does not run the
	// SDK's middleware stack, such as a fake). Only the error's type tells
	// whether it was sent.
	PhaseUnknown Phase = iota
	// PhaseBuild: the SDK was validating, serializing or building the
	// request.
	PhaseBuild
	// PhaseCredentials: the SDK was retrieving credentials.
	PhaseCredentials
	// PhaseSign: the SDK had credentials and was resolving the endpoint or
	// signing the request.
	PhaseSign
	// PhaseSent: the request was signed and handed to the HTTP client.
	PhaseSent
)

// Request classifies the error of a whole PutRecords call. ctx is the
// context the call ran under: when it was cancelled on purpose (a shutdown
// that gave up), the failure is not retryable. phase is how far the SDK got.
//
// A call that failed before it was handed to the HTTP client wrote nothing,
// so its class is never Unknown:
//   - input the SDK's validation refuses (smithy.InvalidParamsError), a
//     request it cannot serialize (*smithy.SerializationError) or build, and
//     a signing failure (*v4.SigningError, or any failure after credentials
//     were retrieved) are not retryable: the same request fails the same way.
//   - a failure to retrieve credentials is retryable (a credentials
//     provider that refreshes an expired token, or reaches an instance
//     metadata or STS endpoint that was briefly away, may succeed next time),
//     unless its type says that no retry can heal it: empty static
//     credentials (*credentials.StaticCredentialsEmptyError) or a missing
//     or expired SSO token (*ssocreds.InvalidTokenError), which need the
//     user to act.
func Request(ctx context.Context, err error, phase Phase) Class {
	sent := phase == PhaseSent || phase == PhaseUnknown
	if ctx != nil && errors.Is(ctx.Err(), context.Canceled) {
		return Class{Unknown: sent, Code: "Canceled"}
	}
	if c, ok := unsent(err, phase); ok {
		return c
	}
	var apiErr smithy.APIError
	isAPI := errors.As(err, &apiErr)
	code := ""
	if isAPI {
		code = apiErr.ErrorCode()
		switch {
		case fatal[code]:
			return Class{Code: code}
		case throttles[code]:
			return Class{Retryable: true, Throttled: true, Code: code}
		case code == "ExpiredTokenException" || code == "RequestExpired" || code == "ResourceInUseException":
			// An expired token is refreshed by the credentials provider,
			// a stream being updated becomes active again: one more try.
			return Class{Retryable: true, Code: code}
		}
	}
	if s := status(err); s != 0 {
		if code == "" || code == "UnknownError" {
			code = "HTTP" + strconv.Itoa(s)
		}
		switch {
		case s == 429:
			return Class{Retryable: true, Throttled: true, Code: code}
		case s >= 500:
			return Class{Retryable: true, Unknown: true, Code: code}
		default:
			// A client error no retry can fix, such as a bare 413 from a
			// proxy or a local server for a request it finds too large.
			return Class{Code: code}
		}
	}
	if isAPI {
		if apiErr.ErrorFault() == smithy.FaultClient {
			return Class{Code: code}
		}
		return Class{Retryable: true, Unknown: true, Code: code}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Class{Retryable: true, Unknown: true, Code: "Timeout"}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return Class{Retryable: true, Unknown: true, Code: "ConnectionReset"}
	case errors.Is(err, syscall.ECONNREFUSED):
		// Nothing was sent.
		return Class{Retryable: true, Code: "ConnectionRefused"}
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return Class{Retryable: true, Unknown: true, Code: "NetworkError"}
	}
	// An error the service did not send (a signing or transport failure):
	// retry it, capped by the retry count, rather than lose records on a
	// transient fault.
	return Class{Retryable: true, Unknown: true, Code: "RequestError"}
}

// unsent classifies a failure that happened before the request was handed to
// the HTTP client, and reports whether err is one.
func unsent(err error, phase Phase) (Class, bool) {
	var params smithy.InvalidParamsError
	var paramsPtr *smithy.InvalidParamsError
	var ser *smithy.SerializationError
	var sign *v4.SigningError
	switch {
	case phase == PhaseSent:
		return Class{}, false
	case errors.As(err, &params), errors.As(err, &paramsPtr):
		return Class{Code: "InvalidParameter"}, true
	case errors.As(err, &ser):
		return Class{Code: "SerializationError"}, true
	case errors.As(err, &sign):
		return Class{Code: "SigningError"}, true
	case phase == PhaseCredentials || permanentCredentials(err):
		if errors.Is(err, context.DeadlineExceeded) || !permanentCredentials(err) {
			return Class{Retryable: true, Code: "CredentialsError"}, true
		}
		return Class{Code: "CredentialsError"}, true
	case phase == PhaseUnknown:
		return Class{}, false
	case errors.Is(err, context.DeadlineExceeded):
		// The call's time ran out before it was sent.
		return Class{Retryable: true, Code: "Timeout"}, true
	default: // PhaseBuild or PhaseSign: an endpoint, a signature or a
		// request the SDK could not make; the same request fails the same way.
		return Class{Code: "RequestNotBuilt"}, true
	}
}

// permanentCredentials reports whether err is a credentials failure that
// needs the user to act.
func permanentCredentials(err error) bool {
	var empty *credentials.StaticCredentialsEmptyError
	var sso *ssocreds.InvalidTokenError
	return errors.As(err, &empty) || errors.As(err, &sso)
}

func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// Backoff computes exponential backoff with full jitter: the n-th retry
// waits a uniformly random time in [0, min(Max, Base·2^(n-1))]. Throttled
// retries use a window twice as long, so that a throttled shard gets more
// air than a transient fault needs.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// Window returns the upper bound of the delay before retry n (n ≥ 1).
func (b Backoff) Window(n int, throttled bool) time.Duration {
	if n < 1 {
		n = 1
	}
	if throttled {
		n++
	}
	w := max(b.Base, 0)
	for i := 1; i < n && w < b.Max; i++ {
		if w > math.MaxInt64/2 {
			w = math.MaxInt64 // doubling would overflow
			break
		}
		w *= 2
	}
	if w > b.Max {
		w = max(b.Max, 0)
	}
	return w
}

// Delay returns a random delay before retry n (n ≥ 1).
func (b Backoff) Delay(n int, throttled bool) time.Duration {
	w := b.Window(n, throttled)
	if w <= 0 {
		return 0
	}
	if w == math.MaxInt64 {
		return time.Duration(rand.Int64N(int64(w))) // w+1 would overflow
	}
	return time.Duration(rand.Int64N(int64(w) + 1))
}
