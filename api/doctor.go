package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail"
)

// Statuses of a Check.
const (
	CheckOK   = "ok"
	CheckWarn = "warn"
	CheckFail = "fail"
)

// Check is one thing the doctor looked at.
type Check struct {
	Name   string `json:"name" doc:"What was checked: aws, ssh-key-dir, data-dir, disk, github-token, ghcr, docker, sandbox-image, apt-cache."`
	Status string `json:"status" enum:"ok,warn,fail" doc:"ok; warn: works, but look; fail: a first real run will fail here."`
	Found  string `json:"found" doc:"What was found. Never a token or key: where it came from, and its scopes."`
	Fix    string `json:"fix,omitempty" doc:"What to do about it."`
}

// DoctorReport is what the doctor found.
type DoctorReport struct {
	Mode    string  `json:"mode" enum:"aws,sandbox" doc:"Whether the checks were of AWS or of the sandbox."`
	DataDir string  `json:"data_dir" doc:"The data directory checked."`
	OK      bool    `json:"ok" doc:"Whether no check failed."`
	Checks  []Check `json:"checks" doc:"One entry per check, in a fixed order."`
}

// Doctor checks what a first real run needs, on the server's machine.
type Doctor interface {
	Check(ctx context.Context) DoctorReport
}

type doctorOutput struct {
	Body DoctorReport
}

type policyInput struct {
	Region  string `query:"region" doc:"Limit every action to this Lightsail region." example:"eu-central-1"`
	Account string `query:"account" doc:"The 12-digit AWS account in the ARNs." example:"123456789012"`
}

type policyOutput struct {
	Body lightsail.Policy
}

// readinessRoutes registers what tells whether Fountain is ready for a
// real AWS account: the IAM policy it needs and the doctor's checks.
func (s *Server) readinessRoutes() {
	sysTag := []string{"System"}
	register(s, huma.Operation{OperationID: "get-aws-policy", Method: http.MethodGet, Path: "/aws/policy", Tags: []string{"Lightsail"},
		Summary: "The IAM policy Fountain needs",
		Description: "The least-privilege IAM policy for every Lightsail call Fountain makes, made from the same table the calls are checked against: " +
			"reads and the writes IAM cannot limit on *, the rest on instance and static IP ARNs. region and account narrow it. Paste it as the IAM identity's policy."},
		s.awsPolicy)
	register(s, huma.Operation{OperationID: "doctor", Method: http.MethodGet, Path: "/doctor", Tags: sysTag,
		Summary: "Check what a first real run needs",
		Description: "Checks on the server's machine, each ok, warn or fail with what was found and what to do: AWS credentials and region (one read call), " +
			"the SSH key directories and their modes, the GitHub token and its scopes, the GHCR login (a token-flow read), the data directory and free disk, " +
			"and in sandbox mode Docker, the host image and the apt cache. Never shows a token or key."},
		s.doctor)
}

func (s *Server) awsPolicy(ctx context.Context, in *policyInput) (*policyOutput, error) {
	p, err := lightsail.MakePolicy(lightsail.PolicyOptions{Region: in.Region, Account: in.Account})
	if err != nil {
		return nil, err
	}
	return &policyOutput{Body: p}, nil
}

func (s *Server) doctor(ctx context.Context, _ *struct{}) (*doctorOutput, error) {
	if s.deps.Doctor == nil {
		return nil, fountain.Errorf(fountain.EUNAVAILABLE, "the doctor is not configured on this server")
	}
	return &doctorOutput{Body: s.deps.Doctor.Check(ctx)}, nil
}
