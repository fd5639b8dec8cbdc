package lightsail

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail/emulator"
)

// steps is a Stepper that runs each step and keeps its name and output.
type steps struct {
	fountain.NopSecrets
	mu    sync.Mutex
	lines []string
}

func (s *steps) Step(ctx context.Context, name string, fn func(ctx context.Context) (fountain.StepResult, error)) error {
	res, err := fn(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, name+": "+res.Output)
	return err
}

func (s *steps) Log(string) {}

// slowHosts backs instances with hosts whose removal takes until release
// is closed, like a container that Docker is still removing.
type slowHosts struct {
	release chan struct{}
	deleted chan string
}

func (h *slowHosts) CreateHost(context.Context, string, emulator.HostSpec) (emulator.Host, error) {
	return emulator.Host{PublicIP: "127.1.0.9"}, nil
}
func (h *slowHosts) StartHost(context.Context, string) (emulator.Host, error) {
	return emulator.Host{}, nil
}
func (h *slowHosts) StopHost(context.Context, string) error   { return nil }
func (h *slowHosts) RebootHost(context.Context, string) error { return nil }
func (h *slowHosts) DeleteHost(ctx context.Context, name string) error {
	select {
	case <-h.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	h.deleted <- name
	return nil
}

func newHostsClient(t *testing.T, hosts emulator.Hosts, waitTimeout time.Duration) *Client {
	t.Helper()
	emu := emulator.New(emulator.Options{Hosts: hosts})
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	c, err := New(context.Background(), Options{DefaultRegion: "eu-central-1", Endpoint: srv.URL,
		AccessKeyID: emulator.AccessKeyID, SecretAccessKey: emulator.SecretAccessKey,
		PollInterval: 10 * time.Millisecond, WaitTimeout: waitTimeout, ProbeSSH: func(context.Context, string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	in := CreateInstanceInput{InstanceName: "web-1", BlueprintID: "ubuntu_24_04", BundleID: "nano_3_0",
		Region: "eu-central-1", AvailabilityZone: "eu-central-1a", Wait: true}
	if _, err := c.CreateInstance(context.Background(), &steps{}, in); err != nil {
		t.Fatal(err)
	}
	return c
}

// Deleted means gone: delete-instance answers once the host is removed,
// not while it is still being removed.
func TestDeleteWaitsForTheHostToBeRemoved(t *testing.T) {
	hosts := &slowHosts{release: make(chan struct{}), deleted: make(chan string, 1)}
	c := newHostsClient(t, hosts, time.Minute)
	done := make(chan fountain.Outcome, 1)
	go func() {
		out, err := c.Lifecycle(context.Background(), &steps{}, "delete", InstanceInput{InstanceName: "web-1", Region: "eu-central-1"})
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	select {
	case out := <-done:
		t.Fatalf("delete answered %q while the host was still being removed", out.Message)
	case <-time.After(300 * time.Millisecond):
	}
	close(hosts.release)
	select {
	case out := <-done:
		if out.Message != "Instance web-1 deleted in eu-central-1" {
			t.Fatalf("message %q", out.Message)
		}
		select {
		case <-hosts.deleted:
		default:
			t.Fatal("delete answered before DeleteHost returned")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("delete did not answer after the host was removed")
	}
}

// A removal that takes longer than the wait is reported as such: no error
// without wait, an error with it.
func TestDeleteSaysWhenStillBeingRemoved(t *testing.T) {
	hosts := &slowHosts{release: make(chan struct{}), deleted: make(chan string, 1)}
	defer close(hosts.release)
	c := newHostsClient(t, hosts, 200*time.Millisecond)
	run := &steps{}
	out, err := c.Lifecycle(context.Background(), run, "delete", InstanceInput{InstanceName: "web-1", Region: "eu-central-1"})
	if err != nil || !strings.Contains(out.Message, "still removing it") {
		t.Fatalf("%q %v (steps %v)", out.Message, err, run.lines)
	}
	hosts2 := &slowHosts{release: make(chan struct{}), deleted: make(chan string, 1)}
	defer close(hosts2.release)
	c = newHostsClient(t, hosts2, 200*time.Millisecond)
	_, err = c.Lifecycle(context.Background(), &steps{}, "delete", InstanceInput{InstanceName: "web-1", Region: "eu-central-1", Wait: true})
	if err == nil || !strings.Contains(err.Error(), "not removed within") {
		t.Fatalf("with wait: %v", err)
	}
}
