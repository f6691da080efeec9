package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/google/uuid"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/internal/transport"
	"github.com/go-pkg/inskinesis/kinesistest"
)

// okServer is the least a Kinesis endpoint can be: it counts the entries of
// each PutRecords body (its objects but the outermost: base64 has no '{',
// and the benchmarks' keys have none either) and answers success for each
// from a prepared response, so that nearly all the CPU time goes to the
// client side.
type okServer struct {
	ts      *httptest.Server
	records atomic.Int64
	entries []byte // MaxRecordsPerRequest result entries joined by commas
	bufs    sync.Pool
}

const okEntry = `{"SequenceNumber":"49590338271490256608559692538361571095921575989136588898","ShardId":"shardId-000000000000"}`

var openBrace = []byte{'{'}

func startOKServer(b *testing.B) *okServer {
	s := &okServer{entries: []byte(okEntry)}
	for range inskinesis.MaxRecordsPerRequest - 1 {
		s.entries = append(s.entries, ',')
		s.entries = append(s.entries, okEntry...)
	}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	s.ts = httptest.NewServer(http.HandlerFunc(s.serveHTTP)) // 127.0.0.1
	b.Cleanup(s.ts.Close)
	return s
}

func (s *okServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if r.Header.Get("X-Amz-Target") != "Kinesis_20131202.PutRecords" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"UnknownOperationException"}`))
		return
	}
	buf := s.bufs.Get().(*bytes.Buffer)
	defer s.bufs.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(r.Body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	n := bytes.Count(buf.Bytes(), openBrace) - 1
	if n < 1 || n > inskinesis.MaxRecordsPerRequest {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"ValidationException","message":"1 to 500 records"}`))
		return
	}
	s.records.Add(int64(n))
	const head, tail = `{"FailedRecordCount":0,"Records":[`, `]}`
	body := s.entries[:n*(len(okEntry)+1)-1]
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+len(body)+len(tail)))
	_, _ = w.Write([]byte(head))
	_, _ = w.Write(body)
	_, _ = w.Write([]byte(tail))
}

// sdkClient is a *kinesis.Client for a local endpoint, with enough idle
// connections kept for every call in flight.
//
// Its transport hides the request body's WriteTo, as kinesistest's
// HTTPClient does and for the same reason: smithy-go closes a request body
// once the response headers arrive, the closed body answers WriteTo with
// io.EOF, and net/http, which may still be checking the body after sending
// it, takes that for a write error and closes the connection under the
// response ("deserialization failed … use of closed network connection").
// A server that answers as fast as these do hits it within seconds.
func sdkClient(b *testing.B, url string) *kinesis.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	b.Cleanup(tr.CloseIdleConnections)
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("bench", "bench", ""),
		HTTPClient:   &http.Client{Transport: transport.RoundTripper(tr)},
	})
}

func noSDKRetries(o *kinesis.Options) { o.RetryMaxAttempts = 1 }

// sdkChunk is how many records each side sends before the other takes its
// turn, so that both see the same machine over the run.
const sdkChunk = 20000

// BenchmarkSDK sends 100-byte records with random UUID partition keys
// through the real SDK client to a server on 127.0.0.1, in turns of
// sdkChunk records: the stream (Put from GOMAXPROCS goroutines, then Flush)
// and a baseline of conc goroutines sending pre-built 500-record
// PutRecords requests through the same client. One op is one record sent
// by each. It reports stream-rec/s, base-rec/s and their ratio, and the
// CPU time per record of each (cpu-ns/rec for the stream, base-cpu-ns/rec).
//
// Profiles tell the two apart by the label path (stream or baseline).
//
// server=minimal is okServer; server=kinesistest is the package's server,
// which validates, hashes and stores every record.
//
// keys=uuid lets the stream draw a UUID key per record (its default
// partitioner), work the baseline does not do; keys=given hands the stream
// the baseline's own keys, through a partitioner that reads a field, so the
// ratio is the cost of the stream itself.
func BenchmarkSDK(b *testing.B) {
	for _, srv := range []string{"minimal", "kinesistest"} {
		for _, conc := range []int{1, 4} {
			for _, keys := range []string{"uuid", "given"} {
				b.Run(fmt.Sprintf("server=%s/conc=%d/keys=%s", srv, conc, keys), func(b *testing.B) {
					var url string
					count := func() int64 { return 0 }
					switch srv {
					case "minimal":
						s := startOKServer(b)
						url, count = s.ts.URL, s.records.Load
					case "kinesistest":
						s := kinesistest.Start(b)
						if err := s.CreateStream("bench", 4); err != nil {
							b.Fatal(err)
						}
						url = s.URL()
						count = func() int64 { return s.Stats().RecordsAccepted }
					}
					benchSDK(b, sdkClient(b, url), conc, keys == "given", count)
				})
			}
		}
	}
}

