package stack

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/deploy"
	"github.com/fountainai/fountain/github"
	"github.com/fountainai/fountain/lightsail"
)

// Validate checks the stack without I/O: each value by the rule of the
// engine that receives it (the same validators the API's routes use), and
// that every reference resolves (an app's and a load balancer's
// instances, OpenSearch's and Kong's instances, a route's app). It
// changes nothing in s. Its error is an ErrorList, in a stable order.
func (s *Stack) Validate() error {
	v := &validator{s: s, file: s.file}
	if v.file == "" {
		v.file = "fountain.yml"
	}
	if s.Version != Version {
		v.fail("version", false, "", "is %d; this Fountain reads stack files of version %d", s.Version, Version)
	}
	regionOK := v.engine("", lightsail.ValidateRegion("region", s.Region), nil)
	v.instances(regionOK)
	v.openSearch()
	v.kong()
	v.apps()
	v.loadBalancers()
	v.github()
	v.hostPorts()
	v.remove()
	return v.errs.err()
}

// remove checks what the file deletes: valid names, none also declared.
func (v *validator) remove() {
	r := v.s.Remove
	if r == nil {
		return
	}
	for i, name := range r.Instances {
		path := index("remove.instances", i)
		if v.engine(path, lightsail.ValidateName("", name), nil) {
			if _, ok := v.s.Instances[name]; ok {
				v.fail(path, false, "", "instance %s is declared in instances: it cannot also be removed", name)
			}
		}
	}
	v.removeLoadBalancers(r.LoadBalancers)
	for i, name := range r.Apps {
		path := index("remove.apps", i)
		if in := (deploy.AppInput{HostInput: deploy.HostInput{InstanceName: "x1"}, ContainerName: name}); in.Validate() != nil {
			v.fail(path, false, "", "%s is not a container name", short(name))
		} else if _, ok := v.s.Apps[name]; ok {
			v.fail(path, false, "", "app %s is declared in apps: it cannot also be removed", name)
		}
	}
	for i, name := range r.Routes {
		path := index("remove.routes", i)
		if v.s.Kong == nil {
			v.fail(path, false, "declare kong (its instance) so that Fountain knows which gateway to remove routes from", "there is no kong in this file")
			continue
		}
		if _, ok := v.s.Kong.Routes[name]; ok {
			v.fail(path, false, "", "route %s is declared in kong.routes: it cannot also be removed", name)
		}
	}
	for i, ref := range r.Secrets {
		path := index("remove.secrets", i)
		repo, env, name, err := SplitSecretRef(ref)
		if err != nil {
			v.fail(path, false, "OWNER/REPO/NAME, or OWNER/REPO/ENVIRONMENT/NAME", "%v", err)
			continue
		}
		if v.s.declaresSecret(repo, env, name) {
			v.fail(path, false, "", "secret %s is declared in github: it cannot also be removed", ref)
		}
	}
}

// declaresSecret reports whether the stack declares the secret.
func (s *Stack) declaresSecret(repo, env, name string) bool {
	if s.GitHub == nil {
		return false
	}
	for rn, r := range s.GitHub.Repositories {
		if !strings.EqualFold(rn, repo) {
			continue
		}
		secrets := r.Secrets
		if env != "" {
			secrets = nil
			for en, e := range r.Environments {
				if strings.EqualFold(en, env) {
					secrets = e.Secrets
				}
			}
		}
		for n := range secrets {
			if strings.EqualFold(n, name) {
				return true
			}
		}
	}
	return false
}

