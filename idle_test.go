package inskinesis

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/go-pkg/inskinesis/kinesistest"
)

// TestOwnClientClosesItsConnections checks that a stream that built its own
// client from Region leaves no connection, and so no goroutine, behind.
func TestOwnClientClosesItsConnections(t *testing.T) {
	srv := kinesistest.Start(t)
	require.NoError(t, srv.CreateStream("idle", 1))
	t.Setenv("AWS_ENDPOINT_URL_KINESIS", srv.URL())
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	before := goleak.IgnoreCurrent()
	s, err := NewKinesis(Config[event]{Region: "us-east-1", StreamName: "idle", Partitioner: byKey})
	require.NoError(t, err)
	for _, r := range s.PutSync(t.Context(), event{ID: 1, Key: "a"}, event{ID: 2, Key: "b"}) {
		require.NoError(t, r.Err)
	}
	s.FlushAndStopStreaming()
	assert.Equal(t, int64(2), s.Stats().Delivered)
	// The client's connection goroutines, and the server's for it, end
	// once the stream closes its idle connections.
	assert.NoError(t, goleak.Find(before))
}
