package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/deploy"
	"github.com/fountainai/fountain/operation"
)

// OpenSearchService is the deploy engine's OpenSearch, as the API uses it
// (deploy.OpenSearch).
type OpenSearchService interface {
	// CheckFit refuses, with reads only, a Lightsail plan too small for
	// OpenSearch, before the operation starts.
	CheckFit(ctx context.Context, h *deploy.Host, in deploy.OpenSearchInput) error
	Deploy(ctx context.Context, rec fountain.Recorder, h *deploy.Host, in deploy.OpenSearchInput) (fountain.Outcome, error)
	// DeployCluster deploys a cluster across hosts, one at a time.
	DeployCluster(ctx context.Context, rec fountain.Recorder, hosts []*deploy.Host, in deploy.OpenSearchInput) (fountain.Outcome, error)
	Health(ctx context.Context, rec fountain.Recorder, h *deploy.Host) (*deploy.OpenSearchHealth, error)
	AdminPassword(ctx context.Context, h *deploy.Host) (string, error)
	// Snapshots: repositories, snapshots and restores.
	RegisterRepository(ctx context.Context, rec fountain.Recorder, h *deploy.Host, in deploy.OpenSearchRepositoryInput) (fountain.Outcome, error)
	Snapshot(ctx context.Context, rec fountain.Recorder, h *deploy.Host, in deploy.OpenSearchSnapshotInput) (fountain.Outcome, error)
	Restore(ctx context.Context, rec fountain.Recorder, h *deploy.Host, in deploy.OpenSearchRestoreInput) (fountain.Outcome, error)
	Snapshots(ctx context.Context, rec fountain.Recorder, h *deploy.Host, repository string) (*deploy.OpenSearchSnapshots, error)
}

// openSearch returns the OpenSearch service, or a 503 when the server has
// none.
func (s *Server) openSearch() (OpenSearchService, error) {
	if s.deps.OpenSearch == nil {
		return nil, fountain.Errorf(fountain.EUNAVAILABLE, "OpenSearch deploys are not configured on this server")
	}
	return s.deps.OpenSearch, nil
}

type openSearchHealthOutput struct {
	Body *deploy.OpenSearchHealth
}

func (s *Server) openSearchHealth(ctx context.Context, in *HostQuery) (*openSearchHealthOutput, error) {
	o, err := s.openSearch()
	if err != nil {
		return nil, err
	}
	health, _, err := readOnHost(ctx, s, *in, func(ctx context.Context, _ Deployer, h *deploy.Host) (*deploy.OpenSearchHealth, error) {
		return o.Health(ctx, readRecorder{s: s}, h)
	})
	if err != nil {
		return nil, err
	}
	return &openSearchHealthOutput{Body: health}, nil
}

type adminPasswordOutput struct {
	CacheControl string `header:"Cache-Control" doc:"no-store: the answer holds a password."`
	Body         struct {
		Host          string `json:"host" doc:"The host, address:port."`
		User          string `json:"user" doc:"The admin user (admin)."`
		AdminPassword string `json:"admin_password" doc:"The admin password Fountain keeps (encrypted) for this OpenSearch."`
	}
}

// revealAdminPassword answers the kept admin password. It is a POST, so
// that every reading is in the audit log.
func (s *Server) revealAdminPassword(ctx context.Context, in *struct{ Body deploy.HostInput }) (*adminPasswordOutput, error) {
	d, err := s.deployer()
	if err != nil {
		return nil, err
	}
	o, err := s.openSearch()
	if err != nil {
		return nil, err
	}
	hi := in.Body
	if err := hi.Validate(); err != nil {
		return nil, err
	}
	h, err := d.Resolve(ctx, hi)
	if err != nil {
		return nil, err
	}
	setAuditTarget(ctx, h.HostPort()+"/opensearch admin password")
	pw, err := o.AdminPassword(ctx, h)
	if err != nil {
		return nil, err
	}
	out := &adminPasswordOutput{CacheControl: "no-store"}
	out.Body.Host, out.Body.User, out.Body.AdminPassword = h.HostPort(), "admin", pw
	return out, nil
}

