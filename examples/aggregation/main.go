// Command aggregation shows KPL aggregation end to end: it puts typed
// records into an in-process Kinesis server (package kinesistest) through a
// stream with AggregateRecords on, reads every shard back with GetRecords as
// a consumer would, unpacks and decodes the records with
// aggregation.Decode, and prints the counts.
//
//	go run ./examples/aggregation             # 10,000 readings into 4 shards
//	go run ./examples/aggregation -n 50000 -shards 2
//
// A Kinesis shard takes 1,000 records per second; aggregation packs many
// small records bound for one shard into one Kinesis record of up to
// 51,200 bytes, so the same shard carries many more of them. It exits with
// status 1 when a reading did not come back exactly once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/aggregation"
	"github.com/go-pkg/inskinesis/codec/json"
	"github.com/go-pkg/inskinesis/kinesistest"
)

// Reading is the record type of the example: one sensor reading.
type Reading struct {
	ID     int     `json:"id"`
	Sensor string  `json:"sensor"`
	Value  float64 `json:"value"`
}

func main() {
	n := flag.Int("n", 10000, "readings to put")
	shards := flag.Int("shards", 4, "shards of the stream")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, *n, *shards); err != nil {
		fmt.Fprintln(os.Stderr, "aggregation:", err)
		os.Exit(1)
	}
}

// run puts n readings into a new stream of the given shards and reads them
// back, printing the counts to w. It returns an error when a reading is
// missing or duplicated.
func run(ctx context.Context, w io.Writer, n, shards int) error {
	if n < 1 || shards < 1 {
		return errors.New("-n and -shards must be positive")
	}
	srv, err := kinesistest.NewServer()
	if err != nil {
		return err
	}
	defer srv.Close()
	const stream = "readings"
	if err := srv.CreateStream(stream, shards); err != nil {
		return err
	}
	client := srv.Client()

	// Put: a stream with aggregation on. Each reading keeps its own
	// partition key inside the aggregate; the stream reads the shard map
	// with ListShards to pack only readings of one shard together.
	s, err := inskinesis.NewKinesis(inskinesis.Config[Reading]{
		StreamName:       stream,
		Client:           client,
		Codec:            json.Codec[Reading]{},
		Partitioner:      func(r Reading) string { return r.Sensor },
		AggregateRecords: true,
		// The stream holds at most MaxBatchSize records (default 500),
		// and seals its aggregates when it is full: with several shards,
		// a larger bound lets each aggregate fill up.
		MaxBatchSize: 5000,
	})
	if err != nil {
		return err
	}
	for i := range n {
		r := Reading{ID: i, Sensor: fmt.Sprintf("sensor-%d", i%500), Value: float64(i) / 10}
		if err := s.Put(r); err != nil {
			s.FlushAndStopStreaming()
			return err
		}
	}
	s.FlushAndStopStreaming()
	st := s.Stats()
	fmt.Fprintf(w, "put %d readings into %d shards: %d delivered, %d failed, in %d PutRecords calls\n",
		n, shards, st.Delivered, st.Failed, st.Requests)

	// Read: every shard from its start, as a consumer would.
	var records []types.Record
	list, err := client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		return err
	}
	for _, sh := range list.Shards {
		recs, err := readShard(ctx, client, stream, aws.ToString(sh.ShardId))
		if err != nil {
			return err
		}
		records = append(records, recs...)
	}
	aggregates := 0
	for _, r := range records {
		if _, aggregated, err := aggregation.DeaggregateData(r.Data); err == nil && aggregated {
			aggregates++
		}
	}
	fmt.Fprintf(w, "Kinesis stored %d records (%d aggregates, %d plain)", len(records), aggregates, len(records)-aggregates)
	if len(records) > 0 {
		fmt.Fprintf(w, ": %.1f readings per Kinesis record", float64(n)/float64(len(records)))
	}
	fmt.Fprintln(w)

	// Unpack and decode with the codec the readings were put with.
	readings, err := aggregation.Decode(json.Codec[Reading]{}, records)
	if err != nil {
		return err
	}
	seen := make([]int, n)
	for _, r := range readings {
		if r.ID < 0 || r.ID >= n {
			return fmt.Errorf("read back a reading that was not put: %+v", r)
		}
		seen[r.ID]++
	}
	missing, twice := 0, 0
	for _, c := range seen {
		switch {
		case c == 0:
			missing++
		case c > 1:
			twice++
		}
	}
	fmt.Fprintf(w, "aggregation.Decode read back %d readings: %d missing, %d more than once\n", len(readings), missing, twice)
	if missing+twice > 0 {
		return fmt.Errorf("%d readings missing, %d read more than once", missing, twice)
	}
	return nil
}

// readShard reads a shard from TRIM_HORIZON until a GetRecords call returns
// nothing more.
func readShard(ctx context.Context, c *kinesis.Client, stream, shardID string) ([]types.Record, error) {
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName:        aws.String(stream),
		ShardId:           aws.String(shardID),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		return nil, err
	}
	var out []types.Record
	for iter := it.ShardIterator; iter != nil; {
		page, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			return nil, err
		}
		out = append(out, page.Records...)
		if len(page.Records) == 0 && aws.ToInt64(page.MillisBehindLatest) == 0 {
			break
		}
		iter = page.NextShardIterator
	}
	return out, nil
}
