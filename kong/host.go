package kong

import (
	"net/netip"
	"strconv"
	"strings"
)

// Hosts as Kong 3.9 reads them (kong/tools/ip.lua, normalize_ip): a host
// with two colons or more is an IPv6 address, one of only digits and dots
// (a port aside) an IPv4 address, anything else a name. The typedefs of
// Kong's schemas (host, host_with_optional_port, hosts, upstream names,
// targets) are built on it.

// hostKind is how Kong reads a host.
type hostKind int

const (
	hostName hostKind = iota
	hostIPv4
	hostIPv6
)

// kongHost is a host Kong reads as valid.
type kongHost struct {
	kind hostKind
	host string // the name as given, or the address (brackets dropped)
	port int    // -1: none
}

// hostError is Kong's "invalid port number" (port) or "invalid value".
type hostError struct{ port bool }

func (e hostError) Error() string {
	if e.port {
		return "invalid port number"
	}
	return "invalid value"
}

// parseKongHost reads s as Kong's normalize_ip does.
func parseKongHost(s string) (kongHost, error) {
	colons := strings.Count(s, ":")
	switch {
	case colons > 1:
		return parseKongIPv6(s)
	case isDigitsAndDots(strings.ReplaceAll(s, ":", "")):
		return parseKongIPv4(s)
	}
	return parseKongName(s)
}

