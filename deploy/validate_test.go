package deploy

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/fountainai/fountain"
)

func fieldOf(err error) string {
	if fe, ok := err.(*fountain.Error); ok && fe.Code == fountain.EINVALID {
		return fe.Field
	}
	return ""
}

// Loopback is a host only in sandbox mode; link-local, multicast,
// unspecified and broadcast addresses never are, in any spelling
// (IPv4-mapped included).
func TestAddressPolicy(t *testing.T) {
	for _, c := range []struct {
		addr             string
		sandbox, outside bool // allowed in sandbox mode, outside it
	}{
		{"203.0.113.7", true, true},
		{"10.0.0.5", true, true},
		{"172.18.0.2", true, true},
		{"2001:db8::1", true, true},
		{"127.0.0.1", true, false},
		{"127.0.0.3", true, false},
		{"::1", true, false},
		{"::ffff:127.0.0.1", true, false},
		{"169.254.169.254", false, false},
		{"::ffff:169.254.169.254", false, false},
		{"fe80::1", false, false},
		{"0.0.0.0", false, false},
		{"::", false, false},
		{"::ffff:0.0.0.0", false, false},
		{"0.1.2.3", false, false},
		{"224.0.0.1", false, false},
		{"ff02::1", false, false},
		{"255.255.255.255", false, false},
	} {
		a := netip.MustParseAddr(c.addr)
		for _, p := range []struct {
			policy  Policy
			allowed bool
		}{{Policy{Sandbox: true}, c.sandbox}, {Policy{}, c.outside}} {
			in := HostInput{InstanceIP: c.addr}
			err := in.Validate()
			if err == nil {
				err = in.Admit(p.policy)
			}
			if (err == nil) != p.allowed || err != nil && fieldOf(err) != "instance_ip" {
				t.Errorf("%s (sandbox %v): err = %v, want allowed %v", c.addr, p.policy.Sandbox, err, p.allowed)
			}
			if (p.policy.CheckAddr("f", c.addr, a) == nil) != p.allowed {
				t.Errorf("%s (sandbox %v): CheckAddr disagrees", c.addr, p.policy.Sandbox)
			}
		}
	}
	in := HostInput{InstanceIP: "::ffff:10.0.0.5"}
	if err := in.Validate(); err != nil || in.InstanceIP != "10.0.0.5" {
		t.Errorf("mapped address: %q %v", in.InstanceIP, err)
	}
	route := KongRouteInput{HostInput: HostInput{InstanceIP: "10.0.0.5"}, App: &AppRef{ContainerName: "my-app", InstanceIP: "127.0.0.1"}}
	if err := route.Admit(Policy{}); fieldOf(err) != "app.instance_ip" {
		t.Errorf("kong route app: %v", err)
	}
	if err := route.Admit(Policy{Sandbox: true}); err != nil {
		t.Errorf("kong route app in sandbox mode: %v", err)
	}
}

// The host's system paths, what is under them and what contains them,
// are refused as binds after textual cleaning, unless allowed; named
// volumes and an app's own directories are not.
func TestHostBinds(t *testing.T) {
	refused := []string{"/", "//", "/.", "/etc", "/etc/", "/etc//passwd", "/srv/../etc", "/etc/kong", "/root", "/root/.ssh",
		"/boot", "/proc", "/proc/1/root", "/sys", "/sys/fs/cgroup", "/dev", "/dev/sda", "/run", "/run/docker.sock", "/var/run",
		"/var/run/docker.sock", "/var/lib/docker", "/var/lib/docker/volumes", "/var/lib", "/var", "/home", "/home/ubuntu",
		"/home/ubuntu/.ssh", "/home/ubuntu/.ssh/authorized_keys", "/etc/ssh", "/run/user/1000"}
	allowed := []string{"/srv/app", "/srv", "/opt/data", "/home/ubuntu/app", "/var/lib/app", "/var/log/app", "/data", "/mnt/x",
		"/etcetera", "/rooted", "/home/ubuntu/.sshx", "/var/runner"}
	for _, p := range refused {
		if why := hostPathProblem(p); why == "" {
			t.Errorf("%s: not refused", p)
		}
		in := DockerAppInput{HostInput: HostInput{InstanceIP: "10.0.0.5"}, DockerImage: "ghcr.io/u/r/a:1", Volumes: []string{p + ":/host"}}
		if err := in.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", p, err)
			continue
		}
		err := in.Admit(Policy{})
		if fieldOf(err) != "volumes" || !strings.Contains(err.Error(), "--allow-host-binds") {
			t.Errorf("%s: Admit: %v", p, err)
		}
		if err := in.Admit(Policy{AllowHostBinds: true}); err != nil {
			t.Errorf("%s: allowed by the server: %v", p, err)
		}
	}
	for _, p := range allowed {
		if why := hostPathProblem(p); why != "" {
			t.Errorf("%s: refused: %s", p, why)
		}
	}
	named := DockerAppInput{HostInput: HostInput{InstanceIP: "10.0.0.5"}, DockerImage: "ghcr.io/u/r/a:1", Volumes: []string{"data:/var/lib/app", "etc:/etc/app"}}
	if err := named.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := named.Admit(Policy{}); err != nil {
		t.Errorf("named volumes: %v", err)
	}
	// Fountain's own Kong binds /etc/kong: built internally, never admitted
	// as a user's request, it stays valid.
	kong := KongInput{HostInput: HostInput{InstanceIP: "10.0.0.5"}}
	if err := kong.Validate(); err != nil {
		t.Fatal(err)
	}
	app := kong.kongApp("172.19.0.1")
	if err := app.Validate(); err != nil {
		t.Errorf("Kong's app: %v", err)
	}
	if got := app.Volumes; len(got) != 1 || got[0] != "/etc/kong:/kong:ro" {
		t.Errorf("Kong's volumes: %v", got)
	}
}