// SplitSecretRef splits OWNER/REPO/NAME or OWNER/REPO/ENVIRONMENT/NAME.
func SplitSecretRef(ref string) (repo, env, name string, err error) {
	parts := strings.Split(ref, "/")
	switch len(parts) {
	case 3:
		repo, name = parts[0]+"/"+parts[1], parts[2]
	case 4:
		repo, env, name = parts[0]+"/"+parts[1], parts[2], parts[3]
	default:
		return "", "", "", fmt.Errorf("%s is not OWNER/REPO/NAME or OWNER/REPO/ENVIRONMENT/NAME", short(ref))
	}
	if _, err := github.ParseRepo("", repo); err != nil {
		return "", "", "", fmt.Errorf("%s: %s", short(ref), fountain.ErrorMessage(err))
	}
	if env != "" {
		if err := github.ValidateEnvironment("", env); err != nil {
			return "", "", "", fmt.Errorf("%s: %s", short(ref), fountain.ErrorMessage(err))
		}
	}
	if name, err = github.NormalizeSecretName("", name); err != nil {
		return "", "", "", fmt.Errorf("%s: %s", short(ref), fountain.ErrorMessage(err))
	}
	return repo, env, name, nil
}

// validator collects the problems of one stack.
type validator struct {
	s    *Stack
	file string
	errs errs
}

// fail records a problem at path: at its key when onKey (a name that is
// wrong), else at its value. A path the file does not have (a missing
// value) is placed at the nearest value that holds it.
func (v *validator) fail(path string, onKey bool, hint, format string, args ...any) {
	e := &Error{File: v.file, Path: path, Message: fmt.Sprintf(format, args...), Hint: hint}
	for p := path; ; p = parent(p) {
		if pos, ok := v.s.pos[p]; ok {
			e.Line, e.Column = pos.line, pos.col
			if onKey && p == path && pos.keyLine > 0 {
				e.Line, e.Column = pos.keyLine, pos.keyCol
			}
			break
		}
		if p == "" {
			break
		}
	}
	v.errs.add(e)
}

// engine records an engine validator's error, if any, under base: its
// field is renamed by fields (to a path relative to base; "" is base
// itself, a name, placed at its key), else appended to base. It reports
// whether err was nil.
func (v *validator) engine(base string, err error, fields map[string]string) bool {
	if err == nil {
		return true
	}
	var fe *fountain.Error
	if !errors.As(err, &fe) {
		v.fail(base, false, "", "%v", err)
		return false
	}
	path, onKey := base, false
	if rel, ok := fields[fe.Field]; ok {
		if rel == "" {
			onKey = true
		} else {
			path = joinRel(base, rel)
		}
	} else if fe.Field != "" {
		path = joinRel(base, fe.Field)
	}
	v.fail(path, onKey, fe.Hint, "%s", fe.Message)
	return false
}

// joinRel appends a relative path (name, name.sub or name[0]) to base.
func joinRel(base, rel string) string {
	if base == "" {
		return rel
	}
	return base + "." + rel
}

// exists reports whether the file declares instance name, and otherwise
// records why not at path.
func (v *validator) instanceRef(path, name string) bool {
	if _, ok := v.s.Instances[name]; ok {
		return true
	}
	known := slices.Sorted(maps.Keys(v.s.Instances))
	if len(known) == 0 {
		v.fail(path, false, "declare it under instances", "names instance %s, but the file declares no instances", short(name))
	} else {
		v.fail(path, false, "", "names instance %s, which the file does not declare (instances: %s)", short(name), strings.Join(known, ", "))
	}
	return false
}

// hostPlaceholder is a valid host for the deploy validators, which check
// a request's host too: the stack's hosts are its instances, checked on
// their own.
var hostPlaceholder = deploy.HostInput{InstanceName: "stack-instance"}

func (v *validator) instances(regionOK bool) {
	for _, name := range slices.Sorted(maps.Keys(v.s.Instances)) {
		in := v.s.Instances[name]
		base := join("instances", name)
		v.engine(base, lightsail.ValidateName("name", name), map[string]string{"name": ""})
		v.engine(base, lightsail.ValidateID("bundle", in.Bundle), nil)
		v.engine(base, lightsail.ValidateID("blueprint", in.Blueprint), nil)
		if regionOK {
			v.engine(base, lightsail.ValidateZone("zone", in.Zone, v.s.Region), nil)
		}
		seen := map[FirewallPort]int{}
		for i, p := range in.Ports {
			path := index(join(base, "ports"), i)
			fp, err := ParseFirewallPort(p)
			if err != nil {
				v.fail(path, false, "", "%v", err)
				continue
			}
			if j, dup := seen[fp]; dup {
				v.fail(path, false, "", "%s is given twice (also ports[%d])", short(p), j)
				continue
			}
			seen[fp] = i
		}
		v.engine(base, lightsail.ValidateTags("tags", in.Tags), nil)
		if in.AutoSnapshot != "" && in.AutoSnapshot != AutoSnapshotOff {
			v.engine(base, lightsail.ValidateSnapshotTimeOfDay("auto_snapshot", in.AutoSnapshot), nil)
		}
	}
}