func isDigitsAndDots(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// kongPort reads a port Kong matched as digits; over 65535 is Kong's
// "invalid port number".
func kongPort(digits string) (int, error) {
	d := strings.TrimLeft(digits, "0")
	if len(d) > 5 {
		return 0, hostError{port: true}
	}
	n, _ := strconv.Atoi("0" + d)
	if n > 65535 {
		return 0, hostError{port: true}
	}
	return n, nil
}

// parseKongIPv4 is normalize_ipv4: four groups of one to three decimal
// digits (leading zeros allowed, as nginx reads them), each at most 255,
// and an optional port.
func parseKongIPv4(s string) (kongHost, error) {
	addr, port, hasPort := strings.Cut(s, ":")
	h := kongHost{kind: hostIPv4, port: -1}
	groups := strings.Split(addr, ".")
	if len(groups) != 4 || (hasPort && !isDigits(port)) {
		return h, hostError{}
	}
	var b [4]byte
	for i, g := range groups {
		if len(g) < 1 || len(g) > 3 || !isDigits(g) {
			return h, hostError{}
		}
		n, _ := strconv.Atoi(g)
		if n > 255 {
			return h, hostError{}
		}
		b[i] = byte(n)
	}
	h.host = netip.AddrFrom4(b).String()
	if hasPort {
		p, err := kongPort(port)
		if err != nil {
			return h, err
		}
		h.port = p
	}
	return h, nil
}

// parseKongIPv6 is normalize_ipv6: an address, bracketed when a port
// follows, of eight groups of one to four hex digits, "::" standing for
// the missing ones once. Kong's parser takes no embedded IPv4 and no zone.
func parseKongIPv6(s string) (kongHost, error) {
	h := kongHost{kind: hostIPv6, port: -1}
	check := s
	if strings.HasPrefix(s, "[") {
		if end := balancedBracket(s); end > 0 {
			check, rest := s[1:end], s[end+1:]
			if rest != "" {
				digits, ok := strings.CutPrefix(rest, ":")
				if !ok || !isDigits(digits) {
					return h, hostError{}
				}
				p, err := kongPort(digits)
				if err != nil {
					return h, err
				}
				h.port = p
			}
			return kongIPv6Groups(check, h)
		}
	}
	return kongIPv6Groups(check, h)
}

// balancedBracket is the index of the "]" that closes the "[" at s[0]
// (Lua's %b[]), or -1.
func balancedBracket(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func kongIPv6Groups(check string, h kongHost) (kongHost, error) {
	if strings.HasPrefix(check, ":") {
		check = "0" + check
	}
	if strings.HasSuffix(check, ":") {
		check += "0"
	}
	if strings.Contains(check, "::") {
		n := 8 - strings.Count(check, ":")
		check = strings.Replace(check, "::", ":"+strings.Repeat("0:", max(n, 0)), 1)
	}
	groups := strings.Split(check, ":")
	if len(groups) != 8 {
		return h, hostError{}
	}
	var b [16]byte
	for i, g := range groups {
		if len(g) < 1 || len(g) > 4 {
			return h, hostError{}
		}
		n, err := strconv.ParseUint(g, 16, 16)
		if err != nil || strings.ContainsAny(g, "+-_") {
			return h, hostError{}
		}
		b[2*i], b[2*i+1] = byte(n>>8), byte(n)
	}
	h.host = netip.AddrFrom16(b).String()
	return h, nil
}

// parseKongName is check_hostname: letters, digits, "-", "." and "_";
// labels not empty (but for a trailing dot) and not ending with "-"; an
// optional port.
func parseKongName(s string) (kongHost, error) {
	h := kongHost{kind: hostName, port: -1}
	name := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 && isDigits(s[i+1:]) {
		p, err := kongPort(s[i+1:])
		if err != nil {
			return h, err
		}
		name, h.port = s[:i], p
	}
	if name == "" {
		return h, hostError{}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return h, hostError{}
		}
	}
	labels := strings.Split(name, ".")
	for i, l := range labels {
		if strings.HasSuffix(l, "-") || (l == "" && i != len(labels)-1) {
			return h, hostError{}
		}
	}
	h.host = name
	return h, nil
}

// selfReason says why Kong must not send traffic to host (a name or an
// address, without port, as a service or target gives it), or "". Inside
// Kong's container loopback is Kong itself: an upstream there would
// publish the Admin API, with every consumer's credentials, on the
// public proxy; link-local reaches the host and the cloud's metadata
// service; unspecified addresses connect to the local host; multicast is
// no upstream. Every way a resolver or nginx reads a host is tried: Kong's
// own parser, Go's, dotted quads with leading zeros, inet_aton's forms
// (2130706433, 0x7f.1, 127.1, 0177.0.0.1), IPv4-mapped, -compatible and
// NAT64 IPv6, and the names that resolve to loopback (localhost and its
// subdomains, the ip6- names of a container's /etc/hosts).
func selfReason(host string) string {
	h := strings.ToLower(strings.TrimSpace(host))
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if i := strings.IndexByte(h, '%'); i >= 0 {
		h = h[:i] // a zone: the address decides
	}
	name := strings.TrimSuffix(h, ".")
	switch {
	case name == "localhost" || strings.HasSuffix(name, ".localhost") || name == "ip6-localhost" || name == "ip6-loopback":
		return "a name for the loopback address"
	case name == "ip6-allnodes" || name == "ip6-allrouters" || name == "ip6-mcastprefix":
		return "a name for a multicast address"
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(h); err == nil {
		addrs = append(addrs, a)
	}
	if k, err := parseKongHost(h); err == nil && k.kind != hostName {
		if a, err := netip.ParseAddr(k.host); err == nil {
			addrs = append(addrs, a)
		}
	}
	if a, ok := inetAton(name); ok {
		addrs = append(addrs, a)
	}
	if a, ok := dottedDecimal(name); ok {
		addrs = append(addrs, a)
	}
	for _, a := range addrs {
		if r := addrReason(a); r != "" {
			return r
		}
	}
	return ""
}

// addrReason classifies an address, and the IPv4 address an IPv6 one
// embeds.
func addrReason(a netip.Addr) string {
	a = a.WithZone("")
	if a.Is6() {
		b := a.As16()
		var v4 [4]byte
		copy(v4[:], b[12:])
		prefix96 := func(p ...byte) bool {
			for i := 0; i < 12; i++ {
				want := byte(0)
				if i < len(p) {
					want = p[i]
				}
				if b[i] != want {
					return false
				}
			}
			return true
		}
		switch {
		case a.Is4In6(), // ::ffff:a.b.c.d
			prefix96() && a != netip.IPv6Unspecified() && a != netip.IPv6Loopback(), // ::a.b.c.d
			prefix96(0x00, 0x64, 0xff, 0x9b):                                        // 64:ff9b::a.b.c.d
			if r := addrReason(netip.AddrFrom4(v4)); r != "" {
				return r
			}
		}
	}
	switch {
	case a.IsLoopback():
		return "a loopback address"
	case a.IsUnspecified() || (a.Is4() && a.As4()[0] == 0):
		return "an unspecified address (it reaches the local host)"
	case a.IsLinkLocalUnicast():
		return "a link-local address (the host's, or the cloud's metadata service)"
	case a.IsMulticast():
		return "a multicast address"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast address"
	}
	return ""
}

// dottedDecimal reads four decimal groups with leading zeros allowed
// (127.000.000.001), as Kong and nginx do and Go's parser does not.
func dottedDecimal(s string) (netip.Addr, bool) {
	k, err := parseKongIPv4(s)
	if err != nil || k.port >= 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(k.host)
	return a, err == nil
}

// inetAton reads s as the C library's inet_aton does: one to four parts,
// each decimal, octal (leading 0) or hex (0x); the last part fills the
// bytes the others leave (127.1 is 127.0.0.1, 2130706433 too).
func inetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base, digits := 10, p
		switch {
		case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
			base, digits = 16, p[2:]
			if digits == "" {
				digits = "0" // glibc reads "0x" as 0
			}
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		if digits == "" || strings.ContainsAny(digits, "+-_") {
			return netip.Addr{}, false
		}
		v, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	last := vals[len(vals)-1]
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*i)
	}
	if bits := 32 - 8*(len(vals)-1); last >= 1<<bits {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}
