// Command metrics streams typed orders into an embedded Kinesis server with
// inskinesis, exports the stream's metrics to Prometheus with plugin/inprom,
// serves them on /metrics, and at the end scrapes itself once and prints the
// key series.
//
//	go run .                          # 20,000 orders, /metrics on a free port of 127.0.0.1
//	go run . -n 100000 -listen 127.0.0.1:9464 -linger 1m
//	go run . -aggregate               # KPL aggregation on
//
// The embedded server (package kinesistest) enforces the per-shard write
// limits of AWS (1,000 records and 1 MiB per second per shard) and answers
// write requests after -latency, like a network round trip, so that the
// stream runs into throttling and retries as it would on AWS. The stream
// logs through log/slog on stderr. While the program runs (and for -linger
// after), http://ADDR/metrics serves the metrics.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/kinesistest"
	"github.com/go-pkg/inskinesis/plugin/inprom"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "metrics:", err)
		os.Exit(1)
	}
}

// Order is the record the example streams: an order placed in a web shop,
// partitioned by user.
type Order struct {
	Seq         int       `json:"seq"`
	UserID      string    `json:"user_id"`
	AmountCents int64     `json:"amount_cents"`
	Currency    string    `json:"currency"`
	PlacedAt    time.Time `json:"placed_at"`
}

type options struct {
	n         int
	shards    int
	users     int
	listen    string
	latency   time.Duration
	aggregate bool
	linger    time.Duration
	quiet     bool
}

func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("metrics", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&o.n, "n", 20000, "number of orders to stream")
	fs.IntVar(&o.shards, "shards", 4, "shards of the embedded stream")
	fs.IntVar(&o.users, "users", 5000, "distinct users, i.e. partition keys")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "address to serve /metrics on (port 0: a free port)")
	fs.DurationVar(&o.latency, "latency", 5*time.Millisecond, "delay of each write request of the embedded server")
	fs.BoolVar(&o.aggregate, "aggregate", false, "pack records into KPL aggregates (Config.AggregateRecords)")
	fs.DurationVar(&o.linger, "linger", 0, "keep serving /metrics this long after the run")
	fs.BoolVar(&o.quiet, "quiet", false, "log only warnings and errors")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.n < 0:
		return o, fmt.Errorf("-n %d is negative", o.n)
	case o.shards < 1:
		return o, fmt.Errorf("-shards %d: want at least 1", o.shards)
	case o.users < 1:
		return o, fmt.Errorf("-users %d: want at least 1", o.users)
	}
	return o, nil
}

// run is the whole program: it streams the orders, serves and scrapes the
// metrics, and prints the table to stdout; the stream logs to logs.
func run(ctx context.Context, args []string, stdout, logs io.Writer) error {
	o, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}

	srv, err := kinesistest.NewServer(
		kinesistest.WithShardLimits(kinesistest.AWSShardLimits()),
		kinesistest.WithFaults(kinesistest.Faults{Latency: o.latency}),
	)
	if err != nil {
		return err
	}
	defer srv.Close()
	const stream = "orders"
	if err := srv.CreateStream(stream, o.shards); err != nil {
		return err
	}

	// The adapter, registered with a registry that /metrics serves.
	reg := prometheus.NewRegistry()
	metrics := inprom.New(inprom.Registerer(reg))
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	url := "http://" + ln.Addr().String() + "/metrics"
	fmt.Fprintf(stdout, "serving metrics on %s\n", url)

	level := slog.LevelInfo
	if o.quiet {
		level = slog.LevelWarn
	}
	s, err := inskinesis.NewKinesis(inskinesis.Config[Order]{
		StreamName:       stream,
		Client:           srv.Client(),
		Partitioner:      func(o Order) string { return o.UserID },
		MaxGroup:         4,
		RetryCount:       20,
		AggregateRecords: o.aggregate,
		MaxBatchSize:     5000,
		Logger:           slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level})),
		Hooks:            []inskinesis.Hook{metrics},
	})
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	for i := 0; i < o.n; i++ {
		err := s.PutContext(ctx, Order{
			Seq:         i,
			UserID:      fmt.Sprintf("user-%06d", rng.IntN(o.users)),
			AmountCents: 199 + rng.Int64N(50000),
			Currency:    []string{"EUR", "USD", "GBP", "SEK"}[rng.IntN(4)],
			PlacedAt:    start.Add(time.Duration(i) * time.Millisecond),
		})
		if err != nil {
			break // interrupted: deliver what was put
		}
	}
	s.FlushAndStopStreaming()
	fmt.Fprintf(stdout, "streamed %d orders in %v\n\n", o.n, time.Since(start).Round(time.Millisecond))

	fams, err := scrape(ctx, url)
	if err != nil {
		return err
	}
	printTable(stdout, fams, stream)

	if o.linger > 0 {
		fmt.Fprintf(stdout, "\nserving %s for %v more\n", url, o.linger)
		select {
		case <-time.After(o.linger):
		case <-ctx.Done():
		}
	}
	return nil
}

// scrape reads the metrics once, as Prometheus would.
func scrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// printTable prints the key series of stream.
func printTable(w io.Writer, fams map[string]*dto.MetricFamily, stream string) {
	row := func(name string, v float64) { fmt.Fprintf(w, "%-72s %14.0f\n", name, v) }
	value := func(name string) float64 {
		var sum float64
		for _, m := range series(fams, name, stream) {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
		return sum
	}
	fmt.Fprintf(w, "%-72s %14s\n", "series {stream=\""+stream+"\"}", "value")
	for _, name := range []string{
		"inskinesis_user_records_received_total",
		"inskinesis_user_records_put_total",
		"inskinesis_user_records_failed_total",
		"inskinesis_user_records_pending",
		"inskinesis_user_records_data_put_bytes_total",
		"inskinesis_kinesis_records_put_total",
		"inskinesis_kinesis_records_data_put_bytes_total",
		"inskinesis_throttles_total",
		"inskinesis_retries_total",
	} {
		row(name, value(name))
	}
	errs := series(fams, "inskinesis_errors_total", stream)
	sort.Slice(errs, func(i, j int) bool { return label(errs[i], "code") < label(errs[j], "code") })
	for _, m := range errs {
		row(fmt.Sprintf("inskinesis_errors_total{code=%q}", label(m, "code")), m.GetCounter().GetValue())
	}
	for _, name := range []string{
		"inskinesis_request_time_seconds",
		"inskinesis_buffering_time_seconds",
		"inskinesis_kinesis_records_per_request",
		"inskinesis_user_records_per_kinesis_record",
		"inskinesis_retries_per_record",
	} {
		for _, m := range series(fams, name, stream) {
			h := m.GetHistogram()
			mean := 0.0
			if h.GetSampleCount() > 0 {
				mean = h.GetSampleSum() / float64(h.GetSampleCount())
			}
			fmt.Fprintf(w, "%-72s %14d   mean %.4g\n", name+"_count", h.GetSampleCount(), mean)
		}
	}
}

func series(fams map[string]*dto.MetricFamily, name, stream string) []*dto.Metric {
	var out []*dto.Metric
	if f := fams[name]; f != nil {
		for _, m := range f.Metric {
			if label(m, "stream") == stream {
				out = append(out, m)
			}
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