// FirewallPort is an instance's public port range, as its ports list it.
type FirewallPort struct {
	From, To int
	Protocol string // tcp, udp or all
}

// ParseFirewallPort reads PORT or FROM-TO with an optional /tcp (the
// default), /udp or /all, and checks it by Lightsail's rule.
func ParseFirewallPort(s string) (FirewallPort, error) {
	spec, proto, hasProto := strings.Cut(s, "/")
	if !hasProto {
		proto = "tcp"
	}
	switch proto {
	case "tcp", "udp", "all":
	default:
		return FirewallPort{}, fmt.Errorf("%s: the protocol must be tcp, udp or all", short(s))
	}
	from, to, isRange := strings.Cut(spec, "-")
	if !isRange {
		to = from
	}
	f, err1 := strconv.Atoi(from)
	t, err2 := strconv.Atoi(to)
	if err1 != nil || err2 != nil || strings.HasPrefix(from, "+") || strings.HasPrefix(to, "+") {
		return FirewallPort{}, fmt.Errorf("%s is not PORT or FROM-TO, with /tcp, /udp or /all (e.g. \"22\", \"8000-8010/tcp\")", short(s))
	}
	if t < f {
		return FirewallPort{}, fmt.Errorf("%s: the range ends before it starts", short(s))
	}
	if err := lightsail.ValidatePorts(f, t, proto, nil); err != nil {
		var fe *fountain.Error
		if errors.As(err, &fe) {
			return FirewallPort{}, fmt.Errorf("%s: %s", short(s), fe.Message)
		}
		return FirewallPort{}, err
	}
	return FirewallPort{From: f, To: t, Protocol: proto}, nil
}

func (v *validator) openSearch() {
	o := v.s.OpenSearch
	if o == nil {
		return
	}
	in := deploy.OpenSearchInput{HostInput: hostPlaceholder, Version: o.Version, ClusterName: o.ClusterName,
		NetworkHost: o.NetworkHost, HeapMB: o.HeapMB}
	if v.openSearchHosts(o) {
		in.HostInput, in.Cluster = deploy.HostInput{Region: "eu-central-1"}, &deploy.OpenSearchClusterInput{Name: o.ClusterName, InstanceNames: o.Instances}
		if in.Cluster.Name == "" {
			in.Cluster.Name = "fountain"
		}
	}
	v.engine("opensearch", in.Validate(), map[string]string{"cluster.instance_names": "instances", "cluster.name": "cluster_name"})
	if o.AdminPassword != "" {
		v.vaultName("opensearch.admin_password", o.AdminPassword, "the admin password")
	}
}

// vaultName checks that a field that takes a secret holds a vault name.
func (v *validator) vaultName(path, name, what string) {
	if err := ValidateVaultName("", name); err != nil {
		var fe *fountain.Error
		errors.As(err, &fe)
		v.fail(path, false, "keep "+what+" in Fountain's vault: fountain vault set NAME (the value on stdin), and give NAME here",
			"names a vault secret, never the value itself: %s", fe.Message)
	}
}

func (v *validator) kong() {
	k := v.s.Kong
	if k == nil {
		return
	}
	switch {
	case k.Instance != "" && len(k.Instances) > 0:
		v.fail("kong.instances", false, "", "give instance or instances, not both")
	case k.Instance == "" && len(k.Instances) == 0:
		v.fail("kong", false, "", "needs instance (or instances): where Kong runs")
	case k.Instance != "":
		v.instanceRef("kong.instance", k.Instance)
	}
	for i, inst := range k.Instances {
		path := index("kong.instances", i)
		if j := slices.Index(k.Instances, inst); j < i {
			v.fail(path, false, "", "%s is given twice (also instances[%d])", short(inst), j)
			continue
		}
		v.instanceRef(path, inst)
	}
	in := deploy.KongInput{HostInput: hostPlaceholder, Image: k.Image, ProxyPort: k.ProxyPort, ProxyTLSPort: k.ProxyTLSPort}
	v.engine("kong", in.Validate(), nil)
	for _, name := range slices.Sorted(maps.Keys(k.Routes)) {
		v.route(name, k.Routes[name])
	}
}

