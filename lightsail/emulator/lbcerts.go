package emulator

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

// Load balancer TLS certificates: CreateLoadBalancerTlsCertificate,
// AttachLoadBalancerTlsCertificate and GetLoadBalancerTlsCertificates.
//
// A new certificate is PENDING_VALIDATION with one DNS (CNAME) validation
// record per domain, as Lightsail's come from ACM. Lightsail issues it once
// those records are found in DNS; the emulator cannot look, so it deems
// them found after Options.CertificateDelay, and then the certificate is
// ISSUED. Only an issued certificate can be attached; attaching one
// detaches the other (a load balancer has at most two).

// resLBCert is the resource type of load balancer certificates.
const resLBCert = "LoadBalancerTlsCertificate"

// maxCertsPerLB and maxAltNames are Lightsail's limits.
const (
	maxCertsPerLB = 2
	maxAltNames   = 9
)

// Certificate statuses.
const (
	certPending = "PENDING_VALIDATION"
	certIssued  = "ISSUED"
)

// lbCert is a load balancer's certificate.
type lbCert struct {
	name, arn, supportCode string
	lbName                 string
	createdAt              time.Time
	domain                 string
	alts                   []string
	status                 string
	issueAt, issuedAt      time.Time
	attached               bool
	records                []validationRecord
	serial                 string
}

// validationRecord is a DNS record that proves control of a domain.
type validationRecord struct{ domain, name, value string }

// settle issues the certificate when its validation is due.
func (ct *lbCert) settle(now time.Time) {
	if ct.status == certPending && !now.Before(ct.issueAt) {
		ct.status, ct.issuedAt = certIssued, ct.issueAt
	}
}

type validationRecordJSON struct {
	Name             string `json:"name"`
	Type             string `json:"type"`
	Value            string `json:"value"`
	ValidationStatus string `json:"validationStatus"`
	DomainName       string `json:"domainName"`
}

type lbCertJSON struct {
	Name                    string                 `json:"name"`
	Arn                     string                 `json:"arn"`
	SupportCode             string                 `json:"supportCode"`
	CreatedAt               epoch                  `json:"createdAt"`
	Location                location               `json:"location"`
	ResourceType            string                 `json:"resourceType"`
	Tags                    []tag                  `json:"tags"`
	LoadBalancerName        string                 `json:"loadBalancerName"`
	IsAttached              bool                   `json:"isAttached"`
	Status                  string                 `json:"status"`
	DomainName              string                 `json:"domainName"`
	DomainValidationRecords []validationRecordJSON `json:"domainValidationRecords"`
	IssuedAt                epoch                  `json:"issuedAt,omitzero"`
	Issuer                  string                 `json:"issuer,omitempty"`
	KeyAlgorithm            string                 `json:"keyAlgorithm"`
	NotAfter                epoch                  `json:"notAfter,omitzero"`
	NotBefore               epoch                  `json:"notBefore,omitzero"`
	Serial                  string                 `json:"serial,omitempty"`
	SignatureAlgorithm      string                 `json:"signatureAlgorithm"`
	Subject                 string                 `json:"subject"`
	SubjectAlternativeNames []string               `json:"subjectAlternativeNames"`
}

func (rg *region) certWire(ct *lbCert) lbCertJSON {
	j := lbCertJSON{
		Name: ct.name, Arn: ct.arn, SupportCode: ct.supportCode, CreatedAt: epoch(ct.createdAt),
		Location: regionalLocation(rg), ResourceType: resLBCert, Tags: []tag{}, LoadBalancerName: ct.lbName,
		IsAttached: ct.attached, Status: ct.status, DomainName: ct.domain, KeyAlgorithm: "RSA-2048",
		SignatureAlgorithm: "SHA256WITHRSA", Subject: "CN=" + ct.domain,
		SubjectAlternativeNames: append([]string{ct.domain}, ct.alts...),
	}
	status := "PENDING_VALIDATION"
	if ct.status == certIssued {
		status = "SUCCESS"
		j.IssuedAt, j.NotBefore, j.NotAfter = epoch(ct.issuedAt), epoch(ct.issuedAt), epoch(ct.issuedAt.AddDate(0, 13, 0))
		j.Issuer, j.Serial = "Amazon", ct.serial
	}
	for _, r := range ct.records {
		j.DomainValidationRecords = append(j.DomainValidationRecords, validationRecordJSON{
			Name: r.name, Type: "CNAME", Value: r.value, ValidationStatus: status, DomainName: r.domain})
	}
	return j
}

// certRequest is a checked request for a certificate.
type certRequest struct {
	name, domain string
	alts         []string
}

// domainRE is a DNS name of at least two labels, without a wildcard.
var domainRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// newCertRequest checks a certificate's name and domains: valid DNS names
// (wildcards are refused, as Lightsail's load balancer certificates do),
// at most 9 alternative names, none repeated.
func newCertRequest(name, domain string, alts []string) (*certRequest, *apiError) {
	if !validName(name) {
		return nil, errBadName(name)
	}
	all := append([]string{domain}, alts...)
	if len(alts) > maxAltNames {
		return nil, errInvalid("A certificate can have at most %d alternative domain names, not %d.", maxAltNames, len(alts))
	}
	seen := map[string]bool{}
	for _, d := range all {
		d = strings.ToLower(d)
		if strings.Contains(d, "*") {
			return nil, errInvalid("Wildcard domain names are not supported for load balancer certificates: %s", d)
		}
		if len(d) > 253 || !domainRE.MatchString(d) {
			return nil, errInvalid("The domain name %s is not valid.", d)
		}
		if seen[d] {
			return nil, errInvalid("The domain name %s is given more than once.", d)
		}
		seen[d] = true
	}
	return &certRequest{name: name, domain: strings.ToLower(domain), alts: slices.Clone(alts)}, nil
}

