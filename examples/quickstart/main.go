// Command quickstart streams typed records into Kinesis with inskinesis and
// checks that every one of them arrived exactly once.
//
//	go run ./examples/quickstart                 # 100,000 orders into an embedded server
//	go run ./examples/quickstart -n 20000 -codec msgpack
//	go run ./examples/quickstart -endpoint http://127.0.0.1:4567   # a kinesalite
//	go run ./examples/quickstart -aws -stream orders -region eu-west-1
//
// By default it starts an in-process Kinesis server (package kinesistest)
// that enforces the per-shard write limits of AWS (1,000 records and 1 MiB
// per second per shard) and answers write requests after -latency (20 ms,
// a network round trip), creates a stream of -shards shards (16), and
// streams -n orders (100,000) through an inskinesis.Stream[Order],
// partitioned by user. Running at the stream's capacity, some records are
// throttled and retried, as they would be on AWS. While it
// runs it prints a progress line every -progress interval; at the end it
// prints a summary (records, bytes, requests, retries, throttling,
// failures, throughput), reads every shard back with GetRecords and says
// whether each record arrived exactly once. It exits with status 1 when one
// did not.
//
// With -endpoint it writes to the Kinesis-compatible server at that URL
// (with dummy credentials), creating the stream when it does not exist.
// With -aws it writes to an existing stream of your AWS account, with the
// default AWS configuration chain (environment, shared config files,
// instance roles; AWS_ENDPOINT_URL_KINESIS is honoured); it never creates
// streams there. Records of earlier runs on the same stream are told apart
// by a run id and ignored by the read-back.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/codec/json"
	"github.com/go-pkg/inskinesis/codec/msgpack"
	"github.com/go-pkg/inskinesis/kinesistest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	n           int
	stream      string
	endpoint    string
	useAWS      bool
	region      string
	codec       string
	shards      int
	maxGroup    int
	buffer      int
	retries     int
	users       int
	throttle    bool
	latency     time.Duration
	progress    time.Duration
	readBack    bool
	seed        uint64
	readTimeout time.Duration
}

func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&o.n, "n", 100000, "number of records to stream")
	fs.StringVar(&o.stream, "stream", "quickstart-orders", "Kinesis stream name")
	fs.StringVar(&o.endpoint, "endpoint", "", "URL of a Kinesis-compatible server, such as a kinesalite (dummy credentials); the stream is created if missing")
	fs.BoolVar(&o.useAWS, "aws", false, "write to an existing stream of your AWS account, with the default AWS configuration chain")
	fs.StringVar(&o.region, "region", "", "AWS region (default: from the AWS configuration, else us-east-1)")
	fs.StringVar(&o.codec, "codec", "json", "record encoding: json or msgpack")
	fs.IntVar(&o.shards, "shards", 16, "shards of the stream when the quickstart creates it")
	fs.IntVar(&o.maxGroup, "maxgroup", 4, "PutRecords calls in flight at once (Config.MaxGroup)")
	fs.IntVar(&o.buffer, "buffer", inskinesis.DefaultMaxBatchSize, "most records the stream holds at once: waiting, in flight or awaiting retry (Config.MaxBatchSize)")
	fs.IntVar(&o.retries, "retries", 20, "times a record is sent again after a retryable failure such as an internal failure or a timeout (Config.RetryCount); throttled records go again without using these up")
	fs.IntVar(&o.users, "users", 50000, "distinct users, i.e. partition keys")
	fs.BoolVar(&o.throttle, "throttle", true, "embedded server only: enforce the AWS per-shard write limits (1000 records/s, 1 MiB/s)")
	fs.DurationVar(&o.latency, "latency", 20*time.Millisecond, "embedded server only: delay each write request by this much, like a network round trip to AWS (0: none)")
	fs.DurationVar(&o.progress, "progress", time.Second, "interval between progress lines (0: none)")
	fs.BoolVar(&o.readBack, "verify", true, "read the stream back and check every record arrived exactly once")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated orders")
	fs.DurationVar(&o.readTimeout, "read-timeout", 2*time.Minute, "longest the read-back may take")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.n < 0:
		return o, fmt.Errorf("-n %d is negative", o.n)
	case o.codec != "json" && o.codec != "msgpack":
		return o, fmt.Errorf("-codec %q: want json or msgpack", o.codec)
	case o.shards < 1:
		return o, fmt.Errorf("-shards %d: want at least 1", o.shards)
	case o.maxGroup < 1:
		return o, fmt.Errorf("-maxgroup %d: want at least 1", o.maxGroup)
	case o.buffer < 1:
		return o, fmt.Errorf("-buffer %d: want at least 1", o.buffer)
	case o.users < 1:
		return o, fmt.Errorf("-users %d: want at least 1", o.users)
	case o.endpoint != "" && o.useAWS:
		return o, errors.New("-endpoint and -aws exclude each other (with -aws, set AWS_ENDPOINT_URL_KINESIS for a custom endpoint)")
	}
	return o, nil
}

