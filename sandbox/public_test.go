package sandbox

import (
	"net/netip"
	"strings"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestFreeSubnet(t *testing.T) {
	for _, c := range []struct {
		name          string
		blocks, taken []netip.Prefix
		sub, block    string // "" when none is free
	}{
		{"empty block", prefixes("172.21.0.0/16"), nil, "172.21.0.0/30", "172.21.0.0/16"},
		{"next to the taken ones", prefixes("172.21.0.0/16"), prefixes("172.21.0.0/30", "172.21.0.4/30", "172.17.0.0/16"), "172.21.0.8/30", "172.21.0.0/16"},
		{"a hole is reused", prefixes("172.21.0.0/16"), prefixes("172.21.0.0/30", "172.21.0.8/30"), "172.21.0.4/30", "172.21.0.0/16"},
		{"a route over part of the block", prefixes("172.21.0.0/16"), prefixes("172.21.0.0/24"), "172.21.1.0/30", "172.21.0.0/16"},
		{"a full block, then the next", prefixes("10.9.0.0/29", "192.168.16.0/20"), prefixes("10.9.0.0/30", "10.9.0.4/30"), "192.168.16.0/30", "192.168.16.0/20"},
		{"all taken", prefixes("10.9.0.0/29"), prefixes("10.0.0.0/8"), "", ""},
		{"no block", nil, nil, "", ""},
		{"a block smaller than a /30 or IPv6 is skipped", prefixes("10.9.0.0/31", "fd00::/64"), nil, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			sub, block, ok := freeSubnet(c.blocks, c.taken, publicBits)
			if c.sub == "" {
				if ok {
					t.Fatalf("got %s in %s, want none", sub, block)
				}
				return
			}
			if !ok || sub.String() != c.sub || block.String() != c.block {
				t.Fatalf("got %s in %s (%v), want %s in %s", sub, block, ok, c.sub, c.block)
			}
		})
	}
}

func TestParseRoutes(t *testing.T) {
	const table = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	00000000	010200C0	0003	0	0	0	00000000	0	0	0
docker0	000011AC	00000000	0001	0	0	0	0000FFFF	0	0	0
eth0	000200C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
br-d48d319bf90c	000015AC	00000000	0001	0	0	0	FCFFFFFF	0	0	0
`
	got, err := parseRoutes(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	want := "[172.17.0.0/16 192.0.2.0/24 172.21.0.0/30]"
	if s := sprint(got); s != want {
		t.Fatalf("routes %s, want %s", s, want)
	}
	if _, err := parseRoutes(strings.NewReader("Iface Destination\neth0 zz 0 0 0 0 0 00FFFFFF\n")); err == nil {
		t.Fatal("a malformed line was accepted")
	}
}

func sprint(ps []netip.Prefix) string {
	var ss []string
	for _, p := range ps {
		ss = append(ss, p.String())
	}
	return "[" + strings.Join(ss, " ") + "]"
}

// From a start, the search wraps around the block: a /30 before the
// start is found when none after it is free.
func TestFreeSubnetFrom(t *testing.T) {
	block := prefixes("10.9.0.0/28") // four /30s
	sub, _, ok := freeSubnetFrom(block, prefixes("10.9.0.8/30"), publicBits, 2)
	if !ok || sub.String() != "10.9.0.12/30" {
		t.Fatalf("from the third: got %s %v", sub, ok)
	}
	sub, _, ok = freeSubnetFrom(block, prefixes("10.9.0.8/29"), publicBits, 2)
	if !ok || sub.String() != "10.9.0.0/30" {
		t.Fatalf("wrapped: got %s %v", sub, ok)
	}
	if _, _, ok := freeSubnetFrom(block, prefixes("10.9.0.0/28"), publicBits, 7); ok {
		t.Fatal("a full block has a free /30")
	}
}
