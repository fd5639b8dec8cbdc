package deploy

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/kong"
)

// A deploy over several hosts, or behind Kong, is a rollout: observe each
// host and the gateway (rollout.go), plan (PlanRollout, pure), apply
// batch by batch. In each batch, each host brings its new version up,
// health-gated; Kong's upstream then moves the traffic of the batch's
// healthy hosts to it in one config load (one node of the gateway at a
// time, with check_hash); the old versions drain and stop, kept for
// rollback. A host that fails its gate keeps its old version (Kong never
// saw the new one); more failures than max_failures stop the rollout,
// and the hosts not reached keep theirs.

// RolloutFacts is what a rollout observes.
type RolloutFacts struct {
	// Hosts are the app on each of its hosts, in rollout order.
	Hosts []RolloutHostFacts
	// Gateway is what the gateway in front of the app runs (nil: none).
	Gateway *KongChangeFacts
	// GatewayDown, when the gateway did not answer (a dry run goes on),
	// says why.
	GatewayDown string
}

// RolloutHostFacts is the app on one host.
type RolloutHostFacts struct {
	Name    string // the host in step names: its instance, else its address
	Target  string // the host for people
	Address string // its private address: Kong's target
	App     DockerAppFacts
}

// RolloutPlan is a rollout as data.
type RolloutPlan struct {
	// ZeroDowntime says whether hosts change beside the old version
	// (behind Kong, no fixed ports); Why says how they change, and why.
	ZeroDowntime bool
	Why          string
	// Pre keeps a config found on the gateway that Fountain has no
	// version of, before any change.
	Pre         []fountain.Change
	Batches     []RolloutBatch
	MaxFailures int
	// Upstream is the app's upstream on the gateway ("": none).
	Upstream string
	adopted  string // the hash of a config found on the gateway, kept by Pre
}

// RolloutBatch is the hosts changed together.
type RolloutBatch struct {
	Hosts []RolloutHostPlan
	// Switch moves Kong's targets of the batch's hosts (nil: no gateway).
	Switch *fountain.Change
	// Drain waits while the old versions finish their requests (nil:
	// none served).
	Drain *fountain.Change
}

// RolloutHostPlan is one host's part of a batch.
type RolloutHostPlan struct {
	Host int    // its index in RolloutFacts.Hosts
	Name string // as in step names
	// Up brings the new version up, health-gated; After retires the old
	// one once Kong sends the new one the traffic.
	Up, After []fountain.Change
	Changed   bool // the host gets a new version
}

// targetMove is what a host's Kong targets become: Serve takes the
// traffic (weight 100), Retire is kept at weight 0 (the version kept
// for rollback; "" none); the host's other targets go.
type targetMove struct {
	Host          int
	Address       string
	Serve, Retire string
}

// The effects of rollouts, applied by rolloutExec (the gateway) and
// dockerExec (a host).
type (
	// kongSwitch sets the app's upstream targets of the batch's hosts
	// that came up (the others keep theirs), with its active check: one
	// config load on each node, one after the other, with check_hash,
	// the file written, the version recorded.
	kongSwitch struct {
		Upstream string
		Check    kong.ActiveCheck
		Moves    []targetMove
		Source   string
	}
	// drainWait waits while the old targets finish their requests.
	drainWait struct{ Seconds int }
	// startNext starts the new version as NAME.next beside NAME (a stale
	// NAME.next removed first), from App and the image the host has
	// under its reference.
	startNext struct{ App DockerAppInput }
	// nextGate waits until NAME.next proves healthy; else it is removed,
	// and the step fails (Kong never saw it).
	nextGate struct {
		Name   string
		Check  *HealthCheck
		Settle time.Duration
		// Restore keeps a failed NAME.next as NAME.previous (it was the
		// previous version: a rollback's) instead of removing it.
		Restore bool
	}
	// promoteNext stops NAME (if Current), keeps it as NAME.previous
	// (dropping the one kept before) and renames NAME.next to NAME.
	promoteNext struct {
		Name    string
		Current bool
	}
	// startPrevious starts NAME.previous as NAME.next (rollback behind
	// Kong).
	startPrevious struct{ Name string }
)

