package deploy

import (
	"fmt"
	"strings"
	"time"

	"github.com/fountainai/fountain"
)

// Every action on a Docker app is observe -> plan -> apply: the executor
// (dockerapp_apply.go) observes the host into DockerAppFacts; the Plan*
// functions here, pure, turn a request and facts into a fountain.Plan
// whose effects are values (the command that installs Docker, the
// container spec to create, a name to remove); the executor applies them.
// A dry run shows the plan and changes nothing.

// DockerAppFacts is what a host says of one app, as plain data.
type DockerAppFacts struct {
	Host HostFacts
	// Engine is true when the Docker Engine answered and the fields
	// below were read; false while Docker is not set up for the login
	// user (nothing about networks, images or containers can be read
	// then, and the plan is conservative).
	Engine bool
	// Network is the app's own network (nil: the app has none).
	Network *NetworkFacts
	// Image is the host's image under the reference asked for.
	Image ImageFacts
	// RegistryDigest is the registry's digest for the tag asked for
	// ("" for an image pinned by digest, or one the host does not have:
	// it is pulled anyway).
	RegistryDigest string
	// Current is the container NAME, Old NAME.old (left by a deploy
	// interrupted mid-swap), Previous NAME.previous (kept for rollback),
	// Rollback NAME.rollback (left by an interrupted rollback), Next
	// NAME.next (the new version behind Kong, before it takes over);
	// nil: none.
	Current, Old, Previous, Rollback, Next *ContainerFacts
	// UsedPorts are the host ports other apps' containers on the host
	// publish or have picked (behind Kong).
	UsedPorts []int
}

// NetworkFacts is what Docker says of a network.
type NetworkFacts struct {
	Exists bool
	// Gateway is its IPv4 gateway: the host's own address on it, the
	// source of what reaches a container through a published port.
	Gateway string
}

// ImageFacts is what Docker says of a local image.
type ImageFacts struct {
	ID          string // "": the host has no image under the reference
	RepoDigests []string
	Exposed     []string // the ports it exposes ("80/tcp"), sorted
}

// ContainerFacts is what Docker says of a container.
type ContainerFacts struct {
	ID           string
	Image        string   // the id of the image it runs
	ImageDigests []string // that image's registry digests (read for NAME only)
	Spec         string   // the spec hash it was created with (LabelSpec)
	Running      bool
	StartedAt    string
	Health       *HealthCheck // the health check it was deployed with (LabelHealth)
	// Port is the host port Fountain picked for it behind Kong
	// (LabelPort; 0: none), Pair the two it alternates between.
	Port int
	Pair [2]int
	// TCPPorts are the host ports it publishes for TCP.
	TCPPorts []int
	// Gateway is the gateway it was deployed behind (LabelGateway).
	Gateway *GatewayRef
}

// kongPort is the host port Kong reaches the container on: the one
// Fountain picked, else the lowest it publishes for TCP (0: none).
func (c *ContainerFacts) kongPort() int {
	if c == nil {
		return 0
	}
	if c.Port > 0 {
		return c.Port
	}
	if len(c.TCPPorts) > 0 {
		return c.TCPPorts[0]
	}
	return 0
}

// The effects of Docker app plans, applied by dockerExec.
type (
	// createNetwork creates the bridge network Name for the app App.
	createNetwork struct{ Name, App string }
	// pullImage pulls Ref.
	pullImage struct{ Ref string }
	// swapContainer replaces the container App.ContainerName by one
	// created from App (a spec: no host, no registry login) and the
	// image the host has under App.DockerImage when it is applied (after
	// the pull). The one it replaces is set aside as NAME.old; a NAME.old
	// left by an interrupted deploy is brought back first (the unverified
	// NAME removed). The executor inspects both before it acts: the plan
	// may not have seen them (Docker was not set up yet).
	swapContainer struct{ App DockerAppInput }
	// healthGate waits until the new container Name proves healthy (by
	// Check, else the image's HEALTHCHECK, else staying up for Settle),
	// or restores the one it replaced and fails.
	healthGate struct {
		Name   string
		Check  *HealthCheck
		Settle time.Duration
	}
	// runningSince reports that the container, unchanged, runs.
	runningSince struct{ StartedAt string }
	// keepPrevious keeps the container the swap set aside (NAME.old) as
	// NAME.previous, for rollback, dropping the one kept before.
	keepPrevious struct{ Name string }
	// rollbackSwap sets Name aside as NAME.rollback (if Current) and
	// starts NAME.previous, which runs Image, as Name.
	rollbackSwap struct {
		Name, Image string
		Current     bool
	}
	// rollbackGate waits until the rolled-back Name proves healthy, then
	// keeps the version rolled back from as NAME.previous; else it swaps
	// back and fails.
	rollbackGate struct {
		Name    string
		Check   *HealthCheck
		Settle  time.Duration
		Current bool
	}
	// removeContainer removes a container, running or not.
	removeContainer struct{ Name string }
)

