package api_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/lightsail/emulator"
	"github.com/fountainai/fountain/operation"
	"github.com/fountainai/fountain/sqlite"
)

type brokenHosts struct{}

func (brokenHosts) CreateHost(context.Context, string, emulator.HostSpec) (emulator.Host, error) {
	return emulator.Host{}, errors.New("disk full")
}
func (brokenHosts) StartHost(context.Context, string) (emulator.Host, error) {
	return emulator.Host{}, errors.New("disk full")
}
func (brokenHosts) StopHost(context.Context, string) error   { return nil }
func (brokenHosts) RebootHost(context.Context, string) error { return nil }
func (brokenHosts) DeleteHost(context.Context, string) error { return nil }

// A Lightsail operation that fails while Fountain waits is a failed step at
// once, with Lightsail's reason, not a silent wait until the deadline.
func TestFailedLightsailOperationFailsTheWait(t *testing.T) {
	ctx := context.Background()
	emu := emulator.New(emulator.Options{Hosts: brokenHosts{}})
	emuSrv := httptest.NewServer(emu)
	defer emuSrv.Close()
	defer emu.Close()
	ls, _ := lightsail.New(ctx, lightsail.Options{DefaultRegion: "eu-central-1", Endpoint: emuSrv.URL,
		AccessKeyID: emulator.AccessKeyID, SecretAccessKey: emulator.SecretAccessKey, PollInterval: 20 * time.Millisecond})
	db, _ := sqlite.Open(ctx, filepath.Join(t.TempDir(), "f.db"))
	defer db.Close()
	hs := httptest.NewServer(api.New(api.Deps{Store: db, Runner: operation.New(db, nil), Lightsail: ls, Token: token}))
	defer hs.Close()
	e := &env{t: t, url: hs.URL}
	start := time.Now()
	r := e.do("POST", "/aws/lightsail/create-instance", strings.Replace(designCreate, "{", `{"wait": true,`, 1))
	if r.status != 502 || !strings.Contains(r.str("detail"), "disk full") {
		t.Fatalf("create on a broken host: %d %s", r.status, r.raw)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %s to notice the failure", d)
	}
	if r.str("operation", "status") != "failed" {
		t.Fatalf("operation: %s", r.raw)
	}
}