// openSearchRoutes are OpenSearch's snapshot routes: repositories,
// snapshots, restores.
func (s *Server) openSearchRoutes() {
	tag := []string{"Services"}
	mutation(s, huma.Operation{OperationID: "register-opensearch-snapshot-repository", Path: "/services/opensearch/snapshot-repository", Tags: tag,
		Summary: "Register a snapshot repository",
		Description: "Registers a snapshot repository in the cluster of an OpenSearch Fountain deployed: fs (default), a directory under the node's path.repo " +
			"(deploy-opensearch's snapshot_path, default /var/backups/opensearch; on a cluster, OpenSearch accepts it only if every node shares it), or s3, a bucket " +
			"(a Lightsail bucket and its access key) through OpenSearch's repository-s3 plugin: the plugin is installed (one restart), the keys put in the keystore " +
			"(on stdin, never on a command line; kept encrypted) and reloaded. Registered as asked already: changed=false. dry_run shows the plan."},
		onHost(s, hostRoute[deploy.OpenSearchRepositoryInput]{kind: "opensearch.register-repository",
			target: func(in *deploy.OpenSearchRepositoryInput) string { return "/opensearch/repository/" + in.Repository },
			check:  openSearchReady[deploy.OpenSearchRepositoryInput](s),
			run: func(ctx context.Context, _ Deployer, run *operation.Run, h *deploy.Host, in deploy.OpenSearchRepositoryInput) (fountain.Outcome, error) {
				return s.deps.OpenSearch.RegisterRepository(ctx, run, h, in)
			}}))
	mutation(s, huma.Operation{OperationID: "create-opensearch-snapshot", Path: "/services/opensearch/snapshots", Tags: tag,
		Summary: "Take a snapshot",
		Description: "Takes a snapshot of indices (default all) into a repository (default fountain, an fs repository under path.repo that the first snapshot registers) " +
			"and follows it to its end: OpenSearch's states (IN_PROGRESS, then SUCCESS, PARTIAL or FAILED) are steps of the operation. A snapshot of that name that exists (SUCCESS) changes nothing; " +
			"a FAILED one answers 409."},
		onHost(s, hostRoute[deploy.OpenSearchSnapshotInput]{kind: "opensearch.snapshot",
			target: func(in *deploy.OpenSearchSnapshotInput) string {
				return "/opensearch/snapshot/" + in.Repository + "/" + in.Snapshot
			},
			check: openSearchReady[deploy.OpenSearchSnapshotInput](s),
			run: func(ctx context.Context, _ Deployer, run *operation.Run, h *deploy.Host, in deploy.OpenSearchSnapshotInput) (fountain.Outcome, error) {
				return s.deps.OpenSearch.Snapshot(ctx, run, h, in)
			}}))
	mutation(s, huma.Operation{OperationID: "restore-opensearch-snapshot", Path: "/services/opensearch/restore-snapshot", Tags: tag,
		Summary: "Restore a snapshot",
		Description: "Restores indices (default all) of a SUCCESS snapshot and waits for them to be yellow or green. An index that exists and is open is refused (409) before anything: " +
			"delete or close it, or restore under other names (rename_pattern, rename_replacement, as OpenSearch takes them: $1 for a group)."},
		onHost(s, hostRoute[deploy.OpenSearchRestoreInput]{kind: "opensearch.restore",
			target: func(in *deploy.OpenSearchRestoreInput) string {
				return "/opensearch/snapshot/" + in.Repository + "/" + in.Snapshot
			},
			check: openSearchReady[deploy.OpenSearchRestoreInput](s),
			run: func(ctx context.Context, _ Deployer, run *operation.Run, h *deploy.Host, in deploy.OpenSearchRestoreInput) (fountain.Outcome, error) {
				return s.deps.OpenSearch.Restore(ctx, run, h, in)
			}}))
	register(s, huma.Operation{OperationID: "list-opensearch-snapshots", Method: http.MethodGet, Path: "/services/opensearch/snapshots", Tags: tag,
		Summary: "List snapshots", Description: "The snapshot repositories of an OpenSearch Fountain deployed, and the snapshots of one (or of all), with their states, through the SSH tunnel."},
		s.listOpenSearchSnapshots)
}

// openSearchReady refuses, before the operation, a server without
// OpenSearch deploys.
func openSearchReady[B any](s *Server) func(context.Context, Deployer, *deploy.Host, *B) error {
	return func(context.Context, Deployer, *deploy.Host, *B) error {
		_, err := s.openSearch()
		return err
	}
}

type snapshotsQuery struct {
	HostQuery
	Repository string `query:"repository" maxLength:"64" doc:"Only this repository's snapshots (default: every repository's)."`
}

type openSearchSnapshotsOutput struct {
	Body *deploy.OpenSearchSnapshots
}

