package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// The well-known pair a Server accepts when Options.Credentials is empty.
// They are public, so they are for tests only: `fountain serve --sandbox`
// and `fountain emulate lightsail` generate a pair per data directory (see
// LoadOrCreateCredentials) and never accept these.
const (
	AccessKeyID     = "AKIAFOUNTAINSANDBOX"
	SecretAccessKey = "fountainSandboxSecretAccessKeyNotASecret"
)

// DefaultAccountID is the 12-digit account the ARNs name when
// Options.AccountID is empty.
const DefaultAccountID = "123456789012"

// Default transition durations and page size.
const (
	DefaultCreateDelay = 3 * time.Second
	DefaultStartDelay  = 2 * time.Second
	DefaultStopDelay   = 2 * time.Second
	DefaultRebootDelay = 2 * time.Second
	DefaultPageSize    = 100
	// DefaultSnapshotDelay is how long a snapshot stays pending without
	// Hosts.
	DefaultSnapshotDelay = 5 * time.Second
	// DefaultLoadBalancerDelay is how long a load balancer stays
	// provisioning, and an attached instance's health initial, without
	// Balancers.
	DefaultLoadBalancerDelay = 5 * time.Second
	// DefaultCertificateDelay is how long a load balancer's certificate
	// stays PENDING_VALIDATION: the emulator cannot see DNS, so it deems the
	// validation records added after this long.
	DefaultCertificateDelay = 30 * time.Second
)

// Default address prefixes. Both are loopback, so no address the emulator
// hands out can reach a machine on another network.
var (
	DefaultPublicPrefix  = netip.MustParsePrefix("127.1.0.0/16")
	DefaultPrivatePrefix = netip.MustParsePrefix("127.2.0.0/16")
)

// Options configures a Server. The zero value is a working emulator.
type Options struct {
	// Credentials maps access key IDs to secret access keys. When empty, the
	// server accepts exactly the well-known AccessKeyID / SecretAccessKey
	// (tests only).
	Credentials map[string]string

	// AccountID is the 12-digit account ID in ARNs (DefaultAccountID if empty
	// or not 12 digits).
	AccountID string

	// Logger receives one record per request and background host event.
	// Secrets and private keys are never logged. Nil discards.
	Logger *slog.Logger

	// Now is the clock (time.Now if nil). Instance states are computed from it
	// lazily, and SigV4 dates are checked against it.
	Now func() time.Time

	// Durations of the transitional states when Hosts is nil: pending after
	// CreateInstances, pending after StartInstance, stopping, rebooting. Zero
	// means the default; a negative value means the next request already sees
	// the final state.
	CreateDelay, StartDelay, StopDelay, RebootDelay time.Duration

	// SnapshotDelay, LoadBalancerDelay and CertificateDelay are how long a
	// snapshot stays pending (without SnapshotHosts), a load balancer
	// provisioning (without Balancers) and a certificate
	// PENDING_VALIDATION. Zero means the default; negative, at once.
	SnapshotDelay, LoadBalancerDelay, CertificateDelay time.Duration

	// PageSize is the page size of every paged Get* operation
	// (DefaultPageSize if zero).
	PageSize int

	// PublicPrefix and PrivatePrefix are the IPv4 prefixes instance and static
	// IP addresses are allocated from (DefaultPublicPrefix and
	// DefaultPrivatePrefix if invalid or zero).
	PublicPrefix, PrivatePrefix netip.Prefix

	// Hosts, when set, backs instances with real machines (sandbox mode).
	// Hosts that also implement SnapshotHosts back snapshots with real
	// copies of their disks.
	Hosts Hosts

	// Balancers, when set, backs load balancers with real listeners that
	// forward to the attached instances' private addresses (sandbox mode).
	Balancers Balancers

	// DefaultKeyPair is what DownloadDefaultKeyPair returns and what
	// GetInstanceAccessDetails returns as privateKey, in every region. When
	// nil, the server generates one ed25519 key per region.
	DefaultKeyPair *KeyMaterial
}

// KeyMaterial is an SSH key pair.
type KeyMaterial struct {
	// PrivateKeyPEM is the private key in PEM form (e.g. "-----BEGIN OPENSSH
	// PRIVATE KEY-----").
	PrivateKeyPEM string
	// PublicKey is the public key in authorized_keys form ("ssh-ed25519 AAAA...").
	PublicKey string
}

