package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"syscall"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
)

func respErr(status int, err error) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      err,
	}}
}

func TestRequest(t *testing.T) {
	msg := aws("x")
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"a missing stream is not retried", respErr(400, &types.ResourceNotFoundException{Message: msg}), Class{Code: "ResourceNotFoundException"}},
		{"a validation error is not retried", respErr(400, &smithy.GenericAPIError{Code: "ValidationException", Fault: smithy.FaultClient}), Class{Code: "ValidationException"}},
		{"a KMS key that is disabled is not retried", respErr(400, &types.KMSDisabledException{Message: msg}), Class{Code: "KMSDisabledException"}},
		{"request-level throughput exceeded is a throttle", respErr(400, &types.ProvisionedThroughputExceededException{Message: msg}), Class{Retryable: true, Throttled: true, Code: "ProvisionedThroughputExceededException"}},
		{"limit exceeded is a throttle", respErr(400, &types.LimitExceededException{Message: msg}), Class{Retryable: true, Throttled: true, Code: "LimitExceededException"}},
		{"KMS throttling is a throttle", respErr(400, &types.KMSThrottlingException{Message: msg}), Class{Retryable: true, Throttled: true, Code: "KMSThrottlingException"}},
		{"an internal failure may have written the records", respErr(500, &smithy.GenericAPIError{Code: "InternalFailure", Fault: smithy.FaultServer}), Class{Retryable: true, Unknown: true, Code: "InternalFailure"}},
		{"an unmodelled 503 may have written the records", respErr(503, errors.New("service unavailable")), Class{Retryable: true, Unknown: true, Code: "HTTP503"}},
		{"a bare 413 is not retried", respErr(413, errors.New("too large")), Class{Code: "HTTP413"}},
		{"a 413 the SDK read as an unknown API error is not retried", respErr(413, &smithy.GenericAPIError{Code: "UnknownError", Message: "413"}), Class{Code: "HTTP413"}},
		{"an unmodelled client fault is not retried", respErr(400, &smithy.GenericAPIError{Code: "SomethingWrong", Fault: smithy.FaultClient}), Class{Code: "SomethingWrong"}},
		{"an unmodelled server fault is retried", respErr(500, &smithy.GenericAPIError{Code: "SomethingBroke", Fault: smithy.FaultServer}), Class{Retryable: true, Unknown: true, Code: "SomethingBroke"}},
		{"an expired token gets another try", respErr(400, &smithy.GenericAPIError{Code: "ExpiredTokenException", Fault: smithy.FaultClient}), Class{Retryable: true, Code: "ExpiredTokenException"}},
		{"a timeout may have written the records", fmt.Errorf("op: %w", context.DeadlineExceeded), Class{Retryable: true, Unknown: true, Code: "Timeout"}},
		{"a reset connection may have written the records", fmt.Errorf("read: %w", syscall.ECONNRESET), Class{Retryable: true, Unknown: true, Code: "ConnectionReset"}},
		{"an EOF may have written the records", fmt.Errorf("read: %w", io.EOF), Class{Retryable: true, Unknown: true, Code: "ConnectionReset"}},
		{"a refused connection wrote nothing", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), Class{Retryable: true, Code: "ConnectionRefused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Request(context.Background(), tt.err, PhaseUnknown))
		})
	}
	t.Run("a cancelled call is not retried", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got := Request(ctx, context.Canceled, PhaseUnknown)
		assert.False(t, got.Retryable)
		assert.True(t, got.Unknown)
	})
}

func aws(s string) *string { return &s }

func TestRecord(t *testing.T) {
	assert.Equal(t, Class{Retryable: true, Throttled: true, Code: "ProvisionedThroughputExceededException"}, Record("ProvisionedThroughputExceededException"))
	assert.Equal(t, Class{Retryable: true, Code: "InternalFailure"}, Record("InternalFailure"))
	assert.True(t, Record("SomethingNew").Retryable, "an unknown per-record code is retried, never dropped")
}

