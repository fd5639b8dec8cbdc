package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/deploy"
	"github.com/fountainai/fountain/operation"
)

// routes lists every route of the API.
func (s *Server) routes(mux *http.ServeMux) {
	public := []map[string][]string{}
	lightsailTag := []string{"Lightsail"}
	opsTag := []string{"Operations"}
	sysTag := []string{"System"}
	servicesTag := []string{"Services"}
	sshTag := []string{"SSH"}

	// System.
	register(s, huma.Operation{OperationID: "healthz", Method: http.MethodGet, Path: "/healthz", Tags: sysTag, Security: public,
		Summary: "Health check", Description: "Answers 200 while the server runs. Needs no token."}, s.healthz)
	register(s, huma.Operation{OperationID: "get-sandbox", Method: http.MethodGet, Path: "/sandbox", Tags: sysTag,
		Summary: "Sandbox status", Description: "In sandbox mode: the local registry, the sandbox SSH key and user, and the local hosts behind sandbox instances. 404 otherwise."}, s.sandboxStatus)
	register(s, huma.Operation{OperationID: "list-audit", Method: http.MethodGet, Path: "/audit", Tags: sysTag,
		Summary: "Audit log", Description: "Every mutating call and every operation's end, newest first. Never holds secrets."}, s.listAudit)
	s.backupRoutes() // POST /backup
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.HandleFunc("GET /docs", serveDocs)
	mux.HandleFunc("GET /docs/{file}", serveDocs)

	// Lightsail instances.
	mutation(s, huma.Operation{OperationID: "create-instance", Path: "/aws/lightsail/create-instance", Tags: lightsailTag,
		Summary: "Create a Lightsail instance",
		Description: "Creates an instance, idempotently: an instance of the same name with the same blueprint, bundle and zone answers success with changed=false; " +
			"one with other settings answers 409. Optionally attaches a static IP and waits until the instance runs and SSH answers. Reports the monthly price it adds. " +
			"from_snapshot, in place of blueprint_id, creates it from a snapshot: with its files, Docker images, containers and volumes."}, s.createInstance)
	for _, v := range []struct{ verb, summary, desc string }{
		{"start", "Start an instance", "Starts a stopped instance. Starting a running one changes nothing."},
		{"stop", "Stop an instance", "Stops a running instance. Stopping a stopped one changes nothing. Without a static IP, the instance gets a new public IP when started again."},
		{"reboot", "Reboot an instance", "Reboots a running instance (it keeps its disk and IP). A stopped instance answers 409."},
		{"delete", "Delete an instance", "Deletes an instance and its disk. Deleting a missing instance changes nothing. " +
			"With final_snapshot it first takes a snapshot and waits until it is available (nothing is deleted if that fails); the answer names it as snapshot_name."},
	} {
		mutation(s, huma.Operation{OperationID: v.verb + "-instance", Path: "/aws/lightsail/" + v.verb + "-instance",
			Tags: lightsailTag, Summary: v.summary, Description: v.desc}, s.lifecycle(v.verb))
	}
	register(s, huma.Operation{OperationID: "list-instances", Method: http.MethodGet, Path: "/aws/lightsail/instances", Tags: lightsailTag,
		Summary: "List instances", Description: "The region's instances with state, addresses, plan, open ports and monthly price."}, s.listInstances)
	register(s, huma.Operation{OperationID: "get-instance", Method: http.MethodGet, Path: "/aws/lightsail/instances/{name}", Tags: lightsailTag,
		Summary: "Show an instance", Description: "One instance, with its SSH host keys (algorithm and SHA256 fingerprint) from GetInstanceAccessDetails, for pinning."}, s.getInstance)
	mutation(s, huma.Operation{OperationID: "attach-static-ip", Path: "/aws/lightsail/attach-static-ip", Tags: lightsailTag,
		Summary: "Attach a static IP", Description: "Allocates the static IP if it does not exist and attaches it to the instance; already attached changes nothing."}, s.attachStaticIP)
	mutation(s, huma.Operation{OperationID: "open-ports", Path: "/aws/lightsail/open-ports", Tags: lightsailTag,
		Summary: "Open public ports", Description: "Opens a port range in the instance's firewall (OpenInstancePublicPorts; never PutInstancePublicPorts, which would close port 22). Already open changes nothing."}, s.ports(true))
	mutation(s, huma.Operation{OperationID: "close-ports", Path: "/aws/lightsail/close-ports", Tags: lightsailTag,
		Summary: "Close public ports", Description: "Closes a port range in the instance's firewall. Already closed changes nothing."}, s.ports(false))
	register(s, huma.Operation{OperationID: "list-bundles", Method: http.MethodGet, Path: "/aws/lightsail/bundles", Tags: lightsailTag,
		Summary: "List bundles (plans)", Description: "The region's instance plans with monthly price, CPU, RAM, disk and transfer."}, s.listBundles)
	register(s, huma.Operation{OperationID: "list-blueprints", Method: http.MethodGet, Path: "/aws/lightsail/blueprints", Tags: lightsailTag,
		Summary: "List blueprints (images)", Description: "The region's instance images."}, s.listBlueprints)
	register(s, huma.Operation{OperationID: "get-cost", Method: http.MethodGet, Path: "/aws/lightsail/cost", Tags: lightsailTag,
		Summary: "Monthly cost", Description: "The monthly cost of what exists in the region: each instance's bundle price, unattached static IPs, " +
			"instance snapshots ($0.05 per GB-month of their size) and load balancers ($18 each), per resource and in total."}, s.cost)
	s.snapshotRoutes(lightsailTag)
	s.loadBalancerRoutes(lightsailTag)

	// Deploys onto hosts over SSH.
	mutation(s, huma.Operation{OperationID: "deploy-docker-app", Path: "/services/deploy-docker-app", Tags: servicesTag,
		Summary: "Deploy a Docker app",
		Description: "Pulls an image (from GHCR, say) and runs it on a host over SSH, as the design's call does: {instance_ip, docker_image, ssh_key_path}. " +
			"Docker is installed if missing. Decided by digest and spec: an app already running the registry's image with the same settings is left alone (changed=false, nothing restarted); " +
			"a re-pushed tag is noticed. A new container replaces the old one only if it proves healthy; otherwise the old one is restored and the operation fails with the new one's last log lines. " +
			"The previous version is kept stopped for rollback. dry_run reports the plan and changes nothing. " +
			"With instance_names, a rollout over several instances: one host at a time (batch), each health-gated; more failures than max_failures stop it, and the answer says which host runs which digest. " +
			"With gateway, the app is Kong's upstream app-NAME (its targets: the app's hosts) and, unless ports are fixed, a deploy drops no request: the new container starts beside the old one on a host port Fountain picks, " +
			"Kong moves to it in one config load once it is healthy, the old one drains (drain_seconds, default 30) and stops, kept for rollback; one that never gets healthy is removed and Kong never sees it."},
		s.prepareDeployApp())
	mutation(s, huma.Operation{OperationID: "rollback-docker-app", Path: "/services/rollback-docker-app", Tags: servicesTag,
		Summary: "Roll a Docker app back", Description: "Swaps the app back to its previous version (kept stopped on the host since the last deploy), health-gated. Rolling back again returns to where it was. " +
			"With gateway (an app behind Kong): the previous version starts beside the running one, Kong moves to it once healthy, and the one rolled back from drains, then stops."},
		s.prepareRollbackApp())
	mutation(s, huma.Operation{OperationID: "remove-docker-app", Path: "/services/remove-docker-app", Tags: servicesTag,
		Summary: "Remove a Docker app", Description: "Stops and removes the app's container and its previous version. Images stay on the host. Removing an app that is not there changes nothing."},
		onHost(s, hostRoute[deploy.AppInput]{kind: "deploy.remove-docker-app", target: appTarget,
			check: appsReady[deploy.AppInput](s),
			run: func(ctx context.Context, _ Deployer, run *operation.Run, h *deploy.Host, in deploy.AppInput) (fountain.Outcome, error) {
				return s.deps.Apps.Remove(ctx, run, h, in)
			}}))
	register(s, huma.Operation{OperationID: "list-docker-apps", Method: http.MethodGet, Path: "/services/docker-apps", Tags: servicesTag,
		Summary: "List Docker apps on a host", Description: "The containers Fountain runs on the host (over SSH): image, digest, state, health, uptime, ports."}, s.listDockerApps)
	register(s, huma.Operation{OperationID: "docker-app-logs", Method: http.MethodGet, Path: "/services/docker-app-logs", Tags: servicesTag,
		Summary: "A Docker app's last lines", Description: "The last lines (stdout and stderr) of an app's container on a host, over SSH."}, s.dockerAppLogs)

	mutation(s, huma.Operation{OperationID: "deploy-opensearch", Path: "/services/deploy-opensearch", Tags: servicesTag,
		Summary: "Deploy OpenSearch",
		Description: "Installs OpenSearch 2.x on a host over SSH as its documentation says, as the design's call does: {instance_ip, ssh_key_path}. " +
			"The package comes from OpenSearch's apt repository (key in a signed-by keyring, pinned version); the initial admin password is given or generated " +
			"(shown once in the answer, kept encrypted for health checks, never logged). vm.max_map_count is set and persisted, discovery is single-node, the heap is half of the memory. " +
			"A host with less than 2 GB is refused with 422 naming the plans that fit, unless force. Waits for cluster health yellow or green through an SSH tunnel. " +
			"Idempotent: a second run changes and restarts nothing; a changed setting restarts it once. A dry run shows each step, why, the diff of each file and the commands. " +
			"With cluster {name, instance_names} (and region) instead of a host, it deploys a cluster one node at a time: every node cluster-manager-eligible, discovery.seed_hosts the private addresses, " +
			"cluster.initial_cluster_manager_nodes only for the first bootstrap (removed once it formed; never on later runs, where new nodes join), node-to-node TLS with certificates from a CA Fountain makes for the cluster " +
			"(plugins.security.nodes_dn); a restart of a member waits for the cluster to be whole again. Two nodes are refused unless force."},
		s.deployOpenSearch())
	register(s, huma.Operation{OperationID: "opensearch-health", Method: http.MethodGet, Path: "/services/opensearch/health", Tags: servicesTag,
		Summary: "OpenSearch cluster health", Description: "The cluster health and version of an OpenSearch Fountain deployed, asked through an SSH tunnel with the admin password Fountain keeps."}, s.openSearchHealth)

	register(s, huma.Operation{OperationID: "opensearch-admin-password", Method: http.MethodPost, Path: "/services/opensearch/admin-password", Tags: servicesTag,
		Summary: "Reveal OpenSearch's admin password",
		Description: "The admin password Fountain keeps (encrypted) for an OpenSearch it deployed, for a caller who did not see it shown once (an async deploy). " +
			"Each reading is in the audit log; the answer is never stored or replayed."}, s.revealAdminPassword)
	s.openSearchRoutes()
	mutation(s, huma.Operation{OperationID: "deploy-kong", Path: "/services/deploy-kong", Tags: servicesTag,
		Summary: "Deploy Kong Gateway (DB-less)",
		Description: "Runs Kong Gateway in DB-less mode with Docker on a host over SSH, as the design's call does: {instance_ip, ssh_key_path}. " +
			"Docker is installed if missing. KONG_DATABASE=off; the declarative config is /etc/kong/kong.yml, owned by Fountain (the last version applied, or an empty one); " +
			"the proxy listens on the host's ports 80 and 443; the Admin API is bound to the host's loopback only, never published (Fountain reaches it through SSH), and admits only the host (a route to Kong's own address gets nginx's 403). " +
			"Health-gated and idempotent like an app. With instance_names, a gateway of several Kong nodes (DB-less: each runs its own copy of the config), deployed one after the other with the same config, under one name (gateway) and one version history."},
		onGateway(s, gatewayRoute[deploy.KongInput]{kind: "deploy.kong",
			run: func(ctx context.Context, run *operation.Run, n deploy.Nodes, in deploy.KongInput) (fountain.Outcome, error) {
				return s.deps.Kong.Deploy(ctx, run, n, in)
			}}))

	s.kongRoutes()
	s.stackRoutes()
	s.stackImportRoute()
	s.readinessRoutes() // GET /aws/policy, GET /doctor

	// SSH host keys.
	register(s, huma.Operation{OperationID: "list-host-keys", Method: http.MethodGet, Path: "/ssh/host-keys", Tags: sshTag,
		Summary: "Trusted SSH host keys", Description: "The host keys Fountain verifies hosts against: pinned from Lightsail for its instances, else the first key seen (trust on first use)."}, s.listHostKeys)
	mutation(s, huma.Operation{OperationID: "forget-host-key", Path: "/ssh/forget-host-key", Tags: sshTag,
		Summary: "Forget a host's SSH keys", Description: "Forgets the keys trusted for a host, e.g. after the instance behind an address was replaced. The next connection pins Lightsail's keys, or trusts the first key seen."}, s.forgetHostKey)

	// GitHub: Actions secrets, GHCR tags, the docker-ci.yml of an app.
	githubTag := []string{"GitHub"}
	mutation(s, huma.Operation{OperationID: "add-github-secret", Path: "/github/add-secret", Tags: githubTag,
		Summary: "Create or update an Actions secret",
		Description: "The design's call: {repo_name, secret_name, secret_value, github_token}, github_token optional (default: the server's GITHUB_TOKEN). " +
			"The value is sealed with the repository's (or environment's) public key and written; the answer says created or updated. " +
			"GitHub never returns values, so Fountain keeps a keyed hash of what it wrote (never the value): sending the same value again changes nothing " +
			"while GitHub's updated_at still matches Fountain's last write (force writes anyway). secret_from_file names a file in the server's secret file directories instead of a value (not with github_token). " +
			"Validated before any call to GitHub: repo_name owner/name, secret_name by GitHub's rules (no GITHUB_ prefix), values up to 48 KB. " +
			"dry_run reports the plan (create, update or nothing, and why) and writes nothing, to GitHub or to Fountain's record."}, s.addSecret)
	mutation(s, huma.Operation{OperationID: "delete-github-secret", Path: "/github/delete-secret", Tags: githubTag,
		Summary: "Delete an Actions secret", Description: "Deletes a repository or environment secret. Deleting one that does not exist changes nothing. " +
			"dry_run reports the plan and deletes nothing."}, s.deleteSecret)
	register(s, huma.Operation{OperationID: "list-github-secrets", Method: http.MethodGet, Path: "/github/secrets", Tags: githubTag,
		Summary: "List Actions secrets", Description: "The secrets of a repository or environment: names and dates only (GitHub never returns values)."}, s.listSecrets)
	register(s, huma.Operation{OperationID: "list-image-tags", Method: http.MethodGet, Path: "/github/packages/tags", Tags: githubTag,
		Summary: "List an image's tags", Description: "The tags of a GHCR image (ghcr.io/OWNER/NAME) with their digests and creation times, newest first, " +
			"through the registry's token flow: anonymous, or the server's GHCR login (FOUNTAIN_GHCR_USER, FOUNTAIN_GHCR_TOKEN) for private images. " +
			"Deploy by digest (ghcr.io/OWNER/NAME@sha256:...) to be sure of what runs. In sandbox mode, ghcr.io is the sandbox registry."}, s.listTags)
	register(s, huma.Operation{OperationID: "get-workflow-template", Method: http.MethodGet, Path: "/github/workflow-template", Tags: githubTag,
		Summary: "Render an app's docker-ci.yml", Description: "A GitHub Actions workflow for an app: on pull requests and pushes it builds the image and runs the tests; " +
			"only on a push to the branch, once the tests passed, it pushes to GHCR (tags: the commit SHA and latest). Nothing is written."}, s.workflowTemplate)
	mutation(s, huma.Operation{OperationID: "install-github-workflow", Path: "/github/install-workflow", Tags: githubTag,
		Summary: "Commit an app's docker-ci.yml", Description: "Renders the workflow and commits it to the repository, only when called: the same file already there changes nothing; " +
			"a different file there answers 409 unless force. dry_run reports the plan with the file's diff and commits nothing."}, s.installWorkflow)

	// The stack file's schema, and the vault of the secrets stack files name.
	mux.HandleFunc("GET /schemas/stack.json", serveStackSchema)
	vaultTag := []string{"Vault"}
	register(s, huma.Operation{OperationID: "set-vault-secret", Method: http.MethodPut, Path: "/vault/{name}", Tags: vaultTag,
		Summary: "Set a vault secret",
		Description: "Keeps a named secret that stack files refer to by name (secret_env, GitHub secrets, OpenSearch's admin password), encrypted with the data directory's key. " +
			"The value is never stored in clear, logged, recorded or shown again: the operation records it as [redacted]. Setting the value it already holds writes nothing (changed=false)."}, s.setVaultSecret)
	register(s, huma.Operation{OperationID: "list-vault-secrets", Method: http.MethodGet, Path: "/vault", Tags: vaultTag,
		Summary: "List vault secrets", Description: "The vault's named secrets: names and dates, never values."}, s.listVaultSecrets)
	register(s, huma.Operation{OperationID: "delete-vault-secret", Method: http.MethodDelete, Path: "/vault/{name}", Tags: vaultTag,
		Summary: "Delete a vault secret", Description: "Deletes a named secret. Deleting one that is not set changes nothing."}, s.deleteVaultSecret)

	// Operations.
	register(s, huma.Operation{OperationID: "list-operations", Method: http.MethodGet, Path: "/operations", Tags: opsTag,
		Summary: "List operations", Description: "Recorded operations, newest first."}, s.listOperations)
	register(s, huma.Operation{OperationID: "get-operation", Method: http.MethodGet, Path: "/operations/{id}", Tags: opsTag,
		Summary: "Show an operation", Description: "One operation with its steps, live while it runs."}, s.getOperation)
	register(s, huma.Operation{OperationID: "get-operation-log", Method: http.MethodGet, Path: "/operations/{id}/log", Tags: opsTag,
		Summary: "An operation's whole output", Description: "Every line of output of the operation, in order, with the step each belongs to (secrets redacted). Lines are stored as they come, so nothing is lost if Fountain stops."}, s.operationLog)
	register(s, huma.Operation{OperationID: "cancel-operation", Method: http.MethodPost, Path: "/operations/{id}/cancel", Tags: opsTag,
		Summary: "Cancel an operation", Description: "Stops a running operation at its current step; it ends as cancelled. An operation that already ended answers 409."}, s.cancelOperation)
	s.registerEvents()
}

// appTarget is the target of an operation on an app.
func appTarget(in *deploy.AppInput) string { return "/" + in.ContainerName }
