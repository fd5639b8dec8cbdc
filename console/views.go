package console

import (
	"encoding/json"
	"time"
)

// The API's answers as the console reads them. They are the console's own
// types, decoded from the API's JSON, so that the console depends on the
// API's documented answers and not on the packages behind them.

// instance is a Lightsail instance (GET /aws/lightsail/instances).
type instance struct {
	Name             string     `json:"instance_name"`
	Region           string     `json:"region"`
	AvailabilityZone string     `json:"availability_zone"`
	BlueprintID      string     `json:"blueprint_id"`
	BundleID         string     `json:"bundle_id"`
	State            string     `json:"state"`
	PublicIP         string     `json:"public_ip"`
	PrivateIP        string     `json:"private_ip"`
	IPv6Addresses    []string   `json:"ipv6_addresses"`
	IsStaticIP       bool       `json:"is_static_ip"`
	Username         string     `json:"username"`
	CreatedAt        *time.Time `json:"created_at"`
	Ports            []port     `json:"ports"`
	PriceMonthly     float64    `json:"price_monthly_usd"`
	SSHHostKeys      []hostKey  `json:"ssh_host_keys"`
	// AutoSnapshot is nil where the API does not say.
	AutoSnapshot *autoSnapshot `json:"auto_snapshot"`
}

type port struct {
	FromPort int      `json:"from_port"`
	ToPort   int      `json:"to_port"`
	Protocol string   `json:"protocol"`
	Cidrs    []string `json:"cidrs"`
}

type hostKey struct {
	Algorithm         string `json:"algorithm"`
	FingerprintSHA256 string `json:"fingerprint_sha256"`
}

type instanceList struct {
	Region    string     `json:"region"`
	Instances []instance `json:"instances"`
}

type cost struct {
	Region   string     `json:"region"`
	Items    []costItem `json:"items"`
	TotalUSD float64    `json:"total_monthly_usd"`
}

type costItem struct {
	Resource string  `json:"resource"`
	Type     string  `json:"type"`
	Plan     string  `json:"plan"`
	Monthly  float64 `json:"monthly_usd"`
}

type bundle struct {
	ID           string  `json:"bundle_id"`
	Name         string  `json:"name"`
	PriceMonthly float64 `json:"price_monthly_usd"`
	CPUCount     int     `json:"cpu_count"`
	RAMGB        float64 `json:"ram_gb"`
	DiskGB       int     `json:"disk_gb"`
	Active       bool    `json:"active"`
}