// PlanRollout is the plan of a deploy over the hosts of f, behind f's
// gateway if it has one. Behind Kong and without fixed ports, each host
// changes with no downtime; otherwise each is swapped in place (the plan
// says why). The first error is the request's or the facts' (an image
// exposing several ports behind Kong, a host deployed behind a gateway
// the request does not name).
func PlanRollout(in DockerAppInput, f RolloutFacts, settle time.Duration) (RolloutPlan, error) {
	for _, h := range f.Hosts {
		if err := checkGatewayLabel(in, h.App.Current, h.Target); err != nil {
			return RolloutPlan{}, err
		}
	}
	size, err := parseBatch(in.Batch, len(f.Hosts))
	if err != nil {
		return RolloutPlan{}, err
	}
	rp := RolloutPlan{MaxFailures: in.MaxFailures}
	rp.ZeroDowntime, rp.Why = rolloutMode(in)
	// The plan says how hosts change, and why (fixed ports: in place).
	rp.Pre = []fountain.Change{{Name: "how each host changes", Reason: rp.Why}}
	var base *kong.Config
	var moves [][]targetMove
	if in.Gateway != nil {
		rp.Upstream = kong.AppUpstream(in.ContainerName)
		if f.Gateway != nil {
			kp, _, err := kongBase(*f.Gateway)
			if err == nil {
				err = otherNodes(*f.Gateway, kp, false, "")
			}
			if err != nil {
				return rp, err
			}
			rp.Pre, base, rp.adopted = append(rp.Pre, kp.Changes...), kp.Current, kp.Adopt
		}
	}
	for _, idx := range batches(len(f.Hosts), size) {
		var b RolloutBatch
		var bm []targetMove
		for _, i := range idx {
			hp, mv, err := planRolloutHost(in, f, i, rp.ZeroDowntime, base, settle)
			if err != nil {
				return rp, err
			}
			b.Hosts = append(b.Hosts, hp)
			bm = append(bm, mv)
		}
		rp.Batches = append(rp.Batches, b)
		moves = append(moves, bm)
	}
	if in.Gateway != nil {
		if err := rp.planSwitches(in, f, base, moves); err != nil {
			return rp, err
		}
	}
	return rp, nil
}

// rolloutMode says how hosts change: beside the old version behind Kong,
// or in place.
func rolloutMode(in DockerAppInput) (bool, string) {
	switch {
	case in.Gateway == nil:
		return false, "each host's container is replaced in place once the new one is healthy (no gateway in front: give gateway for deploys that drop no request)"
	case in.Ports != nil:
		return false, fmt.Sprintf("ports are fixed (%s): a new container cannot publish them beside the old one, so it replaces it in place and requests to the host fail meanwhile; "+
			"leave ports out for a deploy that drops no request (Fountain picks the host ports and Kong follows)", strings.Join(in.Ports, ", "))
	}
	return true, "the new version starts beside the old one on another host port, and Kong moves the traffic to it once it is healthy; the old one drains, then stops"
}

// checkGatewayLabel refuses a deploy that names no gateway of an app
// deployed behind one: Kong's upstream would not follow it.
func checkGatewayLabel(in DockerAppInput, cur *ContainerFacts, target string) error {
	if in.Gateway != nil || cur == nil || cur.Gateway == nil {
		return nil
	}
	return &fountain.Error{Code: fountain.ECONFLICT,
		Message: fmt.Sprintf("%s on %s is deployed behind %s: a deploy that does not name it would leave Kong's upstream behind", in.ContainerName, target, cur.Gateway),
		Hint:    "name the gateway (gateway, or --gateway), so that Kong follows the new version"}
}

