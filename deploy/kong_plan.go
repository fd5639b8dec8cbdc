package deploy

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/kong"
)

// Kong's actions are observe -> plan -> apply too: the executor
// (kong_apply.go) observes the host, Kong's Admin API and Fountain's
// versions into KongFacts or KongChangeFacts; PlanKongDeploy and
// PlanKongChange, pure, decide (which config Kong is to run, whether a
// config Fountain has no version of is adopted, what is loaded, written
// and recorded); the executor applies the plan.

// KongFacts is what deploy-kong observes.
type KongFacts struct {
	// App is the host and Kong as a Docker app (its network's gateway
	// included).
	App      DockerAppFacts
	Versions KongVersions
	// File is /etc/kong/kong.yml as found ("": none).
	File string
	// Admin is what Kong's Admin API says (nil: it did not answer).
	Admin *KongAdminFacts
}

// KongAdminFacts is what Kong's Admin API says of the config it runs.
type KongAdminFacts struct {
	Hash string // GET /status: configuration_hash
	// Export is GET /config, read when Hash is none of Fountain's versions
	// (and, for deploy-kong, the file is not what Kong runs); "" when not
	// read or unreadable.
	Export string
}

// The effects of Kong plans, applied by kongExec.
type (
	// recordKongVersion records a config as a new version of the
	// gateway's; Adopt: one found on the host (Fountain's record changes,
	// the host does not).
	recordKongVersion struct {
		Hash, Text, Source string
		Adopt              bool
	}
	// loadKongConfig loads a config into the running Kong of the
	// gateway's node Node through its Admin API (POST /config with
	// check_hash: an unchanged one is not reloaded; Kong's own validation
	// decides).
	loadKongConfig struct {
		Text string
		Node int
	}
	// writeFile replaces a file on the gateway's node Node atomically, as
	// root.
	writeFile struct {
		Path, Body, Mode, Owner string
		Node                    int
	}
)

const kongLoadCall = "kong: POST /config?flatten_errors=1&check_hash=1 (the Admin API on the host's loopback, through SSH)"

func recordCall(n int, source string) string {
	return fmt.Sprintf("fountain: record version %d of the gateway's config (%s)", n, source)
}

func writeConfigFile(text string) (string, writeFile) {
	return writeConfigFileOn(text, 0, "")
}

// writeConfigFileOn writes the config file on the gateway's node (named
// in the call when the gateway has several).
func writeConfigFileOn(text string, node int, name string) (string, writeFile) {
	call := "ssh: write " + KongConfigPath + " (0644 root:root, atomically)"
	if name != "" {
		call = "ssh " + name + ": write " + KongConfigPath + " (0644 root:root, atomically)"
	}
	return call, writeFile{Path: KongConfigPath, Body: text, Mode: "0644", Owner: "root:root", Node: node}
}

// kongDecision is which config Kong is to run, and why.
type kongDecision struct {
	change  fountain.Change
	want    *kong.Config
	latest  bool // want is Fountain's last version
	adopted bool // the config found is kept: nothing written or reloaded
	record  bool // want is a new version (the request's config)
	// adoptedHash is the configuration_hash of the config adopted.
	adoptedHash string
	// keep records a config found running that Fountain has no version
	// of before the request's config or force replaces it: nothing is
	// lost, and a rollback can return to it.
	keep *fountain.Change
}

