package server

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/lightsail/emulator"
)

// An address of an instance outside the default region is that instance
// when no region is given (its identity, its pinned keys, its locks), and
// an address no instance has anywhere is none.
func TestInstanceByAddressInAnyRegion(t *testing.T) {
	ctx := context.Background()
	emu := emulator.New(emulator.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	ls, err := lightsail.New(ctx, lightsail.Options{DefaultRegion: "eu-central-1", Endpoint: srv.URL,
		AccessKeyID: emulator.AccessKeyID, SecretAccessKey: emulator.SecretAccessKey, PollInterval: 10 * time.Millisecond,
		ProbeSSH: func(context.Context, string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	rec := &nopRecorder{}
	if _, err := ls.CreateInstance(ctx, rec, lightsail.CreateInstanceInput{InstanceName: "far-1", BlueprintID: "ubuntu_24_04", BundleID: "nano_3_0",
		Region: "us-west-2", AvailabilityZone: "us-west-2a"}); err != nil {
		t.Fatal(err)
	}
	far, err := ls.GetInstance(ctx, "us-west-2", "far-1")
	if err != nil || far.PublicIP == "" {
		t.Fatalf("%+v %v", far, err)
	}
	l := &lightsailInstances{ls: ls}
	got, err := l.InstanceByAddress(ctx, "", far.PublicIP)
	if err != nil || got == nil || got.Name != "far-1" || got.Region != "us-west-2" {
		t.Fatalf("any region: %+v %v", got, err)
	}
	if got, err := l.InstanceByAddress(ctx, "eu-central-1", far.PublicIP); err != nil || got != nil {
		t.Fatalf("the default region only: %+v %v", got, err)
	}
	if got, err := l.InstanceByAddress(ctx, "", "192.0.2.99"); err != nil || got != nil {
		t.Fatalf("an address of no instance: %+v %v", got, err)
	}
}

// nopRecorder runs steps and keeps nothing.
type nopRecorder struct{ fountain.NopSecrets }

func (nopRecorder) Step(ctx context.Context, _ string, fn func(context.Context) (fountain.StepResult, error)) error {
	_, err := fn(ctx)
	return err
}
func (nopRecorder) Log(string) {}
