package emulator

import (
	"fmt"
	"time"
)

// Operation statuses.
const (
	opStarted   = "Started"
	opSucceeded = "Succeeded"
	opFailed    = "Failed"
)

// Resource types.
const (
	resInstance = "Instance"
	resStaticIP = "StaticIp"
	resKeyPair  = "KeyPair"
)

// operation is the record every mutating call leaves. Instance lifecycle
// operations (CreateInstance, StartInstance, StopInstance, RebootInstance,
// and DeleteInstance with Hosts) start as Started and become Succeeded (or
// Failed) when the instance reaches its target state; the others are
// Succeeded at once, as Lightsail reports them.
type operation struct {
	seq             int
	id              string
	resourceName    string
	resourceType    string
	createdAt       time.Time
	location        location
	terminal        bool
	details         string
	opType          string
	status          string
	statusChangedAt time.Time
	errorCode       string
	errorDetails    string
}

// operationJSON is the wire form of an Operation.
type operationJSON struct {
	ID               string   `json:"id"`
	ResourceName     string   `json:"resourceName"`
	ResourceType     string   `json:"resourceType"`
	CreatedAt        epoch    `json:"createdAt"`
	Location         location `json:"location"`
	IsTerminal       bool     `json:"isTerminal"`
	OperationDetails string   `json:"operationDetails"`
	OperationType    string   `json:"operationType"`
	Status           string   `json:"status"`
	StatusChangedAt  epoch    `json:"statusChangedAt"`
	ErrorCode        string   `json:"errorCode,omitempty"`
	ErrorDetails     string   `json:"errorDetails,omitempty"`
}

// newOp records an operation in the region. done operations are terminal
// and Succeeded; the others are Started.
func (rg *region) newOp(now time.Time, resName, resType, opType string, loc location, details string, done bool) *operation {
	rg.opSeq++
	op := &operation{
		seq: rg.opSeq, id: newUUID(), resourceName: resName, resourceType: resType,
		createdAt: now, location: loc, details: details, opType: opType,
		status: opStarted, statusChangedAt: now,
	}
	if done {
		op.status, op.terminal = opSucceeded, true
	}
	rg.ops = append(rg.ops, op)
	rg.opsByID[op.id] = op
	return op
}

// succeed marks a running operation Succeeded at t.
func (o *operation) succeed(t time.Time) {
	if o == nil || o.terminal {
		return
	}
	o.status, o.terminal, o.statusChangedAt = opSucceeded, true, t
}

// fail marks a running operation Failed at t.
func (o *operation) fail(t time.Time, code, details string) {
	if o == nil || o.terminal {
		return
	}
	o.status, o.terminal, o.statusChangedAt = opFailed, true, t
	o.errorCode, o.errorDetails = code, details
}

func (o *operation) wire() operationJSON {
	return operationJSON{
		ID: o.id, ResourceName: o.resourceName, ResourceType: o.resourceType,
		CreatedAt: epoch(o.createdAt), Location: o.location, IsTerminal: o.terminal,
		OperationDetails: o.details, OperationType: o.opType, Status: o.status,
		StatusChangedAt: epoch(o.statusChangedAt), ErrorCode: o.errorCode, ErrorDetails: o.errorDetails,
	}
}

func wireOps(ops ...*operation) []operationJSON {
	out := make([]operationJSON, 0, len(ops))
	for _, o := range ops {
		out = append(out, o.wire())
	}
	return out
}

// opsOutput is the output of the operations that return `operations`.
type opsOutput struct {
	Operations []operationJSON `json:"operations"`
}

// opOutput is the output of the operations that return `operation`.
type opOutput struct {
	Operation operationJSON `json:"operation"`
}

func opKey(o *operation) string { return fmt.Sprintf("%012d", o.seq) }

// getOperation answers GetOperation.
func (c *call) getOperation() (any, *apiError) {
	var in struct {
		OperationID *string `json:"operationId"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.OperationID == nil {
		return nil, errMissing("operationId")
	}
	rg := c.lock()
	op, ok := rg.opsByID[*in.OperationID]
	if !ok {
		return nil, errNotFound("The operation with ID %s does not exist.", *in.OperationID)
	}
	return opOutput{op.wire()}, nil
}

// opsPage answers the page of ops (oldest first) that follows pageToken.
func (c *call) opsPage(ops []*operation, pageToken *string) (any, *apiError) {
	list, next, aerr := pagedList(c, ops, opKey, pageToken, (*operation).wire)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		Operations    []operationJSON `json:"operations"`
		NextPageToken string          `json:"nextPageToken,omitempty"`
	}{list, next}, nil
}

// getOperations answers GetOperations: every operation of the region, oldest
// first, paged.
func (c *call) getOperations() (any, *apiError) {
	var in pageTokenInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return c.opsPage(c.lock().ops, in.PageToken)
}

// getOperationsForResource answers GetOperationsForResource: the operations
// on a named resource, oldest first, including those of a deleted resource
// of that name. A name that has no operations and names no current resource
// is NotFoundException.
func (c *call) getOperationsForResource() (any, *apiError) {
	var in struct {
		ResourceName *string `json:"resourceName"`
		PageToken    *string `json:"pageToken"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name, aerr := requireName("resourceName", in.ResourceName)
	if aerr != nil {
		return nil, aerr
	}
	rg := c.lock()
	var list []*operation
	for _, o := range rg.ops {
		if o.resourceName == name {
			list = append(list, o)
		}
	}
	if len(list) == 0 && rg.instances[name] == nil && rg.staticIPs[name] == nil && rg.keyPairs[name] == nil &&
		rg.snapshots[name] == nil && rg.balancers[name] == nil {
		return nil, errNotFound("The resource %s does not exist.", name)
	}
	return c.opsPage(list, in.PageToken)
}
