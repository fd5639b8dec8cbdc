package lightsail

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lightsail"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail/emulator"
)

// sdkImport is the SDK package whose client makes Lightsail calls.
const sdkImport = "github.com/aws/aws-sdk-go-v2/service/lightsail"

// sdkCalls scans the package's Go source (tests excluded) for calls of
// the SDK client's methods: on a name declared as *<sdk>.Client in any
// file of the package (a field, a parameter, a variable) or assigned from
// c.api(...). It returns each operation with where it is called.
func sdkCalls(t *testing.T) map[string][]string {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	type source struct {
		f     *ast.File
		alias string
	}
	var files []source
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		alias := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == sdkImport {
				alias = "lightsail"
				if imp.Name != nil {
					alias = imp.Name.Name
				}
			}
		}
		if alias != "" {
			files = append(files, source{f, alias})
		}
	}
	// Names bound to an SDK client: parameters, fields and variables of its
	// type, and results of c.api(...), per file (locals); and the fields
	// of its type anywhere in the package, which any file may use
	// (fields).
	locals := make([]map[string]bool, len(files))
	fields := map[string]bool{}
	for i, src := range files {
		clients := map[string]bool{}
		locals[i] = clients
		isSDKClient := func(e ast.Expr) bool {
			star, ok := e.(*ast.StarExpr)
			if !ok {
				return false
			}
			sel, ok := star.X.(*ast.SelectorExpr)
			if !ok {
				return false
			}
			pkg, ok := sel.X.(*ast.Ident)
			return ok && pkg.Name == src.alias && sel.Sel.Name == "Client"
		}
		ast.Inspect(src.f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Field:
				if isSDKClient(n.Type) {
					for _, id := range n.Names {
						clients[id.Name] = true
						fields[id.Name] = true
					}
				}
			case *ast.ValueSpec:
				if n.Type != nil && isSDKClient(n.Type) {
					for _, id := range n.Names {
						clients[id.Name] = true
					}
				}
			case *ast.AssignStmt:
				if len(n.Rhs) == 1 {
					if call, ok := n.Rhs[0].(*ast.CallExpr); ok {
						if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "api" {
							if id, ok := n.Lhs[0].(*ast.Ident); ok {
								clients[id.Name] = true
							}
						}
					}
				}
			}
			return true
		})
	}
	calls := map[string][]string{}
	for i, src := range files {
		ast.Inspect(src.f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			// api.Op(...), or x.api.Op(...) through a field of the type.
			found := false
			switch x := sel.X.(type) {
			case *ast.Ident:
				found = locals[i][x.Name]
			case *ast.SelectorExpr:
				found = fields[x.Sel.Name]
			}
			if found {
				calls[sel.Sel.Name] = append(calls[sel.Sel.Name], fset.Position(call.Pos()).String())
			}
			return true
		})
	}
	return calls
}

// The table of IAM actions is exactly the SDK operations the package's
// code calls: none missing (the policy would lack it), none stale (the
// policy would grant what Fountain never does).
func TestActionsAreTheCallsInTheSource(t *testing.T) {
	calls := sdkCalls(t)
	if len(calls) < 10 {
		t.Fatalf("the source scan found only %v: it no longer recognises the SDK client", slices.Sorted(maps.Keys(calls)))
	}
	for op, where := range calls {
		if _, ok := ActionFor(op); !ok {
			t.Errorf("%s is called (%s) but is not in the actions table (lightsail/actions.go)", op, strings.Join(where, ", "))
		}
	}
	for _, a := range Actions() {
		if _, ok := calls[a.Operation]; !ok {
			t.Errorf("%s is in the actions table but no code calls it: remove it", a.Operation)
		}
	}
}

// The scan finds a call wherever the client is, so that a new call cannot
// hide from it.
func TestSDKCallScanSeesEveryForm(t *testing.T) {
	dir := t.TempDir()
	src := `package lightsail
import ls "` + sdkImport + `"
type c struct{}
func (c) api() (*ls.Client, error) { return nil, nil }
func a(x c) { api, _ := x.api(); api.GetRegions(nil, nil) }
func b(cl *ls.Client) { cl.GetDisks(nil, nil) }
func d() { var k *ls.Client; k.GetDomains(nil, nil) }
type e struct{ far *ls.Client }
`
	// A field declared in one file, called in another.
	other := `package lightsail
import ls "` + sdkImport + `"
func (x e) f() *ls.GetDisksInput { x.far.GetDiskSnapshots(nil, nil); return nil }
`
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "y.go"), []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	got := slices.Sorted(maps.Keys(sdkCalls(t)))
	if want := []string{"GetDiskSnapshots", "GetDisks", "GetDomains", "GetRegions"}; !slices.Equal(got, want) {
		t.Fatalf("found %v, want %v", got, want)
	}
}

