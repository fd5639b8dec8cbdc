package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/deploy"
)

// `fountain opensearch snapshot ...` and `fountain opensearch cluster`.

func (a *app) newOpenSearchSnapshotCmd() *cobra.Command {
	cmd := a.newGroupCmd("snapshot", "Take, list and restore snapshots of an OpenSearch Fountain deployed")
	cmd.Long = "Snapshots of indices into a repository: by default fountain, an fs repository under the node's path.repo\n" +
		"(deploy opensearch's snapshot_path, /var/backups/opensearch), registered by the first snapshot. It is on\n" +
		"the node's own disk: register an s3 repository (a Lightsail bucket) for copies off the host.\n\n" + hostFlagsHelp
	cmd.AddCommand(a.newSnapshotCreateCmd(), a.newSnapshotListCmd(), a.newSnapshotRestoreCmd(), a.newSnapshotRepositoryCmd())
	return cmd
}

// snapshotSummary says what a snapshot operation produced.
func snapshotSummary(raw json.RawMessage) [][2]string {
	var r deploy.OpenSearchSnapshotResult
	if json.Unmarshal(raw, &r) != nil {
		return nil
	}
	out := [][2]string{{"Host", r.Host}, {"Repository", r.Repository}}
	if s := r.Snapshot; s != nil {
		out = append(out, [2]string{"Snapshot", s.Name}, [2]string{"State", s.State}, [2]string{"Indices", strings.Join(s.Indices, ", ")},
			[2]string{"Shards", fmt.Sprintf("%d/%d", s.Shards-s.FailedShards, s.Shards)})
	}
	if len(r.Restored) > 0 {
		out = append(out, [2]string{"Restored", strings.Join(r.Restored, ", ")})
	}
	return out
}

type snapshotCreateOptions struct {
	Repository string
	Indices    []string
	Global     bool
	Partial    bool
	DryRun     bool
	hostFlags
	mutateFlags
}

func (a *app) newSnapshotCreateCmd() *cobra.Command {
	o := &snapshotCreateOptions{}
	cmd := &cobra.Command{
		Use:   "create [NAME] (--host ADDRESS --key PATH | --instance NAME)",
		Short: "Take a snapshot and follow it to its end (POST /services/opensearch/snapshots)",
		Long: "Take a snapshot of indices (default all). OpenSearch's states, IN_PROGRESS then SUCCESS (or PARTIAL,\n" +
			"FAILED), are steps of the operation. NAME defaults to snapshot-YYYYMMDD-HHMMSS (UTC); a snapshot of that\n" +
			"name that exists changes nothing.\n\n" + hostFlagsHelp,
		Example: "  fountain opensearch snapshot create nightly-1 --instance search-1\n" +
			"  fountain opensearch snapshot create --instance search-1 --index 'logs-*' --repository offsite",
		Args: cobra.MaximumNArgs(1),
	}
	o.hostFlags.add(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Repository, "repository", "", "the `repository` (default fountain)")
	f.StringArrayVar(&o.Indices, "index", nil, "an `index` or * pattern (repeatable; default all)")
	f.BoolVar(&o.Global, "include-global-state", false, "include the cluster state")
	f.BoolVar(&o.Partial, "partial", false, "accept a PARTIAL snapshot")
	f.BoolVar(&o.DryRun, "dry-run", false, "only check: print the plan and change nothing")
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		host, err := o.hostFlags.input(cmd, a.getenv)
		if err != nil {
			return err
		}
		host.DryRun = o.DryRun
		name := "snapshot-" + time.Now().UTC().Format("20060102-150405")
		if len(args) == 1 {
			name = args[0]
		}
		body := &deploy.OpenSearchSnapshotInput{HostInput: host, Repository: o.Repository, Snapshot: name, Indices: o.Indices,
			IncludeGlobalState: o.Global, Partial: o.Partial}
		return a.runHostCall(cmd, o.mutateFlags, hostCall{path: "/services/opensearch/snapshots", body: body, dryRun: o.DryRun, summary: snapshotSummary})
	})
	return cmd
}

type snapshotListOptions struct {
	Repository string
	hostReadFlags
}

