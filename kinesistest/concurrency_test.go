package kinesistest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// TestConcurrentUse writes from several goroutines with faults on while
// others read, list and reshard, then checks that every acknowledged record
// is stored once where the answer said, that the counters agree with the
// store and that sequence numbers increase within each shard. Run it with
// -race.
func TestConcurrentUse(t *testing.T) {
	srv := Start(t, WithFaults(Faults{Seed: 1, RecordFailureRate: 0.1, RequestErrorRate: 0.05, DropAfterWriteRate: 0.03}))
	if err := srv.CreateStream("s", 4); err != nil {
		t.Fatal(err)
	}
	c := srv.Client(noRetries)
	ctx := context.Background()

	const writers, requests, perRequest = 6, 30, 40
	type ack struct{ shard, seq string }
	var mu sync.Mutex
	acked := map[string]ack{}

	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < requests; r++ {
				in := make([]types.PutRecordsRequestEntry, perRequest)
				for i := range in {
					in[i] = entry(fmt.Sprintf("k-%d-%d", w, i), []byte(fmt.Sprintf("w%d-r%d-i%d", w, r, i)))
				}
				out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: in})
				if err != nil {
					continue // injected request error or dropped connection
				}
				mu.Lock()
				for i, res := range out.Records {
					if res.ErrorCode == nil {
						acked[string(in[i].Data)] = ack{aws.ToString(res.ShardId), aws.ToString(res.SequenceNumber)}
					}
				}
				mu.Unlock()
			}
		}()
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
			if err != nil {
				t.Errorf("ListShards: %v", err)
				return
			}
			for _, sh := range shards.Shards {
				it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
				if err != nil {
					t.Errorf("GetShardIterator: %v", err)
					return
				}
				if _, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(100)}); err != nil {
					t.Errorf("GetRecords: %v", err)
					return
				}
			}
		}
	}()
	go func() {
		defer readers.Done()
		if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("1000")}); err != nil {
			t.Errorf("SplitShard: %v", err)
		}
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := srv.Records("s"); err != nil {
				t.Errorf("Records: %v", err)
				return
			}
			_ = srv.Stats()
		}
	}()
	wg.Wait()
	close(stop)
	readers.Wait()

	recs, err := srv.Records("s")
	if err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	stored := map[string]int{}
	lastSeq := map[string]string{}
	for _, r := range recs {
		stored[string(r.Data)]++
		if prev, ok := lastSeq[r.ShardID]; ok && r.SequenceNumber <= prev {
			t.Fatalf("sequence numbers of %s do not increase: %s after %s", r.ShardID, r.SequenceNumber, prev)
		}
		lastSeq[r.ShardID] = r.SequenceNumber
	}
	for data := range acked {
		if stored[data] != 1 {
			t.Fatalf("acknowledged record %s is stored %d times", data, stored[data])
		}
	}
	bySeq := map[string]Record{}
	for _, r := range recs {
		bySeq[r.SequenceNumber] = r
	}
	for data, a := range acked {
		if r := bySeq[a.seq]; string(r.Data) != data || r.ShardID != a.shard {
			t.Fatalf("the answer for %s said %s/%s, the store holds %q on %s", data, a.shard, a.seq, r.Data, r.ShardID)
		}
	}
	if int64(len(recs)) != st.RecordsAccepted || int64(len(acked))+st.RecordsWrittenThenDropped != st.RecordsAccepted {
		t.Errorf("stored %d, acknowledged %d, written then dropped %d, Stats.RecordsAccepted %d",
			len(recs), len(acked), st.RecordsWrittenThenDropped, st.RecordsAccepted)
	}
	total := int64(writers * requests * perRequest)
	if st.RecordsAccepted+st.RecordsInternalFailure+st.RecordsInFailedRequests != total {
		t.Errorf("accepted %d + failed %d + in failed requests %d != %d sent", st.RecordsAccepted, st.RecordsInternalFailure, st.RecordsInFailedRequests, total)
	}
	if st.DroppedAfterWrite == 0 || st.InjectedRequestErrors == 0 || st.RecordsInternalFailure == 0 {
		t.Errorf("the faults did not all fire: %+v", st)
	}
}
