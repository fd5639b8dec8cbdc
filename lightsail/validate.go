package lightsail

import (
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fountainai/fountain"
)

// regions are the regions Lightsail serves: the RegionName enum of the
// Lightsail API model (2016-11-28), as the SDK in go.mod knows it (a test
// compares the two). A region outside this list is refused before anything
// is cached or sent, so caller input can neither grow a cache nor reach AWS.
var regions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2",
	"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-2",
	"ca-central-1",
	"ap-east-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-5",
	"ap-northeast-1", "ap-northeast-2",
	"sa-east-1",
}

// Regions returns the regions Lightsail serves.
func Regions() []string { return slices.Clone(regions) }

// IsRegion reports whether name is a region Lightsail serves.
func IsRegion(name string) bool { return slices.Contains(regions, name) }

// Tag limits, as AWS documents them for Lightsail.
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// echoMax is how much of a caller's value an error message repeats.
const echoMax = 64

// echo quotes a caller's value for an error message, cut to its first
// echoMax bytes (on a character boundary) and "…", so that a huge value is
// never repeated whole.
func echo(s string) string {
	if len(s) <= echoMax {
		return strconv.Quote(s)
	}
	cut := echoMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

var (
	// Lightsail resource names: 2-255 characters, first alphanumeric, then
	// alphanumerics, '_', '.', '-', not ending in one of '_', '.', '-'.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,253}[A-Za-z0-9]$`)
	zoneRE = regexp.MustCompile(`^([a-z]{2}(-[a-z]+)+-[0-9])[a-z]$`)
	idRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,127}$`)
)

// ValidateName checks a Lightsail resource name against Lightsail's rules.
func ValidateName(field, name string) error {
	if name == "" {
		return fountain.Invalid(field, "is required")
	}
	if !nameRE.MatchString(name) {
		return fountain.Invalid(field, "%s is not a valid resource name: it must be 2 to 255 characters, start with a letter or digit, contain only letters, digits, '_', '.' and '-', and not end with '_', '.' or '-'", echo(name))
	}
	return nil
}

// ValidateRegion checks that region is one of Lightsail's regions; the
// error names them all.
func ValidateRegion(field, region string) error {
	if region == "" {
		return fountain.Invalid(field, "is required")
	}
	if !IsRegion(region) {
		return fountain.Invalid(field, "%s is not a Lightsail region; Lightsail's regions are %s", echo(region), strings.Join(regions, ", "))
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
		return fountain.Invalid(field, "%s is not an availability zone name (like eu-central-1a)", echo(zone))
	}
	if m[1] != region {
		return fountain.Invalid(field, "%s is not in region %s", echo(zone), region)
	}
	return nil
}

// ValidateID checks the form of a bundle or blueprint id (whether the
// region offers it is CheckCatalogue's question).
func ValidateID(field, id string) error { return validateID(field, id) }

// validateID checks the form of a bundle or blueprint id.
func validateID(field, id string) error {
	if id == "" {
		return fountain.Invalid(field, "is required")
	}
	if !idRE.MatchString(id) {
		return fountain.Invalid(field, "%s is not a valid id (lower-case letters, digits and '_')", echo(id))
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
		return fountain.Invalid("protocol", "%s must be one of tcp, udp, all, icmp, icmpv6", echo(protocol))
	}
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err != nil || !p.Addr().Is4() {
			return fountain.Invalid("cidrs", "%s is not an IPv4 CIDR block (like 203.0.113.0/24)", echo(c))
		}
	}
	return nil
}

// ValidateTags checks tags as AWS does for Lightsail: at most 50; keys of
// 1-128 and values of 0-256 characters, each letters, digits, spaces or
// + - = . _ : / @; and no key starting with "aws:", which AWS reserves.
func ValidateTags(field string, tags map[string]string) error {
	if len(tags) > maxTags {
		return fountain.Invalid(field, "a resource can have at most %d tags, not %d", maxTags, len(tags))
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		v := tags[k]
		if n := utf8.RuneCountInString(k); n == 0 || n > maxTagKeyLen {
			return fountain.Invalid(field, "tag key %s must be 1 to %d characters", echo(k), maxTagKeyLen)
		}
		if len(k) >= 4 && strings.EqualFold(k[:4], "aws:") {
			return fountain.Invalid(field, "tag key %s starts with \"aws:\", which AWS reserves for its own tags", echo(k))
		}
		if !tagText(k) {
			return fountain.Invalid(field, "tag key %s may contain only letters, digits, spaces and + - = . _ : / @", echo(k))
		}
		if utf8.RuneCountInString(v) > maxTagValueLen {
			return fountain.Invalid(field, "the value of tag %s must be at most %d characters", echo(k), maxTagValueLen)
		}
		if !tagText(v) {
			return fountain.Invalid(field, "the value of tag %s may contain only letters, digits, spaces and + - = . _ : / @", echo(k))
		}
	}
	return nil
}

// tagText reports whether s has only the characters AWS allows in tags:
// the pattern AWS's tagging APIs document, ^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$.
func tagText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.Is(unicode.Z, r) && !unicode.IsNumber(r) && !strings.ContainsRune("+-=._:/@", r) {
			return false
		}
	}
	return true
}

// normalizeTarget joins region and name into an operation target.
func normalizeTarget(region, name string) string {
	return strings.TrimSpace(region) + "/" + strings.TrimSpace(name)
}
