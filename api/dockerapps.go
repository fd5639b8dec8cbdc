package api

import (
	"context"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/deploy"
)

// DockerApps is the deploy engine's Docker apps, as the API uses them.
type DockerApps interface {
	Deploy(ctx context.Context, rec fountain.Recorder, h *deploy.Host, in deploy.DockerAppInput) (fountain.Outcome, error)
	// Rollout deploys over several hosts, or behind a gateway.
	Rollout(ctx context.Context, rec fountain.Recorder, hosts []*deploy.Host, gw *deploy.Nodes, in deploy.DockerAppInput) (fountain.Outcome, error)
	RollbackBehindKong(ctx context.Context, rec fountain.Recorder, h *deploy.Host, gw deploy.Nodes, in deploy.AppInput) (fountain.Outcome, error)
	Rollback(ctx context.Context, rec fountain.Recorder, h *deploy.Host, in deploy.AppInput) (fountain.Outcome, error)
	Remove(ctx context.Context, rec fountain.Recorder, h *deploy.Host, in deploy.AppInput) (fountain.Outcome, error)
	List(ctx context.Context, rec fountain.Recorder, h *deploy.Host) ([]deploy.App, error)
	Logs(ctx context.Context, rec fountain.Recorder, h *deploy.Host, name string, tail int) ([]string, error)
}

// apps returns the Docker app service, or a 503 when the server has none.
func (s *Server) apps() (DockerApps, error) {
	if s.deps.Apps == nil {
		return nil, fountain.Errorf(fountain.EUNAVAILABLE, "Docker app deploys are not configured on this server")
	}
	return s.deps.Apps, nil
}

// appsReady refuses a Docker app route (503) before its operation starts
// when the server has no Docker app service.
func appsReady[B any](s *Server) func(context.Context, Deployer, *deploy.Host, *B) error {
	return func(context.Context, Deployer, *deploy.Host, *B) error {
		_, err := s.apps()
		return err
	}
}

type dockerAppsOutput struct {
	Body struct {
		Host string       `json:"host" doc:"The host, address:port."`
		Apps []deploy.App `json:"apps" doc:"The apps Fountain runs there, current and previous versions."`
	}
}

func (s *Server) listDockerApps(ctx context.Context, in *HostQuery) (*dockerAppsOutput, error) {
	apps, err := s.apps()
	if err != nil {
		return nil, err
	}
	list, h, err := readOnHost(ctx, s, *in, func(ctx context.Context, _ Deployer, h *deploy.Host) ([]deploy.App, error) {
		return apps.List(ctx, readRecorder{s: s}, h)
	})
	if err != nil {
		return nil, err
	}
	out := &dockerAppsOutput{}
	out.Body.Host, out.Body.Apps = h.HostPort(), list
	return out, nil
}

type appLogsInput struct {
	HostQuery
	ContainerName string `query:"container_name" required:"true" minLength:"1" maxLength:"128" doc:"The app's container."`
	Tail          int    `query:"tail" minimum:"0" maximum:"10000" doc:"How many of the last lines (default 100)."`
}

type appLogsOutput struct {
	Body struct {
		ContainerName string   `json:"container_name" doc:"The container."`
		Lines         []string `json:"lines" doc:"Its last lines of output, stdout and stderr."`
	}
}

func (s *Server) dockerAppLogs(ctx context.Context, in *appLogsInput) (*appLogsOutput, error) {
	apps, err := s.apps()
	if err != nil {
		return nil, err
	}
	ai := deploy.AppInput{HostInput: in.input(), ContainerName: in.ContainerName}
	if err := ai.Validate(); err != nil {
		return nil, queryError(err)
	}
	tail := in.Tail
	if tail == 0 {
		tail = 100
	}
	lines, _, err := readOnHost(ctx, s, in.HostQuery, func(ctx context.Context, _ Deployer, h *deploy.Host) ([]string, error) {
		return apps.Logs(ctx, readRecorder{s: s}, h, in.ContainerName, tail)
	})
	if err != nil {
		return nil, err
	}
	out := &appLogsOutput{}
	out.Body.ContainerName, out.Body.Lines = in.ContainerName, lines
	return out, nil
}
