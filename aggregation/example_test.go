package aggregation_test

import (
	"encoding/base64"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis/aggregation"
	"github.com/go-pkg/inskinesis/codec/json"
)

// An aggregate of two user records, {"id":1} under key user-1 and {"id":2}
// under key user-2, as GetRecords returns it.
var aggregated = func() types.Record {
	data, _ := base64.StdEncoding.DecodeString("84mawgoGdXNlci0xCgZ1c2VyLTIaDAgAGgh7ImlkIjoxfRoMCAEaCHsiaWQiOjJ96nvnq54GEKitYkIsQkXTYw==")
	return types.Record{Data: data, PartitionKey: aws.String("a"), SequenceNumber: aws.String("49590338271490256608559692538361571095921575989136588898")}
}()

func ExampleDeaggregate() {
	plain := types.Record{Data: []byte(`{"id":3}`), PartitionKey: aws.String("user-3")}
	for _, r := range []types.Record{aggregated, plain} {
		users, err := aggregation.Deaggregate(r)
		if err != nil {
			fmt.Println(err)
			continue
		}
		for _, u := range users {
			fmt.Println(u.PartitionKey, u.SubSequenceNumber, u.Aggregated, string(u.Data))
		}
	}
	// Output:
	// user-1 0 true {"id":1}
	// user-2 1 true {"id":2}
	// user-3 0 false {"id":3}
}

func ExampleDecode() {
	type event struct {
		ID int `json:"id"`
	}
	events, err := aggregation.Decode[event](json.Codec[event]{}, []types.Record{aggregated})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(events)
	// Output:
	// [{1} {2}]
}

func ExampleInRange() {
	users, _ := aggregation.Deaggregate(aggregated)
	whole := types.HashKeyRange{StartingHashKey: aws.String("0"), EndingHashKey: aws.String("340282366920938463463374607431768211455")}
	lowerHalf := types.HashKeyRange{StartingHashKey: aws.String("0"), EndingHashKey: aws.String("170141183460469231731687303715884105727")}
	for _, hr := range []types.HashKeyRange{whole, lowerHalf} {
		ok, err := aggregation.InRange(users, hr)
		fmt.Println(ok, err)
	}
	// Output:
	// true <nil>
	// false <nil>
}
