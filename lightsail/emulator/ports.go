package emulator

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
)

// portRule is one open port range of an instance's firewall.
type portRule struct {
	from, to  int
	protocol  string
	cidrs     []string
	ipv6Cidrs []string
	aliases   []string
}

const anywhere4, anywhere6 = "0.0.0.0/0", "::/0"

// defaultPorts is the firewall of a new instance: SSH (22, also open to the
// browser client alias lightsail-connect) and HTTP (80), open to anyone, as
// Lightsail opens them on Linux blueprints.
func defaultPorts(ipType string) []portRule {
	var v6 []string
	if ipType == "dualstack" {
		v6 = []string{anywhere6}
	}
	return []portRule{
		{from: 22, to: 22, protocol: "tcp", cidrs: []string{anywhere4}, ipv6Cidrs: v6, aliases: []string{"lightsail-connect"}},
		{from: 80, to: 80, protocol: "tcp", cidrs: []string{anywhere4}, ipv6Cidrs: slices.Clone(v6)},
	}
}

type portInfoJSON struct {
	FromPort        int      `json:"fromPort"`
	ToPort          int      `json:"toPort"`
	Protocol        string   `json:"protocol"`
	AccessFrom      string   `json:"accessFrom"`
	AccessType      string   `json:"accessType"`
	CommonName      string   `json:"commonName"`
	AccessDirection string   `json:"accessDirection"`
	Cidrs           []string `json:"cidrs"`
	Ipv6Cidrs       []string `json:"ipv6Cidrs"`
	CidrListAliases []string `json:"cidrListAliases"`
}

