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
// records, and the stream sends them again (MaybeDuplicate). NewKinesis
// applies this to the client it builds from Region; use it when you build
// your own *kinesis.Client:
//
//	client := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
//		o.HTTPClient = inskinesis.HTTPClient(o.HTTPClient)
//	})
//
// A nil c wraps the SDK's default client.
func HTTPClient(c aws.HTTPClient) aws.HTTPClient {
	if c == nil {
		c = awshttp.NewBuildableClient()
	}
	return transport.Client(c)
}

// ownHTTPClient is the HTTP client of a stream that builds its own Kinesis
// client: HTTPClient of the SDK's default, frozen into a plain *http.Client
// so that the stream can close its idle connections when it stops (the
// wrapper forwards CloseIdleConnections).
func ownHTTPClient(c aws.HTTPClient) aws.HTTPClient {
	if b, ok := c.(*awshttp.BuildableClient); ok {
		c = b.Freeze()
	}
	return HTTPClient(c)
}
