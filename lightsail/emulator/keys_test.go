package emulator

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"
	"golang.org/x/crypto/ssh"
)

func TestAccessDetailsHostKeysAndFingerprints(t *testing.T) {
	e := newEnv(t, Options{})
	e.createInstance("box")

	pending, err := e.client.GetInstanceAccessDetails(ctx(), &lightsail.GetInstanceAccessDetailsInput{InstanceName: aws.String("box")})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pending.AccessDetails.HostKeys); n != 0 {
		t.Fatalf("pending instance reports %d host keys, want none yet", n)
	}

	e.clock.Advance(testDelay)
	inst := e.instance("box")
	out, err := e.client.GetInstanceAccessDetails(ctx(), &lightsail.GetInstanceAccessDetailsInput{
		InstanceName: aws.String("box"), Protocol: types.InstanceAccessProtocolSsh,
	})
	if err != nil {
		t.Fatal(err)
	}
	ad := out.AccessDetails
	if aws.ToString(ad.IpAddress) != aws.ToString(inst.PublicIpAddress) || aws.ToString(ad.Username) != "ubuntu" ||
		aws.ToString(ad.InstanceName) != "box" || ad.Protocol != types.InstanceAccessProtocolSsh {
		t.Fatalf("access details: %+v", ad)
	}
	if ad.ExpiresAt == nil || ad.ExpiresAt.Before(time.Now()) {
		t.Fatalf("expiresAt = %v", ad.ExpiresAt)
	}

	algs := map[string]bool{}
	for _, hk := range ad.HostKeys {
		blob, err := base64.StdEncoding.DecodeString(aws.ToString(hk.PublicKey))
		if err != nil {
			t.Fatalf("host key is not base64: %v", err)
		}
		pk, err := ssh.ParsePublicKey(blob)
		if err != nil {
			t.Fatalf("host key does not parse: %v", err)
		}
		if pk.Type() != aws.ToString(hk.Algorithm) {
			t.Fatalf("algorithm %s, key type %s", aws.ToString(hk.Algorithm), pk.Type())
		}
		algs[pk.Type()] = true
		if got, want := aws.ToString(hk.FingerprintSHA256), ssh.FingerprintSHA256(pk); got != want {
			t.Fatalf("SHA256 fingerprint %s, OpenSSH says %s", got, want)
		}
		sum := sha1.Sum(blob)
		if got, want := aws.ToString(hk.FingerprintSHA1), "SHA1:"+base64.RawStdEncoding.EncodeToString(sum[:]); got != want {
			t.Fatalf("SHA1 fingerprint %s, want %s", got, want)
		}
		if hk.WitnessedAt == nil || hk.WitnessedAt.After(time.Now().Add(time.Hour)) {
			t.Fatalf("witnessedAt = %v", hk.WitnessedAt)
		}
	}
	for _, a := range []string{"ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"} {
		if !algs[a] {
			t.Fatalf("host key algorithms %v lack %s", algs, a)
		}
	}

	// The private key is the region's default key pair, and the certificate
	// certifies it for the instance's user, signed by the emulator's CA.
	def, err := e.client.DownloadDefaultKeyPair(ctx(), &lightsail.DownloadDefaultKeyPairInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(ad.PrivateKey) != aws.ToString(def.PrivateKeyBase64) {
		t.Fatal("privateKey is not the default key pair's")
	}
	signer, err := ssh.ParsePrivateKey([]byte(aws.ToString(ad.PrivateKey)))
	if err != nil {
		t.Fatalf("privateKey does not parse: %v", err)
	}
	if !strings.HasPrefix(aws.ToString(ad.PrivateKey), "-----BEGIN OPENSSH PRIVATE KEY-----") {
		t.Fatal("generated default key is not in OpenSSH PEM form")
	}
	certKey, _, _, _, err := ssh.ParseAuthorizedKey([]byte(aws.ToString(ad.CertKey)))
	if err != nil {
		t.Fatalf("certKey does not parse: %v", err)
	}
	cert, ok := certKey.(*ssh.Certificate)
	if !ok {
		t.Fatalf("certKey is a %T", certKey)
	}
	ca, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(e.srv.UserCAPublicKey()))
	checker := &ssh.CertChecker{IsUserAuthority: func(k ssh.PublicKey) bool {
		return string(k.Marshal()) == string(ca.Marshal())
	}}
	if err := checker.CheckCert("ubuntu", cert); err != nil {
		t.Fatalf("certificate does not check: %v", err)
	}
	if string(cert.Key.Marshal()) != string(signer.PublicKey().Marshal()) {
		t.Fatal("certificate is not for the default key")
	}

	// Host keys survive a stop/start; rdp is refused.
	before := ad.HostKeys[0].FingerprintSHA256
	if _, err := e.client.StopInstance(ctx(), &lightsail.StopInstanceInput{InstanceName: aws.String("box")}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(testDelay)
	if _, err := e.client.StartInstance(ctx(), &lightsail.StartInstanceInput{InstanceName: aws.String("box")}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(testDelay)
	again, err := e.client.GetInstanceAccessDetails(ctx(), &lightsail.GetInstanceAccessDetailsInput{InstanceName: aws.String("box")})
	if err != nil || aws.ToString(again.AccessDetails.HostKeys[0].FingerprintSHA256) != aws.ToString(before) {
		t.Fatalf("host keys changed across stop/start: %v", err)
	}
	_, err = e.client.GetInstanceAccessDetails(ctx(), &lightsail.GetInstanceAccessDetailsInput{
		InstanceName: aws.String("box"), Protocol: types.InstanceAccessProtocolRdp,
	})
	var ii *types.InvalidInputException
	if !errors.As(err, &ii) {
		t.Fatalf("rdp: %v", err)
	}
}

func TestDefaultKeyPairOption(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := ssh.MarshalPrivateKey(priv, "")
	sshPub, _ := ssh.NewPublicKey(pub)
	km := &KeyMaterial{
		PrivateKeyPEM: string(pem.EncodeToMemory(block)),
		PublicKey:     string(ssh.MarshalAuthorizedKey(sshPub)),
	}
	e := newEnv(t, Options{DefaultKeyPair: km})
	def, err := e.client.DownloadDefaultKeyPair(ctx(), &lightsail.DownloadDefaultKeyPairInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(def.PrivateKeyBase64) != km.PrivateKeyPEM || aws.ToString(def.PublicKeyBase64) != strings.TrimSpace(km.PublicKey) {
		t.Fatal("DownloadDefaultKeyPair does not return Options.DefaultKeyPair")
	}
	if def.CreatedAt == nil {
		t.Fatal("no createdAt")
	}
	e.runningInstance("k1")
	ad, err := e.client.GetInstanceAccessDetails(ctx(), &lightsail.GetInstanceAccessDetailsInput{InstanceName: aws.String("k1")})
	if err != nil || aws.ToString(ad.AccessDetails.PrivateKey) != km.PrivateKeyPEM {
		t.Fatalf("access details privateKey is not Options.DefaultKeyPair: %v", err)
	}
	// Another region gets the same configured key.
	west := e.newClient(AccessKeyID, SecretAccessKey, "eu-west-2")
	wdef, err := west.DownloadDefaultKeyPair(ctx(), &lightsail.DownloadDefaultKeyPairInput{})
	if err != nil || aws.ToString(wdef.PrivateKeyBase64) != km.PrivateKeyPEM {
		t.Fatalf("eu-west-2 default key: %v", err)
	}
}

func TestKeyPairs(t *testing.T) {
	e := newEnv(t, Options{PageSize: 2})
	created, err := e.client.CreateKeyPair(ctx(), &lightsail.CreateKeyPairInput{
		KeyPairName: aws.String("deploy"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("ops")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(aws.ToString(created.PrivateKeyBase64)))
	if block == nil || block.Type != "RSA PRIVATE KEY" {
		t.Fatal("privateKeyBase64 is not an RSA PEM")
	}
	rk, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(aws.ToString(created.PublicKeyBase64)))
	if err != nil {
		t.Fatalf("publicKeyBase64 does not parse: %v", err)
	}
	fromPriv, _ := ssh.NewPublicKey(&rk.PublicKey)
	if string(fromPriv.Marshal()) != string(pub.Marshal()) {
		t.Fatal("public and private halves do not match")
	}
	if aws.ToString(created.KeyPair.Fingerprint) != ssh.FingerprintLegacyMD5(pub) ||
		created.KeyPair.ResourceType != types.ResourceTypeKeyPair || aws.ToString(created.KeyPair.Location.AvailabilityZone) != "all" {
		t.Fatalf("key pair: %+v", created.KeyPair)
	}
	if created.Operation == nil || aws.ToString(created.Operation.ResourceName) != "deploy" || created.Operation.Status != types.OperationStatusSucceeded {
		t.Fatalf("create operation %+v", created.Operation)
	}

	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := ssh.NewPublicKey(edPub)
	imported, err := e.client.ImportKeyPair(ctx(), &lightsail.ImportKeyPairInput{
		KeyPairName: aws.String("laptop"), PublicKeyBase64: aws.String(string(ssh.MarshalAuthorizedKey(sshPub)) + " me@laptop"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if imported.Operation == nil || imported.Operation.Status != types.OperationStatusSucceeded {
		t.Fatalf("import operation %+v", imported.Operation)
	}
	var ii *types.InvalidInputException
	_, err = e.client.ImportKeyPair(ctx(), &lightsail.ImportKeyPairInput{KeyPairName: aws.String("junk"), PublicKeyBase64: aws.String("not a key")})
	if !errors.As(err, &ii) {
		t.Fatalf("import of junk: %v", err)
	}
	_, err = e.client.CreateKeyPair(ctx(), &lightsail.CreateKeyPairInput{KeyPairName: aws.String("laptop")})
	if !errors.As(err, &ii) || !strings.Contains(ii.ErrorMessage(), "already in use") {
		t.Fatalf("duplicate key pair: %v", err)
	}

	got, err := e.client.GetKeyPair(ctx(), &lightsail.GetKeyPairInput{KeyPairName: aws.String("laptop")})
	if err != nil || aws.ToString(got.KeyPair.Fingerprint) != ssh.FingerprintLegacyMD5(sshPub) {
		t.Fatalf("GetKeyPair: %v %+v", err, got)
	}

	// An instance with a named key pair; the default key pair appears only
	// when asked for (it was created by DownloadDefaultKeyPair).
	e.createInstance("keyed", func(in *lightsail.CreateInstancesInput) { in.KeyPairName = aws.String("laptop") })
	if name := aws.ToString(e.instance("keyed").SshKeyName); name != "laptop" {
		t.Fatalf("sshKeyName %s", name)
	}
	if _, err := e.client.DownloadDefaultKeyPair(ctx(), &lightsail.DownloadDefaultKeyPairInput{}); err != nil {
		t.Fatal(err)
	}
	names := func(include bool) []string {
		var out []string
		var token *string
		for {
			page, err := e.client.GetKeyPairs(ctx(), &lightsail.GetKeyPairsInput{PageToken: token, IncludeDefaultKeyPair: aws.Bool(include)})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range page.KeyPairs {
				out = append(out, aws.ToString(k.Name))
			}
			if token = page.NextPageToken; token == nil {
				return out
			}
		}
	}
	if got := strings.Join(names(false), ","); got != "deploy,laptop" {
		t.Fatalf("key pairs %s", got)
	}
	if got := strings.Join(names(true), ","); got != "LightsailDefaultKeyPair,deploy,laptop" {
		t.Fatalf("key pairs with default %s", got)
	}

	_, err = e.client.DeleteKeyPair(ctx(), &lightsail.DeleteKeyPairInput{KeyPairName: aws.String("deploy"), ExpectedFingerprint: aws.String("00:11")})
	if !errors.As(err, &ii) {
		t.Fatalf("delete with a wrong fingerprint: %v", err)
	}
	del, err := e.client.DeleteKeyPair(ctx(), &lightsail.DeleteKeyPairInput{KeyPairName: aws.String("deploy")})
	if err != nil || del.Operation == nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = e.client.GetKeyPair(ctx(), &lightsail.GetKeyPairInput{KeyPairName: aws.String("deploy")})
	var nf *types.NotFoundException
	if !errors.As(err, &nf) || httpStatus(err) != 404 {
		t.Fatalf("GetKeyPair after delete: %v", err)
	}
	_, err = e.client.DeleteKeyPair(ctx(), &lightsail.DeleteKeyPairInput{KeyPairName: aws.String("deploy")})
	if !errors.As(err, &nf) {
		t.Fatalf("second delete: %v", err)
	}
}
