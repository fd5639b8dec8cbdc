package lightsail

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/fountainai/fountain"
)

var (
	// Lightsail resource names: 2-255 characters, first alphanumeric, then
	// alphanumerics, '_', '.', '-', not ending in one of '_', '.', '-'.
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,253}[A-Za-z0-9]$`)
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	zoneRE   = regexp.MustCompile(`^([a-z]{2}(-[a-z]+)+-[0-9])[a-z]$`)
	idRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,127}$`)
)

// ValidateName checks a Lightsail resource name against Lightsail's rules.
func ValidateName(field, name string) error {
	if name == "" {
		return fountain.Invalid(field, "is required")
	}
	if !nameRE.MatchString(name) {
		return fountain.Invalid(field, "%q is not a valid resource name: it must be 2 to 255 characters, start with a letter or digit, contain only letters, digits, '_', '.' and '-', and not end with '_', '.' or '-'", name)
	}
	return nil
}

// ValidateRegion checks the form of an AWS region name such as eu-central-1.
func ValidateRegion(field, region string) error {
	if region == "" {
		return fountain.Invalid(field, "is required")
	}
	if !regionRE.MatchString(region) {
		return fountain.Invalid(field, "%q is not an AWS region name (like eu-central-1)", region)
	}
	return nil
}

// ValidateZone checks that zone is an availability zone of region.
func ValidateZone(field, zone, region string) error {
	if zone == "" {
		return fountain.Invalid(field, "is required")
	}
	m := zoneRE.FindStringSubmatch(zone)
	if m == nil {
		return fountain.Invalid(field, "%q is not an availability zone name (like eu-central-1a)", zone)
	}
	if m[1] != region {
		return fountain.Invalid(field, "%q is not in region %s", zone, region)
	}
	return nil
}

// validateID checks the form of a bundle or blueprint id.
func validateID(field, id string) error {
	if id == "" {
		return fountain.Invalid(field, "is required")
	}
	if !idRE.MatchString(id) {
		return fountain.Invalid(field, "%q is not a valid id (lower-case letters, digits and '_')", id)
	}
	return nil
}

// ValidatePorts checks a port range and protocol.
func ValidatePorts(from, to int, protocol string, cidrs []string) error {
	if from < 0 || from > 65535 {
		return fountain.Invalid("from_port", "%d is not a port (0-65535)", from)
	}
	if to < from || to > 65535 {
		return fountain.Invalid("to_port", "%d must be a port from from_port (%d) to 65535", to, from)
	}
	switch protocol {
	case "tcp", "udp", "all", "icmp", "icmpv6":
	default:
		return fountain.Invalid("protocol", "%q must be one of tcp, udp, all, icmp, icmpv6", protocol)
	}
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err != nil || !p.Addr().Is4() {
			return fountain.Invalid("cidrs", "%q is not an IPv4 CIDR block (like 203.0.113.0/24)", c)
		}
	}
	return nil
}

// normalizeTarget joins region and name into an operation target.
func normalizeTarget(region, name string) string {
	return strings.TrimSpace(region) + "/" + strings.TrimSpace(name)
}