// PlanKongDeploy is the plan of deploy-kong: Docker set up, the config
// Kong is to run decided (the request's, Fountain's last version, or one
// found running that Fountain has no version of, adopted unless force),
// the file written, Kong run as a Docker app (PlanDockerApp's changes)
// with its Admin API admitting the host only, and the config loaded when
// Kong runs another one. A config found that cannot be read to adopt it
// is ECONFLICT.
func PlanKongDeploy(in KongInput, f KongFacts, target string, settle time.Duration) (fountain.Plan, error) {
	gateway := ""
	if n := f.App.Network; n != nil {
		gateway = n.Gateway
	}
	app := in.kongApp(gateway)
	d, err := decideKongConfig(in, f, target)
	if err != nil {
		return fountain.Plan{}, err
	}
	p := fountain.Plan{Changes: planDockerSetup(app.SSHUser, f.App.Host)}
	appChanges := planApp(app, f.App, settle)
	swap := false
	for _, c := range appChanges {
		if _, ok := c.Effect.(swapContainer); ok {
			swap = true
		}
	}
	// A Kong that runs and stays, but whose Admin API does not answer,
	// cannot say what it runs: nothing is loaded blind over it.
	if f.Admin == nil && f.App.Engine && !swap && f.App.Current != nil && f.App.Current.Running && !d.adopted {
		return fountain.Plan{}, &fountain.Error{Code: fountain.EUPSTREAM,
			Message: fmt.Sprintf("Kong runs on %s but its Admin API does not answer, so what it runs cannot be known: nothing is loaded over it", target),
			Hint:    "look at Kong's logs (fountain apps logs kong), then deploy again"}
	}
	load := planKongLoaded(in, f, d, swap)
	if _, loads := load.Effect.(loadKongConfig); !loads || swap || !f.App.Engine || f.App.Current == nil || !f.App.Current.Running {
		// Nothing to load, or Kong starts anew and loads the file at
		// start: the file first.
		if d.keep != nil {
			p.Add(*d.keep)
		}
		p.Add(d.change, planKongFile(d, f, swap))
		p.Add(appChanges...)
		p.Add(load)
		return p, nil
	}
	// Kong runs and stays, and is to load another config: it is loaded
	// first, and recorded and written only once Kong has taken it, so
	// that a config Kong refuses becomes no version and is in no file a
	// restart would load.
	p.Add(appChanges...)
	if d.keep != nil {
		p.Add(*d.keep)
	}
	p.Add(load, d.change, planKongFile(d, f, swap))
	return p, nil
}

// kongFound is the config found on the gateway and its configuration
// hash: with Kong answering, what it runs (nothing to read when it is
// the empty config or one of Fountain's versions; the file's text if
// Kong runs exactly it, else Kong's export; nil if neither reads); with
// Kong not answering, the file's config, which Kong would load at start;
// with neither, nothing.
func kongFound(f KongFacts) (*kong.Config, string, error) {
	if a := f.Admin; a != nil {
		if _, ok := f.Versions.knows(a.Hash); ok || a.Hash == kong.EmptyHash {
			return nil, a.Hash, nil
		}
		if fileHolds(f.File, a.Hash) {
			cfg, err := kong.Parse([]byte(f.File))
			return cfg, a.Hash, err
		}
		if a.Export == "" {
			return nil, a.Hash, nil
		}
		cfg, err := kong.Parse([]byte(a.Export))
		if err != nil {
			return nil, a.Hash, nil
		}
		return cfg, a.Hash, nil
	}
	if f.File == "" {
		return nil, "", nil
	}
	h, err := kong.LoadedHash(f.File)
	if err != nil {
		// A file Kong could not load either: nothing to keep.
		return nil, "", nil
	}
	cfg, _ := kong.Parse([]byte(f.File))
	return cfg, h, nil
}

