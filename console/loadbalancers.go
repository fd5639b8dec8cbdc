package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// The load balancer pages: the region's load balancers with their
// instances' health and cost, and one load balancer with its actions
// (attach or detach an instance, the health check path, delete), each
// through the API's own route, plan -> confirm -> apply.

// loadBalancer is a Lightsail load balancer (GET
// /aws/lightsail/load-balancers).
type loadBalancer struct {
	Name            string       `json:"load_balancer_name"`
	Region          string       `json:"region"`
	State           string       `json:"state"`
	DNSName         string       `json:"dns_name"`
	URL             string       `json:"url"`
	Protocol        string       `json:"protocol"`
	PublicPorts     []int        `json:"public_ports"`
	InstancePort    int          `json:"instance_port"`
	HealthCheckPath string       `json:"health_check_path"`
	Instances       []lbInstance `json:"instances"`
	Certificates    []lbCert     `json:"certificates"`
	CreatedAt       *time.Time   `json:"created_at"`
	PriceMonthly    float64      `json:"price_monthly_usd"`
}

type lbInstance struct {
	Name   string `json:"instance_name"`
	Health string `json:"health"`
	Reason string `json:"reason"`
}

type lbCert struct {
	Name              string     `json:"certificate_name"`
	DomainName        string     `json:"domain_name"`
	AlternativeNames  []string   `json:"alternative_names"`
	Status            string     `json:"status"`
	Attached          bool       `json:"attached"`
	ValidationRecords []lbRecord `json:"validation_records"`
}

type lbRecord struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Value  string `json:"value"`
	Status string `json:"status"`
}

type loadBalancerList struct {
	Region        string         `json:"region"`
	LoadBalancers []loadBalancer `json:"load_balancers"`
}

type loadBalancersView struct {
	Region string
	List   []loadBalancer
	Err    *problem
	Total  float64
}

// loadBalancersPage: the region's load balancers, their instances'
// health and what they cost.
func (c *Console) loadBalancersPage(w http.ResponseWriter, r *http.Request, s *session) {
	rg := region(r)
	v := &loadBalancersView{Region: rg}
	var l loadBalancerList
	v.Err = asProblem(c.api.get(r.Context(), "/aws/lightsail/load-balancers", regionQuery(rg), &l))
	v.List = l.LoadBalancers
	if v.Region == "" {
		v.Region = l.Region
	}
	for _, lb := range v.List {
		v.Total += lb.PriceMonthly
	}
	c.render(w, r, http.StatusOK, "load_balancers", &page{Title: "Load balancers", Nav: "load-balancers", Data: v})
}

type loadBalancerView struct {
	Region string
	LB     *loadBalancer
	Err    *problem
	// Attachable are the region's instances not attached to it.
	Attachable []string
	Ops        []operation
	CSRF       string
}

// loadBalancerPage: one load balancer, its instances with their health,
// its certificates, its actions and its recent operations.
func (c *Console) loadBalancerPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, name, rg := r.Context(), r.PathValue("name"), region(r)
	v := &loadBalancerView{Region: rg, CSRF: s.csrf}
	var lb loadBalancer
	if err := c.api.get(ctx, "/aws/lightsail/load-balancers/"+url.PathEscape(name), regionQuery(rg), &lb); err != nil {
		v.Err = asProblem(err)
		c.render(w, r, v.Err.Status, "load_balancer", &page{Title: name, Nav: "load-balancers", Data: v})
		return
	}
	v.LB = &lb
	if v.Region == "" {
		v.Region = lb.Region
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		var l instanceList
		if c.api.get(ctx, "/aws/lightsail/instances", regionQuery(lb.Region), &l) != nil {
			return
		}
		for _, in := range l.Instances {
			if !slices.ContainsFunc(lb.Instances, func(a lbInstance) bool { return a.Name == in.Name }) {
				v.Attachable = append(v.Attachable, in.Name)
			}
		}
	}()
	go func() {
		defer wg.Done()
		var ops operationList
		_ = c.api.get(ctx, "/operations", url.Values{"target": {lb.Region + "/" + lb.Name}, "limit": {"10"}}, &ops)
		v.Ops = ops.Operations
	}()
	wg.Wait()
	c.render(w, r, http.StatusOK, "load_balancer", &page{Title: lb.Name, Nav: "load-balancers", Data: v})
}

// lbBack is a load balancer's page.
func lbBack(f url.Values) string {
	u := Prefix + "load-balancers/" + url.PathEscape(f.Get("load_balancer_name"))
	if r := f.Get("region"); r != "" {
		u += "?region=" + url.QueryEscape(r)
	}
	return u
}

// lbBody is the part of a request that names a load balancer.
func lbBody(f url.Values) map[string]any {
	b := map[string]any{"load_balancer_name": f.Get("load_balancer_name")}
	setIf(b, "region", f.Get("region"))
	return b
}

// lbActions are the changes the load balancer pages offer.
func lbActions() []*action {
	instances := func(verb, title, route string) *action {
		return &action{Name: verb + "-lb-instance", Title: title, Method: http.MethodPost, Route: route,
			build: func(f url.Values) (*request, error) {
				b := lbBody(f)
				names := list(f.Get("instance_name"))
				if len(names) == 0 {
					return nil, &formError{"instance_names", "choose an instance"}
				}
				b["instance_names"] = names
				return &request{Body: b, Back: lbBack(f), Resource: f.Get("load_balancer_name") + ": " + strings.Join(names, ", ")}, nil
			}}
	}
	return []*action{
		instances("attach", "Attach an instance to the load balancer", "/aws/lightsail/attach-instances-to-load-balancer"),
		instances("detach", "Detach an instance from the load balancer", "/aws/lightsail/detach-instances-from-load-balancer"),
		{Name: "update-lb-health", Title: "Change the load balancer's health check path", Method: http.MethodPost, Route: "/aws/lightsail/update-load-balancer",
			build: func(f url.Values) (*request, error) {
				b := lbBody(f)
				b["health_check_path"] = strings.TrimSpace(f.Get("health_check_path"))
				return &request{Body: b, Back: lbBack(f), Resource: f.Get("load_balancer_name")}, nil
			}},
		{Name: "delete-load-balancer", Title: "Delete the load balancer", Method: http.MethodPost, Route: "/aws/lightsail/delete-load-balancer",
			Confirm: "load_balancer_name",
			build: func(f url.Values) (*request, error) {
				back := Prefix + "load-balancers"
				if r := f.Get("region"); r != "" {
					back += "?region=" + url.QueryEscape(r)
				}
				return &request{Body: lbBody(f), Back: back, Resource: f.Get("load_balancer_name")}, nil
			}},
	}
}
