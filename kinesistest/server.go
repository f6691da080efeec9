package kinesistest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/go-pkg/inskinesis/internal/transport"
)

const (
	// Region is the AWS region the server reports in stream ARNs, and the
	// region of the clients made by Server.Client.
	Region = "us-east-1"
	// AccountID is the AWS account id the server reports in stream ARNs and
	// error messages.
	AccountID = "000000000000"

	targetPrefix = "Kinesis_20131202."
	jsonType     = "application/x-amz-json-1.1"

	// maxBodyBytes bounds a request body. A PutRecords body over it holds
	// more than 10 MiB of data even fully base64-encoded, so no valid request
	// is refused by it.
	maxBodyBytes = 64 << 20
)

// Option configures a Server. Options are applied in order by NewServer
// and Start; an invalid option makes NewServer return an error.
type Option func(*config)

type config struct {
	now       func() time.Time
	limits    ShardLimits
	faults    Faults
	maxKiB    int
	maxShards int
	err       error
}

// WithClock sets the clock the server reads for arrival timestamps, shard
// limit refills, iterator and token expiry and AT_TIMESTAMP positions.
// Default: time.Now. A test clock that only moves when the test moves it
// makes throttling outcomes exact; the server never sleeps on this clock
// (Faults.Latency uses the real clock). now must be safe for concurrent use.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now == nil {
			c.err = errors.New("kinesistest: WithClock(nil)")
			return
		}
		c.now = now
	}
}

// WithShardLimits turns on per-shard write limits (token buckets, see
// ShardLimits); AWSShardLimits gives those of AWS. A record refused by them
// gets ErrorCode ProvisionedThroughputExceededException in PutRecords, and a
// PutRecord fails with that code (HTTP 400).
//
// Default: no limits. They are off by default because on the real clock
// whether a burst is throttled depends on how fast the test machine sends it,
// so a test that does not think about throttling would pass or fail by
// timing; and large test volumes would otherwise take seconds per thousand
// records per shard. Tests of throttling turn them on together with WithClock
// so that every outcome is decided by the clock the test controls.
func WithShardLimits(l ShardLimits) Option {
	return func(c *config) {
		if err := l.validate(); err != nil {
			c.err = err
			return
		}
		c.limits = l
	}
}

// WithFaults sets the faults injected into write requests from the start.
// Default: none. Server.SetFaults changes them at run time.
func WithFaults(f Faults) Option {
	return func(c *config) {
		if err := f.validate(); err != nil {
			c.err = err
			return
		}
		f.RequestErrors = slices.Clone(f.RequestErrors)
		c.faults = f
	}
}

// WithMaxRecordSizeKiB sets the maximum record size (data plus partition
// key) of streams created without CreateStream's MaxRecordSizeInKiB, in KiB,
// within AWS's range 1024..10240. Default: 1024 (1 MiB), AWS's default.
func WithMaxRecordSizeKiB(kib int) Option {
	return func(c *config) {
		if kib < minRecordKiB || kib > maxRecordKiB {
			c.err = fmt.Errorf("kinesistest: WithMaxRecordSizeKiB(%d): want %d..%d", kib, minRecordKiB, maxRecordKiB)
			return
		}
		c.maxKiB = kib
	}
}

// WithShardQuota sets the most open shards the server holds across all its
// streams, like an AWS account's shard quota: CreateStream and SplitShard
// beyond it fail with LimitExceededException. Default: 10000.
func WithShardQuota(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.err = fmt.Errorf("kinesistest: WithShardQuota(%d): want >= 1", n)
			return
		}
		c.maxShards = n
	}
}

const (
	minRecordKiB = 1024
	maxRecordKiB = 10240
	// maxRequestBytes is the PutRecords request limit: the sum over its
	// records of data plus partition key bytes (10 MiB since October 2025).
	maxRequestBytes = 10 << 20
	maxPutRecords   = 500
	iteratorTTL     = 5 * time.Minute
	nextTokenTTL    = 300 * time.Second
)

// Server is an in-process Kinesis Data Streams endpoint on 127.0.0.1 that
// speaks the awsJson1_1 protocol of the AWS SDKs. All its methods are safe
// for concurrent use.
type Server struct {
	ts        *httptest.Server
	now       func() time.Time
	limits    ShardLimits
	maxKiB    int
	maxShards int

	// mu guards the stream map and the shard count. Operations that add or
	// remove shards hold it exclusively; a stream's own lock is always taken
	// after it, never before.
	mu         sync.RWMutex
	streams    map[string]*stream
	epoch      uint64
	openShards int

	faultMu sync.Mutex
	faults  Faults
	rng     *rand.Rand

	stats  statsCounters
	reqIDs atomic.Uint64

	done      chan struct{}
	closeOnce sync.Once

	clientMu   sync.Mutex
	transports []*http.Transport
}