func (v *validator) route(name string, r Route) {
	base := join(join("kong", "routes"), name)
	in := deploy.KongRouteInput{HostInput: hostPlaceholder, Name: name, UpstreamURL: r.UpstreamURL, Paths: r.Paths,
		Hosts: r.Hosts, Methods: r.Methods, StripPath: r.StripPath, PreserveHost: r.PreserveHost}
	switch {
	case r.App == "" && r.UpstreamURL == "":
		v.fail(base, false, "", "needs app (an app of this file) or upstream_url")
		return
	case r.App != "" && r.UpstreamURL != "":
		v.fail(join(base, "app"), false, "", "give app or upstream_url, not both")
		return
	case r.App == "" && r.Port != 0:
		v.fail(join(base, "port"), false, "", "is the port of an app; with upstream_url, put the port in the URL")
	case r.App != "":
		in.App = &deploy.AppRef{ContainerName: r.App}
		v.routeToApp(base, r)
	}
	v.engine(base, in.Validate(), map[string]string{"name": "", "app": "app", "app.container_name": "app"})
}

// routeToApp checks a route's app: declared, and the port to send to
// known (on each of its instances: a target of its upstream each).
func (v *validator) routeToApp(base string, r Route) {
	app, ok := v.s.Apps[r.App]
	if !ok {
		known := slices.Sorted(maps.Keys(v.s.Apps))
		v.fail(join(base, "app"), false, "", "names app %s, which the file does not declare (apps: %s)", short(r.App), strings.Join(known, ", "))
		return
	}
	var published []int
	for _, spec := range app.Ports {
		ports, err := deploy.ParsePorts(spec)
		if err != nil {
			continue // reported with the app
		}
		for _, p := range ports {
			if p.Protocol == "tcp" && !slices.Contains(published, p.HostPort) {
				published = append(published, p.HostPort)
			}
		}
	}
	switch {
	case r.Port != 0 && app.Ports != nil && !slices.Contains(published, r.Port):
		v.fail(join(base, "port"), false, "", "app %s does not publish port %d (it publishes %s)", r.App, r.Port, portList(published))
	case r.Port == 0 && len(published) > 1:
		v.fail(join(base, "port"), false, "", "is required: app %s publishes several ports (%s)", r.App, portList(published))
	case r.Port == 0 && app.Ports != nil && len(published) == 0:
		v.fail(join(base, "app"), false, "publish one with the app's ports, e.g. \"8080:8080\"", "app %s publishes no TCP port for Kong to send to", r.App)
	}
}

func portList(ports []int) string {
	if len(ports) == 0 {
		return "none"
	}
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ", ")
}

// placeholderSecret stands for a vault secret's value in what the deploy
// validator checks: the value is not in the file.
func placeholderSecret(name string) string { return "vault:" + name }

