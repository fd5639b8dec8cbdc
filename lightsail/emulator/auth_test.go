package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"
	"github.com/aws/smithy-go"
)

func TestSignatureAccepted(t *testing.T) {
	e := newEnv(t, Options{})
	if _, err := e.client.GetInstances(ctx(), &lightsail.GetInstancesInput{}); err != nil {
		t.Fatalf("a correctly signed request failed: %v", err)
	}
	creds := e.srv.Credentials()
	if len(creds) != 1 || creds[AccessKeyID] != SecretAccessKey {
		t.Fatalf("Credentials() = %v", creds)
	}
}

func TestCustomCredentials(t *testing.T) {
	e := newEnv(t, Options{Credentials: map[string]string{"AKIDCUSTOM0000000001": "custom-secret"}})
	c := e.newClient("AKIDCUSTOM0000000001", "custom-secret", testRegion)
	if _, err := c.GetInstances(ctx(), &lightsail.GetInstancesInput{}); err != nil {
		t.Fatalf("custom credentials: %v", err)
	}
	_, err := e.client.GetInstances(ctx(), &lightsail.GetInstancesInput{})
	wantAPIError(t, err, UnrecognizedClientException, 400, "security token")
}

func TestWrongSecretRejected(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.newClient(AccessKeyID, "wrong-secret", testRegion)
	_, err := c.GetInstances(ctx(), &lightsail.GetInstancesInput{})
	wantAPIError(t, err, InvalidSignatureException, 403, "The request signature we calculated does not match the signature you provided.")
	if n := attempts(err); n != 1 {
		t.Fatalf("a bad signature was tried %d times", n)
	}
}

func TestUnknownAccessKeyRejected(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.newClient("AKIDUNKNOWN000000000", SecretAccessKey, testRegion)
	_, err := c.GetInstances(ctx(), &lightsail.GetInstancesInput{})
	wantAPIError(t, err, UnrecognizedClientException, 400, "The security token included in the request is invalid.")
}

func TestUnknownRegionRejected(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.newClient(AccessKeyID, SecretAccessKey, "mars-north-1")
	_, err := c.GetInstances(ctx(), &lightsail.GetInstancesInput{})
	wantAPIError(t, err, InvalidSignatureException, 403, "valid region")
}

// skewTransport re-signs every request as if the client clock were off.
type skewTransport struct {
	skew time.Duration
}

func (s skewTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(body)
	req.Header.Del("Authorization")
	req.Header.Del("X-Amz-Date")
	creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(req.Context(), creds, req, hex.EncodeToString(sum[:]), "lightsail", testRegion, time.Now().Add(s.skew)); err != nil {
		return nil, err
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestSkewedClockRejected(t *testing.T) {
	e := newEnv(t, Options{})
	for _, skew := range []time.Duration{-20 * time.Minute, 20 * time.Minute} {
		c := e.newClient(AccessKeyID, SecretAccessKey, testRegion, func(o *lightsail.Options) {
			o.HTTPClient = &http.Client{Transport: skewTransport{skew}}
		})
		_, err := c.GetInstances(ctx(), &lightsail.GetInstancesInput{})
		msg := "Signature expired"
		if skew > 0 {
			msg = "Signature not yet current"
		}
		wantAPIError(t, err, InvalidSignatureException, 403, msg)
	}
	// Within the window is fine.
	c := e.newClient(AccessKeyID, SecretAccessKey, testRegion, func(o *lightsail.Options) {
		o.HTTPClient = &http.Client{Transport: skewTransport{-10 * time.Minute}}
	})
	if _, err := c.GetInstances(ctx(), &lightsail.GetInstancesInput{}); err != nil {
		t.Fatalf("10 minutes of skew: %v", err)
	}
}

// An emulator whose clock is 30 minutes ahead answers InvalidSignatureException
// with its own Date header, from which the SDK corrects its clock and
// retries, as it does against AWS.
func TestSDKCorrectsClockSkew(t *testing.T) {
	e := newEnv(t, Options{})
	e.clock.Advance(30 * time.Minute)
	out, err := e.client.GetInstances(ctx(), &lightsail.GetInstancesInput{})
	if err != nil {
		t.Fatalf("the SDK did not recover from clock skew: %v", err)
	}
	if res, ok := retry.GetAttemptResults(out.ResultMetadata); !ok || len(res.Results) != 2 {
		t.Fatalf("attempts = %d, want 2", len(res.Results))
	}
}

func TestMissingAndMalformedAuthorization(t *testing.T) {
	e := newEnv(t, Options{})
	target := targetPrefix + ".GetInstances"

	status, h, body := e.rawCall(target, "{}", time.Time{}, nil)
	if status != 403 || h.Get("X-Amzn-ErrorType") != MissingAuthenticationTokenException || !strings.Contains(body, `"__type":"MissingAuthenticationTokenException"`) {
		t.Fatalf("no Authorization: %d %s %s", status, h.Get("X-Amzn-ErrorType"), body)
	}
	status, h, _ = e.rawCall(target, "{}", time.Now(), func(r *http.Request) {
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+AccessKeyID+"/20240101/us-east-1/lightsail/aws4_request")
	})
	if status != 400 || h.Get("X-Amzn-ErrorType") != IncompleteSignatureException {
		t.Fatalf("incomplete Authorization: %d %s", status, h.Get("X-Amzn-ErrorType"))
	}
	status, h, _ = e.rawCall(target, "{}", time.Now(), func(r *http.Request) { r.Header.Del("X-Amz-Date") })
	if status != 400 || h.Get("X-Amzn-ErrorType") != IncompleteSignatureException {
		t.Fatalf("no date: %d %s", status, h.Get("X-Amzn-ErrorType"))
	}
}

func TestPayloadIsSigned(t *testing.T) {
	e := newEnv(t, Options{})
	target := targetPrefix + ".GetInstance"
	status, _, body := e.rawCall(target, `{"instanceName":"aa"}`, time.Now(), func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader(`{"instanceName":"bb"}`))
	})
	if status != 403 || !strings.Contains(body, "InvalidSignatureException") {
		t.Fatalf("tampered body: %d %s", status, body)
	}
	status, _, body = e.rawCall(target, `{"instanceName":"aa"}`, time.Now(), func(r *http.Request) {
		r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("0", 64))
	})
	if status != 403 || !strings.Contains(body, "x-amz-content-sha256") {
		t.Fatalf("wrong x-amz-content-sha256: %d %s", status, body)
	}
	// A correct x-amz-content-sha256, signed, is accepted.
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", jsonContentType)
	req.Header.Set("X-Amz-Target", targetPrefix+".GetInstances")
	sum := sha256.Sum256([]byte(`{}`))
	req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx(), creds, req, hex.EncodeToString(sum[:]), "lightsail", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("signed x-amz-content-sha256: status %d", resp.StatusCode)
	}
}