// planRolloutHost is one host's changes, and its Kong targets after its
// batch.
func planRolloutHost(in DockerAppInput, f RolloutFacts, i int, zero bool, base *kong.Config, settle time.Duration) (RolloutHostPlan, targetMove, error) {
	h := f.Hosts[i]
	hp := RolloutHostPlan{Host: i, Name: h.Name}
	mv := targetMove{Host: i, Address: h.Address}
	hp.Up = planDockerSetup(in.SSHUser, h.App.Host)
	if !zero {
		app := planApp(in, h.App, settle)
		hp.Up = append(hp.Up, app...)
		hp.Changed = changesSomething(app)
		if in.Gateway != nil {
			port := lowestTCP(in.PublishedPorts(h.App.Image.Exposed))
			if port == 0 {
				return hp, mv, fountain.Errorf(fountain.ECONFLICT, "%s on %s publishes no TCP port for Kong to reach", in.ContainerName, h.Target)
			}
			mv.Serve = net.JoinHostPort(h.Address, strconv.Itoa(port))
		}
		return hp, mv, nil
	}
	zp, err := planBehindKong(in, h, base, settle)
	if err != nil {
		return hp, mv, err
	}
	hp.Up, hp.After, hp.Changed = append(hp.Up, zp.up...), zp.after, zp.changed
	mv.Serve, mv.Retire = zp.serve, zp.retire
	return hp, mv, nil
}

func changesSomething(cs []fountain.Change) bool {
	for _, c := range cs {
		if c.Change {
			if _, swap := c.Effect.(swapContainer); swap {
				return true
			}
		}
	}
	return false
}

// lowestTCP is the lowest host port published for TCP (0: none).
func lowestTCP(ports []Port) int {
	low := 0
	for _, p := range ports {
		if p.Protocol == "tcp" && (low == 0 || p.HostPort < low) {
			low = p.HostPort
		}
	}
	return low
}

// behindKong is a host's plan behind Kong.
type behindKong struct {
	up, after     []fountain.Change
	serve, retire string
	changed       bool
}

