package emulator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const testRegion = "us-east-1"

// fakeClock is real time plus an offset the test moves forward, so the
// SDK's signatures stay within the 15-minute window while transitions are
// driven deterministically.
type fakeClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// testDelay is the transition duration of fake-clock tests; advancing the
// clock by it completes any transition.
const testDelay = 30 * time.Second

type env struct {
	t      *testing.T
	srv    *Server
	ts     *httptest.Server
	clock  *fakeClock
	client *lightsail.Client
}

// newEnv starts an emulator with a fake clock and 30 s transitions (unless
// opts says otherwise) and a real SDK client for it.
func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	clock := &fakeClock{}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	for _, d := range []*time.Duration{&opts.CreateDelay, &opts.StartDelay, &opts.StopDelay, &opts.RebootDelay} {
		if *d == 0 {
			*d = testDelay
		}
	}
	srv := New(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	e := &env{t: t, srv: srv, ts: ts, clock: clock}
	e.client = e.newClient(AccessKeyID, SecretAccessKey, testRegion)
	return e
}

// fastBackoff keeps SDK retries quick (throttling errors otherwise wait 1 s).
var fastBackoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) {
	return time.Millisecond, nil
})

// newClient returns a real Lightsail client for the emulator.
func (e *env) newClient(akid, secret, region string, optFns ...func(*lightsail.Options)) *lightsail.Client {
	cfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = fastBackoff })
		},
	}
	return lightsail.NewFromConfig(cfg, append([]func(*lightsail.Options){func(o *lightsail.Options) {
		o.BaseEndpoint = aws.String(e.ts.URL)
	}}, optFns...)...)
}

func ctx() context.Context { return context.Background() }

// createInstance creates one instance and fails the test on error.
func (e *env) createInstance(name string, optFns ...func(*lightsail.CreateInstancesInput)) types.Operation {
	e.t.Helper()
	in := &lightsail.CreateInstancesInput{
		InstanceNames:    []string{name},
		AvailabilityZone: aws.String(testRegion + "a"),
		BlueprintId:      aws.String("ubuntu_24_04"),
		BundleId:         aws.String("nano_3_0"),
	}
	for _, f := range optFns {
		f(in)
	}
	out, err := e.client.CreateInstances(ctx(), in)
	if err != nil {
		e.t.Fatalf("CreateInstances(%s): %v", name, err)
	}
	if len(out.Operations) != 1 {
		e.t.Fatalf("CreateInstances returned %d operations", len(out.Operations))
	}
	return out.Operations[0]
}

// runningInstance creates an instance and advances the clock until it runs.
func (e *env) runningInstance(name string) types.Instance {
	e.t.Helper()
	e.createInstance(name)
	e.clock.Advance(testDelay)
	inst := e.instance(name)
	if aws.ToString(inst.State.Name) != "running" {
		e.t.Fatalf("%s is %s, want running", name, aws.ToString(inst.State.Name))
	}
	return inst
}

func (e *env) instance(name string) types.Instance {
	e.t.Helper()
	out, err := e.client.GetInstance(ctx(), &lightsail.GetInstanceInput{InstanceName: aws.String(name)})
	if err != nil {
		e.t.Fatalf("GetInstance(%s): %v", name, err)
	}
	return *out.Instance
}

func (e *env) state(name string) string {
	e.t.Helper()
	out, err := e.client.GetInstanceState(ctx(), &lightsail.GetInstanceStateInput{InstanceName: aws.String(name)})
	if err != nil {
		e.t.Fatalf("GetInstanceState(%s): %v", name, err)
	}
	return aws.ToString(out.State.Name)
}

// waitState polls (real time) until the instance reaches want.
func (e *env) waitState(name, want string) types.Instance {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		inst := e.instance(name)
		if aws.ToString(inst.State.Name) == want {
			return inst
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s still %s, want %s", name, aws.ToString(inst.State.Name), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitOp polls until an operation is terminal.
func (e *env) waitOp(id string) types.Operation {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := e.client.GetOperation(ctx(), &lightsail.GetOperationInput{OperationId: aws.String(id)})
		if err != nil {
			e.t.Fatalf("GetOperation: %v", err)
		}
		if aws.ToBool(out.Operation.IsTerminal) {
			return *out.Operation
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("operation %s still %s", id, out.Operation.Status)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// httpStatus returns the HTTP status the SDK saw for err.
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// errorCode returns the API error code of err.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func wantAPIError(t *testing.T, err error, code string, status int, msgPart string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s error, got success", code)
	}
	if got := errorCode(err); got != code {
		t.Fatalf("error code = %q, want %q (err: %v)", got, code, err)
	}
	if got := httpStatus(err); got != status {
		t.Fatalf("HTTP status = %d, want %d (err: %v)", got, status, err)
	}
	var ae smithy.APIError
	errors.As(err, &ae)
	if !strings.Contains(ae.ErrorMessage(), msgPart) {
		t.Fatalf("message %q does not contain %q", ae.ErrorMessage(), msgPart)
	}
}

// rawCall sends a request signed by the SDK's v4 signer with the default
// credentials (or with sign modifying it) and returns status, headers and body.
func (e *env) rawCall(target, body string, signAt time.Time, mutate func(*http.Request)) (int, http.Header, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.ts.URL+"/", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", jsonContentType)
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	if !signAt.IsZero() {
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
		if err := v4.NewSigner().SignHTTP(ctx(), creds, req, hex.EncodeToString(sum[:]), "lightsail", testRegion, signAt); err != nil {
			e.t.Fatal(err)
		}
	}
	if mutate != nil {
		mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(data)
}
