package emulator

// fault is an injected failure.
type fault struct {
	op        string
	status    int
	errType   string
	remaining int
}

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

// ClearFaults removes every pending injected fault.
func (s *Server) ClearFaults() {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = nil
}

// takeFault consumes the first pending fault that matches op.
func (s *Server) takeFault(op string) *apiError {
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
		msg, ok := defaultMessages[f.errType]
		if !ok {
			msg = "Injected fault: " + f.errType
		}
		return &apiError{Type: f.errType, Status: f.status, Message: msg}
	}
	return nil
}
