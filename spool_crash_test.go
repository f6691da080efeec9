package inskinesis_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/aggregation"
	"github.com/go-pkg/inskinesis/kinesistest"
)

// The crash test runs this test binary again as a child that streams
// numbered records with a spool, and kills it. The child reads its orders
// from these variables.
const (
	crashChildEnv = "INSKINESIS_CRASH_CHILD" // the spool directory
	crashURLEnv   = "INSKINESIS_CRASH_URL"   // the kinesistest server
	crashFromEnv  = "INSKINESIS_CRASH_FROM"  // the first record number; "" puts nothing
	crashAggEnv   = "INSKINESIS_CRASH_AGG"   // "1": AggregateRecords
)

type crashRecord struct {
	N int `json:"n"`
}

// TestSpoolCrashChild is the child of TestSpoolSurvivesSIGKILL; it skips
// when run on its own. It tells the parent, one line each on stdout:
// "R n" the records it replayed at start, "A n" record n accepted by Put,
// "D seq sub dup" a record delivered at sequence number seq, sub-sequence
// number sub, flagged MaybeDuplicate or not, and "DONE" when a run that
// puts nothing has delivered everything.
func TestSpoolCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("the child of TestSpoolSurvivesSIGKILL")
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...) // one write: lines do not mix
	}
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	client := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(os.Getenv(crashURLEnv)),
		Credentials:  credentials.NewStaticCredentialsProvider("x", "y", ""),
		HTTPClient:   inskinesis.HTTPClient(hc),
	})
	s, err := inskinesis.NewKinesis(inskinesis.Config[crashRecord]{
		StreamName:       "crash",
		Client:           client,
		Partitioner:      func(r crashRecord) string { return "k" + strconv.Itoa(r.N%16) },
		SpoolDir:         dir,
		AggregateRecords: os.Getenv(crashAggEnv) == "1",
		MaxBatchSize:     2000,
		MaxGroup:         4,
		Hooks: []inskinesis.Hook{deliveredHook(func(e inskinesis.RecordUnbuffered) {
			say("D %s %d %t", e.SequenceNumber, e.SubSequenceNumber, e.MaybeDuplicate)
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	say("R %d", s.Stats().Replayed)
	from := os.Getenv(crashFromEnv)
	if from == "" {
		s.FlushAndStopStreaming()
		say("DONE")
		return
	}
	n, err := strconv.Atoi(from)
	if err != nil {
		t.Fatal(err)
	}
	for ; ; n++ { // until killed
		if err := s.Put(crashRecord{N: n}); err != nil {
			t.Fatal(err)
		}
		say("A %d", n)
	}
}

type deliveredHook func(inskinesis.RecordUnbuffered)

func (h deliveredHook) OnRecordUnbuffered(e inskinesis.RecordUnbuffered) {
	if e.Err == nil {
		h(e)
	}
}

// TestSpoolSurvivesSIGKILL kills a producer with SIGKILL at random moments,
// ten times, restarting it each time on the same spool directory, then lets
// a last one deliver what is left. Every record a Put accepted must be in
// the stream at least once, and of the copies of a record stored more than
// once, at most one may have been reported delivered without the
// MaybeDuplicate flag (the first, by a producer that died before it could
// settle it).
func TestSpoolSurvivesSIGKILL(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("in the child")
	}
	for _, agg := range []bool{false, true} {
		t.Run(fmt.Sprintf("aggregate=%v", agg), func(t *testing.T) {
			srv := kinesistest.Start(t)
			require.NoError(t, srv.CreateStream("crash", 4))
			dir := t.TempDir()
			rng := rand.New(rand.NewPCG(42, uint64(len(fmt.Sprint(agg)))))
			accepted := map[int]bool{}
			delivered := map[string][]bool{} // "seq/sub" -> flags reported
			next, replayed := 0, 0
			run := func(from string, until func(lines int) bool) {
				cmd := exec.Command(os.Args[0], "-test.run=^TestSpoolCrashChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashURLEnv+"="+srv.URL(), crashFromEnv+"="+from)
				if agg {
					cmd.Env = append(cmd.Env, crashAggEnv+"=1")
				}
				cmd.Stderr = os.Stderr
				out, err := cmd.StdoutPipe()
				require.NoError(t, err)
				require.NoError(t, cmd.Start())
				sc := bufio.NewScanner(out)
				lines, killed := 0, false
				for sc.Scan() {
					f := strings.Fields(sc.Text())
					switch {
					case len(f) == 2 && f[0] == "A":
						n, _ := strconv.Atoi(f[1])
						accepted[n] = true
						next = max(next, n+1)
						lines++
					case len(f) == 2 && f[0] == "R":
						n, _ := strconv.Atoi(f[1])
						replayed += n
					case len(f) == 4 && f[0] == "D":
						delivered[f[1]+"/"+f[2]] = append(delivered[f[1]+"/"+f[2]], f[3] == "true")
					}
					if !killed && until(lines) {
						require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
						killed = true
					}
				}
				_, _ = io.Copy(io.Discard, out)
				err = cmd.Wait()
				if killed {
					require.Error(t, err, "killed")
				} else {
					require.NoError(t, err, "the last run ends by itself")
				}
			}
			for range 10 {
				k := 100 + rng.IntN(3000)
				run(strconv.Itoa(next), func(lines int) bool { return lines >= k })
			}
			run("", func(int) bool { return false })

			recs, err := srv.KinesisRecords("crash")
			require.NoError(t, err)
			copies := map[int][]string{}
			for _, r := range recs {
				urs, err := aggregation.Deaggregate(r)
				require.NoError(t, err)
				for _, u := range urs {
					var c crashRecord
					_, err := fmt.Sscanf(string(u.Data), `{"n":%d}`, &c.N)
					require.NoError(t, err, "%q", u.Data)
					copies[c.N] = append(copies[c.N], fmt.Sprintf("%s/%d", aws.ToString(r.SequenceNumber), u.SubSequenceNumber))
				}
			}
			require.NotEmpty(t, accepted)
			for n := range accepted {
				require.NotEmpty(t, copies[n], "record %d was accepted but is not in the stream", n)
			}
			dups := 0
			for n, where := range copies {
				if len(where) < 2 {
					continue
				}
				dups += len(where) - 1
				unflagged := 0
				for _, w := range where {
					for _, dup := range delivered[w] {
						if !dup {
							unflagged++
						}
					}
				}
				require.LessOrEqual(t, unflagged, 1, "record %d stored %d times, %d of them reported delivered without MaybeDuplicate", n, len(where), unflagged)
			}
			require.Positive(t, replayed, "the producers replayed records")
			t.Logf("accepted %d records over 11 runs; %d replayed at restarts; %d extra copies in the stream", len(accepted), replayed, dups)
		})
	}
}
