package emulator

// Balancers backs load balancers with real listeners (sandbox mode):
// each one listens on an address of this machine, health-checks the
// attached instances' path and forwards requests to the healthy ones.
//
// The emulator calls OpenBalancer when a load balancer is created and
// CloseBalancer (in the background) when it is deleted; key names it
// ("REGION/NAME"). BalancerHealth is asked on every GetLoadBalancer(s).
// Config reports what the balancer serves now: the instance port, the
// health check path and the attached running instances with their
// private addresses. The balancer calls it from its own goroutines
// whenever it wants (every health check round, say), never from within
// OpenBalancer, CloseBalancer or BalancerHealth, which the emulator calls
// holding its lock.
type Balancers interface {
	// OpenBalancer starts the listener and returns the address it listens
	// on, host:port: the load balancer's DNS name and public port.
	OpenBalancer(key string, config func() BalancerConfig) (addr string, err error)
	// CloseBalancer stops the listener; an unknown key is no error.
	CloseBalancer(key string) error
	// BalancerHealth is each target's health as the balancer's last checks
	// found it, by instance name; a target not yet checked is absent.
	BalancerHealth(key string) map[string]TargetHealth
}

// BalancerConfig is what a load balancer serves.
type BalancerConfig struct {
	// InstancePort is the port requests are forwarded to on the targets.
	InstancePort int
	// HealthCheckPath is the path checked on each target (e.g. "/").
	HealthCheckPath string
	// Targets are the attached instances that run, with their addresses.
	Targets []BalancerTarget
}

// BalancerTarget is one attached instance.
type BalancerTarget struct {
	Instance string // the instance's name
	Address  string // its private IP address
}

// TargetHealth is what a load balancer's checks found of one target, in
// Lightsail's terms.
type TargetHealth struct {
	// State is initial, healthy or unhealthy.
	State string
	// Reason is Lightsail's InstanceHealthReason for initial and unhealthy
	// (Lb.InitialHealthChecking, Instance.Timeout,
	// Instance.ResponseCodeMismatch, Instance.FailedHealthChecks); "" for
	// healthy.
	Reason string
}

// Instance health states and reasons (InstanceHealthState,
// InstanceHealthReason).
const (
	HealthInitial   = "initial"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
	HealthUnused    = "unused"

	ReasonRegistrationInProgress = "Lb.RegistrationInProgress"
	ReasonInitialHealthChecking  = "Lb.InitialHealthChecking"
	ReasonTimeout                = "Instance.Timeout"
	ReasonResponseCodeMismatch   = "Instance.ResponseCodeMismatch"
	ReasonFailedHealthChecks     = "Instance.FailedHealthChecks"
	ReasonInvalidState           = "Instance.InvalidState"
)
