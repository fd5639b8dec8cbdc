package sandbox

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Public addresses.
//
// A Lightsail instance's public IP is not on the instance: AWS translates it
// to the private address, and the instance's firewall decides which ports
// get through. A sandbox host's public address is likewise an address of
// this machine: the gateway of a bridge network of the host's own, a /30
// that no container joins, on which the host's open ports (HostPorts) are
// published. It is not loopback, so it names the same host from this
// machine, from every sandbox host and from the containers inside them (all
// of which route to this machine), and only the published ports answer
// there: never Kong's admin port 8001.
//
// The /30s are carved from a block that Docker hands out: the sandbox asks
// Docker for a network without a subnet, notes the subnet it got, removes
// it and creates its /30s inside. While one of them exists Docker gives the
// block to no other network; every sandbox of the machine carves from the
// blocks its public networks name (LabelBlock). A /30 is chosen only where
// no Docker network and no route of this machine lies, and Docker refuses
// one that another process took meanwhile.

const (
	// LabelBlock, on a host's public network, is the block its /30 was
	// carved from.
	LabelBlock = "dev.fountain.sandbox.public-block"
	// kindPublic is the LabelKind of a host's public network.
	kindPublic = "public"
	// kindProbe is the LabelKind of the network that asks Docker for a block.
	kindProbe = "probe"
	// publicBits is the size of a host's public network: the gateway is the
	// public address, and nothing joins it.
	publicBits = 30
)

func (s *Sandbox) publicNetworkName(name string) string { return s.containerName(name) + "-public" }

// createPublic gives host name its public network and returns the public
// address (the network's gateway) and the block it was carved from. A
// leftover public network of the name (from a create that failed midway)
// is removed first. The caller holds s.mu.
func (s *Sandbox) createPublic(ctx context.Context, name string) (netip.Addr, netip.Prefix, error) {
	if err := s.removePublic(ctx, name); err != nil {
		return netip.Addr{}, netip.Prefix{}, err
	}
	var lastErr error
	for attempt := 0; attempt < 32; attempt++ {
		taken, blocks, err := s.publicTaken(ctx)
		if err != nil {
			return netip.Addr{}, netip.Prefix{}, err
		}
		// The first attempt takes the first free /30 (hosts of one sandbox
		// sit together); after a collision with another process, a random
		// place, and a short random pause.
		start := uint32(0)
		if attempt > 0 {
			start = rand.Uint32()
			select {
			case <-ctx.Done():
				return netip.Addr{}, netip.Prefix{}, ctx.Err()
			case <-time.After(time.Duration(rand.IntN(50)) * time.Millisecond):
			}
		}
		sub, block, ok := freeSubnetFrom(blocks, taken, publicBits, start)
		if !ok {
			b, err := s.probeBlock(ctx)
			if err != nil {
				return netip.Addr{}, netip.Prefix{}, err
			}
			if sub, block, ok = freeSubnet([]netip.Prefix{b}, taken, publicBits); !ok {
				return netip.Addr{}, netip.Prefix{}, fmt.Errorf("public address: Docker offered %s, but this machine routes all of it elsewhere", b)
			}
		}
		gw := sub.Addr().Next()
		err = s.createPublicNetwork(ctx, name, sub, block)
		if err == nil {
			return gw, block, nil
		}
		if !isOverlap(err) {
			return netip.Addr{}, netip.Prefix{}, err
		}
		lastErr = err // another process took sub meanwhile: look again
	}
	return netip.Addr{}, netip.Prefix{}, fmt.Errorf("public address: every free subnet was taken meanwhile: %w", lastErr)
}

func (s *Sandbox) createPublicNetwork(ctx context.Context, name string, sub, block netip.Prefix) error {
	gw := sub.Addr().Next()
	_, err := s.docker.NetworkCreate(ctx, s.publicNetworkName(name), client.NetworkCreateOptions{
		Driver: "bridge",
		IPAM:   &network.IPAM{Config: []network.IPAMConfig{{Subnet: sub, Gateway: gw}}},
		Labels: s.labels(kindPublic, LabelInstance, name, LabelAddress, gw.String(), LabelBlock, block.String()),
	})
	if err != nil {
		return fmt.Errorf("public address: create network %s for %s: %w", sub, name, err)
	}
	return nil
}

// isOverlap reports whether Docker refused a subnet that overlaps another
// network's ("Pool overlaps with other one on this address space").
func isOverlap(err error) bool { return err != nil && strings.Contains(err.Error(), "overlaps") }

// publicTaken lists what a new public network must not overlap (every
// Docker network's subnets and this machine's routes) and the blocks
// existing public networks were carved from, of any sandbox on the engine.
func (s *Sandbox) publicTaken(ctx context.Context) (taken, blocks []netip.Prefix, err error) {
	list, err := s.docker.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("public address: list networks: %w", err)
	}
	for _, n := range list.Items {
		for _, c := range n.IPAM.Config {
			if c.Subnet.IsValid() {
				taken = append(taken, c.Subnet.Masked())
			}
		}
		if n.Labels[LabelSandbox] == "1" && n.Labels[LabelKind] == kindPublic {
			if b, err := netip.ParsePrefix(n.Labels[LabelBlock]); err == nil && !slices.Contains(blocks, b) {
				blocks = append(blocks, b)
			}
		}
	}
	routes, err := machineRoutes()
	if err != nil {
		return nil, nil, fmt.Errorf("public address: %w", err)
	}
	slices.SortFunc(blocks, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return append(taken, routes...), blocks, nil
}