// certNameTaken reports whether a certificate of the name exists in the
// region.
func certNameTaken(rg *region, name string) bool {
	for _, lb := range rg.balancers {
		if lb.certs[name] != nil {
			return true
		}
	}
	return false
}

// addCert records a new certificate of lb and returns its operation.
// Callers hold s.mu and checked the name and the limit.
func (c *call) addCert(rg *region, lb *loadBalancer, r *certRequest) *operation {
	ct := &lbCert{
		name: r.name, arn: c.s.arn(rg, resLBCert), supportCode: c.s.account + "/" + randomHex(12), lbName: lb.name,
		createdAt: c.now, domain: r.domain, alts: r.alts, status: certPending, issueAt: c.now.Add(c.s.delays.cert),
		serial: strings.ToUpper(randomHex(16)),
	}
	for _, d := range append([]string{r.domain}, r.alts...) {
		ct.records = append(ct.records, validationRecord{domain: d,
			name: "_" + randomHex(16) + "." + d + ".", value: "_" + randomHex(16) + "." + randomHex(5) + ".acm-validations.aws."})
	}
	ct.settle(c.now)
	lb.certs[ct.name] = ct
	return rg.newOp(c.now, ct.name, resLBCert, "CreateLoadBalancerTlsCertificate", regionalLocation(rg), lb.name, true)
}

// createLoadBalancerTLSCertificate answers CreateLoadBalancerTlsCertificate:
// a PENDING_VALIDATION certificate (see above). A third certificate on a
// load balancer, or a name in use, is InvalidInputException.
func (c *call) createLoadBalancerTLSCertificate() (any, *apiError) {
	var in struct {
		LoadBalancerName            *string  `json:"loadBalancerName"`
		CertificateName             *string  `json:"certificateName"`
		CertificateDomainName       *string  `json:"certificateDomainName"`
		CertificateAlternativeNames []string `json:"certificateAlternativeNames"`
		Tags                        []tag    `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	switch {
	case in.LoadBalancerName == nil:
		return nil, errMissing("loadBalancerName")
	case in.CertificateName == nil:
		return nil, errMissing("certificateName")
	case in.CertificateDomainName == nil:
		return nil, errMissing("certificateDomainName")
	}
	r, aerr := newCertRequest(*in.CertificateName, *in.CertificateDomainName, in.CertificateAlternativeNames)
	if aerr != nil {
		return nil, aerr
	}
	if _, aerr := validTags(in.Tags); aerr != nil {
		return nil, aerr
	}
	rg := c.lock()
	lb, aerr := c.findLoadBalancer(in.LoadBalancerName)
	if aerr != nil {
		return nil, aerr
	}
	if certNameTaken(rg, r.name) {
		return nil, errInvalid("Some names are already in use: %s", r.name)
	}
	if len(lb.certs) >= maxCertsPerLB {
		return nil, errInvalid("The load balancer %s already has %d certificates, the most it can have. Delete one first.", lb.name, maxCertsPerLB)
	}
	op := c.addCert(rg, lb, r)
	return opsOutput{wireOps(op)}, nil
}

// attachLoadBalancerTLSCertificate answers AttachLoadBalancerTlsCertificate:
// the certificate must be the load balancer's (NotFoundException) and
// issued (InvalidInputException); the other one is detached. The load
// balancer then serves HTTPS on 443 too.
func (c *call) attachLoadBalancerTLSCertificate() (any, *apiError) {
	var in struct {
		LoadBalancerName *string `json:"loadBalancerName"`
		CertificateName  *string `json:"certificateName"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.LoadBalancerName == nil {
		return nil, errMissing("loadBalancerName")
	}
	name, aerr := requireName("certificateName", in.CertificateName)
	if aerr != nil {
		return nil, aerr
	}
	rg := c.lock()
	lb, aerr := c.findLoadBalancer(in.LoadBalancerName)
	if aerr != nil {
		return nil, aerr
	}
	ct := lb.certs[name]
	if ct == nil {
		return nil, errNotFound("The LoadBalancerTlsCertificate does not exist: %s", name)
	}
	if ct.status != certIssued {
		return nil, errInvalid("The certificate %s is %s: it can be attached once it is validated (ISSUED).", name, ct.status)
	}
	for _, other := range lb.certs {
		other.attached = other == ct
	}
	return opsOutput{wireOps(
		rg.newOp(c.now, lb.name, resLoadBalancer, "AttachLoadBalancerTlsCertificate", regionalLocation(rg), ct.name, true),
		rg.newOp(c.now, ct.name, resLBCert, "AttachLoadBalancerTlsCertificate", regionalLocation(rg), lb.name, true),
	)}, nil
}

// getLoadBalancerTLSCertificates answers GetLoadBalancerTlsCertificates.
func (c *call) getLoadBalancerTLSCertificates() (any, *apiError) {
	lb, aerr := c.lockLoadBalancer()
	if aerr != nil {
		return nil, aerr
	}
	out := []lbCertJSON{}
	for _, ct := range sortedValues(lb.certs, func(ct *lbCert) string { return ct.name }) {
		out = append(out, c.rg.certWire(ct))
	}
	return struct {
		TLSCertificates []lbCertJSON `json:"tlsCertificates"`
	}{out}, nil
}
