package console

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// action is a change the console offers: which API route it calls, and
// how a form becomes that route's request. The console only translates the
// form; the API decides whether the request is valid.
type action struct {
	Name   string // in the URL: /ui/plan/NAME
	Title  string // what it does, for people
	Method string
	Route  string // the route's path as the OpenAPI document names it
	// DryRunQuery: the route takes dry_run in its query (not its body).
	DryRunQuery bool
	// Confirm names the form field whose value must be typed to confirm
	// (a destructive change); "" for none.
	Confirm string
	build   func(f url.Values) (*request, error)
}

// request is an API request built from a form.
type request struct {
	Path  string
	Query url.Values
	Body  map[string]any // nil: no body
	// Secret names the body fields whose values are never shown (a secret
	// value; secret_env's values).
	Secret []string
	// Back is the page the form came from.
	Back string
	// Resource is what the change acts on, for people (and to be typed
	// for a destructive change).
	Resource string
}

// formError is a form that cannot become a request (a line of env that is
// not NAME=value, say): the API never sees it.
type formError struct{ field, msg string }

func (e *formError) Error() string { return e.field + ": " + e.msg }

// host is the part of a request that names a Lightsail instance.
func host(f url.Values) map[string]any {
	b := map[string]any{"instance_name": f.Get("instance_name")}
	if r := f.Get("region"); r != "" {
		b["region"] = r
	}
	return b
}

// instanceBack is an instance's page.
func instanceBack(f url.Values, rest string) string {
	u := Prefix + "instances/" + url.PathEscape(f.Get("instance_name")) + rest
	if r := f.Get("region"); r != "" {
		u += "?region=" + url.QueryEscape(r)
	}
	return u
}

// number is a form value as a JSON number when it is one; anything else
// is sent as typed, for the API to refuse by its own rule.
func number(v string) any {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return n
	}
	return strings.TrimSpace(v)
}