// decideKongConfig decides which config Kong is to run: the request's,
// Fountain's last, or the one found, adopted.
func decideKongConfig(in KongInput, f KongFacts, target string) (kongDecision, error) {
	v := f.Versions
	found, foundHash, err := kongFound(f)
	if err != nil {
		return kongDecision{}, err
	}
	d := kongDecision{want: v.Latest, latest: true}
	c := fountain.Change{Name: "the config Kong is to run"}
	unknown := ""
	if foundHash != "" {
		if _, ok := v.knows(foundHash); !ok {
			unknown = foundHash
		}
	}
	next := v.Version + 1 // the number of the next version recorded
	if unknown != "" && found != nil && (in.cfg != nil || in.Force) {
		d.keep = &fountain.Change{Name: "keep the config found on the host", Change: true,
			Reason: fmt.Sprintf("Kong runs a config Fountain has no version of (hash %s): it is kept as version %d (%s) before it is replaced, so that a rollback can return to it",
				unknown, next, KongSourceFound),
			Calls:  []string{recordCall(next, KongSourceFound)},
			Effect: recordKongVersion{Hash: unknown, Text: found.YAML(), Source: KongSourceFound}}
		next++
	}
	switch {
	case in.cfg != nil:
		d.want, d.latest = in.cfg, false
		reason := "Kong is to run the config the request brings"
		if unknown != "" {
			reason += fmt.Sprintf(", replacing a config Fountain has no version of (hash %s)", unknown)
		}
		if in.cfg.Hash() == v.Latest.Hash() && d.keep == nil {
			c.Reason = reason + fmt.Sprintf(" (Fountain's version %d)", v.Version)
			break
		}
		d.record = true
		c.Change, c.Reason, c.Diff = true, reason+": a new version", kong.Diff(v.Latest, in.cfg, "current", "new")
		c.Calls = []string{recordCall(next, "deploy-kong")}
		c.Effect = recordKongVersion{Hash: in.cfg.Hash(), Text: in.cfg.YAML(), Source: "deploy-kong"}
	case unknown != "" && in.Force:
		c.Reason = fmt.Sprintf("force: a config Fountain has no version of (hash %s) is to be replaced by Fountain's version %d", unknown, v.Version)
		if d.keep != nil {
			// The one found is kept as a version: Fountain's is recorded
			// again after it, so that the latest is what Kong runs.
			d.record, d.latest = true, false
			c.Change = true
			c.Reason += fmt.Sprintf(", recorded again as version %d after the one found", next)
			c.Diff = kong.Diff(found, v.Latest, "found on the host", fmt.Sprintf("Fountain's version %d", v.Version))
			c.Calls = []string{recordCall(next, "deploy-kong")}
			c.Effect = recordKongVersion{Hash: v.Latest.Hash(), Text: v.Latest.YAML(), Source: "deploy-kong"}
		}
	case unknown != "":
		if found == nil {
			return d, &fountain.Error{Code: fountain.ECONFLICT,
				Message: fmt.Sprintf("Kong on %s runs a config Fountain has no version of (hash %s), and it cannot be read to adopt it", target, unknown),
				Hint:    "give the config to run (config), or replace it with Fountain's last version (force)"}
		}
		d.adopted, d.want, d.latest, d.adoptedHash = true, found, false, unknown
		c.Change = true
		c.Reason = fmt.Sprintf("Kong runs a config Fountain has no version of (hash %s): it is adopted as version %d (%s), nothing reloaded; give config or force to replace it",
			unknown, v.Version+1, KongSourceFound)
		c.Diff = kong.Diff(v.Latest, found, fmt.Sprintf("Fountain's version %d", v.Version), "found on the host")
		c.Calls = []string{recordCall(v.Version+1, KongSourceFound)}
		c.Effect = recordKongVersion{Hash: unknown, Text: found.YAML(), Source: KongSourceFound, Adopt: true}
	default:
		c.Reason = fmt.Sprintf("Fountain's version %d", v.Version)
	}
	d.change = c
	return d, nil
}

