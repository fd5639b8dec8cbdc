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

	"github.com/fountainai/fountain/ssh"
)

type fakeInstances struct{ byAddr map[string]*Instance }

func (f fakeInstances) DefaultRegion() string { return "eu-central-1" }
func (f fakeInstances) FindInstance(ctx context.Context, region, name string) (*Instance, error) {
	return nil, nil
}
func (f fakeInstances) InstanceByAddress(ctx context.Context, region, addr string) (*Instance, error) {
	return f.byAddr[addr], nil
}
func (f fakeInstances) DefaultKeyPair(ctx context.Context, region string) ([]byte, error) {
	return nil, nil
}

// A DNS name, in any spelling, and the address it resolves to are one
// host: the same locks, the same Lightsail instance behind it.
func TestResolveNamesAndAddressesAreOneHost(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := xssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.WriteKey(dir, "k.pem", pem.EncodeToMemory(block))
	if err != nil {
		t.Fatal(err)
	}
	web := &Instance{Name: "web-1", Region: "eu-central-1", PublicIP: "10.0.0.5"}
	e := &Engine{KeyDirs: []string{dir}, Instances: fakeInstances{byAddr: map[string]*Instance{"10.0.0.5": web}},
		LookupHost: func(ctx context.Context, host string) ([]netip.Addr, error) {
			if host != "web.example" {
				t.Errorf("looked up %q", host)
			}
			return []netip.Addr{netip.MustParseAddr("::ffff:10.0.0.5")}, nil
		}}
	var locks [][]string
	for _, addr := range []string{"10.0.0.5", "Web.Example.", "web.example"} {
		in := HostInput{InstanceIP: addr, SSHKeyPath: key}
		if err := in.Validate(); err != nil {
			t.Fatal(err)
		}
		h, err := e.Resolve(context.Background(), in)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if h.Instance != web {
			t.Errorf("%s: instance %v", addr, h.Instance)
		}
		locks = append(locks, h.Locks())
	}
	for _, l := range locks[1:] {
		if !slices.Equal(l, locks[0]) {
			t.Fatalf("locks differ: %v", locks)
		}
	}
}
