package inskinesis_test

import (
	"context"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/kinesistest"
)

// Name the stream by its ARN, and let an aggregating stream follow the
// stream's record distribution: on a stream where Kinesis places records
// itself (AUTO), it sends plain records, and takes records without a key.
func ExampleConfig_streamARN() {
	srv, err := kinesistest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()
	arn := "arn:aws:kinesis:" + kinesistest.Region + ":" + kinesistest.AccountID + ":stream/events"
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName:        aws.String("events"),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand},
	}); err != nil {
		log.Fatal(err)
	}
	if _, err := c.UpdateStreamRecordDistributionStrategy(ctx, &kinesis.UpdateStreamRecordDistributionStrategyInput{
		StreamARN: aws.String(arn), RecordDistributionStrategy: types.RecordDistributionStrategyAuto,
	}); err != nil {
		log.Fatal(err)
	}

	stream, err := inskinesis.NewKinesis(inskinesis.Config[Order]{
		StreamARN:        arn,                              // with Client nil, the region comes from the ARN
		Client:           c,                                // leave out to use AWS
		AggregateRecords: true,                             // needs kinesis:DescribeStreamSummary to see AUTO
		Partitioner:      func(Order) string { return "" }, // no key: AUTO streams only
	})
	if err != nil {
		log.Fatal(err)
	}
	st := stream.Stats()
	fmt.Println("AUTO:", st.ServiceManagedDistribution, "aggregating:", st.AggregationActive)
	for i := 0; i < 4; i++ {
		if err := stream.Put(Order{ID: fmt.Sprint(i)}); err != nil {
			log.Fatal(err)
		}
	}
	stream.FlushAndStopStreaming()
	records, _ := srv.Records("events")
	fmt.Println(len(records), "plain records")
	// Output:
	// AUTO: true aggregating: false
	// 4 plain records
}
