package opensearch

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"
)

// InitialAdminPasswordEnv is the variable the package's install reads.
const InitialAdminPasswordEnv = "OPENSEARCH_INITIAL_ADMIN_PASSWORD"

// Files of the security configuration under the configuration directory.
const (
	InternalUsersFile = "opensearch-security/internal_users.yml"
	RootCAFile        = "root-ca.pem"
	NodeCertFile      = "esnode.pem"
	NodeKeyFile       = "esnode-key.pem"
)

// bcryptCost is the security plugin's default (its hashes are $2y$12$).
const bcryptCost = 12

// HashPassword hashes a password like the security plugin's hash tool.
func HashPassword(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcryptCost)
	if err != nil {
		return "", err
	}
	return "$2y$" + strings.TrimPrefix(string(h), "$2a$"), nil
}

// checkPassword compares a password with a $2y$ or $2a$ hash.
func checkPassword(hash, pw string) bool {
	h := hash
	if strings.HasPrefix(h, "$2y$") {
		h = "$2a$" + h[4:]
	}
	return bcrypt.CompareHashAndPassword([]byte(h), []byte(pw)) == nil
}

// ValidatePassword applies the demo installer's rules: at least 8
// characters with an upper-case and a lower-case letter, a digit and a
// special character, at most 100, and not similar to the user name. It
// returns the security plugin's message ("" when valid). The real
// installer also scores strength with zxcvbn; the stand-in does not.
func ValidatePassword(user, pw string) string {
	if len(pw) < 8 {
		return "Password is too short"
	}
	if len(pw) > 100 {
		return "Password is too long"
	}
	var upper, lower, digit, special bool
	for _, r := range pw {
		switch {
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		default:
			special = true
		}
	}
	if !upper || !lower || !digit || !special {
		return "Password does not match validation regex"
	}
	if strings.Contains(strings.ToLower(pw), strings.ToLower(user)) {
		return "Password is similar to user name"
	}
	return ""
}

// ErrDemoConfig is returned by InstallDemoConfig when the installer
// refuses; its message has been written to the output.
var ErrDemoConfig = errors.New("demo configuration failed")

// InstallDemoConfig does what the package's postinst runs
// (install_demo_configuration.sh -y -i -s): it checks the admin password,
// writes its bcrypt hash to internal_users.yml, appends the demo security
// settings to opensearch.yml and creates the demo certificates. Messages
// go to out, as the real tool prints them (without ever printing the
// password). A configuration that already has security settings is left
// alone.
func InstallDemoConfig(confDir, password string, out io.Writer) error {
	conf := filepath.Join(confDir, "opensearch.yml")
	fmt.Fprintln(out, "OpenSearch Security Demo Installer (Fountain stand-in)")
	fmt.Fprintln(out, " ** Warning: Do not use on production or public reachable systems **")
	fmt.Fprintf(out, "OpenSearch config dir: %s/\nOpenSearch config file: %s\n", confDir, conf)
	raw, err := os.ReadFile(conf)
	if err != nil {
		fmt.Fprintln(out, "OpenSearch configuration file does not exist. Quit.")
		return ErrDemoConfig
	}
	if strings.Contains(string(raw), "plugins.security") {
		fmt.Fprintln(out, conf+" seems to be already configured for Security. Quit.")
		return nil
	}
	if password == "" {
		fmt.Fprintf(out, "No custom admin password found. Please provide a password via the environment variable %s.\n", InitialAdminPasswordEnv)
		return ErrDemoConfig
	}
	if msg := ValidatePassword("admin", password); msg != "" {
		fmt.Fprintf(out, "Password %s failed validation: \"%s\". Please re-try with a minimum %d character password and must contain at least one uppercase letter, one lowercase letter, one digit, and one special character that is strong. Password strength can be tested here: https://lowe.github.io/tryzxcvbn\n",
			"(not shown)", msg, 8)
		return ErrDemoConfig
	}
	hash, err := HashPassword(password)
	if err != nil {
		return fmt.Errorf("hash admin password: %w", err)
	}
	if err := WriteInternalUsers(confDir, hash); err != nil {
		return err
	}
	fmt.Fprintln(out, "Admin password set successfully.")
	block := "\n\n######## Start OpenSearch Security Demo Configuration ########\n" +
		"# WARNING: revise all the lines below before you go into production\n" +
		"plugins.security.ssl.transport.pemcert_filepath: " + NodeCertFile + "\n" +
		"plugins.security.ssl.transport.pemkey_filepath: " + NodeKeyFile + "\n" +
		"plugins.security.ssl.transport.pemtrustedcas_filepath: " + RootCAFile + "\n" +
		"plugins.security.ssl.transport.enforce_hostname_verification: false\n" +
		"plugins.security.ssl.http.enabled: true\n" +
		"plugins.security.ssl.http.pemcert_filepath: " + NodeCertFile + "\n" +
		"plugins.security.ssl.http.pemkey_filepath: " + NodeKeyFile + "\n" +
		"plugins.security.ssl.http.pemtrustedcas_filepath: " + RootCAFile + "\n" +
		"plugins.security.allow_unsafe_democertificates: true\n" +
		"plugins.security.allow_default_init_securityindex: true\n" +
		"plugins.security.audit.type: internal_opensearch\n" +
		"plugins.security.enable_snapshot_restore_privilege: true\n" +
		"plugins.security.check_snapshot_restore_write_privileges: true\n" +
		"plugins.security.restapi.roles_enabled: [all_access, security_rest_api_access]\n" +
		"######## End OpenSearch Security Demo Configuration ########\n"
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("append security settings: %w", err)
	}
	if _, err := io.WriteString(f, block); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := EnsureDemoCerts(confDir); err != nil {
		return err
	}
	fmt.Fprintln(out, "### Success")
	fmt.Fprintln(out, "### Execute this script now on all your nodes and then start all nodes")
	return nil
}

