// Package lightsail is Fountain's adapter for Amazon Lightsail, through the
// official aws-sdk-go-v2 client: instances, static IPs, ports, access
// details, instance snapshots, load balancers, the bundle and blueprint
// catalogue, and cost. Each change is done
// as recorded, idempotent steps.
package lightsail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"
	"github.com/aws/smithy-go"

	"github.com/fountainai/fountain"
)

// Options configure the adapter.
type Options struct {
	// DefaultRegion is used when a request names none.
	DefaultRegion string
	// Endpoint, if set, is the Lightsail endpoint for every region (an
	// emulator). Otherwise the SDK's resolution applies, which honours
	// AWS_ENDPOINT_URL_LIGHTSAIL.
	Endpoint string
	// AccessKeyID and SecretAccessKey, if set, are static credentials;
	// otherwise the SDK's standard credential chain is used.
	AccessKeyID, SecretAccessKey string
	// PollInterval is how often waits poll (default 5 s, as Ansible does).
	PollInterval time.Duration
	// WaitTimeout bounds a wait for an instance (default 5 minutes).
	WaitTimeout time.Duration
	// ProbeSSH checks that SSH answers at addr (host:port). The default dials
	// and reads the SSH banner.
	ProbeSSH func(ctx context.Context, addr string) error
	// Now is the clock that names snapshots (default time.Now).
	Now func() time.Time
}

// Client is the Lightsail adapter. It is safe for concurrent use.
type Client struct {
	opts Options
	cfg  aws.Config

	mu sync.Mutex
	// clients and catalogue are keyed by region, and only Lightsail's
	// regions enter them (region and api check): at most len(regions) each.
	clients   map[string]*lightsail.Client
	catalogue map[string]*catalogue
}

// New loads the AWS configuration (standard chain unless static credentials
// are given) and returns a client.
func New(ctx context.Context, opts Options) (*Client, error) {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 5 * time.Second
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = 5 * time.Minute
	}
	if opts.ProbeSSH == nil {
		opts.ProbeSSH = ProbeSSH
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	loadOpts := []func(*awsconfig.LoadOptions) error{}
	if opts.DefaultRegion != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(opts.DefaultRegion))
	}
	if opts.AccessKeyID != "" {
		loadOpts = append(loadOpts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if opts.DefaultRegion == "" {
		opts.DefaultRegion = cfg.Region
	}
	return &Client{opts: opts, cfg: cfg, clients: map[string]*lightsail.Client{}, catalogue: map[string]*catalogue{}}, nil
}

// DefaultRegion is the region used when a request names none.
func (c *Client) DefaultRegion() string { return c.opts.DefaultRegion }

// region returns the region to use, validated against Lightsail's regions
// before anything is cached for it.
func (c *Client) region(region string) (string, error) {
	if region != "" {
		return region, ValidateRegion("region", region)
	}
	region = c.opts.DefaultRegion
	if region == "" {
		return "", fountain.Invalid("region", "is required (no default region is configured: set AWS_REGION)")
	}
	if !IsRegion(region) {
		return "", fountain.Invalid("region", "is required: the server's default region %s (AWS_REGION) is not a Lightsail region; Lightsail's regions are %s",
			echo(region), strings.Join(regions, ", "))
	}
	return region, nil
}

// api returns the SDK client for region, after checking that credentials
// can be had, so that a missing configuration is a clear 503. Clients are
// cached per region, and only for Lightsail's regions, so the cache holds
// at most len(regions) entries whatever callers send.
func (c *Client) api(ctx context.Context, region string) (*lightsail.Client, error) {
	if err := ValidateRegion("region", region); err != nil {
		return nil, err
	}
	c.mu.Lock()
	cl, ok := c.clients[region]
	c.mu.Unlock()
	if ok {
		return cl, nil
	}
	if c.cfg.Credentials == nil {
		return nil, noCredentials(nil)
	}
	if _, err := c.cfg.Credentials.Retrieve(ctx); err != nil {
		return nil, noCredentials(err)
	}
	cl = lightsail.NewFromConfig(c.cfg, func(o *lightsail.Options) {
		o.Region = region
		if c.opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.opts.Endpoint)
		}
		// Every call must be in the table the IAM policy is made from.
		o.APIOptions = append(o.APIOptions, requireAction)
	})
	c.mu.Lock()
	c.clients[region] = cl
	c.mu.Unlock()
	return cl, nil
}

