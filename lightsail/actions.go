package lightsail

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"

	"github.com/aws/smithy-go/middleware"

	"github.com/fountainai/fountain"
)

// Action is the IAM action one Lightsail operation needs, and the resource
// types IAM lets a policy limit it to.
type Action struct {
	// Operation is the SDK operation, e.g. "CreateInstances".
	Operation string `json:"operation"`
	// IAM is the action a policy must allow, e.g. "lightsail:CreateInstances".
	IAM string `json:"iam_action"`
	// Access is IAM's access level: Read or Write.
	Access string `json:"access"`
	// Resources are the resource types the action can be limited to
	// ("Instance", "StaticIp"), each required; none means the action
	// supports no resource-level permission and needs "*".
	Resources []string `json:"resources,omitempty"`
}

// Resource types of Lightsail's ARNs
// (arn:aws:lightsail:REGION:ACCOUNT:Instance/ID; the ID is a UUID, not the
// name, so a policy can narrow them by region and account only).
const (
	ResourceInstance         = "Instance"
	ResourceStaticIP         = "StaticIp"
	ResourceInstanceSnapshot = "InstanceSnapshot"
	ResourceLoadBalancer     = "LoadBalancer"
)

// actions is every Lightsail operation Fountain calls, and nothing else:
// the one table the IAM policy (Policy) is made from. The client refuses
// to send an operation missing here (requireAction), and a test drives
// every call against the emulator and scans the package's source, so the
// table and the code cannot drift apart.
//
// Access levels and resource types are those of the Service Authorization
// Reference for Amazon Lightsail; the Lightsail API reference says the same
// where it notes "tag-based access control via resource tags applied to
// the resource identified by instance name".
//
// Where the reference's limit is uncertain, the table is the wider choice
// that cannot break a call: EnableAddOn and DisableAddOn on "*"; attach
// and detach on both the instance and the load balancer ARNs.
var actions = map[string]Action{
	"AllocateStaticIp":         {Access: "Write"},
	"AttachStaticIp":           {Access: "Write", Resources: []string{ResourceInstance, ResourceStaticIP}},
	"CloseInstancePublicPorts": {Access: "Write", Resources: []string{ResourceInstance}},
	"CreateInstances":          {Access: "Write"}, // request tags only
	"DeleteInstance":           {Access: "Write", Resources: []string{ResourceInstance}},
	"DownloadDefaultKeyPair":   {Access: "Write"},
	"GetBlueprints":            {Access: "Read"},
	"GetBundles":               {Access: "Read"},
	"GetInstance":              {Access: "Read"},

	// Instance snapshots and the AutoSnapshot add-on.
	"CreateInstanceSnapshot":      {Access: "Write"}, // request tags only
	"CreateInstancesFromSnapshot": {Access: "Write", Resources: []string{ResourceInstanceSnapshot}},
	"DeleteInstanceSnapshot":      {Access: "Write", Resources: []string{ResourceInstanceSnapshot}},
	"DisableAddOn":                {Access: "Write"},
	"EnableAddOn":                 {Access: "Write"},
	"GetInstanceSnapshot":         {Access: "Read"},
	"GetInstanceSnapshots":        {Access: "Read"},

	// Load balancers and their certificates.
	"AttachInstancesToLoadBalancer":    {Access: "Write", Resources: []string{ResourceInstance, ResourceLoadBalancer}},
	"AttachLoadBalancerTlsCertificate": {Access: "Write", Resources: []string{ResourceLoadBalancer}},
	"CreateLoadBalancer":               {Access: "Write"}, // request tags only
	"CreateLoadBalancerTlsCertificate": {Access: "Write", Resources: []string{ResourceLoadBalancer}},
	"DeleteLoadBalancer":               {Access: "Write", Resources: []string{ResourceLoadBalancer}},
	"DetachInstancesFromLoadBalancer":  {Access: "Write", Resources: []string{ResourceInstance, ResourceLoadBalancer}},
	"GetLoadBalancer":                  {Access: "Read"},
	"GetLoadBalancerTlsCertificates":   {Access: "Read"},
	"GetLoadBalancers":                 {Access: "Read"},
	"UpdateLoadBalancerAttribute":      {Access: "Write", Resources: []string{ResourceLoadBalancer}},

	// It hands out SSH access (a key and a certificate): IAM counts it as
	// Write, limited to instances.
	"GetInstanceAccessDetails": {Access: "Write", Resources: []string{ResourceInstance}},
	"GetInstancePortStates":    {Access: "Read"},
	"GetInstances":             {Access: "Read"},
	"GetOperation":             {Access: "Read"},
	"GetStaticIp":              {Access: "Read"},
	"GetStaticIps":             {Access: "Read"},
	"OpenInstancePublicPorts":  {Access: "Write", Resources: []string{ResourceInstance}},
	"RebootInstance":           {Access: "Write", Resources: []string{ResourceInstance}},
	"StartInstance":            {Access: "Write", Resources: []string{ResourceInstance}},
	"StopInstance":             {Access: "Write", Resources: []string{ResourceInstance}},
}

// Actions returns every Lightsail operation Fountain calls with its IAM
// action, sorted by operation.
func Actions() []Action {
	out := make([]Action, 0, len(actions))
	for _, op := range slices.Sorted(maps.Keys(actions)) {
		a, _ := ActionFor(op)
		out = append(out, a)
	}
	return out
}

// ActionFor returns the IAM action of an SDK operation Fountain calls.
func ActionFor(operation string) (Action, bool) {
	a, ok := actions[operation]
	if !ok {
		return Action{}, false
	}
	a.Operation = operation
	a.IAM = "lightsail:" + operation
	a.Resources = slices.Clone(a.Resources)
	return a, true
}

// requireAction is installed on every SDK client the adapter makes: an
// operation that is not in the actions table is refused before it is
// sent, so that no call can be added without the IAM policy knowing it
// (the tests that drive every call fail first).
func requireAction(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("FountainIAMAction",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			op := middleware.GetOperationName(ctx)
			if _, ok := actions[op]; !ok {
				return middleware.InitializeOutput{}, middleware.Metadata{}, &fountain.Error{Code: fountain.EINTERNAL,
					Message: fmt.Sprintf("Lightsail operation %s is not in Fountain's table of IAM actions (lightsail/actions.go): add it there, so that `fountain aws policy` allows it", op)}
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// notAuthorized finds the action in IAM's refusal, e.g. "User:
// arn:aws:iam::123456789012:user/x is not authorized to perform:
// lightsail:CreateInstances on resource: ...".
var notAuthorized = regexp.MustCompile(`is not authorized to perform: ([A-Za-z0-9-]+:[A-Za-z0-9]+)`)

// missingAction is the IAM action a refusal names, else the action of the
// operation that was refused.
func missingAction(message, operation string) string {
	if m := notAuthorized.FindStringSubmatch(message); m != nil {
		return m[1]
	}
	if a, ok := ActionFor(operation); ok {
		return a.IAM
	}
	if operation != "" {
		return "lightsail:" + operation
	}
	return ""
}