// planKongFile makes /etc/kong/kong.yml hold the config Kong is to run.
// An adopted one is left as found while Kong keeps running; when the plan
// (re)starts Kong (swap), the file is what Kong loads, so it must hold
// the adopted config.
func planKongFile(d kongDecision, f KongFacts, swap bool) fountain.Change {
	c := fountain.Change{Name: "declarative config " + KongConfigPath}
	v, running := f.Versions, ""
	if f.Admin != nil {
		running = f.Admin.Hash
	}
	switch {
	case d.adopted && swap && !fileHolds(f.File, d.adoptedHash):
		c.Change, c.Reason = true, "Kong starts anew in this plan and loads the file: it must hold the adopted config"
	case d.adopted:
		c.Reason = "left as found (the config Kong runs is adopted)"
		return c
	case f.File == "":
		c.Change, c.Reason = true, "no "+KongConfigPath+" yet"
	case strings.TrimSpace(f.File) == strings.TrimSpace(d.want.YAML()):
		c.Reason = "it holds the config Kong is to run"
		return c
	case d.latest && v.LatestFound && fileHolds(f.File, v.LatestHash):
		c.Reason = fmt.Sprintf("it holds version %d as it was found", v.Version)
		return c
	case d.latest && v.LatestFound && running == v.LatestHash && !swap:
		c.Reason = fmt.Sprintf("Kong runs version %d as it was found (adopted); the file is left as it was, and a restart of Kong would load the file", v.Version)
		return c
	default:
		c.Change, c.Reason = true, "it differs from the config Kong is to run"
	}
	call, effect := writeConfigFile(d.want.YAML())
	c.Calls, c.Effect = []string{call}, effect
	return c
}

// fileHolds reports whether a config file's text is the config of hash,
// as Kong would load it.
func fileHolds(text, hash string) bool {
	h, err := kong.LoadedHash(text)
	return err == nil && h == hash
}

// planKongLoaded loads the config into a running Kong that runs another
// one, compared by Kong's own configuration_hash. A Kong (re)started by
// the plan loads the file at start.
func planKongLoaded(in KongInput, f KongFacts, d kongDecision, swap bool) fountain.Change {
	c := fountain.Change{Name: "Kong runs the declarative config"}
	switch a := f.Admin; {
	case d.adopted || !f.App.Engine || swap:
		c.Reason = "loaded from the file at start"
		return c
	case a == nil:
		c.Change, c.Reason = true, "Kong's Admin API did not answer"
	case a.Hash == d.want.Hash() || !d.record && in.cfg == nil && f.Versions.runsLatest(a.Hash):
		c.Reason = "Kong runs it (hash " + a.Hash + ")"
		return c
	default:
		c.Change, c.Reason = true, "Kong runs another config (hash "+a.Hash+")"
	}
	c.Calls, c.Effect = []string{kongLoadCall}, loadKongConfig{Text: d.want.YAML()}
	return c
}

// secrets are the credentials in the configs found (the file, Kong's
// export) and in Fountain's last version, masked in every record.
func (f KongFacts) secrets() []string {
	var s []string
	if f.Versions.Latest != nil {
		s = f.Versions.Latest.SecretValues()
	}
	for _, text := range []string{f.File, adminExport(f.Admin)} {
		if cfg, err := kong.Parse([]byte(text)); err == nil && text != "" {
			s = append(s, cfg.SecretValues()...)
		}
	}
	return s
}

func adminExport(a *KongAdminFacts) string {
	if a == nil {
		return ""
	}
	return a.Export
}

// describe says in a line what deploy-kong found.
func (f KongFacts) describe() string {
	out := f.App.describe(KongContainer)
	switch {
	case f.Admin == nil:
		out += "; Kong's Admin API does not answer"
	default:
		out += "; Kong runs the config of hash " + f.Admin.Hash
		if v, ok := f.Versions.knows(f.Admin.Hash); ok {
			out += fmt.Sprintf(" (Fountain's version %d)", v)
		}
	}
	if f.File == "" {
		out += "; no " + KongConfigPath
	}
	return out + fmt.Sprintf("; Fountain's last version: %d", f.Versions.Version)
}

// KongChangeFacts is what a change of a gateway's config observes: the
// versions, and what its (first) node runs.
type KongChangeFacts struct {
	Versions KongVersions
	Admin    KongAdminFacts // Kong must answer
	// File is /etc/kong/kong.yml as found ("": none, or unreadable).
	File string
	// Node names the first node in step names, when the gateway has
	// several ("": one).
	Node string
	// Others are the gateway's other nodes, changed after the first one
	// by one.
	Others []KongNodeFacts
	// Apps are where the app a route goes to answers, on each of its
	// hosts (route add to an app).
	Apps []AppUpstreamFacts
}

