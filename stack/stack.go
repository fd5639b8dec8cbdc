// Package stack is the stack file, fountain.yml: one region's desired
// infrastructure (Lightsail instances and load balancers, OpenSearch,
// Kong and its routes, Docker apps, GitHub repositories' secrets and
// workflow) as data.
//
// Parse reads a file (YAML, or JSON, which is YAML) strictly: unknown and
// duplicate keys, wrong types, nulls and oversized input are refused, and
// every error names the file, the line and column and the path of the
// value (fountain.yml:12:5: apps.my-app.ports[0]: ...). Validate checks
// the values by the rules of the engines that receive them, reusing their
// validators (lightsail, deploy, kong, github), and that references
// resolve. A stack file never holds a secret value: it names secrets kept
// in Fountain's vault (VaultNames, CheckVault).
//
// The package does no I/O. The planner (observe, plan, apply) builds on it.
package stack

import (
	"github.com/fountainai/fountain/deploy"
	"github.com/fountainai/fountain/github"
)

// Version is the format version this package reads.
const Version = 1

// Stack is one region's desired infrastructure, as fountain.yml declares
// it. Maps are keyed by name, so the order of a file never matters.
type Stack struct {
	Version    int                 `json:"version" enum:"1" doc:"The stack file format's version: 1." example:"1"`
	Region     string              `json:"region" minLength:"1" maxLength:"32" doc:"The AWS region of everything in the file (a Lightsail region), e.g. eu-central-1." example:"eu-central-1"`
	Instances  map[string]Instance `json:"instances,omitempty" doc:"Lightsail instances, by instance name (2 to 255 letters, digits, '_', '.', '-', starting and ending with a letter or digit)."`
	OpenSearch *OpenSearch         `json:"opensearch,omitempty" doc:"OpenSearch, installed on one instance of this file as deploy-opensearch does."`
	Kong       *Kong               `json:"kong,omitempty" doc:"Kong Gateway (DB-less) on one instance of this file (or several, as one gateway), and its routes."`
	Apps       map[string]App      `json:"apps,omitempty" doc:"Docker apps, by name: the name is the app's container name on each of its instances (2 to 128 letters, digits, '_', '.', '-', starting with a letter or digit)."`
	// LoadBalancers are Lightsail load balancers in front of instances of
	// this file.
	LoadBalancers map[string]LoadBalancer `json:"load_balancers,omitempty" doc:"Lightsail load balancers, by name (as instance names), in front of instances of this file; each adds $18 a month."`
	GitHub        *GitHub                 `json:"github,omitempty" doc:"GitHub repositories: their Actions secrets and the docker-ci.yml workflow Fountain renders."`
	Remove        *Remove                 `json:"remove,omitempty" doc:"What exists and must go. What exists but the file does not declare is only listed, as unmanaged; what is named here is deleted, and only by a plan or apply given allow_delete (--allow-delete)."`

	file string              // the name Parse was given
	pos  map[string]position // where each value is, by path
}

// Instance is a Lightsail instance.
type Instance struct {
	Bundle    string            `json:"bundle" minLength:"1" maxLength:"128" doc:"The plan (bundle id), e.g. small_3_0 (see GET /aws/lightsail/bundles)." example:"small_3_0"`
	Blueprint string            `json:"blueprint" minLength:"1" maxLength:"128" doc:"The image (blueprint id), e.g. ubuntu_24_04 (see GET /aws/lightsail/blueprints)." example:"ubuntu_24_04"`
	Zone      string            `json:"zone" minLength:"1" maxLength:"32" doc:"The availability zone, in the file's region, e.g. eu-central-1a." example:"eu-central-1a"`
	StaticIP  bool              `json:"static_ip,omitempty" doc:"Whether the instance has a static IP (named <instance>-ip), so its address survives stop and start."`
	Ports     []string          `json:"ports,omitempty" maxItems:"64" doc:"Public ports the instance's firewall has open: PORT or FROM-TO, optionally with /tcp (the default), /udp or /all, e.g. \"22\", \"443\", \"8000-8010/tcp\". Lightsail opens 22 and 80 on a new instance." example:"[\"22\", \"443\"]"`
	Tags      map[string]string `json:"tags,omitempty" maxProperties:"50" doc:"Lightsail tags of the instance (AWS's rules: keys of 1 to 128 characters, not starting with aws:)."`
	// AutoSnapshot is the AutoSnapshot add-on: HH:00, off, or "" (left
	// as it is).
	AutoSnapshot string `json:"auto_snapshot,omitempty" maxLength:"5" doc:"Lightsail's daily automatic snapshots (it keeps the last 7): the time they are taken, HH:00 in UTC, or off to turn them off. Left out, they stay as they are." example:"06:00"`
}

// AutoSnapshotOff is an instance's auto_snapshot that turns automatic
// snapshots off.
const AutoSnapshotOff = "off"

