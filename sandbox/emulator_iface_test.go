package sandbox

import "context"

// The consumer-side interface, copied verbatim from the brief of package
// github.com/fountainai/fountain/lightsail/emulator (not yet in the tree).
// Once that package compiles, the adapter below moves next to the wiring
// and asserts against emulator.Hosts instead.

type emuHost struct {
	PublicIP, PrivateIP string
	HostKeys            []emuHostKey
}
type emuHostKey struct{ Algorithm, PublicKey string }
type emuHosts interface {
	CreateHost(ctx context.Context, name string) (emuHost, error)
	StartHost(ctx context.Context, name string) (emuHost, error)
	StopHost(ctx context.Context, name string) error
	RebootHost(ctx context.Context, name string) error
	DeleteHost(ctx context.Context, name string) error
}

// emuAdapter is the tiny adapter the lead wires: *Sandbox already has the
// methods; only the Host value type differs.
type emuAdapter struct{ *Sandbox }

func toEmu(h Host, err error) (emuHost, error) {
	out := emuHost{PublicIP: h.PublicIP, PrivateIP: h.PrivateIP}
	for _, k := range h.HostKeys {
		out.HostKeys = append(out.HostKeys, emuHostKey(k))
	}
	return out, err
}

func (a emuAdapter) CreateHost(ctx context.Context, name string) (emuHost, error) {
	return toEmu(a.Sandbox.CreateHost(ctx, name))
}

func (a emuAdapter) StartHost(ctx context.Context, name string) (emuHost, error) {
	return toEmu(a.Sandbox.StartHost(ctx, name))
}

var _ emuHosts = emuAdapter{}