// KongNodeFacts is what one node of a gateway runs.
type KongNodeFacts struct {
	Node  string
	Admin KongAdminFacts
	File  string
}

// AppUpstreamFacts is where an app Fountain deployed answers on one host.
type AppUpstreamFacts struct {
	Target string // the app's host, for people
	Node   string // the host, short (its instance's name)
	Exists bool   // its container exists
	// Port is the host port Fountain picked for it (a zero-downtime
	// deploy's; 0: none, TCPPorts say).
	Port int
	// TCPPorts are the host ports its container publishes for TCP.
	TCPPorts []int
	// Address is the host's private address.
	Address string
	// Health is the health check it was deployed with (nil: none).
	Health *HealthCheck
}

// KongChange is what a change of a gateway's config asks for: a whole
// config (apply, rollback), a route to add or update, a route to
// remove, or an app's upstream targets to set.
type KongChange struct {
	Source   string // what makes the change: apply, route add NAME, ...
	Config   *kong.Config
	Route    *KongRouteInput
	Remove   string
	Upstream *UpstreamChange
}

// UpstreamChange sets an upstream's targets and active check.
type UpstreamChange struct {
	Name    string
	Targets []kong.Target
	Check   *kong.ActiveCheck
}

// KongChangePlan is the plan of a config change, and what it decided.
type KongChangePlan struct {
	fountain.Plan
	Current, Next *kong.Config
	// Version is the version the change is made on (the one adopted,
	// when Kong ran a config Fountain had no version of).
	Version int
	// Adopt is the configuration_hash of a running config Fountain had
	// no version of, kept as a version first ("": none).
	Adopt string
	Diff  string
	// Upstream is where a route to an app sends the traffic.
	Upstream string
}

// PlanKongChange is the plan of a config change: the change is made on
// Fountain's last version, or, when Kong runs a config Fountain has no
// version of, on that one, kept as a version first (never replaced
// unseen); then Kong loads the result (its own validation decides),
// /etc/kong/kong.yml follows, and the version is recorded. Each part
// that is already so changes nothing. An upstream that is Kong itself is
// refused (EINVALID), as is a route to an app that is not there
// (ENOTFOUND) or publishes no TCP port (ECONFLICT).
func PlanKongChange(ch KongChange, f KongChangeFacts) (KongChangePlan, error) {
	kp, runsCurrent, err := kongBase(f)
	if err != nil {
		return kp, err
	}
	next, err := kp.next(ch, f.Apps)
	if err != nil {
		return kp, err
	}
	if err := otherNodes(f, kp, ch.Config != nil, next.Hash()); err != nil {
		return kp, err
	}
	if err := checkKongUpstreams(next); err != nil {
		if fe := (*fountain.Error)(nil); errors.As(err, &fe) && fe.Hint != "" {
			fe.Hint = "the gateway's config has it: remove that route, or apply a config without it; " + fe.Hint
		}
		return kp, err
	}
	kp.Next = next
	// Kong's configuration_hash says what it runs; the diff is shown
	// against Fountain's last version (Kong's own export adds ids and
	// defaults to every entity).
	kp.Diff = kong.Diff(kp.Current, next, "current", "new")
	kp.Add(kongNodeChanges(f, kp, next, runsCurrent)...)
	record := fountain.Change{Name: "version recorded", Reason: fmt.Sprintf("version %d is this config", kp.Version)}
	if kp.Current.Hash() != next.Hash() || kp.Version == 0 {
		record.Change, record.Reason = true, "a new version"
		record.Calls = []string{recordCall(kp.Version+1, ch.Source)}
		record.Effect = recordKongVersion{Hash: next.Hash(), Text: next.YAML(), Source: ch.Source}
	}
	kp.Add(record)
	return kp, nil
}