func (v *validator) apps() {
	for _, name := range slices.Sorted(maps.Keys(v.s.Apps)) {
		app := v.s.Apps[name]
		base := join("apps", name)
		if len(app.Instances) == 0 {
			v.fail(join(base, "instances"), false, "", "names no instance; an app runs on at least one")
		}
		seen := map[string]int{}
		for i, inst := range app.Instances {
			path := index(join(base, "instances"), i)
			if j, dup := seen[inst]; dup {
				v.fail(path, false, "", "%s is given twice (also instances[%d])", short(inst), j)
				continue
			}
			seen[inst] = i
			v.instanceRef(path, inst)
		}
		for _, k := range slices.Sorted(maps.Keys(app.Env)) {
			if why := credential(k, app.Env[k]); why != "" {
				v.fail(join(join(base, "env"), k), true,
					fmt.Sprintf("move it to secret_env: %s: NAME, and keep the value in Fountain's vault: fountain vault set NAME (the value on stdin)", k),
					"%s; a stack file never holds a secret value", why)
			}
		}
		secret := make(map[string]string, len(app.SecretEnv))
		for _, k := range slices.Sorted(maps.Keys(app.SecretEnv)) {
			v.vaultName(join(join(base, "secret_env"), k), app.SecretEnv[k], "the value of "+k)
			secret[k] = placeholderSecret(app.SecretEnv[k])
		}
		in := deploy.DockerAppInput{HostInput: hostPlaceholder, DockerImage: app.Image, ContainerName: name, Ports: app.Ports,
			Env: app.Env, SecretEnv: secret, Volumes: app.Volumes, RestartPolicy: app.RestartPolicy}
		if app.HealthCheck != nil {
			hc := *app.HealthCheck
			in.HealthCheck = &hc
		}
		v.appError(base, in, in.Validate())
	}
}

// appError records a deploy validator's error about an app, at the item
// of a list or the variable of an environment that it is about.
func (v *validator) appError(base string, in deploy.DockerAppInput, err error) {
	var fe *fountain.Error
	if err == nil || !errors.As(err, &fe) {
		v.engine(base, err, nil)
		return
	}
	fails := func(t deploy.DockerAppInput) bool {
		var e *fountain.Error
		return errors.As(t.Validate(), &e) && e.Field == fe.Field
	}
	field := fe.Field
	switch fe.Field {
	case "ports", "volumes":
		list := in.Ports
		if fe.Field == "volumes" {
			list = in.Volumes
		}
		// The first item whose list up to it fails is the culprit (a
		// port published twice fails at its second).
		for i := range list {
			t := in
			if fe.Field == "ports" {
				t.Ports = list[:i+1]
			} else {
				t.Volumes = list[:i+1]
			}
			if fails(t) {
				field = index(fe.Field, i)
				break
			}
		}
	case "env", "secret_env":
		env := in.Env
		if fe.Field == "secret_env" {
			env = in.SecretEnv
		}
		for _, k := range slices.Sorted(maps.Keys(env)) {
			t := in
			t.Env, t.SecretEnv = nil, nil
			one := map[string]string{k: env[k]}
			if fe.Field == "env" {
				t.Env = one
			} else {
				t.SecretEnv = one
				if _, both := in.Env[k]; both {
					t.Env = map[string]string{k: in.Env[k]}
				}
			}
			if fails(t) {
				v.fail(join(join(base, fe.Field), k), true, fe.Hint, "%s", fe.Message)
				return
			}
		}
	case "docker_image":
		field = "image"
	case "container_name":
		v.fail(base, true, fe.Hint, "the app's name is its container's name: %s", fe.Message)
		return
	}
	v.fail(joinRel(base, field), false, fe.Hint, "%s", fe.Message)
}

func (v *validator) github() {
	g := v.s.GitHub
	if g == nil {
		return
	}
	lower := map[string]string{}
	for _, repo := range slices.Sorted(maps.Keys(g.Repositories)) {
		r := g.Repositories[repo]
		base := join(join("github", "repositories"), repo)
		repoOK := v.engine(base, func() error { _, err := github.ParseRepo("repo", repo); return err }(), map[string]string{"repo": ""})
		if other, dup := lower[strings.ToLower(repo)]; dup {
			v.fail(base, true, "", "is repository %s again (GitHub's names are case-insensitive)", other)
		}
		lower[strings.ToLower(repo)] = repo
		v.secrets(join(base, "secrets"), r.Secrets)
		envs := map[string]string{}
		for _, env := range slices.Sorted(maps.Keys(r.Environments)) {
			ebase := join(join(base, "environments"), env)
			v.engine(ebase, github.ValidateEnvironment("environment", env), map[string]string{"environment": ""})
			if other, dup := envs[strings.ToLower(env)]; dup {
				v.fail(ebase, true, "", "is environment %s again (GitHub's names are case-insensitive)", other)
			}
			envs[strings.ToLower(env)] = env
			v.secrets(join(ebase, "secrets"), r.Environments[env].Secrets)
		}
		if w := r.Workflow; w != nil && repoOK {
			in := github.InstallWorkflowInput{Repo: repo, Spec: w.WorkflowSpec, Path: w.Path, Branch: w.TargetBranch}
			v.engine(join(base, "workflow"), github.ValidateInstall(in), nil)
		}
	}
}