// keyed is a record that carries its partition key.
type keyed struct {
	key  string
	data []byte
}

// keyedCodec encodes a keyed record as its data.
type keyedCodec struct{}

func (keyedCodec) Encode(dst []byte, v keyed) ([]byte, error) { return append(dst, v.data...), nil }
func (keyedCodec) Decode(data []byte) (keyed, error)          { return keyed{data: bytes.Clone(data)}, nil }

func benchSDK(b *testing.B, client *kinesis.Client, conc int, givenKeys bool, written func() int64) {
	b.ReportAllocs()
	b.SetBytes(100 + 36)
	cfg := inskinesis.Config[keyed]{
		StreamName:             "bench",
		Client:                 client,
		Codec:                  keyedCodec{},
		MaxStreamBatchSize:     inskinesis.MaxRecordsPerRequest,
		MaxStreamBatchByteSize: 5 << 20,
		MaxBatchSize:           (conc + 2) * inskinesis.MaxRecordsPerRequest,
		MaxGroup:               conc,
	}
	// The stream's goroutines carry the profiler label path=stream, the
	// baseline's path=baseline; the servers' have none.
	if givenKeys {
		cfg.Partitioner = func(k keyed) string { return k.key }
	}
	var s *inskinesis.Stream[keyed]
	var err error
	pprof.Do(context.Background(), pprof.Labels("path", "stream"), func(context.Context) {
		s, err = inskinesis.NewKinesis(cfg)
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.FlushAndStopStreaming()
	full := &kinesis.PutRecordsInput{StreamName: aws.String("bench"), Records: make([]types.PutRecordsRequestEntry, inskinesis.MaxRecordsPerRequest)}
	for i := range full.Records {
		full.Records[i] = types.PutRecordsRequestEntry{Data: payload100, PartitionKey: aws.String(uuid.NewString())}
	}

	var streamTime, baseTime, streamCPU, baseCPU time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(sdkChunk, b.N-done)
		t0, c0 := time.Now(), cpuNow()
		pprof.Do(context.Background(), pprof.Labels("path", "baseline"), func(context.Context) {
			baseline(b, client, full, n, conc)
		})
		t1, c1 := time.Now(), cpuNow()
		pprof.Do(context.Background(), pprof.Labels("path", "stream"), func(context.Context) {
			putAll(b, s, full.Records, n)
		})
		t2, c2 := time.Now(), cpuNow()
		baseTime += t1.Sub(t0)
		streamTime += t2.Sub(t1)
		baseCPU += c1 - c0
		streamCPU += c2 - c1
		done += n
	}
	b.StopTimer()
	st := s.Stats()
	if st.Delivered != int64(b.N) || st.Failed != 0 {
		b.Fatalf("the stream delivered %d and failed %d of %d records", st.Delivered, st.Failed, b.N)
	}
	b.ReportMetric(float64(st.Retried), "stream-retries")
	b.ReportMetric(float64(st.Delivered)/float64(max(st.Requests, 1)), "stream-rec/call")
	if got := written(); got != 2*int64(b.N) {
		b.Fatalf("the server took %d records of %d", got, 2*b.N)
	}
	streamRate := float64(b.N) / streamTime.Seconds()
	baseRate := float64(b.N) / baseTime.Seconds()
	b.ReportMetric(streamRate, "stream-rec/s")
	b.ReportMetric(baseRate, "base-rec/s")
	b.ReportMetric(streamRate/baseRate, "ratio")
	if _, ok := processCPU(); ok {
		b.ReportMetric(float64(streamCPU)/float64(b.N), "cpu-ns/rec")
		b.ReportMetric(float64(baseCPU)/float64(b.N), "base-cpu-ns/rec")
	}
}

func cpuNow() time.Duration {
	d, _ := processCPU()
	return d
}

// baseline sends n records as pre-built requests of up to 500 from conc
// goroutines, as a program that batches for itself would.
func baseline(b *testing.B, client *kinesis.Client, full *kinesis.PutRecordsInput, n, conc int) {
	per := len(full.Records)
	reqs := (n + per - 1) / per
	last := *full
	last.Records = full.Records[:n-(reqs-1)*per]
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > reqs {
					return
				}
				in := full
				if i == reqs {
					in = &last
				}
				out, err := client.PutRecords(context.Background(), in, noSDKRetries)
				if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
					b.Errorf("PutRecords: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// putAll puts n records from GOMAXPROCS goroutines and flushes.
func putAll(b *testing.B, s *inskinesis.Stream[keyed], entries []types.PutRecordsRequestEntry, n int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(n, runtime.GOMAXPROCS(0))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				e := &entries[int(i)%len(entries)]
				if err := s.Put(keyed{key: *e.PartitionKey, data: e.Data}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := s.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
}