// kongBase is what a change is made on: Fountain's last version, or,
// when Kong (its first node) runs a config Fountain has no version of,
// that one, kept as a version first (never replaced unseen). runs says
// whether a configuration_hash is the config the change is made on.
func kongBase(f KongChangeFacts) (kp KongChangePlan, runs func(string) bool, err error) {
	v, hash := f.Versions, f.Admin.Hash
	kp = KongChangePlan{Current: v.Latest, Version: v.Version}
	runs = v.runsLatest
	if _, known := v.knows(hash); !known {
		// Never replace a config Fountain did not write: it becomes a
		// version first, and the change is made on it.
		adopt, err := kong.Parse([]byte(f.Admin.Export))
		if err != nil {
			return kp, nil, &fountain.Error{Code: fountain.EUPSTREAM, Message: "the config Kong runs (hash " + hash + ") does not parse", Err: err}
		}
		kp.Current, kp.Adopt, kp.Version = adopt, hash, v.Version+1
		runs = func(h string) bool { return h == hash }
		kp.Add(fountain.Change{Name: "keep the config found on the gateway", Change: true,
			Reason: fmt.Sprintf("Kong runs a config Fountain has no version of (hash %s): it is kept as version %d (%s) and the change is made on it",
				hash, kp.Version, KongSourceFound),
			Calls:  []string{recordCall(kp.Version, KongSourceFound)},
			Effect: recordKongVersion{Hash: hash, Text: adopt.YAML(), Source: KongSourceFound, Adopt: true}})
	}
	return kp, runs, nil
}

// otherNodes refuses a change of a gateway one of whose other nodes runs
// a config Fountain has no version of (not the one the first node runs,
// nor the one the change makes: next, "" for none), unless the change is
// a whole config, which replaces it knowingly.
func otherNodes(f KongChangeFacts, kp KongChangePlan, whole bool, next string) error {
	for _, o := range f.Others {
		h := o.Admin.Hash
		if _, known := f.Versions.knows(h); known || whole || h == kp.Adopt || h == next {
			continue
		}
		return &fountain.Error{Code: fountain.ECONFLICT,
			Message: fmt.Sprintf("Kong on %s runs a config Fountain has no version of (hash %s), unlike %s", o.Node, h, orFirst(f.Node)),
			Hint:    "apply a whole config to the gateway (PUT /services/kong/config), which replaces it on every node"}
	}
	return nil
}

func orFirst(node string) string {
	if node == "" {
		return "the first node"
	}
	return node
}

// kongNodeChanges load next into each node that does not run it, and
// write its file, one node after the other (step names say which node
// when there are several).
func kongNodeChanges(f KongChangeFacts, kp KongChangePlan, next *kong.Config, runsCurrent func(string) bool) []fountain.Change {
	nodes := append([]KongNodeFacts{{Node: f.Node, Admin: f.Admin, File: f.File}}, f.Others...)
	var out []fountain.Change
	for i, n := range nodes {
		on, name := "", ""
		if len(nodes) > 1 {
			on, name = " on "+n.Node, n.Node
		}
		load := fountain.Change{Name: "Kong loads the config (its own validation decides)" + on}
		switch hash := n.Admin.Hash; {
		case hash == next.Hash() || next.Equal(kp.Current) && runsCurrent(hash):
			load.Reason = "Kong runs this config already"
		case kp.Diff == "":
			load.Change, load.Reason = true, "Kong runs another config than Fountain's last version"
		default:
			load.Change, load.Reason, load.Diff = true, "the config differs", kp.Diff
		}
		if load.Change {
			call := kongLoadCall
			if name != "" {
				call = strings.Replace(kongLoadCall, "kong:", "kong "+name+":", 1)
			}
			load.Calls, load.Effect = []string{call}, loadKongConfig{Text: next.YAML(), Node: i}
		}
		file := fountain.Change{Name: "the config file " + KongConfigPath + " follows" + on, Reason: "it holds this config"}
		if strings.TrimSpace(n.File) != strings.TrimSpace(next.YAML()) {
			call, effect := writeConfigFileOn(next.YAML(), i, name)
			file.Change, file.Reason, file.Calls, file.Effect = true, "a restart must keep the config", []string{call}, effect
		}
		out = append(out, load, file)
	}
	return out
}