func TestBackoff(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	assert.Equal(t, 100*time.Millisecond, b.Window(1, false))
	assert.Equal(t, 200*time.Millisecond, b.Window(2, false))
	assert.Equal(t, 400*time.Millisecond, b.Window(3, false))
	assert.Equal(t, 200*time.Millisecond, b.Window(1, true), "throttles wait twice as long")
	assert.Equal(t, time.Second, b.Window(50, false), "capped")
	for i := 0; i < 1000; i++ {
		d := b.Delay(3, false)
		assert.True(t, d >= 0 && d <= 400*time.Millisecond, "full jitter stays in the window: %v", d)
	}
	assert.Equal(t, time.Duration(0), Backoff{}.Delay(1, false))
}

// sdkValidationError is the error the real SDK client returns for input its
// validation refuses, without sending anything.
func sdkValidationError(t *testing.T) error {
	t.Helper()
	c := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws("http://127.0.0.1:1"), Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	_, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws("s"), Records: []types.PutRecordsRequestEntry{{PartitionKey: aws("k")}}})
	if err == nil {
		t.Fatal("the SDK took a record without data")
	}
	return err
}

func TestRequestNotSent(t *testing.T) {
	invalid := sdkValidationError(t)
	creds := fmt.Errorf("get identity: %w", errors.New("no route to the metadata endpoint"))
	tests := []struct {
		name  string
		err   error
		phase Phase
		want  Class
	}{
		{"input the SDK refuses is not retried", invalid, PhaseBuild, Class{Code: "InvalidParameter"}},
		{"input the SDK refuses is known by its type when untraced", invalid, PhaseUnknown, Class{Code: "InvalidParameter"}},
		{"a request that cannot be serialized is not retried", &smithy.SerializationError{Err: errors.New("bad")}, PhaseUnknown, Class{Code: "SerializationError"}},
		{"a signing failure is not retried", &v4.SigningError{Err: errors.New("bad")}, PhaseUnknown, Class{Code: "SigningError"}},
		{"a request the SDK could not build is not retried", errors.New("resolve endpoint: bad"), PhaseBuild, Class{Code: "RequestNotBuilt"}},
		{"an endpoint that cannot be used is not retried", errors.New("resolve endpoint: bad"), PhaseSign, Class{Code: "RequestNotBuilt"}},
		{"a credentials failure is retried, and wrote nothing", creds, PhaseCredentials, Class{Retryable: true, Code: "CredentialsError"}},
		{"empty credentials are not retried", fmt.Errorf("get identity: %w", &credentials.StaticCredentialsEmptyError{}), PhaseCredentials, Class{Code: "CredentialsError"}},
		{"empty credentials are known by their type when untraced", fmt.Errorf("get identity: %w", &credentials.StaticCredentialsEmptyError{}), PhaseUnknown, Class{Code: "CredentialsError"}},
		{"an expired SSO token is not retried", fmt.Errorf("get identity: %w", &ssocreds.InvalidTokenError{}), PhaseCredentials, Class{Code: "CredentialsError"}},
		{"a timeout before sending wrote nothing", fmt.Errorf("op: %w", context.DeadlineExceeded), PhaseSign, Class{Retryable: true, Code: "Timeout"}},
		{"a timeout after sending may have written", fmt.Errorf("op: %w", context.DeadlineExceeded), PhaseSent, Class{Retryable: true, Unknown: true, Code: "Timeout"}},
		{"an untyped error of an untraced call may have written", errors.New("odd"), PhaseUnknown, Class{Retryable: true, Unknown: true, Code: "RequestError"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Request(context.Background(), tt.err, tt.phase))
		})
	}
	t.Run("a call cancelled before it was sent wrote nothing", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		assert.Equal(t, Class{Code: "Canceled"}, Request(ctx, context.Canceled, PhaseCredentials))
	})
}

func TestBackoffDoesNotOverflow(t *testing.T) {
	huge := Backoff{Base: math.MaxInt64, Max: math.MaxInt64}
	for _, n := range []int{1, 2, 3, 64, 1000} {
		for _, throttled := range []bool{false, true} {
			assert.Equal(t, time.Duration(math.MaxInt64), huge.Window(n, throttled))
			assert.GreaterOrEqual(t, huge.Delay(n, throttled), time.Duration(0))
		}
	}
	big := Backoff{Base: math.MaxInt64/2 + 1, Max: math.MaxInt64}
	assert.Equal(t, time.Duration(math.MaxInt64), big.Window(2, false), "doubling saturates instead of wrapping negative")
	capped := Backoff{Base: time.Hour, Max: time.Hour}
	assert.Equal(t, time.Hour, capped.Window(100, true))
}
