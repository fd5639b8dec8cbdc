package stack

import (
	"reflect"
	"testing"
)

func TestLoadBalancerParses(t *testing.T) {
	text := base + `load_balancers:
  web-lb: {instance_port: 80, health_check_path: /healthz, instances: [web-1, app-1]}
  bare-lb: {instance_port: 8080}
remove:
  load_balancers: [old-lb]
`
	s, err := Parse("", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]LoadBalancer{
		"web-lb":  {InstancePort: 80, HealthCheckPath: "/healthz", Instances: []string{"web-1", "app-1"}},
		"bare-lb": {InstancePort: 8080},
	}
	if !reflect.DeepEqual(s.LoadBalancers, want) {
		t.Errorf("load balancers: %+v", s.LoadBalancers)
	}
	if !reflect.DeepEqual(s.Remove.LoadBalancers, []string{"old-lb"}) {
		t.Errorf("remove: %v", s.Remove.LoadBalancers)
	}
	// It renders back as itself (fountain import writes it so).
	out, err := s.YAML()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse("", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !reflect.DeepEqual(again.LoadBalancers, s.LoadBalancers) {
		t.Errorf("rendered:\n%s", out)
	}
}

func TestLoadBalancerErrors(t *testing.T) {
	for _, c := range []struct {
		name, lbs, want string
	}{
		{"name", "  web_: {instance_port: 80}", `fountain.yml:18:3: load_balancers.web_: "web_" is not a valid resource name: it must be 2 to 255 characters, start with a letter or digit, contain only letters, digits, '_', '.' and '-', and not end with '_', '.' or '-'`},
		{"port too high", "  web-lb: {instance_port: 70000}", `fountain.yml:18:27: load_balancers.web-lb.instance_port: is 70000; at most 65535`},
		{"port zero", "  web-lb: {instance_port: 0}", `fountain.yml:18:27: load_balancers.web-lb.instance_port: is 0; at least 1`},
		{"port missing", "  web-lb: {instances: [web-1]}", `fountain.yml:18:11: load_balancers.web-lb.instance_port: is required`},
		{"path", "  web-lb: {instance_port: 80, health_check_path: healthz}", `fountain.yml:18:50: load_balancers.web-lb.health_check_path: "healthz" must start with / and have no spaces, e.g. /healthz`},
		{"instances", "  web-lb: {instance_port: 80, instances: [web-1, web-9, web-1]}", `fountain.yml:18:50: load_balancers.web-lb.instances[1]: names instance "web-9", which the file does not declare (instances: app-1, web-1)` + "\n" +
			`fountain.yml:18:57: load_balancers.web-lb.instances[2]: "web-1" is given twice (also instances[0])`},
		{"too many instances", "  web-lb: {instance_port: 80, instances: [a1, a2, a3, a4, a5, a6, a7, a8, a9, b1, b2]}", `fountain.yml:18:42: load_balancers.web-lb.instances: has 11 items; at most 10`},
		{"unknown key", "  web-lb: {instance_port: 80, health_check_pth: /}", `fountain.yml:18:31: load_balancers.web-lb.health_check_pth: unknown key; did you mean "health_check_path"?`},
		{"removed and declared", "  web-lb: {instance_port: 80}\nremove: {load_balancers: [web-lb, x]}", `fountain.yml:19:27: remove.load_balancers[0]: load balancer web-lb is declared in load_balancers: it cannot also be removed` + "\n" +
			`fountain.yml:19:35: remove.load_balancers[1]: "x" is not a valid resource name: it must be 2 to 255 characters, start with a letter or digit, contain only letters, digits, '_', '.' and '-', and not end with '_', '.' or '-'`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("", []byte(base+"load_balancers:\n"+c.lbs+"\n"))
			if err == nil || err.Error() != c.want {
				t.Errorf("got\n%v\nwant\n%s", err, c.want)
			}
		})
	}
}

// A stack built in Go (not parsed) is checked by Validate alone.
func TestLoadBalancerValidateInGo(t *testing.T) {
	s := &Stack{Version: Version, Region: "eu-central-1", Instances: map[string]Instance{
		"web-1": {Bundle: "nano_3_0", Blueprint: "ubuntu_24_04", Zone: "eu-central-1a"}},
		LoadBalancers: map[string]LoadBalancer{"web-lb": {InstancePort: 0, Instances: []string{"web-1"}}}}
	err := s.Validate()
	if want := "fountain.yml: load_balancers.web-lb.instance_port: 0 is not a port (1-65535)"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