// PlanDockerApp is the plan of deploy-docker-app: Docker set up if it is
// not, the app's own network if it has one, the image pulled when the
// host does not have the registry's (by digest: a re-pushed tag is
// noticed), the container swapped only when its image or spec differ or
// it is not running (or a deploy was interrupted mid-swap), behind a
// health gate, and the replaced version kept for rollback. A running app
// as asked changes nothing and restarts nothing.
func PlanDockerApp(in DockerAppInput, f DockerAppFacts, settle time.Duration) fountain.Plan {
	p := fountain.Plan{Changes: planDockerSetup(in.SSHUser, f.Host)}
	p.Add(planApp(in, f, settle)...)
	return p
}

// planApp is the app's part of the plan, after Docker's setup.
func planApp(in DockerAppInput, f DockerAppFacts, settle time.Duration) []fountain.Change {
	var out []fountain.Change
	if in.network != "" {
		out = append(out, planNetwork(in, f))
	}
	pull := planPull(in, f)
	swap := planSwap(in, f, pull.Change)
	out = append(out, pull, swap, planHealth(in, f, swap.Change, settle))
	if swap.Change {
		out = append(out, planKeep(in, f))
	}
	return out
}

func planNetwork(in DockerAppInput, f DockerAppFacts) fountain.Change {
	c := fountain.Change{Name: "Docker network " + in.network + " exists"}
	switch {
	case !f.Engine:
		c.Change, c.Reason = true, "the network is created once Docker is set up"
	case f.Network != nil && f.Network.Exists:
		c.Reason = "it exists"
		return c
	default:
		c.Change, c.Reason = true, "no network "+in.network+": the container gets a bridge of its own, which no other container joins"
	}
	c.Calls = []string{"docker network create --driver bridge " + in.network}
	c.Effect = createNetwork{Name: in.network, App: in.ContainerName}
	return c
}

func planPull(in DockerAppInput, f DockerAppFacts) fountain.Change {
	ref := in.DockerImage
	c := fountain.Change{Name: "pull " + ref}
	switch {
	case !f.Engine:
		c.Change, c.Reason = true, "the image is pulled once Docker is set up"
	case f.Image.ID == "":
		c.Change, c.Reason = true, "the host does not have "+ref
	case isDigestRef(ref):
		c.Reason = "the host has " + ref
	case hasDigest(f.Image.RepoDigests, f.RegistryDigest):
		c.Reason = "the host has the registry's " + f.RegistryDigest
	default:
		c.Change, c.Reason = true, fmt.Sprintf("the registry has %s; the host has %s", f.RegistryDigest, shortID(repoDigest(f.Image.RepoDigests, ref), f.Image.ID))
	}
	if c.Change {
		c.Calls = []string{"docker pull " + ref}
		c.Effect = pullImage{Ref: ref}
	}
	return c
}

// hasDigest reports whether one of an image's repo digests (repo@sha256:...)
// is digest.
func hasDigest(repoDigests []string, digest string) bool {
	if digest == "" {
		return false
	}
	for _, d := range repoDigests {
		if strings.HasSuffix(d, "@"+digest) {
			return true
		}
	}
	return false
}