// planBehindKong is one host's zero-downtime changes: the new version
// started as NAME.next on the other of the app's two host ports,
// health-gated, then (after Kong's switch) made NAME, the old one kept
// stopped for rollback. An app that runs as asked changes nothing, and
// Kong's targets are made to say so.
func planBehindKong(in DockerAppInput, h RolloutHostFacts, base *kong.Config, settle time.Duration) (behindKong, error) {
	f := h.App
	name := in.ContainerName
	target := func(port int) string { return net.JoinHostPort(h.Address, strconv.Itoa(port)) }
	var z behindKong
	// A deploy interrupted after Kong moved to NAME.next: it is finished
	// first (NAME.next serves).
	if n := f.Next; n != nil && base != nil && servingTarget(base, kong.AppUpstream(name), target(n.kongPort())) {
		z.up = append(z.up, fountain.Change{Name: "finish the interrupted deploy of " + name, Change: true,
			Reason: fmt.Sprintf("Kong sends %s's traffic to %s, which a deploy started and did not finish: it becomes %s", h.Name, nextName(name), name),
			Calls:  promoteCalls(name, f.Current != nil, f.Previous != nil),
			Effect: promoteNext{Name: name, Current: f.Current != nil}})
		if f.Current != nil {
			f.Previous = f.Current
			f.Previous.Running = false
		}
		f.Current, f.Next = f.Next, nil
	}
	// The host ports: the pair the app has, or one picked for it.
	pair, ok := [2]int{}, false
	if f.Current != nil {
		pair, ok = f.Current.Pair, f.Current.Pair != [2]int{}
	}
	if !ok {
		pair = appPorts(name, f.UsedPorts)
	}
	port := pair[0]
	if cur := f.Current; cur != nil && (cur.Port == pair[0] || slices.Contains(cur.TCPPorts, pair[0])) {
		port = pair[1]
	}
	cport, err := containerPort(in, f.Image.Exposed, f.Engine && f.Image.ID != "")
	if err != nil {
		return z, err
	}
	app := in
	app.picked = &pickedPort{Host: port, Container: cport, Pair: pair}
	pull := planPull(app, f)
	z.up = append(z.up, pull)
	diffs := runDiffs(app, f, pull.Change)
	if cur := f.Current; cur != nil && cur.Port == 0 {
		diffs = append(diffs, "it publishes fixed ports; behind Kong it goes on a host port Fountain picks")
	}
	if len(diffs) == 0 {
		z.up = append(z.up,
			fountain.Change{Name: "container " + name + " runs the image and spec asked", Reason: "it runs " + short12(f.Current.Image) + " with the settings asked"},
			fountain.Change{Name: "health check " + name, Verify: true, Reason: "it runs; nothing is restarted", Effect: runningSince{StartedAt: f.Current.StartedAt}})
		z.serve = target(f.Current.kongPort())
		if p := f.Previous.kongPort(); p > 0 && p != f.Current.kongPort() {
			z.retire = target(p)
		}
		return z, nil
	}
	z.changed = true
	next := nextName(name)
	calls := []string{}
	if f.Next != nil || !f.Engine {
		calls = append(calls, "docker rm -f "+next+" (left by an interrupted deploy; Kong never sent it traffic)")
	}
	calls = append(calls, fmt.Sprintf("docker create --name %s -p %d:%s %s (by the id of the image the host has under it then)", next, port, portText(cport), in.DockerImage), "docker start "+next)
	reason := strings.Join(diffs, "; ")
	if f.Current != nil {
		reason += fmt.Sprintf(": the new version starts beside it on host port %d", port)
	}
	z.up = append(z.up,
		fountain.Change{Name: "container " + next + " runs the new version on port " + strconv.Itoa(port), Change: true, Reason: reason,
			Calls: calls, Effect: startNext{App: app.spec()}},
		fountain.Change{Name: "health check " + next, Verify: true,
			Reason: healthRule(in.HealthCheck, settle) + ", or it is removed and Kong never sees it",
			Effect: nextGate{Name: next, Check: in.HealthCheck, Settle: settle}})
	z.serve = target(port)
	if f.Current != nil && f.Current.kongPort() > 0 {
		z.retire = target(f.Current.kongPort())
	}
	keep := fountain.Change{Name: next + " becomes " + name + "; the old one is kept for rollback", Change: true,
		Calls:  promoteCalls(name, f.Current != nil, f.Previous != nil),
		Effect: promoteNext{Name: name, Current: f.Current != nil}}
	switch {
	case f.Current == nil:
		keep.Name, keep.Reason = next+" becomes "+name, "nothing ran before it"
	case f.Previous != nil:
		keep.Reason = fmt.Sprintf("Kong sends it no traffic: it stops and is kept as %s, instead of the one kept before", PreviousName(name))
	default:
		keep.Reason = fmt.Sprintf("Kong sends it no traffic: it stops and is kept as %s", PreviousName(name))
	}
	z.after = []fountain.Change{keep}
	return z, nil
}

// runDiffs says why the app's container (NAME) is not what in asks, as
// planSwap does ("" none: it runs as asked).
func runDiffs(in DockerAppInput, f DockerAppFacts, pulling bool) []string {
	name := in.ContainerName
	cur := f.Current
	switch {
	case !f.Engine:
		return []string{"container " + name + " is started once Docker is set up"}
	case cur == nil:
		return []string{"no container " + name}
	}
	var diffs []string
	switch {
	case f.Image.ID == "":
		diffs = append(diffs, "the image is not on the host yet")
	case pulling && !hasDigest(cur.ImageDigests, f.RegistryDigest):
		diffs = append(diffs, "the registry's "+f.RegistryDigest+" would replace the image it runs")
	case !pulling && cur.Image != f.Image.ID:
		diffs = append(diffs, fmt.Sprintf("it runs %s, not %s", short12(cur.Image), short12(f.Image.ID)))
	}
	if in.picked != nil && in.picked.Container == 0 {
		diffs = append(diffs, "its port is read from the image")
	} else if cur.Spec != in.SpecHash(in.PublishedPorts(f.Image.Exposed)) {
		diffs = append(diffs, "its settings differ (ports, env, volumes, restart policy or health check)")
	}
	if !cur.Running {
		diffs = append(diffs, "it is not running")
	}
	return diffs
}