// run is the whole program: it parses args, streams the records, prints
// progress and a summary to stdout, and reads the stream back. It returns
// an error when a record was not delivered or did not arrive exactly once.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	out := &syncWriter{w: stdout}

	client, target, cleanup, err := connect(ctx, o, out)
	if err != nil {
		return err
	}
	defer cleanup()

	codec, err := newCodec(o.codec)
	if err != nil {
		return err
	}
	runID := newRunID()
	started := time.Now()
	out.printf("streaming %d orders (%s, partitioned by user) to stream %q on %s, run %s\n",
		o.n, o.codec, o.stream, target, runID)

	stats, err := produce(ctx, o, client, codec, runID, out)
	elapsed := time.Since(started)
	printSummary(out, o.n, stats, elapsed)
	if err != nil {
		return err
	}
	if stats.Failed > 0 {
		return fmt.Errorf("%d of %d records were not delivered", stats.Failed, o.n)
	}
	if !o.readBack {
		return nil
	}

	out.printf("reading stream %q back with GetRecords...\n", o.stream)
	readCtx, cancel := context.WithTimeout(ctx, o.readTimeout)
	defer cancel()
	rb, err := readBack(readCtx, client, o.stream, started, codec, runID, o.n)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	return rb.report(out, o.n)
}

// connect returns the client to write with, a description of where it
// points, and a cleanup function. It creates the stream on an embedded
// server or a custom endpoint, and checks that it exists on AWS.
func connect(ctx context.Context, o options, out *syncWriter) (*kinesis.Client, string, func(), error) {
	region := o.region
	switch {
	case o.useAWS:
		var opts []func(*config.LoadOptions) error
		if region != "" {
			opts = append(opts, config.WithRegion(region))
		}
		cfg, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, "", nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		if cfg.Region == "" {
			return nil, "", nil, errors.New("no AWS region: pass -region or set AWS_REGION")
		}
		// HTTPClient protects the read-back's GetRecords calls from a race
		// between the SDK and net/http; the stream's own calls have it
		// anyway.
		client := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
			o.HTTPClient = inskinesis.HTTPClient(o.HTTPClient)
		})
		shards, err := waitActive(ctx, client, o.stream, 0)
		if err != nil {
			return nil, "", nil, fmt.Errorf("stream %q in %s: %w", o.stream, cfg.Region, err)
		}
		target := fmt.Sprintf("AWS %s (%d open shards)", cfg.Region, shards)
		if ep := os.Getenv("AWS_ENDPOINT_URL_KINESIS"); ep != "" {
			target = fmt.Sprintf("%s via AWS_ENDPOINT_URL_KINESIS=%s", target, ep)
		}
		return client, target, func() {}, nil

	case o.endpoint != "":
		if region == "" {
			region = "us-east-1"
		}
		client := kinesis.New(kinesis.Options{
			Region:       region,
			BaseEndpoint: aws.String(o.endpoint),
			Credentials:  credentials.NewStaticCredentialsProvider("x", "y", ""),
			HTTPClient:   inskinesis.HTTPClient(nil), // for the read-back, as above
		})
		if err := ensureStream(ctx, client, o.stream, o.shards, out); err != nil {
			return nil, "", nil, err
		}
		shards, err := waitActive(ctx, client, o.stream, time.Minute)
		if err != nil {
			return nil, "", nil, fmt.Errorf("stream %q at %s: %w", o.stream, o.endpoint, err)
		}
		return client, fmt.Sprintf("%s (%d open shards)", o.endpoint, shards), func() {}, nil

	default:
		var opts []kinesistest.Option
		limits := "no write limits"
		if o.throttle {
			opts = append(opts, kinesistest.WithShardLimits(kinesistest.AWSShardLimits()))
			limits = "AWS write limits: 1000 records/s and 1 MiB/s per shard"
		}
		if o.latency > 0 {
			opts = append(opts, kinesistest.WithFaults(kinesistest.Faults{Latency: o.latency}))
			limits += fmt.Sprintf(", %v latency", o.latency)
		}
		srv, err := kinesistest.NewServer(opts...)
		if err != nil {
			return nil, "", nil, fmt.Errorf("start embedded server: %w", err)
		}
		if err := srv.CreateStream(o.stream, o.shards); err != nil {
			srv.Close()
			return nil, "", nil, fmt.Errorf("create stream: %w", err)
		}
		target := fmt.Sprintf("an embedded server at %s (%d shards, %s)", srv.URL(), o.shards, limits)
		return srv.Client(), target, srv.Close, nil
	}
}

