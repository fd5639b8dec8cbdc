package emulator

import (
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"
)

// An injected IAM refusal is AWS's: 403, AccessDeniedException in the
// header and the body (AWS JSON 1.1's two members only), and IAM's
// message naming the user, the action and the resource.
func TestInjectAccessDeniedWireShape(t *testing.T) {
	e := newEnv(t, Options{})
	e.srv.InjectAccessDenied("GetInstances", 1)
	status, h, body := e.rawCall(targetPrefix+".GetInstances", `{}`, e.clock.Now(), nil)
	want := `{"__type":"AccessDeniedException","message":"User: arn:aws:iam::123456789012:user/fountain-emulator is not authorized to perform: ` +
		`lightsail:GetInstances on resource: arn:aws:lightsail:` + testRegion + `:123456789012:* because no identity-based policy allows the lightsail:GetInstances action"}`
	if status != http.StatusForbidden || h.Get("X-Amzn-ErrorType") != AccessDeniedException || h.Get("Content-Type") != jsonContentType || body != want {
		t.Fatalf("refusal: %d %q %q\n%s\nwant\n%s", status, h.Get("X-Amzn-ErrorType"), h.Get("Content-Type"), body, want)
	}
	// Once only: the next call is served.
	if status, _, body := e.rawCall(targetPrefix+".GetInstances", `{}`, e.clock.Now(), nil); status != http.StatusOK {
		t.Fatalf("after the refusal: %d %s", status, body)
	}
}

// Through the real SDK: a modelled AccessDeniedException (not retried),
// naming the instance's ARN when the request names an existing instance,
// and only for the operation it was injected for.
func TestInjectAccessDeniedThroughSDK(t *testing.T) {
	e := newEnv(t, Options{CreateDelay: -1})
	inst := e.runningInstance("web-1")
	e.srv.InjectAccessDenied("StopInstance", 2)
	if _, err := e.client.GetInstance(ctx(), &lightsail.GetInstanceInput{InstanceName: aws.String("web-1")}); err != nil {
		t.Fatalf("another operation: %v", err)
	}
	_, err := e.client.StopInstance(ctx(), &lightsail.StopInstanceInput{InstanceName: aws.String("web-1")})
	var ad *types.AccessDeniedException
	if !errors.As(err, &ad) || httpStatus(err) != 403 {
		t.Fatalf("StopInstance: %v, want AccessDeniedException 403", err)
	}
	want := "User: arn:aws:iam::123456789012:user/fountain-emulator is not authorized to perform: lightsail:StopInstance on resource: " +
		aws.ToString(inst.Arn) + " because no identity-based policy allows the lightsail:StopInstance action"
	if aws.ToString(ad.Message) != want {
		t.Fatalf("message %q\nwant    %q", aws.ToString(ad.Message), want)
	}
	if got := attempts(err); got != 1 {
		t.Fatalf("an IAM refusal was tried %d times, want 1 (not retried)", got)
	}
	e.srv.ClearFaults()
	if _, err := e.client.StopInstance(ctx(), &lightsail.StopInstanceInput{InstanceName: aws.String("web-1")}); err != nil {
		t.Fatalf("after ClearFaults: %v", err)
	}
}