func portText(p int) string {
	if p == 0 {
		return "(the port the image exposes)"
	}
	return strconv.Itoa(p)
}

// promoteCalls say what promoteNext runs.
func promoteCalls(name string, current, previous bool) []string {
	var calls []string
	if current {
		if previous {
			calls = append(calls, "docker rm -f "+PreviousName(name))
		}
		calls = append(calls, "docker stop "+name, "docker rename "+name+" "+PreviousName(name))
	}
	return append(calls, "docker rename "+nextName(name)+" "+name)
}

// servingTarget reports whether the upstream sends traffic to target.
func servingTarget(cfg *kong.Config, upstream, target string) bool {
	ts, _ := kong.TargetsOf(cfg, upstream)
	for _, t := range ts {
		if t.Target == target && t.Weight > 0 {
			return true
		}
	}
	return false
}

// applyMoves makes each moved host's targets of the upstream exactly its
// serving one (weight 100) and the one kept for rollback (weight 0); the
// other hosts' targets are kept, in their order.
func applyMoves(cfg *kong.Config, upstream string, moves []targetMove, check kong.ActiveCheck) (*kong.Config, error) {
	have, _ := kong.TargetsOf(cfg, upstream)
	// A moved host's new targets take the place of its first target, so
	// that a host already as asked leaves the list as it was (a second
	// rollout changes nothing); a host new to the upstream goes last.
	byHost := map[string][]kong.Target{}
	var order []string
	for _, m := range moves {
		if _, ok := byHost[m.Address]; !ok {
			order = append(order, m.Address)
			byHost[m.Address] = nil
		}
		if m.Serve != "" {
			byHost[m.Address] = append(byHost[m.Address], kong.Target{Target: m.Serve, Weight: targetWeight})
		}
		if m.Retire != "" && m.Retire != m.Serve {
			byHost[m.Address] = append(byHost[m.Address], kong.Target{Target: m.Retire, Weight: 0})
		}
	}
	placed := map[string]bool{}
	var out []kong.Target
	for _, t := range have {
		host, _, err := net.SplitHostPort(t.Target)
		ts, moved := byHost[host]
		switch {
		case err != nil || !moved:
			out = append(out, t)
		case !placed[host]:
			out = append(out, ts...)
			placed[host] = true
		}
	}
	for _, host := range order {
		if !placed[host] {
			out = append(out, byHost[host]...)
		}
	}
	return kong.SetUpstream(cfg, upstream, out, &check)
}