func (s *Server) listOpenSearchSnapshots(ctx context.Context, in *snapshotsQuery) (*openSearchSnapshotsOutput, error) {
	o, err := s.openSearch()
	if err != nil {
		return nil, err
	}
	list, _, err := readOnHost(ctx, s, in.HostQuery, func(ctx context.Context, _ Deployer, h *deploy.Host) (*deploy.OpenSearchSnapshots, error) {
		return o.Snapshots(ctx, readRecorder{s: s}, h, in.Repository)
	})
	if err != nil {
		return nil, err
	}
	return &openSearchSnapshotsOutput{Body: list}, nil
}

// deployOpenSearch is deploy-opensearch's prepare function: one host, or
// a cluster across instances.
func (s *Server) deployOpenSearch() func(context.Context, *deploy.OpenSearchInput) (operation.Spec, operation.Func, error) {
	single := onHost(s, hostRoute[deploy.OpenSearchInput]{kind: "deploy.opensearch", target: fixed[deploy.OpenSearchInput]("/opensearch"),
		// A Lightsail plan too small for OpenSearch is refused before
		// anything runs (the design's own call creates a nano for it).
		check: func(ctx context.Context, _ Deployer, h *deploy.Host, in *deploy.OpenSearchInput) error {
			o, err := s.openSearch()
			if err != nil {
				return err
			}
			return o.CheckFit(ctx, h, *in)
		},
		run: func(ctx context.Context, _ Deployer, run *operation.Run, h *deploy.Host, in deploy.OpenSearchInput) (fountain.Outcome, error) {
			return s.deps.OpenSearch.Deploy(ctx, run, h, in) // check saw it set
		}})
	return func(ctx context.Context, body *deploy.OpenSearchInput) (operation.Spec, operation.Func, error) {
		if body.Cluster == nil {
			return single(ctx, body)
		}
		return s.prepareOpenSearchCluster(ctx, body)
	}
}

// prepareOpenSearchCluster validates a cluster request, resolves its
// instances (each plan checked for memory) and holds every host and the
// cluster.
func (s *Server) prepareOpenSearchCluster(ctx context.Context, body *deploy.OpenSearchInput) (operation.Spec, operation.Func, error) {
	d, err := s.deployer()
	if err != nil {
		return operation.Spec{}, nil, err
	}
	o, err := s.openSearch()
	if err != nil {
		return operation.Spec{}, nil, err
	}
	if err := body.Validate(); err != nil {
		return operation.Spec{}, nil, err
	}
	if err := body.Admit(d.Policy()); err != nil {
		return operation.Spec{}, nil, err
	}
	in := *body
	setAuditTarget(ctx, "opensearch cluster "+in.Cluster.Name)
	var hosts []*deploy.Host
	var locks []fountain.Lock
	for i, name := range in.Cluster.InstanceNames {
		hi, _ := in.NodeInput(name) // Validate checked it
		h, err := d.Resolve(ctx, hi)
		if err != nil {
			if fe, ok := err.(*fountain.Error); ok && fe.Field == "instance_name" {
				c := *fe
				c.Field = fmt.Sprintf("cluster.instance_names[%d]", i)
				err = &c
			}
			return operation.Spec{}, nil, err
		}
		if err := o.CheckFit(ctx, h, in); err != nil {
			return operation.Spec{}, nil, err
		}
		if err := checkSnapshotFirst(d, body, h); err != nil {
			return operation.Spec{}, nil, err
		}
		hosts = append(hosts, h)
		locks = append(locks, h.Locks()...)
	}
	region := hosts[0].Instance.Region
	locks = append(locks, fountain.Lock("opensearch-cluster:"+region+"/"+in.Cluster.Name))
	spec := operation.Spec{Kind: "deploy.opensearch-cluster", Target: region + "/opensearch-cluster/" + in.Cluster.Name, Locks: locks, Request: in,
		Secrets: append(in.Secrets(), d.Secrets()...), DryRun: in.DryRun}
	return spec, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		var lines []string
		for _, h := range hosts {
			lines = append(lines, h.Spelling+": "+h.Resolution)
		}
		if err := run.Step(ctx, "identify the cluster's hosts", func(context.Context) (fountain.StepResult, error) {
			return fountain.StepResult{Output: strings.Join(lines, "\n")}, nil
		}); err != nil {
			return operation.Outcome{}, err
		}
		return s.deps.OpenSearch.DeployCluster(ctx, run, hosts, in)
	}, nil
}