func TestParsePortsByDockersRule(t *testing.T) {
	for in, want := range map[string]string{
		"8080:80":              "8080:80/tcp",
		"8080:80/udp":          "8080:80/udp",
		"8080:80/sctp":         "8080:80/sctp",
		"8080:80/TCP":          "8080:80/tcp",
		"127.0.0.1:8001:8001":  "127.0.0.1:8001:8001/tcp",
		"[::1]:80:80":          "::1:80:80/tcp",
		"::1:80:80":            "::1:80:80/tcp",
		"0.0.0.0:80:80":        "0.0.0.0:80:80/tcp",
		"8000-8002:9000-9002":  "8000:9000/tcp 8001:9001/tcp 8002:9002/tcp",
		"65535:1":              "65535:1/tcp",
		"8000-8000:80":         "8000:80/tcp",
		"[::ffff:1.2.3.4]:1:2": "1.2.3.4:1:2/tcp",
	} {
		ps, err := ParsePorts(in)
		var got []string
		for _, p := range ps {
			got = append(got, p.String())
		}
		if err != nil || strings.Join(got, " ") != want {
			t.Errorf("ParsePorts(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "80", ":80", "0:80", "80:0", "65536:80", "8080:80/icmp", "8000-8002:80", "8000-8001:9000-9002",
		"8002-8000:80", "x:80", "1.2.3:80:80", "fe80::1%eth0:80:80", "80:80:80:80", "-1:80", "8080 :80"} {
		if ps, err := ParsePorts(in); err == nil {
			t.Errorf("ParsePorts(%q) = %v, want an error", in, ps)
		}
	}
	for specs, ok := range map[string]bool{
		"8080:80 8081:80":                         true,
		"8080:80 8080:81":                         false,
		"8080:80 8080:80/udp":                     true,
		"127.0.0.1:8080:80 127.0.0.2:8080:80":     true,
		"127.0.0.1:8080:80 8080:81":               false,
		"0.0.0.0:8080:80 127.0.0.1:8080:81":       false,
		"1-1024:1-1024":                           true,
		"1-1024:1-1024 2000-2001:2000-2001":       false, // over 1024 ports
		"8000-8002:9000-9002 8002:80":             false,
		"[::1]:8080:80 ::1:8080:81":               false,
		"[::]:8080:80 127.0.0.1:8080:81":          false,
		"127.0.0.1:53:53/udp 127.0.0.1:53:53/tcp": true,
	} {
		if err := checkPorts(strings.Fields(specs)); (err == nil) != ok || err != nil && fieldOf(err) != "ports" {
			t.Errorf("checkPorts(%s) = %v, want ok %v", specs, err, ok)
		}
	}
}

func TestParseVolumeByDockersRule(t *testing.T) {
	for in, want := range map[string]string{
		"data:/data":           "data:/data",
		"data:/data:rw":        "data:/data",
		"data:/data:ro":        "data:/data:ro",
		"data:/data:":          "data:/data",
		"data:/data:nocopy":    "data:/data:nocopy",
		"data:/data:ro,nocopy": "data:/data:ro,nocopy",
		"/srv/x:/x:rshared":    "/srv/x:/x:rshared",
		"/srv/x:/x:z,ro":       "/srv/x:/x:ro,z",
		"/srv//x/:/x/./y/":     "/srv/x:/x/y",
		"/srv/../opt/x:/x":     "/opt/x:/x",
		"a.b_c-d:/x":           "a.b_c-d:/x",
		"ab:/x:cached":         "ab:/x:cached",
	} {
		v, err := ParseVolume(in)
		if err != nil || v.Bind() != want {
			t.Errorf("ParseVolume(%q) = %q, %v; want %q", in, v.Bind(), err, want)
		}
	}
	for _, in := range []string{"/data", "a:/data", "data", "data:relative", "data:/", "data:/x/..", "/srv:/", "data:/x:rx",
		"data:/x:ro,rw", "data:/x:z,Z", "data:/x:rshared", "/srv:/x:nocopy", "data:/x:ro,", "_data:/x", "-d:/x", "$(id):/x",
		"da ta:/x", "data:/x:ro:extra", ":/x", "/srv/a\\b:/x", "data:/x\\", "data:/x\ny"} {
		if v, err := ParseVolume(in); err == nil {
			t.Errorf("ParseVolume(%q) = %+v, want an error", in, v)
		}
	}
	in := DockerAppInput{HostInput: HostInput{InstanceIP: "10.0.0.5"}, DockerImage: "ghcr.io/u/r/a:1", Volumes: []string{"a1:/data", "/srv/x:/data/"}}
	if err := in.Validate(); fieldOf(err) != "volumes" || !strings.Contains(err.Error(), "mounted twice") {
		t.Errorf("duplicate mount point: %v", err)
	}
}

func TestContainerNamesByDockersRule(t *testing.T) {
	for _, name := range []string{"ab", "a1", "my-app", "My_App.2", strings.Repeat("a", 128)} {
		if !validAppName(name) {
			t.Errorf("%q refused", name)
		}
	}
	for _, name := range []string{"", "f", "-a", ".a", "_a", "a b", "a/b", "/ab", "app.previous", "app.old", "app.rollback", strings.Repeat("a", 129), "é1"} {
		if validAppName(name) {
			t.Errorf("%q accepted", name)
		}
	}
	// A default name from a one-letter image is still a Docker name.
	in := DockerAppInput{HostInput: HostInput{InstanceIP: "10.0.0.5"}, DockerImage: "ghcr.io/u/f:1"}
	if err := in.Validate(); err != nil || in.ContainerName != "f-app" {
		t.Errorf("default name %q, %v", in.ContainerName, err)
	}
	in = DockerAppInput{HostInput: HostInput{InstanceIP: "10.0.0.5"}, DockerImage: "ghcr.io/u/r/a:1", ContainerName: "f"}
	if err := in.Validate(); fieldOf(err) != "container_name" {
		t.Errorf("container_name f: %v", err)
	}
}

func TestRestartPolicies(t *testing.T) {
	for in, want := range map[string]string{"no": "no", "always": "always", "unless-stopped": "unless-stopped",
		"on-failure": "on-failure", "on-failure:3": "on-failure:3", "on-failure:0": "on-failure", "on-failure:007": "on-failure:7"} {
		rp, err := ParseRestartPolicy(in)
		if err != nil || rp.String() != want {
			t.Errorf("%q: %v %v; want %s", in, rp, err, want)
		}
	}
	if rp := restartPolicy("on-failure:5"); rp.Name != "on-failure" || rp.MaximumRetryCount != 5 {
		t.Errorf("docker policy: %+v", rp)
	}
	for _, in := range []string{"", "yes", "always:3", "no:1", "unless-stopped:0", "on-failure:-1", "on-failure:x", "on-failure:", "on-failure:99999999999", "On-Failure"} {
		if rp, err := ParseRestartPolicy(in); err == nil {
			t.Errorf("%q accepted as %v", in, rp)
		}
	}
	in := DockerAppInput{HostInput: HostInput{InstanceIP: "10.0.0.5"}, DockerImage: "ghcr.io/u/r/a:1", RestartPolicy: "always:2"}
	if err := in.Validate(); fieldOf(err) != "restart_policy" {
		t.Errorf("always:2: %v", err)
	}
}

func TestHealthCheckFields(t *testing.T) {
	for _, c := range []struct {
		hc    HealthCheck
		field string
	}{
		{HealthCheck{Path: "/healthz?full=1", Port: 80}, ""},
		{HealthCheck{Path: "/a%20b", Port: 80}, ""},
		{HealthCheck{Port: 80, TimeoutS: 600}, ""},
		{HealthCheck{Path: "/%zz", Port: 80}, "health_check.path"},
		{HealthCheck{Path: "healthz", Port: 80}, "health_check.path"},
		{HealthCheck{Path: "/a b", Port: 80}, "health_check.path"},
		{HealthCheck{Path: "/a\x7f", Port: 80}, "health_check.path"},
		{HealthCheck{Path: "/", Port: 0}, "health_check.port"},
		{HealthCheck{Path: "/", Port: 70000}, "health_check.port"},
		{HealthCheck{Path: "/", Port: 80, TimeoutS: 601}, "health_check.timeout_s"},
	} {
		hc := c.hc
		in := DockerAppInput{HostInput: HostInput{InstanceIP: "10.0.0.5"}, DockerImage: "ghcr.io/u/r/a:1", HealthCheck: &hc}
		if err := in.Validate(); fieldOf(err) != c.field {
			t.Errorf("%+v: %v, want field %q", c.hc, err, c.field)
		}
	}
}