// planSwitches plans Kong's switch of each batch (each on the config the
// one before leaves) and the drains.
func (rp *RolloutPlan) planSwitches(in DockerAppInput, f RolloutFacts, base *kong.Config, moves [][]targetMove) error {
	check := activeCheck(in.HealthCheck)
	drain := in.drain()
	cur := base
	for bi := range rp.Batches {
		b := &rp.Batches[bi]
		var names, says []string
		for _, m := range moves[bi] {
			h := f.Hosts[m.Host]
			names = append(names, h.Name)
			say := h.Name + " at " + m.Serve
			if m.Retire != "" {
				say += " (" + m.Retire + " at weight 0, kept for rollback)"
			}
			says = append(says, say)
		}
		sw := fountain.Change{Name: fmt.Sprintf("Kong's upstream %s sends %s's traffic to the version asked", rp.Upstream, strings.Join(names, ", ")),
			Effect: kongSwitch{Upstream: rp.Upstream, Check: check, Moves: moves[bi], Source: fmt.Sprintf("deploy %s: %s", in.ContainerName, strings.Join(names, ", "))},
			Calls:  []string{"kong (each node in turn): POST /config?flatten_errors=1&check_hash=1", "fountain: record a version of the gateway's config", "ssh (each node): write " + KongConfigPath}}
		if cur == nil {
			sw.Change, sw.Reason = true, "the gateway does not answer: "+orNone(f.GatewayDown)+"; its upstream is set once it does"
			b.Switch = &sw
			continue
		}
		next, err := applyMoves(cur, rp.Upstream, moves[bi], check)
		if err != nil {
			return err
		}
		behind := ""
		if bi == 0 {
			behind = nodesBehind(*f.Gateway, cur, rp.adopted)
		}
		switch {
		case !next.Equal(cur):
			sw.Change, sw.Reason, sw.Diff = true, "one config load on each node (check_hash): "+strings.Join(says, "; "), kong.Diff(cur, next, "current", "new")
		case behind != "":
			sw.Change, sw.Reason = true, behind+" runs another config: "+strings.Join(says, "; ")
		default:
			sw.Reason = "Kong sends " + strings.Join(says, "; ")
			sw.Effect = nil
		}
		b.Switch = &sw
		if drains(cur, rp.Upstream, moves[bi], b) && drain > 0 {
			b.Drain = &fountain.Change{Name: "the old version drains on " + strings.Join(names, ", "), Verify: true,
				Reason: fmt.Sprintf("Kong sends it no new requests; those under way finish within %ds (drain_seconds, as kamal-proxy's drain_timeout)", drain),
				Effect: drainWait{Seconds: drain}}
		}
		cur = next
	}
	return nil
}

// nodesBehind names the gateway's nodes that do not run cfg ("": none).
func nodesBehind(f KongChangeFacts, cfg *kong.Config, adopted string) string {
	var out []string
	runs := func(hash string) bool {
		return hash == cfg.Hash() || adopted != "" && hash == adopted || f.Versions.runsLatest(hash) && cfg.Equal(f.Versions.Latest)
	}
	if !runs(f.Admin.Hash) {
		out = append(out, orFirst(f.Node))
	}
	for _, o := range f.Others {
		if !runs(o.Admin.Hash) {
			out = append(out, o.Node)
		}
	}
	return strings.Join(out, ", ")
}

// drains reports whether a changing host of the batch retires a target
// that served.
func drains(cfg *kong.Config, upstream string, moves []targetMove, b *RolloutBatch) bool {
	for i, m := range moves {
		if b.Hosts[i].Changed && m.Retire != "" && servingTarget(cfg, upstream, m.Retire) {
			return true
		}
	}
	return false
}

// Plan is the rollout as one plan, in the order it runs (a dry run shows
// it): each host's steps named after it.
func (rp RolloutPlan) Plan() fountain.Plan {
	p := fountain.Plan{Changes: slices.Clone(rp.Pre)}
	for _, b := range rp.Batches {
		for _, h := range b.Hosts {
			p.Add(prefixChanges(h.Name, h.Up)...)
		}
		if b.Switch != nil {
			p.Add(*b.Switch)
		}
		if b.Drain != nil {
			p.Add(*b.Drain)
		}
		for _, h := range b.Hosts {
			p.Add(prefixChanges(h.Name, h.After)...)
		}
	}
	return p
}

// prefixChanges names each change after the host it acts on.
func prefixChanges(host string, cs []fountain.Change) []fountain.Change {
	out := make([]fountain.Change, len(cs))
	for i, c := range cs {
		c.Name = host + ": " + c.Name
		out[i] = c
	}
	return out
}
