package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// fault is an injected failure.
type fault struct {
	op        string
	status    int
	errType   string
	remaining int
	denied    bool // IAM's refusal: the message names the caller, action and resource
}

// DeniedUser is the IAM user the emulator's access-denied refusals name:
// arn:aws:iam::ACCOUNT:user/fountain-emulator.
const DeniedUser = "fountain-emulator"

// AnyOperation makes InjectFault match every operation.
const AnyOperation = "*"

// InjectFault makes the next `times` calls of op (an operation name such as
// "GetInstance", or AnyOperation) fail with the HTTP status and error type
// given, e.g. (500, "ServiceException"), (503, "ServiceUnavailable") or
// (400, "ThrottlingException"). Faults apply after the request is
// authenticated and routed, before the operation runs, and are consumed in
// the order they were injected. A zero status takes the type's usual status
// (400 when unknown); an empty type is ServiceException.
func (s *Server) InjectFault(op string, status int, errType string, times int) {
	if times <= 0 {
		return
	}
	if errType == "" {
		errType = ServiceException
	}
	if status == 0 {
		status = newError(errType, "").Status
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = append(s.faults, &fault{op: op, status: status, errType: errType, remaining: times})
}

// InjectAccessDenied makes the next `times` calls of op (or of every
// operation, with AnyOperation) fail as AWS does when the caller's IAM
// policy does not allow the operation's action: 403
// AccessDeniedException, in AWS JSON 1.1's error shape, with IAM's message
//
//	User: arn:aws:iam::ACCOUNT:user/fountain-emulator is not authorized to perform: lightsail:OP on resource: ARN because no identity-based policy allows the lightsail:OP action
//
// where ARN is the named instance's (when the request names an existing
// one in instanceName) or arn:aws:lightsail:REGION:ACCOUNT:*. Like
// InjectFault, it applies after authentication and routing, and in order
// with the other faults.
func (s *Server) InjectAccessDenied(op string, times int) {
	if times <= 0 {
		return
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = append(s.faults, &fault{op: op, status: http.StatusForbidden, errType: AccessDeniedException, remaining: times, denied: true})
}

// ClearFaults removes every pending injected fault.
func (s *Server) ClearFaults() {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = nil
}

// takeFault consumes the first pending fault that matches the call's
// operation.
func (s *Server) takeFault(c *call) *apiError {
	f := s.nextFault(c.op)
	if f == nil {
		return nil
	}
	if f.denied {
		action := "lightsail:" + c.op
		return &apiError{Type: f.errType, Status: f.status, Message: fmt.Sprintf(
			"User: arn:aws:iam::%s:user/%s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
			s.account, DeniedUser, action, s.deniedResource(c), action)}
	}
	msg, ok := defaultMessages[f.errType]
	if !ok {
		msg = "Injected fault: " + f.errType
	}
	return &apiError{Type: f.errType, Status: f.status, Message: msg}
}

// nextFault consumes the first pending fault that matches op.
func (s *Server) nextFault(op string) *fault {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for i, f := range s.faults {
		if f.op != op && f.op != AnyOperation {
			continue
		}
		f.remaining--
		if f.remaining <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return f
	}
	return nil
}

// deniedResource is the resource IAM names in a refusal of c: the
// instance the request names, if it exists, else the region's wildcard.
func (s *Server) deniedResource(c *call) string {
	var in struct {
		InstanceName string `json:"instanceName"`
	}
	if json.Unmarshal(c.body, &in) == nil && in.InstanceName != "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		if rg, ok := s.regions[c.region]; ok {
			if inst, ok := rg.instances[in.InstanceName]; ok {
				return inst.arn
			}
		}
	}
	return fmt.Sprintf("arn:aws:lightsail:%s:%s:*", c.region, s.account)
}