func (a *app) newSnapshotListCmd() *cobra.Command {
	o := &snapshotListOptions{}
	cmd := &cobra.Command{
		Use:   "list (--host ADDRESS --key PATH | --instance NAME)",
		Short: "List the repositories and snapshots (GET /services/opensearch/snapshots)",
		Args:  cobra.NoArgs,
	}
	o.hostReadFlags.add(cmd, "")
	cmd.Flags().StringVar(&o.Repository, "repository", "", "only this `repository`'s snapshots")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		var list deploy.OpenSearchSnapshots
		extra := url.Values{}
		if o.Repository != "" {
			extra.Set("repository", o.Repository)
		}
		raw, err := a.hostGet(cmd, &o.hostFlags, "/services/opensearch/snapshots", extra, &list)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		printSnapshots(a.io.Out, list)
		return nil
	})
	return cmd
}

// printSnapshots prints the repositories, then the snapshots.
func printSnapshots(w io.Writer, list deploy.OpenSearchSnapshots) {
	t := newTable(w)
	fmt.Fprintln(t, "REPOSITORY\tTYPE\tSETTINGS")
	for _, r := range list.Repositories {
		var s []string
		for k, v := range r.Settings {
			s = append(s, k+"="+v)
		}
		sort.Strings(s)
		fmt.Fprintf(t, "%s\t%s\t%s\n", r.Name, r.Type, strings.Join(s, " "))
	}
	t.Flush()
	fmt.Fprintln(w)
	t = newTable(w)
	fmt.Fprintln(t, "REPOSITORY\tSNAPSHOT\tSTATE\tINDICES\tSHARDS\tSTARTED")
	for _, s := range list.Snapshots {
		started := ""
		if s.StartMillis > 0 {
			started = time.UnixMilli(s.StartMillis).UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Repository, s.Name, s.State, strings.Join(s.Indices, ","),
			strconv.Itoa(s.Shards-s.FailedShards)+"/"+strconv.Itoa(s.Shards), started)
	}
	t.Flush()
}

type snapshotRestoreOptions struct {
	Repository                       string
	Indices                          []string
	RenamePattern, RenameReplacement string
	Global, Partial, DryRun          bool
	hostFlags
	mutateFlags
}

func (a *app) newSnapshotRestoreCmd() *cobra.Command {
	o := &snapshotRestoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore NAME (--host ADDRESS --key PATH | --instance NAME)",
		Short: "Restore indices from a snapshot (POST /services/opensearch/restore-snapshot)",
		Long: "Restore indices (default all) of a SUCCESS snapshot and wait for them. An index that exists and is\n" +
			"open is refused: delete or close it, or restore under other names with --rename-pattern and\n" +
			"--rename-replacement (as OpenSearch takes them: $1 for a group).\n\n" + hostFlagsHelp,
		Example: "  fountain opensearch snapshot restore nightly-1 --instance search-1 --index books\n" +
			"  fountain opensearch snapshot restore nightly-1 --instance search-1 --rename-pattern '(.+)' --rename-replacement 'restored-$1'",
		Args: cobra.ExactArgs(1),
	}
	o.hostFlags.add(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Repository, "repository", "", "the `repository` (default fountain)")
	f.StringArrayVar(&o.Indices, "index", nil, "an `index` or * pattern to restore (repeatable; default all)")
	f.StringVar(&o.RenamePattern, "rename-pattern", "", "a `regexp` on the indices' names")
	f.StringVar(&o.RenameReplacement, "rename-replacement", "", "their new `names` ($1 for a group)")
	f.BoolVar(&o.Global, "include-global-state", false, "restore the cluster state too")
	f.BoolVar(&o.Partial, "partial", false, "restore a PARTIAL snapshot")
	f.BoolVar(&o.DryRun, "dry-run", false, "only check: print the plan and change nothing")
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		host, err := o.hostFlags.input(cmd, a.getenv)
		if err != nil {
			return err
		}
		host.DryRun = o.DryRun
		body := &deploy.OpenSearchRestoreInput{HostInput: host, Repository: o.Repository, Snapshot: args[0], Indices: o.Indices,
			RenamePattern: o.RenamePattern, RenameReplacement: o.RenameReplacement, IncludeGlobalState: o.Global, Partial: o.Partial}
		return a.runHostCall(cmd, o.mutateFlags, hostCall{path: "/services/opensearch/restore-snapshot", body: body, dryRun: o.DryRun, summary: snapshotSummary})
	})
	return cmd
}

