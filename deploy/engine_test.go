package deploy

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net/netip"
	"slices"
	"testing"

	xssh "golang.org/x/crypto/ssh"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/ssh"
)

type fakeInstances struct{ all []*Instance }

func (f fakeInstances) DefaultRegion() string { return "eu-central-1" }
func (f fakeInstances) FindInstance(ctx context.Context, region, name string) (*Instance, error) {
	for _, in := range f.all {
		if in.Region == region && in.Name == name {
			return in, nil
		}
	}
	return nil, fountain.Errorf(fountain.ENOTFOUND, "no instance %s", name)
}
func (f fakeInstances) InstanceByAddress(ctx context.Context, region, addr string) (*Instance, error) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	for _, in := range f.all {
		if in.HasAddress(a) {
			return in, nil
		}
	}
	return nil, nil
}
func (f fakeInstances) DefaultKeyPair(ctx context.Context, region string) ([]byte, error) {
	return nil, nil
}

func testKey(t *testing.T) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := xssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	path, err = ssh.WriteKey(dir, "k.pem", pem.EncodeToMemory(block))
	if err != nil {
		t.Fatal(err)
	}
	return dir, path
}

// Every spelling of an instance's address (public, private, IPv6, the
// IPv4-mapped form, a DNS name resolving to one, its name) is one host:
// the same identity, the same locks, the same name for its host keys, and
// its Lightsail instance behind it.
func TestResolveEverySpellingIsOneHost(t *testing.T) {
	dir, key := testKey(t)
	web := &Instance{Name: "web-1", Region: "eu-central-1", PublicIP: "198.51.100.5", PrivateIP: "172.26.0.5", IPv6: []string{"2001:db8::5"}}
	e := &Engine{KeyDirs: []string{dir}, Instances: fakeInstances{all: []*Instance{web}},
		LookupHost: func(ctx context.Context, host string) ([]netip.Addr, error) {
			if host != "web.example" {
				t.Errorf("looked up %q", host)
			}
			return []netip.Addr{netip.MustParseAddr("::ffff:198.51.100.5")}, nil
		}}
	want := fountain.InstanceHost("eu-central-1", "web-1")
	var locks [][]fountain.Lock
	for _, in := range []HostInput{
		{InstanceIP: "198.51.100.5"}, {InstanceIP: "172.26.0.5"}, {InstanceIP: "2001:db8::5"}, {InstanceIP: "::ffff:198.51.100.5"},
		{InstanceIP: "::ffff:172.26.0.5"}, {InstanceIP: "Web.Example."}, {InstanceIP: "web.example"}, {InstanceName: "web-1"},
	} {
		in.SSHKeyPath = key
		spelling := in.InstanceIP + in.InstanceName
		if err := in.Validate(); err != nil {
			t.Fatal(err)
		}
		h, err := e.Resolve(context.Background(), in)
		if err != nil {
			t.Fatalf("%s: %v", spelling, err)
		}
		if h.Instance != web || h.ID != want || h.Key() != "eu-central-1/web-1" || h.ID.KeyName(h.Port) != "eu-central-1/web-1:22" {
			t.Errorf("%s: instance %v, identity %v", spelling, h.Instance, h.ID)
		}
		if h.IP.Is4In6() || h.Resolution == "" {
			t.Errorf("%s: dials %s (%s)", spelling, h.IP, h.Resolution)
		}
		t.Logf("%s: %s", spelling, h.Resolution)
		locks = append(locks, h.Locks())
	}
	for _, l := range locks[1:] {
		if !slices.Equal(l, locks[0]) {
			t.Fatalf("locks differ: %v", locks)
		}
	}
	if !slices.Equal(locks[0], []fountain.Lock{"host:eu-central-1/web-1", "instance:eu-central-1/web-1"}) {
		t.Fatalf("locks %v", locks[0])
	}
}

// A host Lightsail does not know is its canonical address: the
// IPv4-mapped form is the address.
func TestResolveAddressIdentity(t *testing.T) {
	dir, key := testKey(t)
	e := &Engine{KeyDirs: []string{dir}, Instances: fakeInstances{}}
	var ids []fountain.HostID
	for _, addr := range []string{"192.0.2.9", "::ffff:192.0.2.9", "::FFFF:c000:209"} {
		in := HostInput{InstanceIP: addr, SSHKeyPath: key}
		if err := in.Validate(); err != nil {
			t.Fatal(err)
		}
		h, err := e.Resolve(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if h.Address != "192.0.2.9" || h.ID.KeyName(22) != "192.0.2.9:22" {
			t.Errorf("%s: address %s, key name %s", addr, h.Address, h.ID.KeyName(22))
		}
		ids = append(ids, h.ID)
	}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Fatalf("identities %v", ids)
	}
}

// Host keys are asked for by identity, whichever spelling.
func TestHostKeyName(t *testing.T) {
	web := &Instance{Name: "web-1", Region: "eu-central-1", PublicIP: "198.51.100.5", PrivateIP: "172.26.0.5"}
	e := &Engine{Instances: fakeInstances{all: []*Instance{web}}}
	for in, want := range map[string]string{
		"198.51.100.5": "eu-central-1/web-1:22", "172.26.0.5:22": "eu-central-1/web-1:22", "[::ffff:198.51.100.5]:2222": "eu-central-1/web-1:2222",
		"eu-central-1/web-1": "eu-central-1/web-1:22", "eu-central-1/web-1:22": "eu-central-1/web-1:22",
		"192.0.2.9": "192.0.2.9:22", "[2001:db8::1]:22": "[2001:db8::1]:22", "2001:db8::1": "[2001:db8::1]:22",
	} {
		got, _, err := e.HostKeyName(context.Background(), in)
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1.2.3.4:0", "1.2.3.4:99999", "eu-central-1/", "x/y/z", "a b", "eu-central-1/web;1"} {
		if _, _, err := e.HostKeyName(context.Background(), bad); fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