// NewServer starts a server on a random port of 127.0.0.1. It returns an
// error for an invalid option or when it cannot listen. Call Close when done.
func NewServer(opts ...Option) (*Server, error) {
	c := config{now: time.Now, maxKiB: minRecordKiB, maxShards: 10000}
	for _, o := range opts {
		o(&c)
		if c.err != nil {
			return nil, c.err
		}
	}
	s := &Server{
		now:       c.now,
		limits:    c.limits,
		maxKiB:    c.maxKiB,
		maxShards: c.maxShards,
		streams:   make(map[string]*stream),
		faults:    c.faults,
		rng:       newRNG(c.faults.Seed),
		done:      make(chan struct{}),
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	ts.Start()
	s.ts = ts
	return s, nil
}

// TB is the part of testing.TB that Start uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Start is NewServer for tests: it fails t at once on an error and closes
// the server when t ends.
func Start(t TB, opts ...Option) *Server {
	t.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		t.Fatalf("kinesistest.Start: %v", err)
		return nil
	}
	t.Cleanup(s.Close)
	return s
}

// URL returns the server's base URL, such as "http://127.0.0.1:38261", to
// use as the SDK's BaseEndpoint (or AWS_ENDPOINT_URL_KINESIS).
func (s *Server) URL() string { return s.ts.URL }

// Close stops the server: requests waiting on Faults.Latency end at once,
// it waits for the requests being answered, closes every connection and the
// idle connections of the clients made by Client. The stored records stay
// readable through Records and Shards. Close may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.ts.Close()
		s.clientMu.Lock()
		for _, t := range s.transports {
			t.CloseIdleConnections()
		}
		s.clientMu.Unlock()
	})
}

// Client returns a *kinesis.Client for this server: region us-east-1,
// BaseEndpoint the server's URL, static credentials, the HTTP client of
// HTTPClient, and otherwise the SDK's defaults, including its standard
// retryer (3 attempts with exponential backoff; it retries 500, 503,
// throttling errors and dropped connections). optFns adjust the options
// afterwards; for example func(o *kinesis.Options) { o.RetryMaxAttempts = 1 }
// lets a test see every injected fault.
func (s *Server) Client(optFns ...func(*kinesis.Options)) *kinesis.Client {
	o := kinesis.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider("kinesistest", "kinesistest", ""),
		HTTPClient:   s.HTTPClient(),
	}
	return kinesis.New(o, optFns...)
}

// HTTPClient returns an HTTP client to give the SDK (kinesis.Options.HTTPClient)
// when building a client for this server by hand. It has a transport of its
// own, whose idle connections Close closes, and it works around a race
// between the SDK and net/http that a server as fast as this one exposes:
// smithy-go closes a request body as soon as the response headers arrive,
// its closed body then answers WriteTo with io.EOF, and net/http, which may
// still be checking the body for extra bytes after sending it, takes that as
// a write error and closes the connection under the response being read
// ("deserialization failed … use of closed network connection", seen on
// responses of a few hundred KiB and more). The client hides the body's
// WriteTo so that the check reads a plain io.EOF.
func (s *Server) HTTPClient() *http.Client {
	c, tr := newHTTPClient()
	s.clientMu.Lock()
	s.transports = append(s.transports, tr)
	s.clientMu.Unlock()
	return c
}

func newHTTPClient() (*http.Client, *http.Transport) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: transport.RoundTripper(tr)}, tr
}

// SetFaults replaces the injected faults from the next write request on and
// reseeds the generator with f.Seed. It returns an error, and changes
// nothing, when a rate is outside [0, 1] or Latency is negative.
func (s *Server) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	f.RequestErrors = slices.Clone(f.RequestErrors)
	s.faultMu.Lock()
	s.faults = f
	s.rng = newRNG(f.Seed)
	s.faultMu.Unlock()
	return nil
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

func (s *Server) drawFaults(n int) faultPlan {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.faults.plan(s.rng, n)
}

// call is one request being answered.
type call struct {
	w        http.ResponseWriter
	r        *http.Request
	body     []byte
	answered bool // the handler answered or dropped the connection itself
}

type handler func(s *Server, c *call) (any, *apiError)

// handlerFor returns the handler of an operation, or nil.
func handlerFor(op string) handler {
	switch op {
	case "CreateStream":
		return (*Server).opCreateStream
	case "DeleteStream":
		return (*Server).opDeleteStream
	case "DescribeStream":
		return (*Server).opDescribeStream
	case "DescribeStreamSummary":
		return (*Server).opDescribeStreamSummary
	case "ListStreams":
		return (*Server).opListStreams
	case "ListShards":
		return (*Server).opListShards
	case "PutRecord":
		return (*Server).opPutRecord
	case "PutRecords":
		return (*Server).opPutRecords
	case "GetShardIterator":
		return (*Server).opGetShardIterator
	case "GetRecords":
		return (*Server).opGetRecords
	case "SplitShard":
		return (*Server).opSplitShard
	case "MergeShards":
		return (*Server).opMergeShards
	case "UpdateMaxRecordSize":
		return (*Server).opUpdateMaxRecordSize
	case "UpdateStreamRecordDistributionStrategy":
		return (*Server).opUpdateStreamRecordDistributionStrategy
	}
	return nil
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.stats.requests.Add(1)
	c := &call{w: w, r: r}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	h := handlerFor(op)
	if r.Method != http.MethodPost || !ok || h == nil {
		s.writeError(w, &apiError{status: http.StatusBadRequest, code: codeUnknownOperation})
		return
	}
	body, aerr := readBody(r)
	if aerr != nil {
		s.writeError(w, aerr)
		return
	}
	c.body = body
	out, aerr := h(s, c)
	if c.answered {
		return
	}
	if aerr != nil {
		s.writeError(w, aerr)
		return
	}
	s.writeJSON(w, out)
}