type blueprint struct {
	ID     string `json:"blueprint_id"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Active bool   `json:"active"`
}

// app is a Docker app on a host (GET /services/docker-apps).
type app struct {
	ContainerName string     `json:"container_name"`
	Role          string     `json:"role"`
	Image         string     `json:"image"`
	ImageID       string     `json:"image_id"`
	Digest        string     `json:"digest"`
	State         string     `json:"state"`
	Health        string     `json:"health"`
	StartedAt     *time.Time `json:"started_at"`
	UptimeSeconds int64      `json:"uptime_seconds"`
	RestartCount  int        `json:"restart_count"`
	Ports         []string   `json:"ports"`
}

type appList struct {
	Host string `json:"host"`
	Apps []app  `json:"apps"`
}

type appLogs struct {
	ContainerName string   `json:"container_name"`
	Lines         []string `json:"lines"`
}

type openSearchHealth struct {
	Host        string `json:"host"`
	ClusterName string `json:"cluster_name"`
	Status      string `json:"status"`
	Version     string `json:"version"`
	Nodes       int    `json:"number_of_nodes"`
	Active      int    `json:"active_shards"`
	Unassigned  int    `json:"unassigned_shards"`
	Tagline     string `json:"tagline"`
}

type kongConfig struct {
	Host    string      `json:"host"`
	Version int         `json:"version"`
	Hash    string      `json:"hash"`
	InSync  bool        `json:"in_sync"`
	Config  string      `json:"config"`
	Routes  []kongRoute `json:"routes"`
	StandIn bool        `json:"stand_in"`
	// A gateway of several nodes: its name, and the config each runs.
	Gateway string     `json:"gateway"`
	Nodes   []kongNode `json:"nodes"`
}

type kongNode struct {
	Host   string `json:"host"`
	Hash   string `json:"hash"`
	InSync bool   `json:"in_sync"`
}

type kongRoute struct {
	Name        string   `json:"name"`
	Service     string   `json:"service"`
	UpstreamURL string   `json:"upstream_url"`
	Paths       []string `json:"paths"`
	Hosts       []string `json:"hosts"`
	Methods     []string `json:"methods"`
}

type kongHistory struct {
	Host     string          `json:"host"`
	Identity string          `json:"identity"`
	Versions []configVersion `json:"versions"`
}

type configVersion struct {
	Version     int       `json:"version"`
	Hash        string    `json:"hash"`
	Source      string    `json:"source"`
	OperationID string    `json:"operation_id"`
	CreatedAt   time.Time `json:"created_at"`
}

type secretList struct {
	Repo        string   `json:"repo_name"`
	Environment string   `json:"environment"`
	Secrets     []secret `json:"secrets"`
}

type secret struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type tagList struct {
	Image     string `json:"image"`
	Tags      []tag  `json:"tags"`
	Total     int    `json:"total"`
	Truncated bool   `json:"truncated"`
}

type tag struct {
	Name    string     `json:"tag"`
	Digest  string     `json:"digest"`
	Created *time.Time `json:"created"`
	Error   string     `json:"error"`
}

// operation is an operation record (GET /operations/{id}).
type operation struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	Target     string          `json:"target"`
	DryRun     bool            `json:"dry_run"`
	Request    json.RawMessage `json:"request"`
	Status     string          `json:"status"`
	Changed    bool            `json:"changed"`
	Message    string          `json:"message"`
	Error      string          `json:"error"`
	ErrorCode  string          `json:"error_code"`
	ErrorHint  string          `json:"error_hint"`
	Result     json.RawMessage `json:"result"`
	Steps      []step          `json:"steps"`
	CreatedAt  time.Time       `json:"created_at"`
	StartedAt  *time.Time      `json:"started_at"`
	FinishedAt *time.Time      `json:"finished_at"`
}

// Live reports whether the operation may still change.
func (o *operation) Live() bool { return o.Status == "pending" || o.Status == "running" }

type step struct {
	Name       string    `json:"name"`
	Status     string    `json:"status"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	Output     string    `json:"output"`
	Error      string    `json:"error"`
	Reason     string    `json:"reason"`
}

type operationList struct {
	Operations []operation `json:"operations"`
}

// operationResult is the answer of a mutating call.
type operationResult struct {
	Status    string            `json:"status"`
	Message   string            `json:"message"`
	Changed   bool              `json:"changed"`
	Operation *operation        `json:"operation"`
	Once      map[string]string `json:"once"`
}

// planResult is what the result of a change says about its plan: the
// steps, the monthly cost before and after (Lightsail), a config's diff
// (Kong).
type planResult struct {
	Plan    []plannedStep `json:"plan"`
	Monthly *costDelta    `json:"monthly"`
	Diff    string        `json:"diff"`
}

type plannedStep struct {
	Name   string   `json:"name"`
	Change bool     `json:"change"`
	Reason string   `json:"reason"`
	Diff   string   `json:"diff"`
	Calls  []string `json:"calls"`
	Verify bool     `json:"verify"`
}

type costDelta struct {
	Before float64 `json:"before_usd"`
	After  float64 `json:"after_usd"`
}

// Delta is the change in monthly cost.
func (c *costDelta) Delta() float64 { return c.After - c.Before }

type operationLog struct {
	OperationID string    `json:"operation_id"`
	Status      string    `json:"status"`
	Steps       []step    `json:"steps"`
	Lines       []logLine `json:"lines"`
}

type logLine struct {
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	Step int       `json:"step"`
	Line string    `json:"line"`
}

type auditEntry struct {
	ID          int64     `json:"id"`
	Time        time.Time `json:"time"`
	Method      string    `json:"method"`
	Route       string    `json:"route"`
	Target      string    `json:"target"`
	Outcome     string    `json:"outcome"`
	StatusCode  int       `json:"status_code"`
	OperationID string    `json:"operation_id"`
	Detail      string    `json:"detail"`
}

type auditList struct {
	Entries []auditEntry `json:"entries"`
}

type health struct {
	Status  string `json:"status"`
	Version string `json:"version"`
	Sandbox bool   `json:"sandbox"`
}
