package lightsail

import (
	"regexp"
	"slices"
	"strings"

	"github.com/fountainai/fountain"
)

// PolicyVersion is the IAM policy language version.
const PolicyVersion = "2012-10-17"

// Policy is an IAM identity-based policy document.
type Policy struct {
	Version   string            `json:"Version" doc:"The policy language version: 2012-10-17."`
	Statement []PolicyStatement `json:"Statement" doc:"One statement per set of resources the actions can be limited to."`
}

// PolicyStatement is one statement of a Policy.
type PolicyStatement struct {
	Sid       string                       `json:"Sid" doc:"The statement's name."`
	Effect    string                       `json:"Effect" doc:"Always Allow."`
	Action    []string                     `json:"Action" doc:"IAM actions, sorted."`
	Resource  []string                     `json:"Resource" doc:"ARN patterns, or * for actions without resource-level permissions."`
	Condition map[string]map[string]string `json:"Condition,omitempty" doc:"With a region: aws:RequestedRegion on the statements that cannot name one in an ARN."`
}

// PolicyOptions narrow the policy's ARNs.
type PolicyOptions struct {
	// Region, if set, limits every action to one Lightsail region.
	Region string
	// Account, if set, is the 12-digit AWS account in the ARNs.
	Account string
}

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

// FieldAccount is the request field of PolicyOptions.Account.
const FieldAccount = "account"

// Validate checks the options.
func (o PolicyOptions) Validate() error {
	if o.Region != "" {
		if err := ValidateRegion("region", o.Region); err != nil {
			return err
		}
	}
	if o.Account != "" && !accountPattern.MatchString(o.Account) {
		return fountain.Invalid(FieldAccount, "%s is not an AWS account ID (12 digits)", echo(o.Account))
	}
	return nil
}

// MakePolicy returns the least-privilege IAM policy for every Lightsail
// call Fountain makes: the actions table, grouped by the resources each
// action can be limited to. Reads, and the writes IAM cannot limit
// (creating instances, static IPs, snapshots and load balancers, add-ons,
// downloading the default key pair), are on "*" (with a region, limited to
// it by aws:RequestedRegion); the rest are on instance, static IP,
// snapshot and load balancer ARNs of the region and account.
func MakePolicy(o PolicyOptions) (Policy, error) {
	if err := o.Validate(); err != nil {
		return Policy{}, err
	}
	region, account := o.Region, o.Account
	if region == "" {
		region = "*"
	}
	if account == "" {
		account = "*"
	}
	arn := func(typ string) string { return "arn:aws:lightsail:" + region + ":" + account + ":" + typ + "/*" }

	type group struct {
		sid       string
		actions   []string
		resources []string
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, a := range Actions() {
		key, sid := strings.Join(a.Resources, "+"), "Fountain"
		for i, r := range a.Resources {
			if i > 0 {
				sid += "And"
			}
			sid += r + "s"
		}
		switch {
		case len(a.Resources) == 0 && a.Access == "Read":
			key, sid = "read", "FountainRead"
		case len(a.Resources) == 0:
			key, sid = "account", "FountainAccountWrites"
		}
		g := byKey[key]
		if g == nil {
			g = &group{sid: sid}
			for _, r := range a.Resources {
				g.resources = append(g.resources, arn(r))
			}
			if len(g.resources) == 0 {
				g.resources = []string{"*"}
			}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.actions = append(g.actions, a.IAM)
	}
	// Reads first, then what creates, then what acts on named resources
	// (fewest resource types first).
	rank := func(g *group) int {
		switch g.sid {
		case "FountainRead":
			return 0
		case "FountainAccountWrites":
			return 1
		}
		return 1 + len(g.resources)
	}
	slices.SortStableFunc(groups, func(a, b *group) int { return rank(a) - rank(b) })

	p := Policy{Version: PolicyVersion}
	for _, g := range groups {
		st := PolicyStatement{Sid: g.sid, Effect: "Allow", Action: g.actions, Resource: g.resources}
		if o.Region != "" && slices.Equal(g.resources, []string{"*"}) {
			st.Condition = map[string]map[string]string{"StringEquals": {"aws:RequestedRegion": o.Region}}
		}
		p.Statement = append(p.Statement, st)
	}
	return p, nil
}
