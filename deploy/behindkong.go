package deploy

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/kong"
)

// An app behind Kong (deploy-docker-app's gateway) is an upstream,
// app-NAME, whose targets are its hosts' private addresses and ports.
// Unless the request fixes ports, each deploy starts the new container
// beside the old one on the other of two host ports Fountain picks for
// the app, health-checks it, moves Kong's target to it in one config
// load, drains the old one and stops it (kamal-proxy's sequence, with
// Kong as the proxy).

// GatewayRef names the Kong gateway an app is routed through: one host
// or several nodes, reached with the request's key, user and port.
type GatewayRef struct {
	InstanceIP    string   `json:"instance_ip,omitempty" maxLength:"253" doc:"Kong's host, by address."`
	InstanceName  string   `json:"instance_name,omitempty" maxLength:"255" doc:"Kong's Lightsail instance, instead of instance_ip." example:"gw-1"`
	InstanceNames []string `json:"instance_names,omitempty" maxItems:"64" doc:"The Lightsail instances of a gateway of several Kong nodes." example:"[\"gw-1\", \"gw-2\"]"`
	Name          string   `json:"name,omitempty" maxLength:"64" doc:"The gateway's name (as deploy-kong's gateway; default with instance_names: kong)."`
}

// validate checks the gateway's fields without I/O.
func (g *GatewayRef) validate() error {
	n := 0
	for _, set := range []bool{g.InstanceIP != "", g.InstanceName != "", len(g.InstanceNames) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fountain.Invalid("gateway", "give one of instance_ip, instance_name or instance_names: where Kong runs")
	}
	h := HostInput{InstanceIP: g.InstanceIP, InstanceName: g.InstanceName}
	ni := NodesInput{InstanceNames: g.InstanceNames, Gateway: g.Name}
	if err := ni.validate(&h); err != nil {
		var fe *fountain.Error
		if asErr(err, &fe) {
			fe.Field = "gateway." + strings.TrimPrefix(fe.Field, "gateway")
			fe.Field = strings.TrimSuffix(fe.Field, ".")
		}
		return err
	}
	g.InstanceIP, g.Name = h.InstanceIP, ni.Gateway
	return nil
}

// hosts are the gateway's host requests, reached as base is.
func (g GatewayRef) hosts(base HostInput) []HostInput {
	base.DryRun = false
	if len(g.InstanceNames) > 0 {
		return hostsOf(base, g.InstanceNames)
	}
	base.InstanceIP, base.InstanceName = g.InstanceIP, g.InstanceName
	return []HostInput{base}
}

// String names the gateway for people.
func (g GatewayRef) String() string {
	switch {
	case len(g.InstanceNames) > 0:
		return "gateway " + g.Name + " (" + strings.Join(g.InstanceNames, ", ") + ")"
	case g.InstanceName != "":
		return "Kong on " + g.InstanceName
	}
	return "Kong on " + g.InstanceIP
}

// label is the gateway as a container's label keeps it.
func (g GatewayRef) label() string {
	b, _ := json.Marshal(g)
	return string(b)
}

// Hosts are the gateway's host requests (for the API's locks), reached
// as the app's hosts are.
func (in *DockerAppInput) GatewayHosts() []HostInput {
	if in.Gateway == nil {
		return nil
	}
	return in.Gateway.hosts(in.HostInput)
}

// HostInputs are the app's hosts: one per instance_names entry, or nil
// for a request that names one host (its HostInput).
func (in *DockerAppInput) HostInputs() []HostInput {
	if len(in.InstanceNames) == 0 {
		return nil
	}
	return hostsOf(in.HostInput, in.InstanceNames)
}

func asErr(err error, fe **fountain.Error) bool {
	e, ok := err.(*fountain.Error)
	if ok {
		*fe = e
	}
	return ok
}

// validateRollout checks what a deploy over several hosts and behind a
// gateway adds to the request, without I/O.
func (in *DockerAppInput) validateRollout() error {
	if g := in.Gateway; g != nil {
		if err := g.validate(); err != nil {
			return err
		}
		if msg := kong.CheckAppUpstream(in.ContainerName); msg != "" {
			return fountain.Invalid("container_name", "%q cannot name the app's Kong upstream (%s): %s", short(in.ContainerName), kong.AppUpstream(in.ContainerName), msg)
		}
	}
	if _, err := parseBatch(in.Batch, 1); err != nil {
		return err
	}
	if in.MaxFailures < 0 || in.MaxFailures > maxInstanceNames {
		return fountain.Invalid("max_failures", "must be 0 to %d hosts", maxInstanceNames)
	}
	if d := in.DrainSeconds; d != nil && (*d < 0 || *d > 3600) {
		return fountain.Invalid("drain_seconds", "must be 0 to 3600 seconds")
	}
	return nil
}

// admitGateway checks the gateway's address against the policy.
func (in *DockerAppInput) admitGateway(p Policy) error {
	if g := in.Gateway; g != nil {
		if a, err := netip.ParseAddr(g.InstanceIP); err == nil {
			return p.CheckAddr("gateway.instance_ip", short(g.InstanceIP), a)
		}
	}
	return nil
}