func planSwap(in DockerAppInput, f DockerAppFacts, pulling bool) fountain.Change {
	name := in.ContainerName
	c := fountain.Change{Name: "container " + name + " runs the image and spec asked"}
	var diffs []string
	switch cur := f.Current; {
	case !f.Engine:
		diffs = append(diffs, "container "+name+" is started once Docker is set up")
	case cur == nil:
		diffs = append(diffs, "no container "+name)
	default:
		switch {
		case f.Image.ID == "":
			diffs = append(diffs, "the image is not on the host yet")
		case pulling && !hasDigest(cur.ImageDigests, f.RegistryDigest):
			diffs = append(diffs, "the registry's "+f.RegistryDigest+" would replace the image it runs")
		case !pulling && cur.Image != f.Image.ID:
			diffs = append(diffs, fmt.Sprintf("it runs %s, not %s", short12(cur.Image), short12(f.Image.ID)))
		}
		if cur.Spec != in.SpecHash(in.PublishedPorts(f.Image.Exposed)) {
			diffs = append(diffs, "its settings differ (ports, env, volumes, restart policy or health check)")
		}
		if !cur.Running {
			diffs = append(diffs, "it is not running")
		}
	}
	// NAME.old is only there while a swap runs: one left behind means a
	// deploy was interrupted before the new container proved healthy.
	if f.Old != nil {
		diffs = append(diffs, "a deploy was interrupted before "+name+" proved healthy (the last good version waits as "+oldName(name)+")")
	}
	if len(diffs) == 0 {
		c.Reason = "it runs " + short12(f.Current.Image) + " with the settings asked"
		return c
	}
	c.Change, c.Reason = true, strings.Join(diffs, "; ")
	c.Calls = swapCalls(in, f)
	c.Effect = swapContainer{App: in.spec()}
	return c
}

// swapCalls says what a swap runs, as far as the facts tell.
func swapCalls(in DockerAppInput, f DockerAppFacts) []string {
	name, old := in.ContainerName, oldName(in.ContainerName)
	create := []string{"docker create --name " + name + " " + in.DockerImage + " (by the id of the image the host has under it then)", "docker start " + name}
	if !f.Engine {
		return append([]string{"docker stop " + name + "; docker rename " + name + " " + old + " (if there is one)"}, create...)
	}
	var calls []string
	if f.Old != nil {
		if f.Current != nil {
			calls = append(calls, "docker rm -f "+name+" (unverified)")
		}
		calls = append(calls, "docker rename "+old+" "+name+" (the last good version back)")
	}
	if f.Current != nil || f.Old != nil {
		calls = append(calls, "docker stop "+name, "docker rename "+name+" "+old)
	}
	return append(calls, create...)
}

// spec is the app as its container is created: the request without the
// host it goes to and the registry login.
func (in DockerAppInput) spec() DockerAppInput {
	s := in
	s.HostInput, s.RegistryAuth = HostInput{}, nil
	s.InstanceNames, s.Batch, s.MaxFailures, s.DrainSeconds = nil, "", 0, nil
	return s
}

func planHealth(in DockerAppInput, f DockerAppFacts, swap bool, settle time.Duration) fountain.Change {
	c := fountain.Change{Name: "health check " + in.ContainerName, Verify: true}
	if !swap {
		c.Reason = "it runs; nothing is restarted"
		c.Effect = runningSince{StartedAt: f.Current.StartedAt}
		return c
	}
	c.Reason = healthRule(in.HealthCheck, settle) + ", or the version it replaces is restored"
	c.Effect = healthGate{Name: in.ContainerName, Check: in.HealthCheck, Settle: settle}
	return c
}

// healthRule says how a new container proves healthy.
func healthRule(hc *HealthCheck, settle time.Duration) string {
	if hc != nil {
		return fmt.Sprintf("GET %s on its port %d answers 2xx or 3xx within %ds", hc.Path, hc.Port, hc.TimeoutS)
	}
	return fmt.Sprintf("the image's HEALTHCHECK says healthy, or (without one) it stays up for %s", settle)
}

