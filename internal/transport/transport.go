// Package transport works around a race between the AWS SDK (smithy-go) and
// net/http that can close a connection under a response being read.
//
// smithy-go closes a request's body as soon as the response headers arrive;
// its closed body then answers WriteTo with io.EOF. net/http, which may
// still be checking the body for extra bytes after sending it, takes that
// as a write error and closes the connection, and the SDK reports
// "deserialization failed … use of closed network connection" for a call
// whose records were written. A producer then sends them again, writing
// duplicates. Hiding the body's WriteTo makes the check read a plain io.EOF.
// The race shows readily against fast local servers and can, rarely, against
// any endpoint.
package transport

import (
	"io"
	"net/http"
)

// Doer is what the SDK needs of an HTTP client (aws.HTTPClient).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client wraps an SDK HTTP client so that request bodies expose only Read
// and Close.
func Client(d Doer) Doer { return client{d} }

type client struct{ d Doer }

func (c client) Do(r *http.Request) (*http.Response, error) { return c.d.Do(hideWriteTo(r)) }

// CloseIdleConnections closes the idle connections of the wrapped client,
// when it has such a method (as *http.Client has).
func (c client) CloseIdleConnections() {
	if ci, ok := c.d.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// RoundTripper wraps an http.RoundTripper likewise, for a plain
// *http.Client.
func RoundTripper(rt http.RoundTripper) http.RoundTripper { return roundTripper{rt} }

type roundTripper struct{ rt http.RoundTripper }

func (t roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.rt.RoundTrip(hideWriteTo(r))
}

func hideWriteTo(r *http.Request) *http.Request {
	if r.Body == nil || r.Body == http.NoBody {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.Body = readOnlyBody{r.Body}
	return r2
}

// readOnlyBody is an io.ReadCloser and nothing more.
type readOnlyBody struct{ rc io.ReadCloser }

func (b readOnlyBody) Read(p []byte) (int, error) { return b.rc.Read(p) }
func (b readOnlyBody) Close() error               { return b.rc.Close() }

// Wrapped reports whether d already hides request bodies' WriteTo: a client
// from Client.
func Wrapped(d Doer) bool {
	_, ok := d.(client)
	return ok
}