// secrets checks GitHub secrets: names by GitHub's rule (stored in upper
// case, so two that differ in case are one), values vault names.
func (v *validator) secrets(base string, secrets map[string]string) {
	upper := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(secrets)) {
		path := join(base, name)
		up, err := github.NormalizeSecretName("name", name)
		if !v.engine(path, err, map[string]string{"name": ""}) {
			continue
		}
		if other, dup := upper[up]; dup {
			v.fail(path, true, "", "is secret %s again (GitHub stores names in upper case)", other)
		}
		upper[up] = name
		v.vaultName(path, secrets[name], "the value of "+name)
	}
}

// claim is a host port something of the stack publishes on an instance.
type claim struct {
	ip string // "" for every address
	by string // who, for messages
}

// maxHostPorts bounds the host ports a stack publishes, ranges counted
// port by port, instance by instance.
const maxHostPorts = 1 << 14

// hostPort is a port and protocol.
type hostPort struct {
	port  int
	proto string
}

// hostPorts checks that nothing on one instance publishes a host port
// another thing there publishes: Kong's proxy and Admin API, OpenSearch's
// HTTP and transport ports, and the apps' ports. Apps with a problem of
// their own are left out.
func (v *validator) hostPorts() {
	if len(v.errs.list) > 0 {
		return
	}
	claims := map[string]map[hostPort][]claim{}
	n := 0
	take := func(inst, path string, hp hostPort, c claim) {
		if n++; n > maxHostPorts {
			if n == maxHostPorts+1 {
				v.fail(path, false, "", "the stack publishes more than %d host ports in all", maxHostPorts)
			}
			return
		}
		if claims[inst] == nil {
			claims[inst] = map[hostPort][]claim{}
		}
		for _, o := range claims[inst][hp] {
			if o.ip == "" || c.ip == "" || o.ip == c.ip {
				v.fail(path, false, "", "host port %d/%s of instance %s is taken by %s", hp.port, hp.proto, inst, o.by)
				return
			}
		}
		claims[inst][hp] = append(claims[inst][hp], c)
	}
	if k := v.s.Kong; k != nil {
		proxy, tls := k.ProxyPort, k.ProxyTLSPort
		if proxy == 0 {
			proxy = 80
		}
		if tls == 0 {
			tls = 443
		}
		for _, inst := range k.Hosts() {
			take(inst, "kong", hostPort{proxy, "tcp"}, claim{by: "Kong's proxy"})
			take(inst, "kong", hostPort{tls, "tcp"}, claim{by: "Kong's TLS proxy"})
			take(inst, "kong", hostPort{8001, "tcp"}, claim{ip: "127.0.0.1", by: "Kong's Admin API (on loopback)"})
		}
	}
	if o := v.s.OpenSearch; o != nil {
		for _, inst := range o.Hosts() {
			take(inst, "opensearch", hostPort{9200, "tcp"}, claim{by: "OpenSearch"})
			take(inst, "opensearch", hostPort{9300, "tcp"}, claim{by: "OpenSearch's transport"})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(v.s.Apps)) {
		app := v.s.Apps[name]
		for i, spec := range app.Ports {
			ports, err := deploy.ParsePorts(spec)
			if err != nil {
				continue
			}
			path := index(join(join("apps", name), "ports"), i)
			for _, inst := range app.Instances {
				for _, p := range ports {
					ip := p.HostIP
					if ip == "0.0.0.0" || ip == "::" {
						ip = ""
					}
					take(inst, path, hostPort{p.HostPort, p.Protocol}, claim{ip: ip, by: "app " + name})
				}
			}
		}
	}
}