// internalUsers is internal_users.yml as the demo installer writes it.
type internalUsers struct {
	Meta struct {
		Type          string `yaml:"type"`
		ConfigVersion int    `yaml:"config_version"`
	} `yaml:"_meta"`
	Admin struct {
		Hash         string   `yaml:"hash"`
		Reserved     bool     `yaml:"reserved"`
		BackendRoles []string `yaml:"backend_roles"`
		Description  string   `yaml:"description"`
	} `yaml:"admin"`
}

// WriteInternalUsers writes internal_users.yml with the admin user's
// password hash (mode 0600).
func WriteInternalUsers(confDir, hash string) error {
	var u internalUsers
	u.Meta.Type, u.Meta.ConfigVersion = "internalusers", 2
	u.Admin.Hash, u.Admin.Reserved, u.Admin.BackendRoles, u.Admin.Description = hash, true, []string{"admin"}, "Demo admin user"
	b, err := yaml.Marshal(&u)
	if err != nil {
		return err
	}
	p := filepath.Join(confDir, InternalUsersFile)
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	return os.WriteFile(p, append([]byte("---\n"), b...), 0o600)
}

// readUsers returns user -> bcrypt hash from internal_users.yml.
func readUsers(confDir string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(confDir, InternalUsersFile))
	if err != nil {
		return nil, fmt.Errorf("read internal users: %w", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse internal users: %w", err)
	}
	users := map[string]string{}
	for name, v := range doc {
		if m, ok := v.(map[string]any); ok && !strings.HasPrefix(name, "_") {
			if h, ok := m["hash"].(string); ok {
				users[name] = h
			}
		}
	}
	return users, nil
}

// EnsureDemoCerts creates the demo root CA and node certificate in
// confDir when missing (0600 keys), like the demo installer does.
func EnsureDemoCerts(confDir string) error {
	certPath := filepath.Join(confDir, NodeCertFile)
	if _, err := os.Stat(certPath); err == nil {
		return nil
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "Example Com Inc. Root CA", Organization: []string{"Example Com Inc. (Fountain stand-in demo)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("demo root CA: %w", err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	nodeKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	node := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano() + 1),
		Subject:      pkix.Name{CommonName: "node-0.example.com", Organization: []string{"node"}},
		DNSNames:     []string{"node-0.example.com", "localhost", host},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	nodeDER, err := x509.CreateCertificate(rand.Reader, node, caCert, &nodeKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("demo node certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(nodeKey)
	if err != nil {
		return err
	}
	write := func(name, typ string, der []byte, mode os.FileMode) error {
		return os.WriteFile(filepath.Join(confDir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
	}
	if err := write(RootCAFile, "CERTIFICATE", caDER, 0o600); err != nil {
		return err
	}
	if err := write(NodeKeyFile, "PRIVATE KEY", keyDER, 0o600); err != nil {
		return err
	}
	return write(NodeCertFile, "CERTIFICATE", nodeDER, 0o600)
}

// loadCert loads the node certificate and key.
func loadCert(confDir string) (tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(filepath.Join(confDir, NodeCertFile), filepath.Join(confDir, NodeKeyFile))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load demo certificates: %w", err)
	}
	return c, nil
}
