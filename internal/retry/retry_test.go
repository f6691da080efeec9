package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
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
			assert.Equal(t, tt.want, Request(context.Background(), tt.err))
		})
	}
	t.Run("a cancelled call is not retried", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got := Request(ctx, context.Canceled)
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