// Server is an emulated Lightsail endpoint. It is an http.Handler and is safe
// for concurrent use.
type Server struct {
	opts     Options
	creds    map[string]string
	log      *slog.Logger
	now      func() time.Time
	account  string
	pageSize int
	delays   struct{ create, start, stop, reboot, snapshot, lb, cert time.Duration }
	defKey   *KeyMaterial
	defPub   ssh.PublicKey
	userCA   ssh.Signer

	mu      sync.Mutex
	regions map[string]*region
	public  *ipPool
	private *ipPool
	ipv6    *ipv6Pool

	faultMu sync.Mutex
	faults  []*fault

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// region is the state of one emulated region.
type region struct {
	name       string
	instances  map[string]*instance
	staticIPs  map[string]*staticIP
	keyPairs   map[string]*keyPair
	defaultKey *keyPair
	snapshots  map[string]*snapshot
	balancers  map[string]*loadBalancer
	ops        []*operation
	opsByID    map[string]*operation
	opSeq      int
}

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

// New returns a Server configured by opts.
func New(opts Options) *Server {
	s := &Server{
		opts:     opts,
		log:      opts.Logger,
		now:      opts.Now,
		account:  opts.AccountID,
		pageSize: opts.PageSize,
		regions:  map[string]*region{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if !accountPattern.MatchString(s.account) {
		s.account = DefaultAccountID
	}
	if s.pageSize <= 0 {
		s.pageSize = DefaultPageSize
	}
	s.creds = maps.Clone(opts.Credentials)
	if len(s.creds) == 0 {
		s.creds = map[string]string{AccessKeyID: SecretAccessKey}
	}
	s.delays.create = delay(opts.CreateDelay, DefaultCreateDelay)
	s.delays.start = delay(opts.StartDelay, DefaultStartDelay)
	s.delays.stop = delay(opts.StopDelay, DefaultStopDelay)
	s.delays.reboot = delay(opts.RebootDelay, DefaultRebootDelay)
	s.delays.snapshot = delay(opts.SnapshotDelay, DefaultSnapshotDelay)
	s.delays.lb = delay(opts.LoadBalancerDelay, DefaultLoadBalancerDelay)
	s.delays.cert = delay(opts.CertificateDelay, DefaultCertificateDelay)
	s.public = newIPPool(opts.PublicPrefix, DefaultPublicPrefix)
	s.private = newIPPool(opts.PrivatePrefix, DefaultPrivatePrefix)
	s.ipv6 = newIPv6Pool()
	if opts.DefaultKeyPair != nil {
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(opts.DefaultKeyPair.PublicKey))
		if err != nil {
			s.log.Error("lightsail emulator: ignoring Options.DefaultKeyPair: its public key does not parse", "err", err)
		} else {
			km := *opts.DefaultKeyPair
			s.defKey, s.defPub = &km, pub
		}
	}
	ca, err := newEd25519Signer()
	if err != nil {
		panic("lightsail emulator: generating the user CA key: " + err.Error())
	}
	s.userCA = ca
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

func delay(v, def time.Duration) time.Duration {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// Credentials returns a copy of the access key ID -> secret access key pairs
// the server accepts.
func (s *Server) Credentials() map[string]string { return maps.Clone(s.creds) }

// Close stops background work (host calls in progress see their context
// cancelled) and waits for it to end. The server still answers requests
// afterwards, but no longer calls Hosts.
func (s *Server) Close() {
	s.mu.Lock() // host calls are enqueued under s.mu: none starts after this
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
}

// regionState returns the state of a region, creating it on first use.
// Callers hold s.mu.
func (s *Server) regionState(name string) *region {
	rg, ok := s.regions[name]
	if !ok {
		rg = &region{
			name:      name,
			instances: map[string]*instance{},
			staticIPs: map[string]*staticIP{},
			keyPairs:  map[string]*keyPair{},
			snapshots: map[string]*snapshot{},
			balancers: map[string]*loadBalancer{},
			opsByID:   map[string]*operation{},
		}
		s.regions[name] = rg
	}
	return rg
}

// call is one API request being served.
type call struct {
	s      *Server
	op     string
	region string
	now    time.Time
	body   []byte
	rg     *region
	locked bool
}

func (c *call) decode(v any) *apiError { return decodeInput(c.body, v) }

// lock takes the server lock, brings the region's lazily computed state up
// to date and returns the region.
func (c *call) lock() *region {
	c.s.mu.Lock()
	c.locked = true
	c.rg = c.s.regionState(c.region)
	c.s.settle(c.rg, c.now)
	return c.rg
}

func (c *call) unlock() {
	if c.locked {
		c.locked = false
		c.s.mu.Unlock()
	}
}

// handlers maps operation names to their implementations.
var handlers = map[string]func(*call) (any, *apiError){
	"CreateInstances":          (*call).createInstances,
	"GetInstance":              (*call).getInstance,
	"GetInstances":             (*call).getInstances,
	"GetInstanceState":         (*call).getInstanceState,
	"StartInstance":            (*call).startInstance,
	"StopInstance":             (*call).stopInstance,
	"RebootInstance":           (*call).rebootInstance,
	"DeleteInstance":           (*call).deleteInstance,
	"AllocateStaticIp":         (*call).allocateStaticIP,
	"AttachStaticIp":           (*call).attachStaticIP,
	"DetachStaticIp":           (*call).detachStaticIP,
	"ReleaseStaticIp":          (*call).releaseStaticIP,
	"GetStaticIp":              (*call).getStaticIP,
	"GetStaticIps":             (*call).getStaticIPs,
	"OpenInstancePublicPorts":  (*call).openPorts,
	"CloseInstancePublicPorts": (*call).closePorts,
	"PutInstancePublicPorts":   (*call).putPorts,
	"GetInstancePortStates":    (*call).getPortStates,
	"GetInstanceAccessDetails": (*call).getAccessDetails,
	"DownloadDefaultKeyPair":   (*call).downloadDefaultKeyPair,
	"CreateKeyPair":            (*call).createKeyPair,
	"ImportKeyPair":            (*call).importKeyPair,
	"GetKeyPair":               (*call).getKeyPair,
	"GetKeyPairs":              (*call).getKeyPairs,
	"DeleteKeyPair":            (*call).deleteKeyPair,
	"GetBundles":               (*call).getBundles,
	"GetBlueprints":            (*call).getBlueprints,
	"GetRegions":               (*call).getRegions,
	"GetOperation":             (*call).getOperation,
	"GetOperations":            (*call).getOperations,
	"GetOperationsForResource": (*call).getOperationsForResource,

	"CreateInstanceSnapshot":      (*call).createInstanceSnapshot,
	"GetInstanceSnapshot":         (*call).getInstanceSnapshot,
	"GetInstanceSnapshots":        (*call).getInstanceSnapshots,
	"DeleteInstanceSnapshot":      (*call).deleteInstanceSnapshot,
	"CreateInstancesFromSnapshot": (*call).createInstancesFromSnapshot,
	"EnableAddOn":                 (*call).enableAddOn,
	"DisableAddOn":                (*call).disableAddOn,

	"CreateLoadBalancer":               (*call).createLoadBalancer,
	"GetLoadBalancer":                  (*call).getLoadBalancer,
	"GetLoadBalancers":                 (*call).getLoadBalancers,
	"DeleteLoadBalancer":               (*call).deleteLoadBalancer,
	"AttachInstancesToLoadBalancer":    (*call).attachInstancesToLoadBalancer,
	"DetachInstancesFromLoadBalancer":  (*call).detachInstancesFromLoadBalancer,
	"UpdateLoadBalancerAttribute":      (*call).updateLoadBalancerAttribute,
	"CreateLoadBalancerTlsCertificate": (*call).createLoadBalancerTLSCertificate,
	"AttachLoadBalancerTlsCertificate": (*call).attachLoadBalancerTLSCertificate,
	"GetLoadBalancerTlsCertificates":   (*call).getLoadBalancerTLSCertificates,
}

// Operations returns the sorted names of the operations the emulator
// serves; any other X-Amz-Target is UnknownOperationException.
func Operations() []string {
	out := make([]string, 0, len(handlers))
	for k := range handlers {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ServeHTTP serves one AWS JSON 1.1 request: it verifies the signature,
// routes on X-Amz-Target and answers the operation's output or error.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	now := s.now()
	reqID := newUUID()
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))

	c := &call{s: s, now: now}
	status := http.StatusOK
	var errType string
	defer func() {
		c.unlock()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelWarn
		}
		s.log.Log(context.Background(), level, "lightsail request",
			"op", c.op, "region", c.region, "status", status, "error", errType,
			"request_id", reqID, "duration", time.Since(started))
	}()
	fail := func(e *apiError) {
		status, errType = e.Status, e.Type
		writeError(w, e)
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		e := newError(SerializationException, "Unable to read the request body.")
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			e = &apiError{Type: SerializationException, Status: http.StatusRequestEntityTooLarge, Message: "Request body too large."}
		}
		fail(e)
		return
	}
	c.body = body

	regionName, aerr := s.authenticate(r, body, now)
	if aerr != nil {
		fail(aerr)
		return
	}
	c.region = regionName

	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, targetPrefix+".")
	handler := handlers[op]
	if r.Method != http.MethodPost || !ok || handler == nil {
		c.op = target
		fail(newError(UnknownOperationException, "Operation %q is not supported by the Lightsail emulator.", target))
		return
	}
	c.op = op
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != jsonContentType && mt != "application/x-amz-json-1.0" && mt != "application/json" {
		fail(newError(SerializationException, "Unsupported Content-Type %q: expected %s.", r.Header.Get("Content-Type"), jsonContentType))
		return
	}
	if e := s.takeFault(c); e != nil {
		fail(e)
		return
	}

	out, aerr := handler(c)
	if aerr != nil {
		fail(aerr)
		return
	}
	data, err := json.Marshal(out)
	c.unlock()
	if err != nil {
		fail(newError(ServiceException, "Failed to encode the response."))
		return
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}