type portStateJSON struct {
	FromPort        int      `json:"fromPort"`
	ToPort          int      `json:"toPort"`
	Protocol        string   `json:"protocol"`
	State           string   `json:"state"`
	Cidrs           []string `json:"cidrs"`
	Ipv6Cidrs       []string `json:"ipv6Cidrs"`
	CidrListAliases []string `json:"cidrListAliases"`
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

func portsWire(rules []portRule) []portInfoJSON {
	out := make([]portInfoJSON, 0, len(rules))
	for _, r := range rules {
		from := "Custom"
		if slices.Contains(r.cidrs, anywhere4) {
			from = "Anywhere (0.0.0.0/0)"
		}
		out = append(out, portInfoJSON{
			FromPort: r.from, ToPort: r.to, Protocol: r.protocol, AccessFrom: from, AccessType: "Public",
			AccessDirection: "inbound", Cidrs: orEmpty(r.cidrs), Ipv6Cidrs: orEmpty(r.ipv6Cidrs),
			CidrListAliases: orEmpty(r.aliases),
		})
	}
	return out
}

// portInfoInput is a PortInfo. The SDK leaves out ports equal to 0.
type portInfoInput struct {
	FromPort        int      `json:"fromPort"`
	ToPort          int      `json:"toPort"`
	Protocol        *string  `json:"protocol"`
	Cidrs           []string `json:"cidrs"`
	Ipv6Cidrs       []string `json:"ipv6Cidrs"`
	CidrListAliases []string `json:"cidrListAliases"`
}

// rule validates a PortInfo. tcp, udp and all take ports 0-65535 with
// fromPort <= toPort; icmp and icmpv6 take a type and a code in -1..255.
// Without any source, the range is opened to 0.0.0.0/0 (and ::/0 on a
// dual-stack instance).
func (p portInfoInput) rule(ipType string) (portRule, *apiError) {
	if p.Protocol == nil {
		return portRule{}, errMissing("portInfo.protocol")
	}
	r := portRule{from: p.FromPort, to: p.ToPort, protocol: *p.Protocol}
	switch r.protocol {
	case "tcp", "udp", "all":
		if r.from < 0 || r.to > 65535 || r.from > r.to {
			return r, errInvalid("The port range %d-%d is not valid for protocol %s: ports must be 0-65535 with fromPort <= toPort.", r.from, r.to, r.protocol)
		}
	case "icmp", "icmpv6":
		if r.from < -1 || r.from > 255 || r.to < -1 || r.to > 255 {
			return r, errInvalid("The ICMP type %d and code %d are not valid.", r.from, r.to)
		}
	default:
		return r, errInvalid("1 validation error detected: Value '%s' at 'portInfo.protocol' failed to satisfy constraint: Member must satisfy enum value set: [tcp, all, udp, icmp, icmpv6]", r.protocol)
	}
	var aerr *apiError
	if r.cidrs, aerr = normalizeCIDRs(p.Cidrs, false); aerr != nil {
		return r, aerr
	}
	if r.ipv6Cidrs, aerr = normalizeCIDRs(p.Ipv6Cidrs, true); aerr != nil {
		return r, aerr
	}
	for _, a := range p.CidrListAliases {
		if a != "lightsail-connect" {
			return r, errInvalid("The CIDR list alias %s is not valid. The only supported alias is lightsail-connect.", a)
		}
	}
	r.aliases = slices.Clone(p.CidrListAliases)
	if len(r.cidrs) == 0 && len(r.ipv6Cidrs) == 0 && len(r.aliases) == 0 {
		r.cidrs = []string{anywhere4}
		if ipType == "dualstack" {
			r.ipv6Cidrs = []string{anywhere6}
		}
	}
	return r, nil
}

func normalizeCIDRs(in []string, v6 bool) ([]string, *apiError) {
	var out []string
	for _, c := range in {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return nil, errInvalid("The CIDR %s is not valid.", c)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is6() != v6 {
			return nil, errInvalid("The CIDR %s is not a valid IPv%s CIDR.", c, map[bool]string{false: "4", true: "6"}[v6])
		}
		if s := p.Masked().String(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (r portRule) sameRange(o portRule) bool {
	return r.protocol == o.protocol && r.from == o.from && r.to == o.to
}

func sortRules(rules []portRule) {
	sort.SliceStable(rules, func(i, j int) bool {
		if rules[i].from != rules[j].from {
			return rules[i].from < rules[j].from
		}
		if rules[i].to != rules[j].to {
			return rules[i].to < rules[j].to
		}
		return rules[i].protocol < rules[j].protocol
	})
}

type portsInput struct {
	PortInfo     *portInfoInput `json:"portInfo"`
	InstanceName *string        `json:"instanceName"`
}

func (c *call) portOp(inst *instance, opType string, r *portRule) opOutput {
	details := ""
	if r != nil {
		details = fmt.Sprintf("%d-%d/%s", r.from, r.to, r.protocol)
	}
	op := c.rg.newOp(c.now, inst.name, resInstance, opType, c.rg.instanceLocation(inst), details, true)
	return opOutput{op.wire()}
}

// portRequest serves the start of OpenInstancePublicPorts and
// CloseInstancePublicPorts: it decodes the request, takes the lock (c.lock)
// and returns the instance and the rule its portInfo describes.
func (c *call) portRequest() (*instance, portRule, *apiError) {
	var in portsInput
	if err := c.decode(&in); err != nil {
		return nil, portRule{}, err
	}
	if in.PortInfo == nil {
		return nil, portRule{}, errMissing("portInfo")
	}
	c.lock()
	inst, aerr := c.findInstance(in.InstanceName)
	if aerr != nil {
		return nil, portRule{}, aerr
	}
	r, aerr := in.PortInfo.rule(inst.ipType)
	return inst, r, aerr
}

// openPorts answers OpenInstancePublicPorts. A rule is keyed by protocol
// and port range: opening a range that is already open replaces its
// sources; other rules are untouched.
func (c *call) openPorts() (any, *apiError) {
	inst, r, aerr := c.portRequest()
	if aerr != nil {
		return nil, aerr
	}
	inst.ports = slices.DeleteFunc(inst.ports, r.sameRange)
	inst.ports = append(inst.ports, r)
	sortRules(inst.ports)
	return c.portOp(inst, "OpenInstancePublicPorts", &r), nil
}

// closePorts answers CloseInstancePublicPorts: the rule with the same
// protocol and port range is removed whatever its sources (port 22
// included). Closing a range that is not open succeeds without effect.
func (c *call) closePorts() (any, *apiError) {
	inst, r, aerr := c.portRequest()
	if aerr != nil {
		return nil, aerr
	}
	inst.ports = slices.DeleteFunc(inst.ports, r.sameRange)
	return c.portOp(inst, "CloseInstancePublicPorts", &r), nil
}

// putPorts answers PutInstancePublicPorts: the listed rules replace the
// whole firewall, so every port not listed (22 included) is closed.
func (c *call) putPorts() (any, *apiError) {
	var in struct {
		PortInfos    []portInfoInput `json:"portInfos"`
		InstanceName *string         `json:"instanceName"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.PortInfos == nil {
		return nil, errMissing("portInfos")
	}
	c.lock()
	inst, aerr := c.findInstance(in.InstanceName)
	if aerr != nil {
		return nil, aerr
	}
	var rules []portRule
	for _, p := range in.PortInfos {
		r, aerr := p.rule(inst.ipType)
		if aerr != nil {
			return nil, aerr
		}
		rules = slices.DeleteFunc(rules, r.sameRange)
		rules = append(rules, r)
	}
	sortRules(rules)
	inst.ports = rules
	return c.portOp(inst, "PutInstancePublicPorts", nil), nil
}

// getPortStates answers GetInstancePortStates: every rule, state open.
func (c *call) getPortStates() (any, *apiError) {
	inst, aerr := c.lockInstance()
	if aerr != nil {
		return nil, aerr
	}
	out := struct {
		PortStates []portStateJSON `json:"portStates"`
	}{PortStates: []portStateJSON{}}
	for _, r := range inst.ports {
		out.PortStates = append(out.PortStates, portStateJSON{
			FromPort: r.from, ToPort: r.to, Protocol: r.protocol, State: "open",
			Cidrs: orEmpty(r.cidrs), Ipv6Cidrs: orEmpty(r.ipv6Cidrs), CidrListAliases: orEmpty(r.aliases),
		})
	}
	return out, nil
}