// recorder wraps the emulator and keeps the operation of every request.
type recorder struct {
	h   http.Handler
	mu  sync.Mutex
	ops map[string]int
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	op := strings.TrimPrefix(req.Header.Get("X-Amz-Target"), "Lightsail_20161128.")
	r.mu.Lock()
	r.ops[op]++
	r.mu.Unlock()
	r.h.ServeHTTP(w, req)
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.ops))
}

func newRecordedClient(t *testing.T, opts emulator.Options) (*Client, *recorder, *emulator.Server) {
	t.Helper()
	emu := emulator.New(opts)
	rec := &recorder{h: emu, ops: map[string]int{}}
	srv := httptest.NewServer(rec)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	c, err := New(context.Background(), Options{DefaultRegion: "eu-central-1", Endpoint: srv.URL,
		AccessKeyID: emulator.AccessKeyID, SecretAccessKey: emulator.SecretAccessKey, PollInterval: 5 * time.Millisecond,
		ProbeSSH: func(context.Context, string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec, emu
}

// Every public method of the adapter, driven against the emulator, makes
// exactly the calls of the actions table: nothing the IAM policy lacks,
// and every action the policy grants is needed by some path.
func TestEveryCallIsInTheActionsTable(t *testing.T) {
	ctx := context.Background()
	c, rec, _ := newRecordedClient(t, emulator.Options{CreateDelay: 10 * time.Millisecond, StartDelay: 10 * time.Millisecond,
		StopDelay: 10 * time.Millisecond, RebootDelay: 10 * time.Millisecond, SnapshotDelay: 10 * time.Millisecond,
		LoadBalancerDelay: 10 * time.Millisecond, CertificateDelay: -1})
	run := &steps{}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	create := CreateInstanceInput{InstanceName: "web-1", BlueprintID: "ubuntu_24_04", BundleID: "nano_3_0",
		AvailabilityZone: "eu-central-1a", Wait: true}
	must("validate", c.ValidateCreate(&create))
	must("catalogue", c.CheckCatalogue(ctx, &create))
	_, err := c.CreateInstance(ctx, run, create)
	must("create", err)
	_, err = c.ListInstances(ctx, "")
	must("list", err)
	_, err = c.GetInstance(ctx, "", "web-1")
	must("get", err)
	attach := StaticIPInput{InstanceName: "web-1"}
	must("validate attach", c.ValidateStaticIP(&attach))
	_, err = c.AttachStaticIP(ctx, run, attach)
	must("attach", err)
	for _, open := range []bool{true, false} {
		ports := PortsInput{InstanceName: "web-1", FromPort: 8080, ToPort: 8080, Protocol: "tcp"}
		must("validate ports", c.ValidatePorts(&ports))
		_, err = c.Ports(ctx, run, open, ports)
		must("ports", err)
	}
	// Snapshots: one taken, an instance from it, automatic ones.
	snap := CreateSnapshotInput{InstanceName: "web-1", SnapshotName: "web-1-snap", Wait: true}
	must("validate snapshot", c.ValidateCreateSnapshot(&snap))
	_, err = c.CreateSnapshot(ctx, run, snap)
	must("snapshot", err)
	_, err = c.ListSnapshots(ctx, "")
	must("list snapshots", err)
	restore := CreateInstanceInput{InstanceName: "web-2", FromSnapshot: "web-1-snap", BundleID: "nano_3_0", AvailabilityZone: "eu-central-1a", Wait: true}
	must("validate restore", c.ValidateCreate(&restore))
	must("catalogue of restore", c.CheckCatalogue(ctx, &restore))
	_, err = c.CreateInstance(ctx, run, restore)
	must("restore", err)
	for _, enable := range []bool{true, false} {
		auto := AutoSnapshotInput{InstanceName: "web-1"}
		must("validate auto", c.ValidateAutoSnapshot(&auto))
		_, err = c.AutoSnapshot(ctx, run, enable, auto)
		must("auto", err)
	}
	// A load balancer: created with an instance, detached, its health
	// check path, a certificate, listed, deleted.
	lb := CreateLoadBalancerInput{LoadBalancerName: "lb-1", InstancePort: 8080, InstanceNames: []string{"web-1"}}
	must("validate lb", c.ValidateCreateLoadBalancer(&lb))
	_, err = c.CreateLoadBalancer(ctx, run, lb)
	must("lb", err)
	detach := LoadBalancerInstancesInput{LoadBalancerName: "lb-1", InstanceNames: []string{"web-1"}}
	must("validate detach", c.ValidateLoadBalancerInstances(&detach))
	_, err = c.LoadBalancerInstances(ctx, run, false, detach)
	must("detach", err)
	update := UpdateLoadBalancerInput{LoadBalancerName: "lb-1", HealthCheckPath: "/healthz"}
	must("validate update", c.ValidateUpdateLoadBalancer(&update))
	_, err = c.UpdateLoadBalancer(ctx, run, update)
	must("update", err)
	cert := CertificateInput{LoadBalancerName: "lb-1", CertificateName: "cert-1", DomainName: "example.com"}
	must("validate cert", c.ValidateCertificate(&cert))
	_, err = c.CreateLoadBalancerCertificate(ctx, run, cert)
	must("cert", err)
	attachCert := AttachCertificateInput{LoadBalancerName: "lb-1", CertificateName: "cert-1"}
	must("validate attach cert", c.ValidateAttachCertificate(&attachCert))
	_, err = c.AttachLoadBalancerCertificate(ctx, run, attachCert)
	must("attach cert", err)
	_, err = c.ListLoadBalancers(ctx, "")
	must("list lbs", err)
	_, err = c.GetLoadBalancer(ctx, "", "lb-1")
	must("get lb", err)
	_, err = c.Cost(ctx, "")
	must("cost with snapshots and a load balancer", err)
	dlb := LoadBalancerInput{LoadBalancerName: "lb-1"}
	must("validate delete lb", c.ValidateLoadBalancer(&dlb))
	_, err = c.DeleteLoadBalancer(ctx, run, dlb)
	must("delete lb", err)
	dsnap := SnapshotInput{SnapshotName: "web-1-snap"}
	must("validate delete snapshot", c.ValidateSnapshot(&dsnap))
	_, err = c.DeleteSnapshot(ctx, run, dsnap)
	must("delete snapshot", err)

	for _, verb := range []string{"stop", "start", "reboot", "delete"} {
		in := InstanceInput{InstanceName: "web-1", Wait: true, FinalSnapshot: verb == "delete"}
		must("validate "+verb, c.ValidateInstance(&in))
		_, err = c.Lifecycle(ctx, run, verb, in)
		must(verb, err)
	}
	_, err = c.Bundles(ctx, "")
	must("bundles", err)
	_, err = c.Blueprints(ctx, "")
	must("blueprints", err)
	_, err = c.Cost(ctx, "")
	must("cost", err)
	_, err = c.DefaultKeyPair(ctx, "")
	must("default key pair", err)
	_, err = c.CheckAccess(ctx, "")
	must("check access", err)

	var want []string
	for _, a := range Actions() {
		want = append(want, a.Operation)
	}
	if got := rec.seen(); !slices.Equal(got, want) {
		t.Fatalf("operations called:\n%v\nthe actions table:\n%v", got, want)
	}
}

// An operation missing from the table is refused before it is sent.
func TestCallNotInTableIsRefusedUnsent(t *testing.T) {
	c, rec, _ := newRecordedClient(t, emulator.Options{})
	api, err := c.api(context.Background(), "eu-central-1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = api.GetRegions(context.Background(), &lightsail.GetRegionsInput{})
	if fountain.ErrorCode(err) != fountain.EINTERNAL || !strings.Contains(err.Error(), "GetRegions is not in Fountain's table of IAM actions") {
		t.Fatalf("GetRegions: %v", err)
	}
	if seen := rec.seen(); len(seen) != 0 {
		t.Fatalf("the emulator was called: %v", seen)
	}
}

func TestActionsTable(t *testing.T) {
	a, ok := ActionFor("AttachStaticIp")
	if !ok || a.IAM != "lightsail:AttachStaticIp" || a.Access != "Write" || !slices.Equal(a.Resources, []string{"Instance", "StaticIp"}) {
		t.Fatalf("AttachStaticIp: %+v %v", a, ok)
	}
	a.Resources[0] = "changed"
	if b, _ := ActionFor("AttachStaticIp"); b.Resources[0] != "Instance" {
		t.Fatal("ActionFor shares the table's slice")
	}
	if _, ok := ActionFor("GetRegions"); ok {
		t.Fatal("GetRegions is not called by Fountain")
	}
	all := Actions()
	if len(all) != 36 || !slices.IsSortedFunc(all, func(a, b Action) int { return strings.Compare(a.Operation, b.Operation) }) {
		t.Fatalf("Actions: %d entries, sorted %v", len(all), all)
	}
	for _, a := range all {
		if a.Access == "Read" && len(a.Resources) > 0 || !strings.HasPrefix(a.IAM, "lightsail:") {
			t.Errorf("%+v", a)
		}
	}
}

func TestMissingAction(t *testing.T) {
	for _, c := range []struct{ msg, op, want string }{
		{"User: arn:aws:iam::123456789012:user/x is not authorized to perform: lightsail:CreateInstances on resource: arn:aws:lightsail:eu-central-1:123456789012:*", "GetInstances", "lightsail:CreateInstances"},
		{"User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: lightsail:GetInstances because no identity-based policy allows the lightsail:GetInstances action", "", "lightsail:GetInstances"},
		{"Access denied", "StopInstance", "lightsail:StopInstance"},
		{"Access denied", "GetRegions", "lightsail:GetRegions"},
		{"Access denied", "", ""},
	} {
		if got := missingAction(c.msg, c.op); got != c.want {
			t.Errorf("missingAction(%q, %q) = %q, want %q", c.msg, c.op, got, c.want)
		}
	}
}