// ensureStream creates the stream on a custom endpoint unless it exists.
func ensureStream(ctx context.Context, client *kinesis.Client, stream string, shards int, out *syncWriter) error {
	_, err := client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
	var notFound *types.ResourceNotFoundException
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &notFound):
		return fmt.Errorf("describe stream %q: %w", stream, err)
	}
	out.printf("creating stream %q with %d shards\n", stream, shards)
	_, err = client.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(stream),
		ShardCount: aws.Int32(int32(shards)),
	})
	if err != nil {
		return fmt.Errorf("create stream %q: %w", stream, err)
	}
	return nil
}

// waitActive waits up to patience for the stream to be ACTIVE (or UPDATING,
// which takes writes too) and returns its open shard count; with patience 0
// it looks once.
func waitActive(ctx context.Context, client *kinesis.Client, stream string, patience time.Duration) (int, error) {
	deadline := time.Now().Add(patience)
	for {
		out, err := client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		if err != nil {
			return 0, err
		}
		sum := out.StreamDescriptionSummary
		switch sum.StreamStatus {
		case types.StreamStatusActive, types.StreamStatusUpdating:
			return int(aws.ToInt32(sum.OpenShardCount)), nil
		}
		if !time.Now().Before(deadline) {
			return 0, fmt.Errorf("stream is %s, not ACTIVE", sum.StreamStatus)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func newCodec(name string) (inskinesis.Codec[Order], error) {
	switch name {
	case "json":
		return json.Codec[Order]{}, nil
	case "msgpack":
		return msgpack.Codec[Order]{}, nil
	}
	return nil, fmt.Errorf("unknown codec %q", name)
}

func newRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// produce streams o.n orders and returns the stream's final counters. It
// returns an error when the stream could not start or ctx ended first.
func produce(ctx context.Context, o options, client inskinesis.PutRecordsAPI, codec inskinesis.Codec[Order], runID string, out *syncWriter) (inskinesis.Stats, error) {
	s, err := inskinesis.NewKinesis(inskinesis.Config[Order]{
		StreamName:  o.stream,
		Client:      client,
		Codec:       codec,
		Partitioner: func(v Order) string { return v.UserID },
		// Calls of up to 500 records, several in flight at once.
		MaxStreamBatchSize:     inskinesis.MaxRecordsPerRequest,
		MaxStreamBatchByteSize: 1 << 20,
		MaxGroup:               o.maxGroup,
		MaxBatchSize:           o.buffer,
		// A producer running at the stream's capacity is throttled as a
		// matter of course: retry often and soon (backoff capped at 1 s
		// instead of 5 s), and bound each record's time in the stream
		// instead.
		RetryCount:       o.retries,
		MaxRetryInterval: time.Second,
		RecordTTL:        time.Minute,
	})
	if err != nil {
		return inskinesis.Stats{}, err
	}

	var wg sync.WaitGroup
	errs := &errorLog{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs.collect(s)
	}()

	var put int64
	var mu sync.Mutex // guards put for the progress line
	stopProgress := make(chan struct{})
	if o.progress > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			tick := time.NewTicker(o.progress)
			defer tick.Stop()
			for {
				select {
				case <-stopProgress:
					return
				case <-tick.C:
					mu.Lock()
					p := put
					mu.Unlock()
					printProgress(out, time.Since(start), p, s.Stats())
				}
			}
		}()
	}

	src := newOrderSource(runID, o.users, o.seed)
	var putErr error
	for i := range int64(o.n) {
		if err := s.PutContext(ctx, src.order(i)); err != nil {
			putErr = fmt.Errorf("put record %d: %w", i, err)
			break
		}
		mu.Lock()
		put++
		mu.Unlock()
	}

	// Deliver what was put; on an interrupt, give it a few seconds.
	closeCtx := context.Background()
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		closeCtx, cancel = context.WithTimeout(closeCtx, 5*time.Second)
		defer cancel()
	}
	closeErr := s.Close(closeCtx)
	close(stopProgress)
	wg.Wait()
	errs.print(out)
	return s.Stats(), errors.Join(putErr, closeErr)
}