// OpenSearch is OpenSearch on one instance, or a cluster across several.
// Settings left out take deploy-opensearch's defaults.
type OpenSearch struct {
	Instance      string   `json:"instance,omitempty" maxLength:"255" doc:"The instance of this file it runs on (at least 2 GB of memory), or give instances." example:"search-1"`
	Instances     []string `json:"instances,omitempty" maxItems:"16" doc:"Several instances of this file as one cluster (named cluster_name), instead of instance: one node each, every node cluster-manager-eligible, deployed one at a time. Three is the usual shape; two are refused (no majority survives the loss of one)." example:"[\"search-1\", \"search-2\", \"search-3\"]"`
	Version       string   `json:"version,omitempty" maxLength:"32" doc:"The opensearch package version, pinned (default 2.19.1)." example:"2.19.1"`
	ClusterName   string   `json:"cluster_name,omitempty" maxLength:"64" doc:"cluster.name (default fountain)." example:"fountain"`
	NetworkHost   string   `json:"network_host,omitempty" maxLength:"64" doc:"network.host: the address OpenSearch listens on (default: the instance's private address; _local_ keeps it on the host's loopback)."`
	HeapMB        int      `json:"heap_mb,omitempty" minimum:"0" maximum:"65536" doc:"JVM heap in MB, at least 256 (default: half of the instance's memory)."`
	AdminPassword string   `json:"admin_password,omitempty" maxLength:"64" pattern:"^[a-z0-9][a-z0-9_.-]{0,63}$" doc:"The NAME of a vault secret holding the initial admin password (fountain vault set NAME), never the password itself. Default: Fountain generates one and keeps it." example:"opensearch-admin"`
}

// Kong is Kong Gateway in DB-less mode on one instance, or on several as
// one gateway (each node with its own copy of the config, one version
// history), with its routes.
type Kong struct {
	Instance     string           `json:"instance,omitempty" maxLength:"255" doc:"The instance of this file it runs on (or give instances)." example:"gateway-1"`
	Instances    []string         `json:"instances,omitempty" maxItems:"64" doc:"Several instances of this file running Kong as one gateway (named kong), instead of instance: the same config goes to each node in turn, with one version history." example:"[\"gw-1\", \"gw-2\"]"`
	Image        string           `json:"image,omitempty" maxLength:"256" doc:"The Kong image (default kong:3.9)." example:"kong:3.9"`
	ProxyPort    int              `json:"proxy_port,omitempty" minimum:"0" maximum:"65535" doc:"The host port of Kong's HTTP proxy (default 80)."`
	ProxyTLSPort int              `json:"proxy_tls_port,omitempty" minimum:"0" maximum:"65535" doc:"The host port of Kong's HTTPS proxy (default 443)."`
	Routes       map[string]Route `json:"routes,omitempty" doc:"Kong services and their routes, by name (letters, digits, '.', '-', '_', '~', at most 100)."`
}

// Route is a Kong service and its route: requests matching its paths
// and/or hosts go to an app of this file, or to an upstream URL.
type Route struct {
	App          string   `json:"app,omitempty" maxLength:"128" doc:"An app of this file to send the traffic to, instead of upstream_url: its upstream app-NAME, whose targets are its instances' private addresses and ports." example:"my-app"`
	Port         int      `json:"port,omitempty" minimum:"0" maximum:"65535" doc:"With app: the app's published host port to send to (default: its only published port)."`
	UpstreamURL  string   `json:"upstream_url,omitempty" maxLength:"2048" doc:"Where Kong sends the traffic, an http or https URL without credentials, instead of app." example:"http://10.0.0.9:8080"`
	Paths        []string `json:"paths,omitempty" maxItems:"32" doc:"Path prefixes that match, e.g. /app." example:"[\"/app\"]"`
	Hosts        []string `json:"hosts,omitempty" maxItems:"32" doc:"Host names that match (a wildcard may stand first or last: *.example.com)." example:"[\"docs.example.com\"]"`
	Methods      []string `json:"methods,omitempty" maxItems:"16" doc:"HTTP methods that match (default: all)."`
	StripPath    *bool    `json:"strip_path,omitempty" nullable:"false" doc:"Strip the matched path prefix before proxying (Kong's default: true)."`
	PreserveHost bool     `json:"preserve_host,omitempty" doc:"Send the client's Host header upstream."`
}

