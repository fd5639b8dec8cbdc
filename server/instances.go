package server

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/deploy"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/ssh"
)

// lightsailInstances gives the deploy engine the Lightsail instances behind
// addresses: their names, plans' memory and witnessed host keys.
type lightsailInstances struct {
	ls *lightsail.Client

	mu     sync.Mutex
	listed map[string]listing // by region: a short-lived listing, so that a run of deploys asks once
	// scanned is when every region was last listed (an address no
	// instance of the default region has).
	scanned time.Time
}

type listing struct {
	at        time.Time
	instances []lightsail.Instance
}

// listingTTL is how long a listing of a region's instances is reused to
// find the instance behind an address.
const listingTTL = 10 * time.Second

var _ deploy.Instances = (*lightsailInstances)(nil)

func (l *lightsailInstances) DefaultRegion() string { return l.ls.DefaultRegion() }

func (l *lightsailInstances) DefaultKeyPair(ctx context.Context, region string) ([]byte, error) {
	return l.ls.DefaultKeyPair(ctx, region)
}

// FindInstance returns the named instance with its host keys.
func (l *lightsailInstances) FindInstance(ctx context.Context, region, name string) (*deploy.Instance, error) {
	inst, err := l.ls.GetInstance(ctx, region, name)
	if err != nil {
		return nil, err
	}
	return l.convert(ctx, inst), nil
}

// InstanceByAddress returns the instance one of whose addresses (public,
// private, IPv6; an IPv4-mapped form is its IPv4 address) is addr, or nil. A Lightsail that cannot be asked (no credentials) is
// not an error here: the host is then one Fountain does not know. A
// Lightsail that fails to answer is: the address may be an instance's,
// whose host keys must be pinned, not trusted on first use, and whose
// lock a delete may hold.
//
// With no region, the default region is looked in first, then every other
// region Lightsail serves (in parallel, their listings reused for a
// while): an address of an instance elsewhere is still that instance,
// pinned and locked as such.
func (l *lightsailInstances) InstanceByAddress(ctx context.Context, region, addr string) (*deploy.Instance, error) {
	any := region == ""
	insts, err := l.list(ctx, region, addr)
	if err != nil {
		if fountain.ErrorCode(err) == fountain.EUNAVAILABLE {
			return nil, nil
		}
		return nil, err
	}
	if any && !slices.ContainsFunc(insts, func(in lightsail.Instance) bool { return hasAddress(in, addr) }) {
		insts = l.elsewhere(ctx, addr)
	}
	for _, in := range insts {
		if hasAddress(in, addr) {
			found, err := l.FindInstance(ctx, in.Region, in.Name)
			if fountain.ErrorCode(err) == fountain.ENOTFOUND {
				// Gone since the listing (being deleted, say): it is still
				// the instance behind the address for locking, and without
				// host keys nothing will trust whatever answers there.
				return l.convert(ctx, in), nil
			}
			return found, err
		}
	}
	return nil, nil
}

// elsewhere lists the instances of every region but the default one, in
// parallel; a region that cannot be listed (not enabled for the account,
// say) has none Fountain can use. Within listingTTL of a scan, listings
// are reused even without addr.
func (l *lightsailInstances) elsewhere(ctx context.Context, addr string) []lightsail.Instance {
	l.mu.Lock()
	fresh := time.Since(l.scanned) < listingTTL
	l.mu.Unlock()
	var mu sync.Mutex
	var all []lightsail.Instance
	var wg sync.WaitGroup
	for _, r := range lightsail.Regions() {
		if r == l.ls.DefaultRegion() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var insts []lightsail.Instance
			l.mu.Lock()
			c, ok := l.listed[r]
			l.mu.Unlock()
			if ok && fresh {
				insts = c.instances
			} else {
				var err error
				if insts, err = l.list(ctx, r, addr); err != nil {
					return
				}
			}
			mu.Lock()
			all = append(all, insts...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	l.mu.Lock()
	l.scanned = time.Now()
	l.mu.Unlock()
	return all
}

// list lists the region's instances, reusing a recent listing that has
// an instance at addr (a listing without it is read again: the instance
// may be new).
func (l *lightsailInstances) list(ctx context.Context, region, addr string) ([]lightsail.Instance, error) {
	if region == "" {
		region = l.ls.DefaultRegion()
	}
	l.mu.Lock()
	if c, ok := l.listed[region]; ok && time.Since(c.at) < listingTTL {
		for _, in := range c.instances {
			if hasAddress(in, addr) {
				l.mu.Unlock()
				return c.instances, nil
			}
		}
	}
	l.mu.Unlock()
	insts, err := l.ls.ListInstances(ctx, region)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	if l.listed == nil {
		l.listed = map[string]listing{}
	}
	l.listed[region] = listing{at: time.Now(), instances: insts}
	l.mu.Unlock()
	return insts, nil
}

// hasAddress reports whether addr is one of in's addresses.
func hasAddress(in lightsail.Instance, addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	return (&deploy.Instance{PublicIP: in.PublicIP, PrivateIP: in.PrivateIP, IPv6: in.IPv6Addresses}).HasAddress(a)
}

func (l *lightsailInstances) convert(ctx context.Context, in lightsail.Instance) *deploy.Instance {
	out := &deploy.Instance{Name: in.Name, Region: in.Region, PublicIP: in.PublicIP, PrivateIP: in.PrivateIP,
		IPv6: in.IPv6Addresses, BundleID: in.BundleID, State: in.State}
	if bundles, err := l.ls.Bundles(ctx, in.Region); err == nil {
		for _, b := range bundles {
			if b.ID == in.BundleID {
				out.RAMMiB = int(b.RAMGB * 1024)
			}
		}
	}
	for _, k := range in.SSHHostKeys {
		hk, err := ssh.ParseHostKey(in.PublicIP+":22", fountain.HostKeySourceLightsail, k.PublicKey)
		if err == nil {
			out.HostKeys = append(out.HostKeys, hk)
		}
	}
	return out
}

// Bundles lists the region's active plans, for saying which fit.
func (l *lightsailInstances) Bundles(ctx context.Context, region string) ([]deploy.Bundle, error) {
	bs, err := l.ls.Bundles(ctx, region)
	if err != nil {
		return nil, err
	}
	var out []deploy.Bundle
	for _, b := range bs {
		if b.Active && !strings.Contains(b.ID, "win") {
			out = append(out, deploy.Bundle{ID: b.ID, RAMMiB: int(b.RAMGB * 1024), PriceMonthly: b.PriceMonthly})
		}
	}
	return out, nil
}
