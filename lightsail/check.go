package lightsail

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/lightsail"
)

// Access is what CheckAccess found: where the credentials come from, the
// region, and what one read call answered. It never holds a key.
type Access struct {
	Region string `json:"region" doc:"The region checked."`
	// CredentialSource is the SDK's name for where the credentials came
	// from, e.g. EnvConfigCredentials, "SharedConfigCredentials: PATH",
	// StaticCredentials, or a role or SSO provider.
	CredentialSource string `json:"credential_source,omitempty" doc:"Where the credentials came from, as the AWS SDK names it."`
	Endpoint         string `json:"endpoint,omitempty" doc:"The Lightsail endpoint, when it is not AWS's (an emulator)."`
	Action           string `json:"action" doc:"The IAM action of the read call made."`
	Instances        int    `json:"instances" doc:"How many instances the read call listed (its first page)."`
}

// CheckAccess checks what a first real call needs, with one read call:
// the region (region, or the default), credentials the SDK can get (no
// call), then GetInstances (one page). The error is the adapter's:
// EINVALID for the region, EUNAVAILABLE without credentials, EFORBIDDEN
// naming the IAM action a policy lacks, EUPSTREAM when AWS rejects the
// credentials or cannot be reached. Access holds what was found even then.
func (c *Client) CheckAccess(ctx context.Context, region string) (Access, error) {
	a := Access{Endpoint: c.opts.Endpoint}
	region, err := c.region(region)
	if err != nil {
		return a, err
	}
	a.Region = region
	if c.cfg.Credentials == nil {
		return a, noCredentials(nil)
	}
	creds, err := c.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return a, noCredentials(err)
	}
	a.CredentialSource = creds.Source
	api, err := c.api(ctx, region)
	if err != nil {
		return a, err
	}
	op, _ := ActionFor("GetInstances")
	a.Action = op.IAM
	out, err := api.GetInstances(ctx, &lightsail.GetInstancesInput{})
	if err != nil {
		return a, awsError("list the instances of "+region, err)
	}
	a.Instances = len(out.Instances)
	return a, nil
}

// DescribeCredentialSource says where credentials came from, in words,
// from the SDK's name for it (profile is AWS_PROFILE, if set).
func DescribeCredentialSource(source, profile string) string {
	if profile == "" {
		profile = "default"
	}
	switch {
	case source == "":
		return "unknown source"
	case source == "EnvConfigCredentials":
		return "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
	case strings.HasPrefix(source, "SharedConfigCredentials: "):
		return "profile " + profile + " in " + strings.TrimPrefix(source, "SharedConfigCredentials: ")
	case source == "StaticCredentials":
		return "credentials given to Fountain"
	case strings.Contains(source, "EC2RoleProvider"):
		return "the EC2 instance role (" + source + ")"
	case strings.Contains(source, "AssumeRoleProvider"):
		return "an assumed role of profile " + profile + " (" + source + ")"
	case strings.Contains(source, "SSOProvider"):
		return "AWS SSO, profile " + profile + " (" + source + ")"
	}
	return source
}
