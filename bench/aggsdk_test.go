package bench

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/internal/aggregate"
	"github.com/go-pkg/inskinesis/internal/putjson"
	"github.com/go-pkg/inskinesis/partition"
)

// Answers of okServer to the calls a stream with a shard stage makes besides
// PutRecords: a map of one shard over the whole hash key range, and a summary
// of a stream that routes by partition key.
const (
	oneShardList = `{"Shards":[{"ShardId":"shardId-000000000000","HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"340282366920938463463374607431768211455"},"SequenceNumberRange":{"StartingSequenceNumber":"1"}}]}`
	oneShardSum  = `{"StreamDescriptionSummary":{"StreamName":"bench","StreamStatus":"ACTIVE","OpenShardCount":1,"RecordDistributionStrategy":"PARTITION_KEY"}}`
)

// startOneShardServer is okServer that also answers ListShards with one
// shard and DescribeStreamSummary with a stream routed by partition key.
func startOneShardServer(b *testing.B) *okServer {
	s := startOKServer(b)
	put := s.ts.Config.Handler
	s.ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "Kinesis_20131202.") {
		case "ListShards":
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			_, _ = w.Write([]byte(oneShardList))
		case "DescribeStreamSummary":
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			_, _ = w.Write([]byte(oneShardSum))
		default:
			put.ServeHTTP(w, r)
		}
	})
	return s
}

// BenchmarkSDKAggregated sends 100-byte records with KPL aggregation
// through the real SDK client to okServer on 127.0.0.1 (a stream of one
// shard that takes everything at once), from puts goroutines, with up to 4
// calls in flight. One op is one user record; the timed part ends when
// Flush has seen every record delivered. It reports user records per
// second (rec/s) and the process's CPU time per user record (cpu-ns/rec).
//
// keys=static puts every record under one key, so aggregates are as full
// as AggregationMaxBytes allows; keys=uuid draws a random UUID per record.
func BenchmarkSDKAggregated(b *testing.B) {
	for _, keys := range []string{"static", "uuid"} {
		for _, puts := range []int{1, 4} {
			b.Run(fmt.Sprintf("keys=%s/puts=%d", keys, puts), func(b *testing.B) {
				p := partition.Static[[]byte]("key")
				if keys == "uuid" {
					p = partition.UUID[[]byte]()
				}
				srv := startOneShardServer(b)
				benchAggregated(b, inskinesis.Config[[]byte]{
					StreamName:             "bench",
					Client:                 sdkClient(b, srv.ts.URL),
					Codec:                  codec.Bytes{},
					Partitioner:            p,
					AggregateRecords:       true,
					MaxStreamBatchSize:     inskinesis.MaxRecordsPerRequest,
					MaxStreamBatchByteSize: 5 << 20,
					MaxBatchSize:           100000,
					MaxGroup:               4,
				}, puts)
			})
		}
	}
}

func benchAggregated(b *testing.B, cfg inskinesis.Config[[]byte], puts int) {
	b.ReportAllocs()
	b.SetBytes(int64(len(payload100)))
	s, err := inskinesis.NewKinesis(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.FlushAndStopStreaming()
	b.ResetTimer()
	t0, c0 := time.Now(), cpuNow()
	var wg sync.WaitGroup
	for i := range puts {
		n := b.N / puts
		if i == 0 {
			n += b.N % puts
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				if err := s.Put(payload100); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed, cpu := time.Since(t0), cpuNow()-c0
	b.StopTimer()
	st := s.Stats()
	if st.Delivered != int64(b.N) || st.Failed != 0 {
		b.Fatalf("delivered %d and failed %d of %d records", st.Delivered, st.Failed, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rec/s")
	if _, ok := processCPU(); ok {
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/rec")
	}
	b.ReportMetric(float64(b.N)/float64(max(st.Requests, 1)), "rec/call")
}

// BenchmarkSDKAggregatedCeiling is what BenchmarkSDKAggregated could reach
// at best with keys=static on this machine: the same SDK client and server,
// 4 calls in flight, but aggregates built once before the timer starts
// (AggregationMaxBytes' default, 100-byte records under one key, 40 per
// call), so that no Put, aggregation or bookkeeping is done. One op is one
// user record; it reports rec/s and cpu-ns/rec as BenchmarkSDKAggregated
// does.
//
// serializer=sdk sends through the SDK's own serializer, serializer=stream
// through the body writer the stream's calls use (internal/putjson).
func BenchmarkSDKAggregatedCeiling(b *testing.B) {
	for _, ser := range []string{"sdk", "stream"} {
		b.Run("serializer="+ser, func(b *testing.B) {
			srv := startOneShardServer(b)
			client := sdkClient(b, srv.ts.URL)
			if ser == "stream" {
				client = kinesis.New(client.Options(), func(o *kinesis.Options) { o.Protocol = putjson.Wrap(o.Protocol) })
			}
			benchCeiling(b, client)
		})
	}
}

func benchCeiling(b *testing.B, client *kinesis.Client) {
	agg, err := aggregate.New(aggregate.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	for agg.Add("key", "", payload100) {
	}
	per := agg.Len()
	blob := agg.Build(nil)
	const entries = 40
	in := &kinesis.PutRecordsInput{StreamName: aws.String("bench")}
	for range entries {
		in.Records = append(in.Records, types.PutRecordsRequestEntry{Data: blob, PartitionKey: aws.String("key")})
	}
	b.SetBytes(int64(len(payload100)))
	b.ReportAllocs()
	calls := (b.N + per*entries - 1) / (per * entries)
	b.ResetTimer()
	t0, c0 := time.Now(), cpuNow()
	baseline(b, client, in, calls*entries, 4)
	elapsed, cpu := time.Since(t0), cpuNow()-c0
	b.StopTimer()
	sent := int64(calls * per * entries)
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "rec/s")
	if _, ok := processCPU(); ok {
		b.ReportMetric(float64(cpu)/float64(sent), "cpu-ns/rec")
	}
}
