package emulator

import (
	"net/netip"
)

// ipPool hands out IPv4 addresses of a prefix. It walks the prefix in order
// and wraps around, so a released address is reused as late as possible (an
// instance restarted without a static IP always gets a different address).
// Addresses ending in .0 or .255 are never handed out. Callers hold s.mu.
type ipPool struct {
	prefix netip.Prefix
	next   netip.Addr
	used   map[netip.Addr]bool
}

func newIPPool(p, def netip.Prefix) *ipPool {
	if !p.IsValid() || !p.Addr().Is4() || p.Bits() > 30 {
		p = def
	}
	p = p.Masked()
	return &ipPool{prefix: p, next: p.Addr().Next(), used: map[netip.Addr]bool{}}
}

// allocate returns a free address, or false when the prefix is exhausted.
func (p *ipPool) allocate() (string, bool) {
	a := p.next
	for range 1 << (32 - p.prefix.Bits()) {
		if !p.prefix.Contains(a) {
			a = p.prefix.Addr()
		}
		b := a.As4()
		if b[3] != 0 && b[3] != 255 && !p.used[a] {
			p.used[a] = true
			p.next = a.Next()
			return a.String(), true
		}
		a = a.Next()
	}
	return "", false
}

// release returns an address to the pool. Addresses outside the prefix
// (reported by real hosts) are ignored.
func (p *ipPool) release(addr string) {
	if a, err := netip.ParseAddr(addr); err == nil {
		delete(p.used, a)
	}
}

// ipv6Pool hands out addresses of the documentation prefix 2001:db8::/32
// (RFC 3849), which is never routed.
type ipv6Pool struct{ next netip.Addr }

func newIPv6Pool() *ipv6Pool {
	return &ipv6Pool{next: netip.MustParseAddr("2001:db8:f0:0:0:0:0:1")}
}

func (p *ipv6Pool) allocate() string {
	a := p.next
	p.next = a.Next()
	return a.String()
}
