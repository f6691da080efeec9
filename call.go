package inskinesis

import (
	"context"
	"errors"
	"strings"

	sdkretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go/middleware"

	"github.com/go-pkg/inskinesis/internal/putjson"
	"github.com/go-pkg/inskinesis/internal/retry"
	"github.com/go-pkg/inskinesis/internal/transport"
)

// callOptions are the per-call options of every PutRecords call: the SDK
// tries once (the stream retries the records itself, and retries must not
// multiply), its HTTP client hides request bodies' WriteTo (see HTTPClient),
// markers in its middleware stack note how far the call got, so that a
// call the SDK refused before sending is known to have written nothing,
// and the request body is written by package putjson (see putjson.Wrap).
func callOptions(o *kinesis.Options) {
	o.RetryMaxAttempts = 1
	wrapHTTPClient(o)
	o.APIOptions = append(o.APIOptions, addPhaseMarkers)
	o.Protocol = putjson.Wrap(o.Protocol)
}

// wrapHTTPClient is the per-call option of the stream's ListShards and
// DescribeStreamSummary calls:
// the same request body workaround as callOptions. The SDK keeps its own
// retries there: the stream does not retry those calls itself.
func wrapHTTPClient(o *kinesis.Options) {
	if o.HTTPClient != nil && !transport.Wrapped(o.HTTPClient) {
		o.HTTPClient = transport.Client(o.HTTPClient)
	}
}

// shardLister passes wrapHTTPClient to every ListShards call of the stream.
type shardLister struct{ api ListShardsAPI }

func (l shardLister) ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return l.api.ListShards(ctx, in, append(optFns, wrapHTTPClient)...)
}

// callTrace records how far the SDK took one call. The markers run on the
// calling goroutine, within the call.
type callTrace struct{ phase retry.Phase }

type traceKey struct{}

// withTrace returns ctx carrying t for the markers.
func withTrace(ctx context.Context, t *callTrace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

func mark(ctx context.Context, p retry.Phase) {
	if t, ok := ctx.Value(traceKey{}).(*callTrace); ok {
		t.phase = p
	}
}

// The markers. A marker that cannot be placed (an SDK whose stack lacks the
// step it is placed after) is left out: the phase then stays at the one
// before, which errs towards the earlier phase only for the failures in
// between.
var (
	markBuild = middleware.InitializeMiddlewareFunc("inskinesis.MarkBuild",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			mark(ctx, retry.PhaseBuild)
			return next.HandleInitialize(ctx, in)
		})
	markCredentials = finalizeMarker("inskinesis.MarkCredentials", retry.PhaseCredentials)
	markSign        = finalizeMarker("inskinesis.MarkSign", retry.PhaseSign)
	markSent        = finalizeMarker("inskinesis.MarkSent", retry.PhaseSent)
)

// finalizeMarker is a marker of the finalize step: it notes phase p and
// passes the request on.
func finalizeMarker(id string, p retry.Phase) middleware.FinalizeMiddleware {
	return middleware.FinalizeMiddlewareFunc(id,
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			mark(ctx, p)
			return next.HandleFinalize(ctx, in)
		})
}

// addPhaseMarkers places the markers: first of all, around the SDK's
// credentials retrieval (GetIdentity), and last before the request leaves
// (after signing).
func addPhaseMarkers(st *middleware.Stack) error {
	if err := st.Initialize.Add(markBuild, middleware.Before); err != nil {
		return nil // without the first marker the call stays untraced
	}
	_ = st.Finalize.Insert(markCredentials, "GetIdentity", middleware.Before)
	_ = st.Finalize.Insert(markSign, "GetIdentity", middleware.After)
	_ = st.Finalize.Add(markSent, middleware.After)
	return nil
}

// sdkError is an error of the SDK, shown without the SDK's retry wrapper
// ("exceeded maximum number of attempts, 1, …"): the SDK tries each call
// once, and the stream reports its own count of attempts. Unwrap gives the
// SDK's error whole.
type sdkError struct {
	err error
	msg string
}

func (e *sdkError) Error() string { return e.msg }
func (e *sdkError) Unwrap() error { return e.err }

// cleanSDKError returns err with the SDK's attempts wrapper left out of its
// message.
func cleanSDKError(err error) error {
	var me *sdkretry.MaxAttemptsError
	if !errors.As(err, &me) || me.Err == nil {
		return err
	}
	msg := err.Error()
	wrapped := me.Error()
	i := strings.Index(msg, wrapped)
	if i < 0 {
		return err
	}
	return &sdkError{err: err, msg: msg[:i] + me.Err.Error() + msg[i+len(wrapped):]}
}