// list splits a field on commas, spaces and new lines.
func list(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// lines splits a field into its non-empty lines.
func lines(v string) []string {
	var out []string
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// setIf puts a non-empty value in the body.
func setIf(b map[string]any, key, v string) {
	if v = strings.TrimSpace(v); v != "" {
		b[key] = v
	}
}

// secretRows is how many secret environment variables the deploy form
// takes.
const secretRows = 4

func actionTable() map[string]*action {
	lifecycle := func(verb, title, confirm string) *action {
		return &action{Name: verb + "-instance", Title: title, Method: http.MethodPost, Route: "/aws/lightsail/" + verb + "-instance", Confirm: confirm,
			build: func(f url.Values) (*request, error) {
				b := host(f)
				b["wait"] = true
				back := instanceBack(f, "")
				if verb == "delete" {
					back = Prefix
				}
				return &request{Body: b, Back: back, Resource: f.Get("instance_name")}, nil
			}}
	}
	appAction := func(name, title, route, confirm string) *action {
		return &action{Name: name, Title: title, Method: http.MethodPost, Route: route, Confirm: confirm,
			build: func(f url.Values) (*request, error) {
				b := host(f)
				b["container_name"] = f.Get("container_name")
				return &request{Body: b, Back: instanceBack(f, "/apps/"+url.PathEscape(f.Get("container_name"))), Resource: f.Get("container_name")}, nil
			}}
	}
	acts := []*action{
		{Name: "create-instance", Title: "Create an instance", Method: http.MethodPost, Route: "/aws/lightsail/create-instance",
			build: func(f url.Values) (*request, error) {
				b := map[string]any{"instance_name": f.Get("instance_name"), "blueprint_id": f.Get("blueprint_id"),
					"bundle_id": f.Get("bundle_id"), "availability_zone": f.Get("availability_zone"), "wait": true}
				setIf(b, "region", f.Get("region"))
				if f.Get("static_ip") != "" {
					b["static_ip"] = true
				}
				return &request{Body: b, Back: Prefix + "instances/new", Resource: f.Get("instance_name")}, nil
			}},
		lifecycle("start", "Start the instance", ""),
		lifecycle("stop", "Stop the instance", ""),
		lifecycle("reboot", "Reboot the instance", ""),
		lifecycle("delete", "Delete the instance and its disk", "instance_name"),
		{Name: "attach-static-ip", Title: "Attach a static IP", Method: http.MethodPost, Route: "/aws/lightsail/attach-static-ip",
			build: func(f url.Values) (*request, error) {
				b := host(f)
				setIf(b, "static_ip_name", f.Get("static_ip_name"))
				return &request{Body: b, Back: instanceBack(f, ""), Resource: f.Get("instance_name")}, nil
			}},
		ports("open"), ports("close"),
		{Name: "deploy-app", Title: "Deploy an app", Method: http.MethodPost, Route: "/services/deploy-docker-app", build: deployAppRequest},
		appAction("rollback-app", "Roll the app back to its previous version", "/services/rollback-docker-app", ""),
		appAction("remove-app", "Remove the app", "/services/remove-docker-app", "container_name"),
		{Name: "deploy-opensearch", Title: "Deploy OpenSearch", Method: http.MethodPost, Route: "/services/deploy-opensearch",
			build: func(f url.Values) (*request, error) {
				b := host(f)
				setIf(b, "version", f.Get("version"))
				if v := strings.TrimSpace(f.Get("heap_mb")); v != "" {
					b["heap_mb"] = number(v)
				}
				if f.Get("force") != "" {
					b["force"] = true
				}
				return &request{Body: b, Back: instanceBack(f, "/opensearch"), Resource: f.Get("instance_name")}, nil
			}},
		{Name: "deploy-kong", Title: "Deploy Kong Gateway", Method: http.MethodPost, Route: "/services/deploy-kong",
			build: func(f url.Values) (*request, error) {
				b := host(f)
				if f.Get("force") != "" {
					b["force"] = true
				}
				return kongRequest(b, f, f.Get("instance_name")), nil
			}},
		{Name: "add-route", Title: "Add a Kong route", Method: http.MethodPost, Route: "/services/kong/routes", build: addRouteRequest},
		{Name: "remove-route", Title: "Remove a Kong route", Method: http.MethodDelete, Route: "/services/kong/routes/{name}",
			DryRunQuery: true, Confirm: "name",
			build: func(f url.Values) (*request, error) {
				q := url.Values{"instance_name": {f.Get("instance_name")}}
				if r := f.Get("region"); r != "" {
					q.Set("region", r)
				}
				if g := gatewayOf(f); g != nil {
					q = g.query(q)
				}
				return &request{Path: "/services/kong/routes/" + url.PathEscape(f.Get("name")), Query: q,
					Back: gatewayBack(instanceBack(f, "/kong"), f), Resource: f.Get("name")}, nil
			}},
		{Name: "rollback-kong", Title: "Roll Kong's config back", Method: http.MethodPost, Route: "/services/kong/config/rollback",
			build: func(f url.Values) (*request, error) {
				b := host(f)
				b["version"] = number(f.Get("version"))
				return kongRequest(b, f, "version "+f.Get("version")), nil
			}},
		{Name: "set-secret", Title: "Set an Actions secret", Method: http.MethodPost, Route: "/github/add-secret",
			build: func(f url.Values) (*request, error) {
				b := map[string]any{"repo_name": f.Get("repo_name"), "secret_name": f.Get("secret_name"), "secret_value": f.Get("secret_value")}
				setIf(b, "environment", f.Get("environment"))
				if f.Get("force") != "" {
					b["force"] = true
				}
				return &request{Body: b, Secret: []string{"secret_value"}, Back: gitHubBack(f), Resource: f.Get("secret_name")}, nil
			}},
		{Name: "delete-secret", Title: "Delete an Actions secret", Method: http.MethodPost, Route: "/github/delete-secret", Confirm: "secret_name",
			build: func(f url.Values) (*request, error) {
				b := map[string]any{"repo_name": f.Get("repo_name"), "secret_name": f.Get("secret_name")}
				setIf(b, "environment", f.Get("environment"))
				return &request{Body: b, Back: gitHubBack(f), Resource: f.Get("secret_name")}, nil
			}},
	}
	acts = append(acts, lbActions()...)
	acts = append(acts, snapshotActions()...)
	m := map[string]*action{}
	for _, a := range acts {
		m[a.Name] = a
	}
	return m
}

func ports(verb string) *action {
	return &action{Name: verb + "-ports", Title: strings.ToUpper(verb[:1]) + verb[1:] + " public ports", Method: http.MethodPost,
		Route: "/aws/lightsail/" + verb + "-ports",
		build: func(f url.Values) (*request, error) {
			b := host(f)
			b["from_port"] = number(f.Get("from_port"))
			if v := strings.TrimSpace(f.Get("to_port")); v != "" {
				b["to_port"] = number(v)
			}
			setIf(b, "protocol", f.Get("protocol"))
			if c := list(f.Get("cidrs")); len(c) > 0 {
				b["cidrs"] = c
			}
			return &request{Body: b, Back: instanceBack(f, ""), Resource: f.Get("instance_name")}, nil
		}}
}

func gitHubBack(f url.Values) string {
	q := url.Values{"repo": {f.Get("repo_name")}}
	if e := f.Get("environment"); e != "" {
		q.Set("environment", e)
	}
	return Prefix + "github?" + q.Encode()
}

// deployAppRequest is deploy-docker-app's request from the deploy form.
func deployAppRequest(f url.Values) (*request, error) {
	b := host(f)
	b["docker_image"] = strings.TrimSpace(f.Get("docker_image"))
	setIf(b, "container_name", f.Get("container_name"))
	switch {
	case f.Get("no_ports") != "":
		b["ports"] = []string{}
	case len(list(f.Get("ports"))) > 0:
		b["ports"] = list(f.Get("ports"))
	}
	if env := lines(f.Get("env")); len(env) > 0 {
		m := map[string]string{}
		for _, l := range env {
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				return nil, &formError{"env", fmt.Sprintf("%q is not NAME=value", l)}
			}
			m[strings.TrimSpace(k)] = v
		}
		b["env"] = m
	}
	secrets := map[string]string{}
	for i := 1; i <= secretRows; i++ {
		k, v := strings.TrimSpace(f.Get(fmt.Sprintf("secret_name_%d", i))), f.Get(fmt.Sprintf("secret_value_%d", i))
		switch {
		case k == "" && v == "":
		case k == "":
			return nil, &formError{"secret_env", "a secret value has no name"}
		default:
			secrets[k] = v
		}
	}
	if len(secrets) > 0 {
		b["secret_env"] = secrets
	}
	if v := list(f.Get("volumes")); len(v) > 0 {
		b["volumes"] = v
	}
	setIf(b, "restart_policy", f.Get("restart_policy"))
	if p := strings.TrimSpace(f.Get("health_port")); p != "" {
		hc := map[string]any{"port": number(p)}
		setIf(hc, "path", f.Get("health_path"))
		b["health_check"] = hc
	}
	name := f.Get("container_name")
	if name == "" {
		name = b["docker_image"].(string)
	}
	back := instanceBack(f, "/deploy")
	return &request{Body: b, Secret: []string{"secret_env"}, Back: back, Resource: name}, nil
}

// addRouteRequest is add-kong-route's request from the route form: to an
// app Fountain deployed (by container, on the gateway's instance or
// another), or to an upstream URL.
func addRouteRequest(f url.Values) (*request, error) {
	b := host(f)
	b["name"] = strings.TrimSpace(f.Get("name"))
	if c := strings.TrimSpace(f.Get("app_container")); c != "" {
		app := map[string]any{"container_name": c}
		setIf(app, "instance_name", f.Get("app_instance"))
		b["app"] = app
	}
	setIf(b, "upstream_url", f.Get("upstream_url"))
	if p := list(f.Get("paths")); len(p) > 0 {
		b["paths"] = p
	}
	if h := list(f.Get("hosts")); len(h) > 0 {
		b["hosts"] = h
	}
	switch f.Get("strip_path") {
	case "yes":
		b["strip_path"] = true
	case "no":
		b["strip_path"] = false
	}
	return kongRequest(b, f, b["name"].(string)), nil
}

// kongRequest is a Kong change's request: on the form's instance, or on
// every node of the gateway it names; back to the Kong page it came from.
func kongRequest(b map[string]any, f url.Values, resource string) *request {
	if gatewayBody(b, f) && resource == f.Get("instance_name") {
		resource = "gateway " + f.Get("gateway") + " (" + strings.Join(list(f.Get("instance_names")), ", ") + ")"
	}
	return &request{Body: b, Back: gatewayBack(instanceBack(f, "/kong"), f), Resource: resource}
}

// shown is a request's body as the plan shows it: secret values replaced
// by their length.
func (q *request) shown() map[string]any {
	out := make(map[string]any, len(q.Body))
	for k, v := range q.Body {
		out[k] = v
	}
	for _, k := range q.Secret {
		switch v := out[k].(type) {
		case string:
			out[k] = fmt.Sprintf("(hidden: %d characters)", len(v))
		case map[string]string:
			m := map[string]string{}
			for name, val := range v {
				m[name] = fmt.Sprintf("(hidden: %d characters)", len(val))
			}
			out[k] = m
		}
	}
	return out
}

// keys is a map's keys, sorted.
func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