func noCredentials(err error) error {
	return &fountain.Error{
		Code:    fountain.EUNAVAILABLE,
		Message: "no AWS credentials are configured",
		Hint:    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or run `fountain serve --sandbox` to use the built-in Lightsail emulator",
		Err:     err,
	}
}

// awsError maps an SDK error to a Fountain error with a clear message.
func awsError(action string, err error) error {
	if err == nil {
		return nil
	}
	var fe *fountain.Error
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", action, err)
	}
	var (
		nf  *types.NotFoundException
		inv *types.InvalidInputException
		ua  *types.UnauthenticatedException
		ad  *types.AccessDeniedException
		of  *types.OperationFailureException
		api smithy.APIError
	)
	switch {
	case errors.As(err, &nf):
		return &fountain.Error{Code: fountain.ENOTFOUND, Message: fmt.Sprintf("%s: %s", action, aws.ToString(nf.Message)), Err: err}
	case errors.As(err, &inv):
		return &fountain.Error{Code: fountain.EINVALID, Message: fmt.Sprintf("%s: %s", action, aws.ToString(inv.Message)), Err: err}
	case errors.As(err, &ad):
		return accessDenied(action, err)
	case errors.As(err, &ua):
		return authError(action, err)
	case errors.As(err, &of):
		return &fountain.Error{Code: fountain.EUPSTREAM, Message: fmt.Sprintf("%s: Lightsail refused: %s", action, aws.ToString(of.Message)), Err: err}
	case errors.As(err, &api):
		switch api.ErrorCode() {
		case "UnrecognizedClientException", "InvalidSignatureException", "SignatureDoesNotMatch",
			"IncompleteSignatureException", "ExpiredTokenException", "InvalidClientTokenId", "MissingAuthenticationTokenException":
			return authError(action, err)
		case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
			return accessDenied(action, err)
		}
		if notAuthorized.MatchString(api.ErrorMessage()) {
			return accessDenied(action, err)
		}
		return &fountain.Error{Code: fountain.EUPSTREAM, Message: fmt.Sprintf("%s: Lightsail answered %s: %s", action, api.ErrorCode(), api.ErrorMessage()), Err: err}
	}
	var netErr net.Error
	if errors.As(err, &netErr) || strings.Contains(err.Error(), "connection refused") {
		return &fountain.Error{Code: fountain.EUPSTREAM, Message: fmt.Sprintf("%s: Lightsail is not reachable", action), Err: err}
	}
	return &fountain.Error{Code: fountain.EUPSTREAM, Message: fmt.Sprintf("%s: Lightsail call failed", action), Err: err}
}

func authError(action string, err error) error {
	return &fountain.Error{
		Code:    fountain.EUPSTREAM,
		Message: fmt.Sprintf("%s: AWS rejected Fountain's credentials", action),
		Hint:    "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or the profile) and that the IAM user may use Lightsail",
		Err:     err,
	}
}

// accessDenied is IAM's refusal of one action: 403, naming the action the
// identity's policy lacks (from AWS's message, else from the table by the
// operation that was refused) and where to get the policy.
func accessDenied(action string, err error) error {
	missing := missingAction(refusal(err))
	if missing == "" {
		missing = "a Lightsail action"
	}
	return &fountain.Error{
		Code:    fountain.EFORBIDDEN,
		Message: fmt.Sprintf("%s: AWS refused: the IAM identity Fountain uses is not allowed %s", action, missing),
		Hint:    fmt.Sprintf("allow %s in that identity's IAM policy: `fountain aws policy` prints the least-privilege policy for every call Fountain makes", missing),
		Err:     err,
	}
}

// refusal returns AWS's message and the operation of an SDK error.
func refusal(err error) (message, operation string) {
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		operation = oe.OperationName
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		message = api.ErrorMessage()
	}
	return message, operation
}

// MissingAction returns the IAM action an error of the adapter says the
// identity lacks, or "" when err is not an IAM refusal.
func MissingAction(err error) string {
	var fe *fountain.Error
	if !errors.As(err, &fe) || fe.Code != fountain.EFORBIDDEN || fe.Err == nil {
		return ""
	}
	return missingAction(refusal(fe.Err))
}

// ProbeSSH dials addr and reads the SSH identification line.
func ProbeSSH(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: 3 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return fmt.Errorf("read SSH banner: %w", err)
	}
	if string(buf) != "SSH-" {
		return fmt.Errorf("%s does not speak SSH", addr)
	}
	return nil
}
