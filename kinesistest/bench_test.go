package kinesistest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// BenchmarkPutRecordsSDK measures requests of 500 records of 100 bytes sent
// through the SDK client from several goroutines: the cost a test pays.
func BenchmarkPutRecordsSDK(b *testing.B) {
	srv := Start(b)
	if err := srv.CreateStream("bench", 8); err != nil {
		b.Fatal(err)
	}
	c := srv.Client(noRetries)
	in := entries(500, 100)
	b.SetBytes(500 * 100)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("bench"), Records: in})
			if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
				b.Errorf("PutRecords: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*500)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkPutRecordsServer measures the server alone: a prepared
// PutRecords body of 500 records of 100 bytes posted over plain HTTP.
func BenchmarkPutRecordsServer(b *testing.B) {
	srv := Start(b)
	if err := srv.CreateStream("bench", 8); err != nil {
		b.Fatal(err)
	}
	type rec struct {
		Data         []byte
		PartitionKey string
	}
	recs := make([]rec, 500)
	for i := range recs {
		recs[i] = rec{Data: bytes.Repeat([]byte{'x'}, 100), PartitionKey: fmt.Sprintf("key-%d", i)}
	}
	body, _ := json.Marshal(map[string]any{"StreamName": "bench", "Records": recs})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	var failed atomic.Bool
	b.SetBytes(500 * 100)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL(), bytes.NewReader(body))
			req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			resp, err := hc.Do(req)
			if err != nil || resp.StatusCode != 200 {
				failed.Store(true)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	if failed.Load() {
		b.Fatal("a request failed")
	}
	b.ReportMetric(float64(b.N*500)/time.Since(start).Seconds(), "records/s")
}