func planKeep(in DockerAppInput, f DockerAppFacts) fountain.Change {
	name, prev := in.ContainerName, PreviousName(in.ContainerName)
	c := fountain.Change{Name: "keep the replaced " + name + " for rollback"}
	switch {
	case !f.Engine:
		c.Change, c.Reason = true, "the version it replaces, if any, is kept stopped as "+prev
	case f.Current != nil || f.Old != nil:
		c.Change, c.Reason = true, "the version it replaces is kept stopped as "+prev
		if f.Previous != nil {
			c.Reason += ", instead of the one kept before"
		}
	default:
		c.Reason = "nothing runs before it"
		return c
	}
	if !f.Engine || f.Previous != nil {
		c.Calls = append(c.Calls, "docker rm -f "+prev)
	}
	c.Calls = append(c.Calls, "docker rename "+oldName(name)+" "+prev)
	c.Effect = keepPrevious{Name: name}
	return c
}

// notSetUp is the error of an operation on an app of a host whose Docker
// is not set up.
func notSetUp(target, user string) error {
	return &fountain.Error{Code: fountain.ECONFLICT, Message: "Docker is not set up on " + target + " for " + user,
		Hint: "deploy an app first: POST /services/deploy-docker-app"}
}

// PlanRollback is the plan of rollback-docker-app: the previous version
// (NAME.previous, kept stopped, image and all) swapped in, health-gated,
// and the version rolled back from kept as the previous one (rolling back
// twice returns to where it was). No previous version is ECONFLICT.
func PlanRollback(in AppInput, f DockerAppFacts, target string, settle time.Duration) (fountain.Plan, error) {
	name, prev, tmp := in.ContainerName, PreviousName(in.ContainerName), rollbackName(in.ContainerName)
	if !f.Engine {
		return fountain.Plan{}, notSetUp(target, in.SSHUser)
	}
	if f.Previous == nil {
		return fountain.Plan{}, &fountain.Error{Code: fountain.ECONFLICT, Message: fmt.Sprintf("there is no previous version of %s on %s to roll back to", name, target),
			Hint: "a previous version is kept after each deploy that replaced the container"}
	}
	cur := ""
	calls := []string{"docker rm -f " + tmp}
	if f.Current != nil {
		cur = f.Current.Image
		calls = append(calls, "docker stop "+name, "docker rename "+name+" "+tmp)
	}
	calls = append(calls, "docker rename "+prev+" "+name, "docker start "+name)
	gate := fountain.Change{Name: "health check " + name, Verify: true,
		Reason: healthRule(f.Previous.Health, settle) + ", or the version rolled back from serves again",
		Effect: rollbackGate{Name: name, Check: f.Previous.Health, Settle: settle, Current: f.Current != nil}}
	return fountain.Plan{Changes: []fountain.Change{
		{Name: "previous version of " + name, Change: true,
			Reason: fmt.Sprintf("%s runs %s; the previous version runs %s", name, short12(orNone(cur)), short12(f.Previous.Image)),
			Calls:  calls,
			Effect: rollbackSwap{Name: name, Image: f.Previous.Image, Current: f.Current != nil}},
		gate,
	}}, nil
}

// PlanRemove is the plan of remove-docker-app: the app's container and
// the versions kept beside it removed; removing what is not there
// changes nothing.
func PlanRemove(in AppInput, f DockerAppFacts, target string) (fountain.Plan, error) {
	if !f.Engine {
		return fountain.Plan{}, notSetUp(target, in.SSHUser)
	}
	var p fountain.Plan
	name := in.ContainerName
	for _, c := range []struct {
		name  string
		facts *ContainerFacts
	}{{name, f.Current}, {PreviousName(name), f.Previous}, {oldName(name), f.Old}, {rollbackName(name), f.Rollback}, {nextName(name), f.Next}} {
		ch := fountain.Change{Name: "remove container " + c.name, Reason: "no container " + c.name}
		if c.facts != nil {
			ch.Change, ch.Reason = true, c.name+" exists"
			ch.Calls = []string{"docker rm -f " + c.name}
			ch.Effect = removeContainer{Name: c.name}
		}
		p.Add(ch)
	}
	return p, nil
}
