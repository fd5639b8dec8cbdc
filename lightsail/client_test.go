package lightsail

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail/emulator"
)

// newTestClient returns a client for a fresh emulator.
func newTestClient(t *testing.T) *Client {
	t.Helper()
	emu := emulator.New(emulator.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	c, err := New(context.Background(), Options{DefaultRegion: "eu-central-1", Endpoint: srv.URL,
		AccessKeyID: emulator.AccessKeyID, SecretAccessKey: emulator.SecretAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *Client) cached() (clients, catalogues int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.clients), len(c.catalogue)
}

// A flood of distinct region names, well-formed or huge, is refused with a
// 422 naming the valid regions, and caches nothing: each used to leave an
// SDK client behind (and answer a false "AWS rejected Fountain's
// credentials").
func TestRegionFloodCachesNothing(t *testing.T) {
	c := newTestClient(t)
	ctx := context.Background()
	const n = 2000
	for i := range n {
		region := fmt.Sprintf("eu-%s-%d", strings.Repeat(string(rune('a'+i%26)), 1+i/26), i%10)
		if i%100 == 0 {
			region = "eu-" + strings.Repeat("x", 8<<10) + fmt.Sprint("-", i%10) // 8 KB
		}
		var err error
		switch i % 5 {
		case 0:
			_, err = c.ListInstances(ctx, region)
		case 1:
			_, err = c.Bundles(ctx, region)
		case 2:
			_, err = c.GetInstance(ctx, region, "web-1")
		case 3:
			_, err = c.Cost(ctx, region)
		case 4:
			in := CreateInstanceInput{InstanceName: "web-1", BlueprintID: "ubuntu_24_04", BundleID: "nano_3_0", Region: region, AvailabilityZone: region + "a"}
			err = c.ValidateCreate(&in)
		}
		var fe *fountain.Error
		if err == nil || fountain.ErrorCode(err) != fountain.EINVALID {
			t.Fatalf("region %.80q: %v, want EINVALID", region, err)
		}
		fe = err.(*fountain.Error)
		if fe.Field != "region" || !strings.Contains(fe.Message, "Lightsail's regions are us-east-1") || len(fe.Message) > 600 {
			t.Fatalf("region %.80q: %q (field %q)", region, fe.Message, fe.Field)
		}
	}
	if cl, cat := c.cached(); cl != 0 || cat != 0 {
		t.Fatalf("after %d bad regions: %d SDK clients and %d catalogues cached", n, cl, cat)
	}
	// Every valid region at most once, however often it is used.
	for range 3 {
		for _, r := range Regions() {
			if _, err := c.Bundles(ctx, r); err != nil {
				t.Fatalf("%s: %v", r, err)
			}
		}
	}
	if cl, cat := c.cached(); cl != len(Regions()) || cat != len(Regions()) {
		t.Fatalf("after every region three times: %d SDK clients and %d catalogues cached, want %d", cl, cat, len(Regions()))
	}
}

// A valid but unusual region works end to end.
func TestUnusualRegionWorks(t *testing.T) {
	c := newTestClient(t)
	ctx := context.Background()
	in := CreateInstanceInput{InstanceName: "web-1", BlueprintID: "ubuntu_24_04", BundleID: "nano_3_0",
		Region: "ap-southeast-5", AvailabilityZone: "ap-southeast-5a"}
	if err := c.ValidateCreate(&in); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckCatalogue(ctx, &in); err != nil {
		t.Fatal(err)
	}
	insts, err := c.ListInstances(ctx, "ap-southeast-5")
	if err != nil || len(insts) != 0 {
		t.Fatalf("list: %v %v", insts, err)
	}
	if _, err := c.GetInstance(ctx, "ap-southeast-5", "web-1"); fountain.ErrorCode(err) != fountain.ENOTFOUND {
		t.Fatalf("get a missing instance: %v", err)
	}
}

// A server whose default region is not Lightsail's says so when a request
// names none.
func TestBadDefaultRegion(t *testing.T) {
	c := newTestClient(t)
	c.opts.DefaultRegion = "us-gov-west-1"
	_, err := c.ListInstances(context.Background(), "")
	if fountain.ErrorCode(err) != fountain.EINVALID || !strings.Contains(err.Error(), "default region") {
		t.Fatalf("%v", err)
	}
}