type snapshotRepositoryOptions struct {
	Type, Location                        string
	Bucket, BucketRegion, BasePath, KeyID string
	Endpoint                              string
	SecretIn, DryRun                      bool
	hostFlags
	mutateFlags
}

func (a *app) newSnapshotRepositoryCmd() *cobra.Command {
	o := &snapshotRepositoryOptions{}
	cmd := &cobra.Command{
		Use:   "repository [NAME] (--host ADDRESS --key PATH | --instance NAME)",
		Short: "Register a snapshot repository (POST /services/opensearch/snapshot-repository)",
		Long: "Register a repository (NAME defaults to fountain): fs, a directory under path.repo (--location, default\n" +
			"the name), or s3, a bucket (a Lightsail bucket) through OpenSearch's repository-s3 plugin: --bucket,\n" +
			"--bucket-region, --access-key-id, and the secret key on stdin (--secret-access-key-stdin). The plugin is\n" +
			"installed (one restart) and the keys put in the keystore, on stdin, never on a command line.\n\n" + hostFlagsHelp,
		Example: "  fountain opensearch snapshot repository --instance search-1\n" +
			"  fountain opensearch snapshot repository offsite --instance search-1 --type s3 --bucket search-snapshots \\\n" +
			"      --bucket-region eu-central-1 --access-key-id AKIA... --secret-access-key-stdin < secret.txt",
		Args: cobra.MaximumNArgs(1),
	}
	o.hostFlags.add(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Type, "type", "fs", "fs or s3")
	f.StringVar(&o.Location, "location", "", "fs: the `directory` (under path.repo, or relative to it)")
	f.StringVar(&o.Bucket, "bucket", "", "s3: the `bucket`")
	f.StringVar(&o.BucketRegion, "bucket-region", "", "s3: the bucket's `region`")
	f.StringVar(&o.BasePath, "base-path", "", "s3: a `folder` in the bucket")
	f.StringVar(&o.Endpoint, "endpoint", "", "s3: the `endpoint` (default s3.REGION.amazonaws.com)")
	f.StringVar(&o.KeyID, "access-key-id", "", "s3: the bucket's access key `id`")
	f.BoolVar(&o.SecretIn, "secret-access-key-stdin", false, "s3: read the secret access key from stdin")
	f.BoolVar(&o.DryRun, "dry-run", false, "only check: print the plan and change nothing")
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		host, err := o.hostFlags.input(cmd, a.getenv)
		if err != nil {
			return err
		}
		host.DryRun = o.DryRun
		body := &deploy.OpenSearchRepositoryInput{HostInput: host, Type: o.Type, Location: o.Location}
		if len(args) == 1 {
			body.Repository = args[0]
		}
		if o.Type == "s3" {
			body.S3 = &deploy.OpenSearchS3Input{Bucket: o.Bucket, Region: o.BucketRegion, BasePath: o.BasePath, Endpoint: o.Endpoint, AccessKeyID: o.KeyID}
			if !o.SecretIn {
				return usagef(cmd, "type s3: give the secret access key on stdin with --secret-access-key-stdin")
			}
			if body.S3.SecretAccessKey, err = readHiddenValue(a.io, "Secret access key (not echoed): "); err != nil {
				return usagef(cmd, "--secret-access-key-stdin: %v", err)
			}
		}
		return a.runHostCall(cmd, o.mutateFlags, hostCall{path: "/services/opensearch/snapshot-repository", body: body, dryRun: o.DryRun, summary: snapshotSummary})
	})
	return cmd
}

type openSearchClusterOptions struct {
	Name, Version, Region, Key, User string
	Instances                        []string
	PasswordIn, Force, DryRun        bool
	SnapshotFirst                    bool
	HeapMB                           int
	mutateFlags
}