// probeBlock asks Docker for a free block: the subnet of a network created
// without one, removed at once.
func (s *Sandbox) probeBlock(ctx context.Context) (netip.Prefix, error) {
	name := s.ns + "-public-probe"
	res, err := s.docker.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Labels: s.labels(kindProbe)})
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("public address: ask Docker for a subnet: %w", err)
	}
	insp, err := s.docker.NetworkInspect(ctx, res.ID, client.NetworkInspectOptions{})
	rmErr := s.removeNetwork(context.WithoutCancel(ctx), res.ID, name)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("public address: inspect network %s: %w", name, err)
	}
	if rmErr != nil {
		return netip.Prefix{}, rmErr
	}
	for _, c := range insp.Network.IPAM.Config {
		if c.Subnet.Addr().Is4() && c.Subnet.Bits() <= publicBits {
			return c.Subnet.Masked(), nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("public address: Docker gave network %s no IPv4 subnet", name)
}

// freeSubnet returns the first subnet of the given size, in the first
// block that has one, that overlaps nothing in taken.
func freeSubnet(blocks, taken []netip.Prefix, bits int) (sub, block netip.Prefix, ok bool) {
	return freeSubnetFrom(blocks, taken, bits, 0)
}

// freeSubnetFrom is freeSubnet looking from the start-th subnet of each
// block on (wrapping around): processes creating hosts at once start at
// random places, so that they seldom reach for the same /30.
func freeSubnetFrom(blocks, taken []netip.Prefix, bits int, start uint32) (sub, block netip.Prefix, ok bool) {
	for _, b := range blocks {
		b = b.Masked()
		if !b.Addr().Is4() || b.Bits() > bits {
			continue
		}
		size := uint32(1) << (32 - bits)
		base := v4(b.Addr())
		n := uint32(1) << (bits - b.Bits())
		for j := uint32(0); j < n; j++ {
			c := netip.PrefixFrom(addr4(base+((start+j)%n)*size), bits)
			if !slices.ContainsFunc(taken, c.Overlaps) {
				return c, b, true
			}
		}
	}
	return netip.Prefix{}, netip.Prefix{}, false
}

func v4(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }

func addr4(n uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return netip.AddrFrom4(b)
}

// machineRoutes reads this machine's IPv4 routes (but the default route)
// from /proc/net/route; elsewhere there are none to read.
func machineRoutes() ([]netip.Prefix, error) {
	f, err := os.Open("/proc/net/route")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read routes: %w", err)
	}
	defer f.Close()
	return parseRoutes(f)
}

// parseRoutes parses /proc/net/route: destinations and masks are
// little-endian hex. The default route (mask 0) is left out.
func parseRoutes(r io.Reader) ([]netip.Prefix, error) {
	var out []netip.Prefix
	sc := bufio.NewScanner(r)
	for first := true; sc.Scan(); first = false {
		f := strings.Fields(sc.Text())
		if first || len(f) < 8 {
			continue // the header
		}
		dst, err1 := hex.DecodeString(f[1])
		mask, err2 := hex.DecodeString(f[7])
		if err1 != nil || err2 != nil || len(dst) != 4 || len(mask) != 4 {
			return nil, fmt.Errorf("read routes: malformed line %q", sc.Text())
		}
		bits := 0
		for _, m := range mask {
			for ; m != 0; m <<= 1 {
				bits++
			}
		}
		if bits == 0 {
			continue
		}
		a := netip.AddrFrom4([4]byte{dst[3], dst[2], dst[1], dst[0]}) // little-endian
		out = append(out, netip.PrefixFrom(a, bits).Masked())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read routes: %w", err)
	}
	return out, nil
}

// ensurePublic makes sure a host's public network exists before the host
// starts (its ports are published on the gateway): a `docker network prune`
// removes it, as no container joins it. It is made again at the same
// address. Hosts made when public addresses were loopback need none.
func (s *Sandbox) ensurePublic(ctx context.Context, name, addr, block string) error {
	a, err := netip.ParseAddr(addr)
	if err != nil || a.IsLoopback() {
		return nil
	}
	list, err := s.docker.NetworkList(ctx, client.NetworkListOptions{Filters: s.filters(LabelKind+"="+kindPublic, LabelInstance+"="+name)})
	if err != nil {
		return fmt.Errorf("public address: list networks: %w", err)
	}
	if len(list.Items) > 0 {
		return nil
	}
	sub := netip.PrefixFrom(a, publicBits).Masked()
	b, err := netip.ParsePrefix(block)
	if err != nil {
		b = sub
	}
	if err := s.createPublicNetwork(ctx, name, sub, b); err != nil {
		return fmt.Errorf("%w (the host's public address %s is no longer free: delete and create the instance again)", err, addr)
	}
	return nil
}

// removePublic removes host name's public network(s), if any.
func (s *Sandbox) removePublic(ctx context.Context, name string) error {
	list, err := s.docker.NetworkList(ctx, client.NetworkListOptions{Filters: s.filters(LabelKind+"="+kindPublic, LabelInstance+"="+name)})
	if err != nil {
		return fmt.Errorf("public address: list networks: %w", err)
	}
	var errs []error
	for _, n := range list.Items {
		errs = append(errs, s.removeNetwork(ctx, n.ID, n.Name))
	}
	return errors.Join(errs...)
}