// next makes the config the change asks for from the current one.
func (kp *KongChangePlan) next(ch KongChange, apps []AppUpstreamFacts) (*kong.Config, error) {
	switch {
	case ch.Config != nil:
		return ch.Config, nil
	case ch.Upstream != nil:
		u := ch.Upstream
		return kong.SetUpstream(kp.Current, u.Name, u.Targets, u.Check)
	case ch.Route != nil && ch.Route.App != nil:
		return kp.routeToApp(ch.Route, apps)
	case ch.Route != nil:
		return kong.AddRoute(kp.Current, ch.Route.route(ch.Route.UpstreamURL))
	}
	next, _ := kong.RemoveRoute(kp.Current, ch.Remove)
	return next, nil
}

// routeToApp is a route to an app Fountain runs: a service sending to the
// app's upstream (app-NAME), whose targets are the app's hosts' private
// addresses and ports, with an active health check from the app's. An
// upstream that lists those targets already (with weights, and the
// targets a deploy keeps at weight 0) is kept as it is.
func (kp *KongChangePlan) routeToApp(r *KongRouteInput, apps []AppUpstreamFacts) (*kong.Config, error) {
	name := r.App.ContainerName
	up := kong.AppUpstream(name)
	var want []kong.Target
	var health *HealthCheck
	for _, a := range apps {
		addr, err := appTarget(name, r.App.Port, a)
		if err != nil {
			return nil, err
		}
		want = append(want, kong.Target{Target: addr, Weight: targetWeight})
		if health == nil {
			health = a.Health
		}
	}
	targets := want
	if have, ok := kong.TargetsOf(kp.Current, up); ok && kong.SameTargets(serving(have), want) {
		targets = have
	}
	cfg, err := kong.AddRoute(kp.Current, r.route("http://"+up))
	if err != nil {
		return nil, err
	}
	addrs := make([]string, len(want))
	for i, t := range want {
		addrs[i] = t.Target
	}
	kp.Upstream = fmt.Sprintf("http://%s, whose targets are %s", up, strings.Join(addrs, ", "))
	check := activeCheck(health)
	return kong.SetUpstream(cfg, up, targets, &check)
}

// targetWeight is the weight of a target that serves.
const targetWeight = 100

// serving are the targets with a weight.
func serving(ts []kong.Target) []kong.Target {
	var out []kong.Target
	for _, t := range ts {
		if t.Weight > 0 {
			out = append(out, t)
		}
	}
	return out
}

// appTarget is where an app answers on one host: its private address
// and the port Fountain picked for it, else the TCP port asked for (one it
// publishes), else the lowest TCP port it publishes.
func appTarget(name string, want int, a AppUpstreamFacts) (string, error) {
	if !a.Exists {
		return "", fountain.Errorf(fountain.ENOTFOUND, "no app %s on %s", name, a.Target)
	}
	port := a.Port
	for _, p := range a.TCPPorts {
		if port == 0 || (a.Port == 0 && p < port) {
			port = p
		}
	}
	if port == 0 {
		return "", fountain.Errorf(fountain.ECONFLICT, "app %s on %s publishes no TCP port for Kong to reach", name, a.Target)
	}
	if want != 0 && a.Port != 0 {
		return "", &fountain.Error{Code: fountain.ECONFLICT, Field: "app.port",
			Message: fmt.Sprintf("app %s on %s is deployed behind a gateway, on ports Fountain picks and alternates: leave the port out", name, a.Target)}
	}
	if want != 0 {
		if !slices.Contains(a.TCPPorts, want) {
			return "", &fountain.Error{Code: fountain.ECONFLICT, Field: "app.port",
				Message: fmt.Sprintf("app %s on %s does not publish port %d for TCP (it publishes %v)", name, a.Target, want, a.TCPPorts)}
		}
		port = want
	}
	return net.JoinHostPort(a.Address, strconv.Itoa(port)), nil
}