func (a *app) newOpenSearchClusterCmd() *cobra.Command {
	o := &openSearchClusterOptions{}
	cmd := &cobra.Command{
		Use:   "cluster --name NAME --instance NAME --instance NAME --instance NAME",
		Short: "Deploy an OpenSearch cluster across instances (POST /services/deploy-opensearch with cluster)",
		Long: "Deploy (or grow) a cluster, one instance at a time: every node cluster-manager-eligible, discovery over the\n" +
			"private addresses, node-to-node TLS with certificates from a CA Fountain makes for the cluster. The first\n" +
			"run bootstraps it; later runs with more instances join them (never a second bootstrap). Three instances\n" +
			"is the usual shape; two are refused unless --force (a majority of two is both).",
		Example: "  fountain opensearch cluster --name logs --instance search-1 --instance search-2 --instance search-3\n" +
			"  fountain opensearch cluster --name logs --instance search-1 --instance search-2 --instance search-3 --instance search-4",
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", "", "the cluster's `name` (cluster.name)")
	f.StringArrayVar(&o.Instances, "instance", nil, "a Lightsail instance `name` (repeatable, in order)")
	f.StringVar(&o.Region, "region", "", "the instances' AWS `region` (default: the server's)")
	f.StringVar(&o.Key, "key", "", "the private key that logs in (default: the region's default key pair)")
	f.StringVar(&o.User, "user", "", "the SSH login `user` (default ubuntu)")
	f.StringVar(&o.Version, "version", "", "the opensearch package `version`")
	f.IntVar(&o.HeapMB, "heap-mb", 0, "JVM heap in `MB` (default: half of the memory)")
	f.BoolVar(&o.PasswordIn, "admin-password-stdin", false, "read the admin password from stdin (default: one is generated and shown once)")
	f.BoolVar(&o.Force, "force", false, "deploy two nodes, or hosts the memory check refuses")
	f.BoolVar(&o.SnapshotFirst, "snapshot-first", false, "before another version replaces the installed one, take a Lightsail snapshot of each node's instance (and wait for it)")
	f.BoolVar(&o.DryRun, "dry-run", false, "only check: print the plan and change nothing")
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		if o.Name == "" || len(o.Instances) == 0 {
			return usagef(cmd, "give --name and the instances (--instance, repeated)")
		}
		hf := hostFlags{Instances: o.Instances[:1], Region: o.Region, Key: o.Key, User: o.User}
		host, err := hf.input(cmd, a.getenv)
		if err != nil {
			return err
		}
		host.InstanceName, host.DryRun = "", o.DryRun
		body := &deploy.OpenSearchInput{HostInput: host, Version: o.Version, HeapMB: o.HeapMB, Force: o.Force, SnapshotFirst: deploy.SnapshotFirst{SnapshotFirst: o.SnapshotFirst},
			Cluster: &deploy.OpenSearchClusterInput{Name: o.Name, InstanceNames: o.Instances}}
		if o.PasswordIn {
			if body.AdminPassword, err = readHiddenValue(a.io, "OpenSearch admin password (not echoed): "); err != nil {
				return usagef(cmd, "--admin-password-stdin: %v", err)
			}
		}
		call := hostCall{path: "/services/deploy-opensearch", body: body, dryRun: o.DryRun, summary: clusterSummary}
		if !o.PasswordIn {
			call.noStream = "a generated admin password comes only with the direct answer"
		}
		return a.runHostCall(cmd, o.mutateFlags, call)
	})
	return cmd
}

// clusterSummary says what the cluster deploy produced.
func clusterSummary(raw json.RawMessage) [][2]string {
	var r deploy.OpenSearchClusterResult
	if json.Unmarshal(raw, &r) != nil {
		return nil
	}
	var nodes []string
	for _, n := range r.Nodes {
		nodes = append(nodes, n.Instance+" ("+n.PrivateIP+")")
	}
	boot := ""
	if r.Bootstrapped {
		boot = "yes (this run)"
	}
	return [][2]string{{"Cluster", r.Cluster}, {"Nodes", strings.Join(nodes, ", ")}, {"Health", r.Status},
		{"Number of nodes", strconv.Itoa(r.NumberOfNodes)}, {"Bootstrapped", boot}, {"Version", r.Version}, {"Stand-in", r.StandIn}}
}
