package inskinesis

import (
	"net/http"

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

// ownHTTPClient is the HTTP client of a stream that builds its own Kinesis
// client from the SDK's default c (a *awshttp.BuildableClient, or nil): an
// *http.Client on a copy of c's transport (its TLS, proxy and dial settings
// kept) with c's timeout, following only 307 and 308 redirects as the SDK's
// does, wrapped by HTTPClient. Unlike the SDK's, its CloseIdleConnections
// reaches the transport (the wrapper forwards it), so that the stream can
// close its connections when it stops. Any other c, or one with a read
// timeout, is only wrapped.
func ownHTTPClient(c aws.HTTPClient) aws.HTTPClient {
	if c == nil {
		c = awshttp.NewBuildableClient()
	}
	b, ok := c.(*awshttp.BuildableClient)
	if !ok {
		return HTTPClient(c)
	}
	if _, ok := b.GetReadTimeout(); ok {
		return HTTPClient(c)
	}
	return HTTPClient(&http.Client{
		Transport: b.GetTransport(),
		Timeout:   b.GetTimeout(),
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if code := r.Response.StatusCode; (code == http.StatusTemporaryRedirect || code == http.StatusPermanentRedirect) && len(via) < 10 {
				return nil
			}
			return http.ErrUseLastResponse
		},
	})
}