// parseBatch reads batch, how many hosts a rollout changes at once: a
// count ("2"), or a percentage of the hosts ("25%", at least one, as
// Kamal's boot.limit), of n hosts; "" is one at a time.
func parseBatch(s string, n int) (int, error) {
	if s == "" {
		return 1, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.Atoi(p)
		if err != nil || v < 1 || v > 100 {
			return 0, fountain.Invalid("batch", "%q: a percentage is 1%% to 100%%", short(s))
		}
		return max(n*v/100, 1), nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > maxInstanceNames {
		return 0, fountain.Invalid("batch", "%q: give a number of hosts (1 to %d) or a percentage (25%%)", short(s), maxInstanceNames)
	}
	return v, nil
}

// batches splits the hosts 0..n-1 into batches of size.
func batches(n, size int) [][]int {
	var out [][]int
	for i := 0; i < n; i += size {
		var b []int
		for j := i; j < min(i+size, n); j++ {
			b = append(b, j)
		}
		out = append(out, b)
	}
	return out
}

// DefaultDrain is how long an old target keeps its in-flight requests
// after Kong stops sending it new ones, before its container stops:
// kamal-proxy's drain_timeout.
const DefaultDrain = 30

// drain is the request's drain time, in seconds.
func (in *DockerAppInput) drain() int {
	if in.DrainSeconds != nil {
		return *in.DrainSeconds
	}
	return DefaultDrain
}

// The host ports an app behind Kong alternates between: a pair from its
// name's hash, two by two from portBase.
const (
	portBase  = 20000
	portPairs = 5000
)

// appPorts are the two host ports the app name alternates between: the
// pair its name hashes to, or the next one that no other container on
// the host publishes (used).
func appPorts(name string, used []int) [2]int {
	h := fnv.New32a()
	h.Write([]byte(name))
	start := int(h.Sum32() % portPairs)
	for i := range portPairs {
		a := portBase + 2*((start+i)%portPairs)
		if !slices.Contains(used, a) && !slices.Contains(used, a+1) {
			return [2]int{a, a + 1}
		}
	}
	return [2]int{portBase + 2*start, portBase + 2*start + 1}
}

// parsePorts reads a LabelPorts value, "A,B".
func parsePortPair(s string) ([2]int, bool) {
	a, b, ok := strings.Cut(s, ",")
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || x < 1 || y < 1 || x > 65535 || y > 65535 || x == y {
		return [2]int{}, false
	}
	return [2]int{x, y}, true
}

// pickedPort is the port an app behind Kong is published on: the host
// port Fountain picked (one of Pair) for the container's port (0: the
// one its image exposes, read once it is pulled).
type pickedPort struct {
	Host, Container int
	Pair            [2]int
}

// Behind-Kong defaults of the active health check.
const (
	defaultCheckInterval  = 5
	defaultCheckThreshold = 2
)

// activeCheck is the active health check Kong makes of an app's targets:
// its HTTP health check's path, interval and thresholds, or, without
// one, a TCP connection.
func activeCheck(hc *HealthCheck) kong.ActiveCheck {
	c := kong.ActiveCheck{Type: "tcp", Interval: defaultCheckInterval, Timeout: 2, Successes: defaultCheckThreshold, Failures: defaultCheckThreshold}
	if hc == nil {
		return c
	}
	c.Type, c.Path = "http", hc.Path
	if c.Path == "" {
		c.Path = "/"
	}
	if hc.IntervalS > 0 {
		c.Interval = float64(hc.IntervalS)
	}
	if hc.HealthyThreshold > 0 {
		c.Successes = hc.HealthyThreshold
	}
	if hc.UnhealthyThreshold > 0 {
		c.Failures = hc.UnhealthyThreshold
	}
	return c
}

// containerPort is the container's port Kong reaches: the health check's,
// else the one TCP port the image exposes (0 while the image is not on
// the host: read once pulled). An image that exposes none, or several,
// is a conflict.
func containerPort(in DockerAppInput, exposed []string, known bool) (int, error) {
	if in.HealthCheck != nil {
		return in.HealthCheck.Port, nil
	}
	if !known {
		return 0, nil
	}
	return exposedTCP(in.DockerImage, exposed)
}

// exposedTCP is the one TCP port an image exposes.
func exposedTCP(image string, exposed []string) (int, error) {
	var tcp []int
	for _, e := range exposed {
		num, proto, _ := strings.Cut(e, "/")
		if n, err := strconv.Atoi(num); err == nil && (proto == "" || proto == "tcp") {
			tcp = append(tcp, n)
		}
	}
	if len(tcp) != 1 {
		return 0, &fountain.Error{Code: fountain.ECONFLICT, Message: fmt.Sprintf("%s exposes %d TCP ports: Fountain cannot tell which one Kong is to reach", image, len(tcp)),
			Hint: "give health_check.port (the container's port), or fix ports"}
	}
	return tcp[0], nil
}
