package transport

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type writerToBody struct{ *bytes.Reader }

func (writerToBody) Close() error { return nil }

type recordDoer struct{ got *http.Request }

func (d *recordDoer) Do(r *http.Request) (*http.Response, error) { d.got = r; return nil, nil }
func (d *recordDoer) RoundTrip(r *http.Request) (*http.Response, error) {
	d.got = r
	return nil, nil
}

func TestBodiesLoseWriteTo(t *testing.T) {
	body := writerToBody{bytes.NewReader([]byte("payload"))}
	var _ io.WriterTo = body
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/", body)
	require.NoError(t, err)

	for name, send := range map[string]func(*recordDoer) *http.Request{
		"Client":       func(d *recordDoer) *http.Request { _, _ = Client(d).Do(req); return d.got },
		"RoundTripper": func(d *recordDoer) *http.Request { _, _ = RoundTripper(d).RoundTrip(req); return d.got },
	} {
		t.Run(name, func(t *testing.T) {
			got := send(&recordDoer{})
			_, isWriterTo := got.Body.(io.WriterTo)
			assert.False(t, isWriterTo, "the body hides WriteTo")
			assert.Equal(t, req.URL, got.URL)
			assert.Equal(t, io.ReadCloser(body), req.Body, "the caller's request is not changed")
		})
	}
	noBody, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
	d := &recordDoer{}
	_, _ = Client(d).Do(noBody)
	assert.Same(t, noBody, d.got, "a request without a body passes as it is")
}

type idleDoer struct {
	recordDoer
	closed int
}

func (d *idleDoer) CloseIdleConnections() { d.closed++ }

func TestClientForwardsCloseIdleConnections(t *testing.T) {
	d := &idleDoer{}
	c, ok := Client(d).(interface{ CloseIdleConnections() })
	require.True(t, ok)
	c.CloseIdleConnections()
	assert.Equal(t, 1, d.closed)
	// A client without the method: nothing to close, and no panic.
	Client(&recordDoer{}).(interface{ CloseIdleConnections() }).CloseIdleConnections()
}
