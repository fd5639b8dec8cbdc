package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/github"
	"github.com/fountainai/fountain/stack"
)

type stackImportInput struct {
	Region string   `query:"region" maxLength:"32" doc:"The region to import (default: the server's)."`
	Repos  []string `query:"repo" maxItems:"50" doc:"GitHub repositories (owner/name) whose Actions secrets to import, by name."`
}

// StackImport is a stack file made from what exists.
type StackImport struct {
	Stack      string   `json:"stack" doc:"The stack file (fountain.yml) describing what exists: its plan is empty once the vault holds the secrets it names."`
	VaultNames []string `json:"vault_names,omitempty" doc:"The vault secrets the file names (GitHub secrets' values cannot be read back): set each with fountain vault set NAME before planning."`
	Notes      []string `json:"notes,omitempty" doc:"What could not be imported, and why."`
}

type stackImportOutput struct {
	Body StackImport
}

// stackImport reads what exists into a stack file: the region's
// instances and load balancers, the apps, Kong (and its routes) and
// OpenSearch found on its running instances, and the secrets of the
// repositories named.
func (s *Server) stackImport(ctx context.Context, in *stackImportInput) (*stackImportOutput, error) {
	if s.deps.Lightsail == nil {
		return nil, fountain.Errorf(fountain.EUNAVAILABLE, "Lightsail is not configured on this server")
	}
	region := s.region(in.Region)
	insts, err := s.deps.Lightsail.ListInstances(ctx, region)
	if err != nil {
		return nil, err
	}
	st := &stack.Stack{Version: stack.Version, Region: region, Instances: map[string]stack.Instance{}}
	var out StackImport
	var mu sync.Mutex
	note := func(format string, args ...any) {
		mu.Lock()
		out.Notes = append(out.Notes, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	privateIP := map[string]string{} // instance -> private address
	for _, inst := range insts {
		si := stack.Instance{Bundle: inst.BundleID, Blueprint: inst.BlueprintID, Zone: inst.AvailabilityZone, StaticIP: inst.IsStaticIP, Tags: inst.Tags}
		if a := inst.AutoSnapshot; a != nil && a.Enabled {
			si.AutoSnapshot = a.TimeOfDay
		}
		for _, p := range inst.Ports {
			if len(p.Cidrs) > 0 && !slices.Equal(p.Cidrs, []string{"0.0.0.0/0"}) {
				note("instance %s: the port range %d-%d/%s is open to %v only: the stack format has no sources yet, so it is left out", inst.Name, p.FromPort, p.ToPort, p.Protocol, p.Cidrs)
				continue
			}
			port := strconv.Itoa(p.FromPort)
			if p.ToPort != p.FromPort {
				port += "-" + strconv.Itoa(p.ToPort)
			}
			if p.Protocol != "" && p.Protocol != "tcp" {
				port += "/" + p.Protocol
			}
			si.Ports = append(si.Ports, port)
		}
		st.Instances[inst.Name] = si
		privateIP[inst.Name] = inst.PrivateIP
	}
	if err := s.importLoadBalancers(ctx, st, note); err != nil {
		return nil, err
	}
	// What runs on each running instance.
	type found struct {
		apps       map[string]stack.App
		kong       *stack.Kong
		opensearch *stack.OpenSearch
	}
	results := map[string]*found{}
	var wg sync.WaitGroup
	for _, inst := range insts {
		if inst.State != "running" {
			note("instance %s is %s: what runs on it is not imported", inst.Name, inst.State)
			continue
		}
		f := &found{apps: map[string]stack.App{}}
		results[inst.Name] = f
		q := HostQuery{InstanceName: inst.Name, Region: region}
		wg.Add(3)
		go func() {
			defer wg.Done()
			apps, err := s.listDockerApps(ctx, &q)
			if fountain.ErrorCode(err) == fountain.ECONFLICT {
				return // no Docker there: no apps
			}
			if err != nil {
				note("instance %s: its apps could not be listed: %s", inst.Name, fountain.ErrorMessage(err))
				return
			}
			for _, a := range apps.Body.Apps {
				if a.Role != "current" || a.ContainerName == "kong" {
					continue
				}
				if a.Asked == nil {
					// Its env and volumes cannot be read back safely (a
					// secret's value would show): declared by hand, or
					// imported once a redeploy has recorded what it asked.
					note("app %s on %s was deployed by an older Fountain, which did not record what it asked for: it is left out (the plan lists it as unmanaged); redeploy it once, or declare it by hand", a.ContainerName, inst.Name)
					continue
				}
				app := stack.App{Image: a.Image, Instances: []string{inst.Name}, Ports: a.Asked.Ports, Env: a.Asked.Env, Volumes: a.Asked.Volumes,
					RestartPolicy: a.Asked.RestartPolicy, HealthCheck: a.Asked.HealthCheck}
				for _, name := range a.Asked.SecretEnv {
					if app.SecretEnv == nil {
						app.SecretEnv = map[string]string{}
					}
					v := vaultNameFor(a.ContainerName, name)
					app.SecretEnv[name] = v
					mu.Lock()
					out.VaultNames = append(out.VaultNames, v)
					mu.Unlock()
				}
				if a.PickedPort != 0 {
					app.Ports = nil // behind Kong: Fountain picks them
				}
				f.apps[a.ContainerName] = app
			}
		}()
		go func() {
			defer wg.Done()
			cfg, err := s.getKongConfig(ctx, &KongQuery{HostQuery: q})
			if err != nil {
				return // no Kong there
			}
			k := &stack.Kong{Instance: inst.Name, Routes: map[string]stack.Route{}}
			for _, r := range cfg.Body.Routes {
				name := r.Service
				if name == "" {
					name = r.Name
				}
				k.Routes[name] = stack.Route{UpstreamURL: r.UpstreamURL, Paths: r.Paths, Hosts: r.Hosts, Methods: r.Methods}
			}
			f.kong = k
		}()
		go func() {
			defer wg.Done()
			h, err := s.openSearchHealth(ctx, &q)
			if err != nil {
				return // no OpenSearch there
			}
			o := &stack.OpenSearch{Instance: inst.Name}
			if h.Body.ClusterName != "" && h.Body.ClusterName != "fountain" {
				o.ClusterName = h.Body.ClusterName
			}
			f.opensearch = o
		}()
	}
	wg.Wait()
	names := make([]string, 0, len(results))
	for n := range results {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, inst := range names {
		f := results[inst]
		for name, a := range f.apps {
			if st.Apps == nil {
				st.Apps = map[string]stack.App{}
			}
			if have, ok := st.Apps[name]; ok && sameApp(have, a) {
				have.Instances = append(have.Instances, inst)
				st.Apps[name] = have
				continue
			} else if ok {
				note("app %s runs another image or ports on %s than on %s: only the first is imported", name, inst, have.Instances[0])
				continue
			}
			st.Apps[name] = a
		}
		if f.kong != nil {
			if st.Kong != nil {
				note("Kong runs on %s and on %s: only %s is imported (one gateway per stack)", st.Kong.Instance, inst, st.Kong.Instance)
			} else {
				st.Kong = f.kong
			}
		}
		if f.opensearch != nil {
			if st.OpenSearch != nil {
				note("OpenSearch runs on %s and on %s: only %s is imported", st.OpenSearch.Instance, inst, st.OpenSearch.Instance)
			} else {
				st.OpenSearch = f.opensearch
			}
		}
	}
	// A route to an app of the stack (its instance's private address and
	// a port it publishes) is a route to the app.
	if st.Kong != nil {
		for name, r := range st.Kong.Routes {
			app := appAt(st, privateIP, r.UpstreamURL)
			// A route to an app's upstream (app-NAME) is a route to it.
			if name, ok := strings.CutPrefix(r.UpstreamURL, "http://app-"); ok && st.Apps[name].Image != "" {
				app = name
			}
			if app != "" {
				r.App, r.UpstreamURL = app, ""
				st.Kong.Routes[name] = r
			}
		}
	}
	for _, repo := range in.Repos {
		if s.deps.GitHub == nil {
			note("GitHub is not configured: the secrets of %s are not imported", repo)
			continue
		}
		list, err := s.listSecrets(ctx, &listSecretsInput{RepoName: repo})
		if err != nil {
			return nil, err
		}
		r := stack.Repository{Secrets: map[string]string{}}
		for _, sc := range list.Body.Secrets {
			v := vaultNameFor(repo, sc.Name)
			r.Secrets[sc.Name] = v
			out.VaultNames = append(out.VaultNames, v)
		}
		if st.GitHub == nil {
			st.GitHub = &stack.GitHub{Repositories: map[string]stack.Repository{}}
		}
		st.GitHub.Repositories[repo] = r
	}
	if len(st.Instances) == 0 {
		st.Instances = nil
	}
	header := []string{"fountain.yml: made by fountain import from what exists in " + region + ".",
		"Apps are imported as their last deploy asked (secret env by vault name: set each before planning)."}
	if len(out.VaultNames) > 0 {
		header = append(header, "GitHub never returns secret values: set each vault secret this file names before planning:",
			"  fountain vault set NAME   (the value from stdin) for "+strings.Join(out.VaultNames, ", "))
	}
	text, err := st.YAML(header...)
	if err != nil {
		return nil, err
	}
	out.Stack = string(text)
	sort.Strings(out.Notes)
	return &stackImportOutput{Body: out}, nil
}

// sameApp reports whether two instances run one app alike (what was
// asked, the instances aside).
func sameApp(a, b stack.App) bool {
	a.Instances, b.Instances = nil, nil
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// appAt finds the app of the stack that answers at upstream: an http URL
// whose host is an app instance's private address and whose port the app
// publishes there.
func appAt(st *stack.Stack, privateIP map[string]string, upstream string) string {
	u, err := url.Parse(upstream)
	if err != nil || u.Scheme != "http" || (u.Path != "" && u.Path != "/") {
		return ""
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return ""
	}
	for name, a := range st.Apps {
		if len(a.Instances) != 1 || privateIP[a.Instances[0]] != host {
			continue
		}
		for _, p := range a.Ports {
			parts := strings.Split(strings.Split(p, "/")[0], ":")
			if len(parts) >= 2 && parts[len(parts)-2] == port {
				return name
			}
		}
	}
	return ""
}

// vaultNameFor names the vault secret of a repository's GitHub secret,
// or of an app's secret env variable (owner is the app's name then).
func vaultNameFor(owner, name string) string {
	base := strings.ToLower(owner + "-" + name)
	if r, err := github.ParseRepo("", owner); err == nil {
		base = strings.ToLower(r.Name + "-" + name)
	}
	base = strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' {
			return c
		}
		return '-'
	}, base)
	base = strings.TrimLeft(base, "-_.")
	if len(base) > 64 {
		base = base[:64]
	}
	return base
}

func (s *Server) stackImportRoute() {
	register(s, huma.Operation{OperationID: "import-stack", Method: http.MethodGet, Path: "/stack/import", Tags: []string{"Stack"},
		Summary: "Import a stack file from what exists",
		Description: "Reads the region's instances and load balancers, the apps, Kong and its routes, and OpenSearch found on its running instances (over SSH), and the Actions secrets of the " +
			"repositories named, into a stack file (fountain.yml) whose plan is empty once the vault holds the secrets it names. Changes nothing."}, s.stackImport)
}