// App is a Docker app, run on each of its instances under its name, as
// deploy-docker-app runs it.
type App struct {
	Image         string              `json:"image" minLength:"1" maxLength:"512" doc:"The image: a reference such as ghcr.io/user/repo/my-app:latest, or pinned by digest (...@sha256:...)." example:"ghcr.io/user/repo/my-app:latest"`
	Instances     []string            `json:"instances" minItems:"1" maxItems:"64" doc:"The instances of this file it runs on." example:"[\"app-1\"]"`
	Ports         []string            `json:"ports,omitempty" maxItems:"64" doc:"Published ports, as docker run -p: HOST:CONTAINER or IP:HOST:CONTAINER, with /tcp, /udp or /sctp. Left out: each port the image EXPOSEs; [] publishes none." example:"[\"8080:8080\"]"`
	Env           map[string]string   `json:"env,omitempty" maxProperties:"256" doc:"Environment variables, in clear (shown in plans and records). Credentials go in secret_env."`
	SecretEnv     map[string]string   `json:"secret_env,omitempty" maxProperties:"256" doc:"Secret environment variables: variable NAME to the NAME of a vault secret holding its value (fountain vault set NAME), never the value. Masked in every plan, record and log."`
	Volumes       []string            `json:"volumes,omitempty" maxItems:"64" doc:"Volumes, as docker run -v: NAME:/path or /host/path:/path, with Docker's modes." example:"[\"data:/var/lib/app\"]"`
	HealthCheck   *deploy.HealthCheck `json:"health_check,omitempty" doc:"How to tell a new container is healthy before the old one is dropped (default: the image's HEALTHCHECK, else staying up a few seconds)."`
	RestartPolicy string              `json:"restart_policy,omitempty" maxLength:"32" doc:"no, always, unless-stopped (default) or on-failure[:MAX_RETRIES]." example:"unless-stopped"`
}

// LoadBalancer is a Lightsail load balancer: it listens on 80 (and 443
// once a certificate is attached) and forwards to instance_port on its
// instances that answer 200 at health_check_path.
type LoadBalancer struct {
	InstancePort    int      `json:"instance_port" minimum:"1" maximum:"65535" doc:"The port it forwards to on the instances (Lightsail cannot change it once created)." example:"80"`
	HealthCheckPath string   `json:"health_check_path,omitempty" maxLength:"256" doc:"The path it checks on each instance (default /); only instances answering 200 there get traffic." example:"/healthz"`
	Instances       []string `json:"instances,omitempty" maxItems:"10" doc:"The instances of this file it sends to (attached; others attached by hand are detached)." example:"[\"gw-1\", \"gw-2\"]"`
}

// GitHub is what the stack keeps on GitHub.
type GitHub struct {
	Repositories map[string]Repository `json:"repositories,omitempty" doc:"Repositories, by owner/name."`
}

// Repository is a GitHub repository's Actions secrets and workflow.
type Repository struct {
	Secrets      map[string]string      `json:"secrets,omitempty" maxProperties:"100" doc:"Repository secrets: GitHub secret NAME to the NAME of a vault secret holding its value, never the value."`
	Environments map[string]Environment `json:"environments,omitempty" doc:"Deployment environments, by name, and their secrets."`
	Workflow     *Workflow              `json:"workflow,omitempty" doc:"The docker-ci.yml workflow Fountain renders and commits (tests, then a push to GHCR)."`
}

// Environment is a deployment environment's secrets.
type Environment struct {
	Secrets map[string]string `json:"secrets,omitempty" maxProperties:"100" doc:"Environment secrets: GitHub secret NAME to the NAME of a vault secret holding its value, never the value."`
}

// Workflow is the docker-ci.yml of a repository: github.WorkflowSpec and
// where it goes.
type Workflow struct {
	github.WorkflowSpec
	Path         string `json:"path,omitempty" maxLength:"255" doc:"Where the workflow goes in the repository (default .github/workflows/docker-ci.yml)."`
	TargetBranch string `json:"target_branch,omitempty" maxLength:"255" doc:"The branch to commit it to (default: the repository's default branch)."`
}

// Remove names what a stack deletes (with allow_delete).
type Remove struct {
	Instances []string `json:"instances,omitempty" maxItems:"64" doc:"Lightsail instances to delete, by name (with their disks)."`
	// LoadBalancers are deleted with delete-load-balancer.
	LoadBalancers []string `json:"load_balancers,omitempty" maxItems:"64" doc:"Lightsail load balancers to delete, by name."`
	Apps          []string `json:"apps,omitempty" maxItems:"64" doc:"Docker apps to remove, by name, from every instance of this file."`
	Routes        []string `json:"routes,omitempty" maxItems:"64" doc:"Kong services and their routes to remove, by name."`
	Secrets       []string `json:"secrets,omitempty" maxItems:"100" doc:"GitHub secrets to delete: OWNER/REPO/NAME, or OWNER/REPO/ENVIRONMENT/NAME for an environment's."`
}

// Hosts are the instances OpenSearch runs on: instance, or instances.
func (o *OpenSearch) Hosts() []string {
	if len(o.Instances) > 0 {
		return o.Instances
	}
	if o.Instance == "" {
		return nil
	}
	return []string{o.Instance}
}

// Hosts are the instances Kong runs on: instance, or instances.
func (k *Kong) Hosts() []string {
	if len(k.Instances) > 0 {
		return k.Instances
	}
	if k.Instance == "" {
		return nil
	}
	return []string{k.Instance}
}

// File is the name the stack was parsed under ("" for a Stack built in Go).
func (s *Stack) File() string { return s.file }