func readBody(r *http.Request) ([]byte, *apiError) {
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= maxBodyBytes {
		buf.Grow(int(r.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, &apiError{status: http.StatusBadRequest, code: codeSerialization, msg: "reading the request body: " + err.Error()}
	}
	if n > maxBodyBytes {
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: codeValidation, msg: "Request body is larger than " + strconv.Itoa(maxBodyBytes) + " bytes"}
	}
	return buf.Bytes(), nil
}

func (s *Server) setHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", jsonType)
	h.Set("X-Amzn-Requestid", fmt.Sprintf("kinesistest-%016x", s.reqIDs.Add(1)))
}

func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	s.setHeaders(w)
	b, err := json.Marshal(v)
	if err != nil {
		s.writeError(w, &apiError{status: http.StatusInternalServerError, code: codeInternalFailure, msg: err.Error()})
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// writeError answers with an AWS JSON error: the code in the body's "__type"
// and in the X-Amzn-ErrorType header, the message in "message".
// aws-sdk-go-v2's awsJson deserializer (smithy-go protocol/awsjson) takes the
// code from X-Amzn-ErrorType when present, else from "__type", else from
// "code", strips any ":…" suffix and "…#" prefix, and then builds the typed
// exception (such as *types.ResourceNotFoundException) when the code names
// one of the service's errors, else a *smithy.GenericAPIError (as for
// InternalFailure and ServiceUnavailable). kinesalite sends the body alone,
// which the conformance table shows is enough.
func (s *Server) writeError(w http.ResponseWriter, e *apiError) {
	s.stats.countError(e.code)
	s.setHeaders(w)
	w.Header().Set("X-Amzn-Errortype", e.code)
	body := map[string]string{"__type": e.code}
	if e.msg != "" {
		body["message"] = e.msg
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

// drop closes the client's connection without an answer.
func (c *call) drop() {
	c.answered = true
	hj, ok := c.w.(http.Hijacker)
	if !ok {
		panic("kinesistest: the ResponseWriter cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	_ = conn.Close()
}

// sleep waits d on the real clock. It reports false when the server closed
// or the client went away first.
func (s *Server) sleep(c *call, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	case <-c.r.Context().Done():
		return false
	}
}

func (s *Server) arn(name string) string { return StreamARN(name) }

// StreamARN returns the ARN a Server gives the stream name, in Region and
// AccountID, for requests that name a stream by ARN.
func StreamARN(name string) string {
	return "arn:aws:kinesis:" + Region + ":" + AccountID + ":stream/" + name
}

// lookup finds the stream a request names.
func (s *Server) lookup(ref streamRef) (*stream, *apiError) {
	var name string
	switch {
	case ref.StreamName != nil:
		name = *ref.StreamName
		if ref.StreamARN != nil && *ref.StreamARN != s.arn(name) {
			return nil, clientErr(codeInvalidArgument, "StreamARN %s does not name stream %s.", *ref.StreamARN, name)
		}
	case ref.StreamARN != nil:
		n, ok := strings.CutPrefix(*ref.StreamARN, s.arn(""))
		if !ok {
			return nil, clientErr(codeNotFound, "Stream %s not found.", *ref.StreamARN)
		}
		name = n
	default:
		return nil, clientErr(codeValidation, "Either StreamName or StreamARN should be provided.")
	}
	s.mu.RLock()
	st := s.streams[name]
	s.mu.RUnlock()
	if st == nil {
		return nil, clientErr(codeNotFound, "Stream %s under account %s not found.", name, AccountID)
	}
	return st, nil
}

// autoDistribution reports whether the stream a request names exists and
// has the record distribution strategy AUTO, so that its records need no
// partition key. It answers false for anything it cannot resolve, leaving
// the error to lookup.
func (s *Server) autoDistribution(ref streamRef) bool {
	if ref.StreamName == nil && ref.StreamARN == nil {
		return false
	}
	st, err := s.lookup(ref)
	if err != nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.distribution == distAuto
}

func errStreamGone(name string) *apiError {
	return clientErr(codeNotFound, "Stream %s under account %s not found.", name, AccountID)
}