func TestErrorWireShape(t *testing.T) {
	e := newEnv(t, Options{})
	status, h, body := e.rawCall(targetPrefix+".GetInstance", `{"instanceName":"missing"}`, time.Now(), nil)
	if status != 404 || h.Get("X-Amzn-ErrorType") != "NotFoundException" || h.Get("Content-Type") != jsonContentType {
		t.Fatalf("status %d, headers %v", status, h)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m["__type"] != "NotFoundException" || m["message"] == "" {
		t.Fatalf("error body %s", body)
	}
	if h.Get("X-Amzn-Requestid") == "" || h.Get("Date") == "" {
		t.Fatalf("missing request id or date: %v", h)
	}
}

func TestTimestampsAreEpochNumbers(t *testing.T) {
	e := newEnv(t, Options{})
	e.createInstance("ts")
	status, _, body := e.rawCall(targetPrefix+".GetInstance", `{"instanceName":"ts"}`, time.Now(), nil)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var out struct {
		Instance map[string]json.RawMessage `json:"instance"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	raw := string(out.Instance["createdAt"])
	if !strings.Contains(raw, ".") || strings.Contains(raw, `"`) {
		t.Fatalf("createdAt on the wire = %s, want epoch seconds with a fraction", raw)
	}
}

func TestMissingRequiredMember(t *testing.T) {
	e := newEnv(t, Options{})
	// The SDK validates required members itself, so send raw requests.
	for target, member := range map[string]string{
		"GetInstance":     "instanceName",
		"CreateInstances": "instanceNames",
		"AttachStaticIp":  "staticIpName",
		"GetOperation":    "operationId",
		"ImportKeyPair":   "keyPairName",
	} {
		status, h, body := e.rawCall(targetPrefix+"."+target, `{}`, time.Now(), nil)
		if status != 400 || h.Get("X-Amzn-ErrorType") != InvalidInputException || !strings.Contains(body, "'"+member+"'") {
			t.Fatalf("%s without %s: %d %s", target, member, status, body)
		}
	}
	status, _, body := e.rawCall(targetPrefix+".GetInstance", `{"instanceName":42}`, time.Now(), nil)
	if status != 400 || !strings.Contains(body, SerializationException) {
		t.Fatalf("wrong member type: %d %s", status, body)
	}
}

func TestUnknownOperation(t *testing.T) {
	e := newEnv(t, Options{})
	status, h, _ := e.rawCall(targetPrefix+".LaunchRocket", `{}`, time.Now(), nil)
	if status != 400 || h.Get("X-Amzn-ErrorType") != UnknownOperationException {
		t.Fatalf("unknown target: %d %s", status, h.Get("X-Amzn-ErrorType"))
	}
	// A modelled operation the emulator does not serve.
	_, err := e.client.GetDisks(ctx(), &lightsail.GetDisksInput{})
	wantAPIError(t, err, UnknownOperationException, 400, "GetDisks")
}

func attempts(err error) int {
	var oe *smithy.OperationError
	if !errors.As(err, &oe) {
		return 0
	}
	var re *retry.MaxAttemptsError
	if errors.As(err, &re) {
		return re.Attempt
	}
	return 1
}

func TestSDKRetriesInjectedFaults(t *testing.T) {
	e := newEnv(t, Options{})
	for _, f := range []struct {
		status int
		typ    string
	}{{500, ServiceException}, {503, "ServiceUnavailable"}, {400, ThrottlingException}} {
		e.srv.InjectFault("GetInstances", f.status, f.typ, 2)
		out, err := e.client.GetInstances(ctx(), &lightsail.GetInstancesInput{})
		if err != nil {
			t.Fatalf("%d %s twice: the SDK did not recover: %v", f.status, f.typ, err)
		}
		res, _ := retry.GetAttemptResults(out.ResultMetadata)
		if len(res.Results) != 3 {
			t.Fatalf("%d %s twice: %d attempts, want 3", f.status, f.typ, len(res.Results))
		}
	}

	// Three failures exhaust the SDK's three attempts.
	e.srv.InjectFault("GetInstances", 500, ServiceException, 3)
	_, err := e.client.GetInstances(ctx(), &lightsail.GetInstancesInput{})
	var se *types.ServiceException
	if !errors.As(err, &se) || httpStatus(err) != 500 {
		t.Fatalf("exhausted retries: %v, want ServiceException 500", err)
	}
	var maxErr *retry.MaxAttemptsError
	if !errors.As(err, &maxErr) || maxErr.Attempt != 3 {
		t.Fatalf("exhausted retries: %v, want MaxAttemptsError after 3", err)
	}
	if _, err := e.client.GetInstances(ctx(), &lightsail.GetInstancesInput{}); err != nil {
		t.Fatalf("after the faults ran out: %v", err)
	}

	// Faults are per operation; AnyOperation matches all; modelled 4xx are not retried.
	e.srv.InjectFault(AnyOperation, 0, AccessDeniedException, 1)
	_, err = e.client.GetBundles(ctx(), &lightsail.GetBundlesInput{})
	var ad *types.AccessDeniedException
	if !errors.As(err, &ad) || httpStatus(err) != 403 {
		t.Fatalf("AnyOperation AccessDenied: %v", err)
	}
	e.srv.InjectFault("GetRegions", 500, "", 5)
	e.srv.ClearFaults()
	if _, err := e.client.GetRegions(ctx(), &lightsail.GetRegionsInput{}); err != nil {
		t.Fatalf("after ClearFaults: %v", err)
	}
}

// A Server mounted below a path prefix still verifies the path the client
// signed.
func TestMountedBelowPrefix(t *testing.T) {
	srv := New(Options{})
	mux := http.NewServeMux()
	mux.Handle("/lightsail/", http.StripPrefix("/lightsail", srv))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer srv.Close()
	e := &env{t: t, srv: srv, ts: ts}
	c := e.newClient(AccessKeyID, SecretAccessKey, testRegion, func(o *lightsail.Options) {
		o.BaseEndpoint = aws.String(ts.URL + "/lightsail/")
	})
	if _, err := c.GetBundles(ctx(), &lightsail.GetBundlesInput{}); err != nil {
		t.Fatalf("through a path prefix: %v", err)
	}
}

// A huge unknown region is refused like any other, and not repeated whole.
func TestHugeUnknownRegionIsClipped(t *testing.T) {
	e := newEnv(t, Options{})
	region := "eu-" + strings.Repeat("x", 8<<10) + "-1"
	status, _, body := e.rawCall(targetPrefix+".GetInstances", "{}", time.Time{}, func(r *http.Request) {
		creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
		sum := sha256.Sum256([]byte("{}"))
		if err := v4.NewSigner().SignHTTP(ctx(), creds, r, hex.EncodeToString(sum[:]), "lightsail", region, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
	})
	if status != 403 || !strings.Contains(body, "InvalidSignatureException") || !strings.Contains(body, "valid region, not 'eu-xxx") {
		t.Fatalf("%d %.300s", status, body)
	}
	if len(body) > 300 || !strings.Contains(body, "…") {
		t.Fatalf("answer of %d bytes: %.300s", len(body), body)
	}
}