// errorLog keeps the first few errors the stream reported.
type errorLog struct {
	first []string
	total int
}

const errorsShown = 5

// collect reads the stream's Error channel until the stream has stopped.
func (l *errorLog) collect(s *inskinesis.Stream[Order]) {
	for {
		select {
		case err := <-s.Error():
			l.add(err)
		case <-s.Done():
			for {
				select {
				case err := <-s.Error():
					l.add(err)
				default:
					return
				}
			}
		}
	}
}

func (l *errorLog) add(err error) {
	l.total++
	if len(l.first) < errorsShown {
		l.first = append(l.first, err.Error())
	}
}

func (l *errorLog) print(out *syncWriter) {
	for _, e := range l.first {
		out.printf("error: %s\n", e)
	}
	if l.total > len(l.first) {
		out.printf("... and %d more errors\n", l.total-len(l.first))
	}
}

func printProgress(out *syncWriter, t time.Duration, put int64, st inskinesis.Stats) {
	out.printf("%6.1fs  put %9d  delivered %9d  in flight %6d  buffered %6d  retried %8d  throttled %8d  failed %d\n",
		t.Seconds(), put, st.Delivered, st.InFlightRecords, st.BufferedRecords, st.Retried, st.Throttled, st.Failed)
}

func printSummary(out *syncWriter, n int, st inskinesis.Stats, elapsed time.Duration) {
	secs := elapsed.Seconds()
	perCall := 0.0
	if st.Requests > 0 {
		perCall = float64(st.Delivered+st.Retried+st.Failed) / float64(st.Requests)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "summary\n")
	fmt.Fprintf(&b, "  records     %d put, %d delivered, %d failed\n", n, st.Delivered, st.Failed)
	fmt.Fprintf(&b, "  bytes       %.1f MB delivered (data plus partition keys)\n", float64(st.DeliveredBytes)/1e6)
	fmt.Fprintf(&b, "  requests    %d PutRecords calls, %.0f records a call on average\n", st.Requests, perCall)
	fmt.Fprintf(&b, "  retries     %d records sent again, %d throttling rejections\n", st.Retried, st.Throttled)
	fmt.Fprintf(&b, "  throughput  %.0f records/s, %.2f MB/s\n", float64(st.Delivered)/secs, float64(st.DeliveredBytes)/1e6/secs)
	fmt.Fprintf(&b, "  elapsed     %s\n", elapsed.Round(time.Millisecond))
	out.printf("%s", b.String())
}

// syncWriter serialises the lines of the progress goroutine and the main
// one.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) printf(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintf(w.w, format, args...)
}
