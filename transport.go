package inskinesis

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/go-pkg/inskinesis/internal/transport"
)

// HTTPClient wraps an HTTP client for the AWS SDK (kinesis.Options.HTTPClient)
// so that request bodies show net/http only Read and Close. It works around
// a race between the SDK and net/http: the SDK closes a request body when
// the response headers arrive, and net/http, still checking the body, may
// take the closed body's error for a failed write and close the connection
// under the response. The call then fails although Kinesis wrote its
// records, and the stream sends them again (MaybeDuplicate).
//
// The stream applies it to every call it makes (PutRecords, and ListShards
// for aggregation or the shard rate limit), whatever the client, so using
// it is optional. It still helps a *kinesis.Client of your own in its other
// calls (GetRecords, …):
//
//	client := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
//		o.HTTPClient = inskinesis.HTTPClient(o.HTTPClient)
//	})
//
// A nil c wraps the SDK's default client. A client it already wrapped is
// not wrapped again by the stream.
func HTTPClient(c aws.HTTPClient) aws.HTTPClient {
	if c == nil {
		c = awshttp.NewBuildableClient()
	}
	return transport.Client(c)
}
