package lightsail

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"

	"github.com/fountainai/fountain"
)

// catalogueTTL is how long a region's bundles and blueprints are trusted.
const catalogueTTL = time.Hour

// Bundle is an instance plan.
type Bundle struct {
	ID           string  `json:"bundle_id" doc:"Bundle id, e.g. nano_3_0."`
	Name         string  `json:"name" doc:"Display name."`
	PriceMonthly float64 `json:"price_monthly_usd" doc:"Monthly price in US dollars."`
	CPUCount     int     `json:"cpu_count" doc:"Virtual CPUs."`
	RAMGB        float64 `json:"ram_gb" doc:"Memory in GB."`
	DiskGB       int     `json:"disk_gb" doc:"Disk in GB."`
	TransferGB   int     `json:"transfer_gb_per_month" doc:"Included data transfer per month, in GB."`
	Active       bool    `json:"active" doc:"Whether new instances may use it."`
}

// Blueprint is an instance image.
type Blueprint struct {
	ID       string `json:"blueprint_id" doc:"Blueprint id, e.g. ubuntu_24_04."`
	Name     string `json:"name" doc:"Display name."`
	Group    string `json:"group" doc:"Family, e.g. ubuntu."`
	Version  string `json:"version" doc:"Version."`
	Platform string `json:"platform" doc:"LINUX_UNIX or WINDOWS."`
	Type     string `json:"type" doc:"os or app."`
	Active   bool   `json:"active" doc:"Whether new instances may use it."`
}

type catalogue struct {
	once       sync.Mutex
	fetched    time.Time
	bundles    []Bundle
	blueprints []Blueprint
}

// Bundles lists the region's bundles, active ones first, by price.
func (c *Client) Bundles(ctx context.Context, region string) ([]Bundle, error) {
	cat, err := c.cat(ctx, region)
	if err != nil {
		return nil, err
	}
	return cat.bundles, nil
}

// Blueprints lists the region's blueprints.
func (c *Client) Blueprints(ctx context.Context, region string) ([]Blueprint, error) {
	cat, err := c.cat(ctx, region)
	if err != nil {
		return nil, err
	}
	return cat.blueprints, nil
}

func (c *Client) cat(ctx context.Context, region string) (*catalogue, error) {
	region, err := c.region(region)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	cat, ok := c.catalogue[region]
	if !ok {
		cat = &catalogue{}
		c.catalogue[region] = cat
	}
	c.mu.Unlock()
	cat.once.Lock()
	defer cat.once.Unlock()
	if time.Since(cat.fetched) < catalogueTTL {
		return cat, nil
	}
	api, err := c.api(ctx, region)
	if err != nil {
		return nil, err
	}
	var bundles []Bundle
	err = pages(func(token *string) (*string, error) {
		out, err := api.GetBundles(ctx, &lightsail.GetBundlesInput{IncludeInactive: aws.Bool(true), PageToken: token})
		if err != nil {
			return nil, awsError("list bundles", err)
		}
		for _, b := range out.Bundles {
			bundles = append(bundles, Bundle{
				ID: aws.ToString(b.BundleId), Name: aws.ToString(b.Name), PriceMonthly: float64(aws.ToFloat32(b.Price)),
				CPUCount: int(aws.ToInt32(b.CpuCount)), RAMGB: float64(aws.ToFloat32(b.RamSizeInGb)),
				DiskGB: int(aws.ToInt32(b.DiskSizeInGb)), TransferGB: int(aws.ToInt32(b.TransferPerMonthInGb)),
				Active: aws.ToBool(b.IsActive),
			})
		}
		return out.NextPageToken, nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(bundles, func(i, j int) bool {
		if bundles[i].Active != bundles[j].Active {
			return bundles[i].Active
		}
		return bundles[i].PriceMonthly < bundles[j].PriceMonthly
	})
	var blueprints []Blueprint
	err = pages(func(token *string) (*string, error) {
		out, err := api.GetBlueprints(ctx, &lightsail.GetBlueprintsInput{IncludeInactive: aws.Bool(true), PageToken: token})
		if err != nil {
			return nil, awsError("list blueprints", err)
		}
		for _, b := range out.Blueprints {
			blueprints = append(blueprints, Blueprint{
				ID: aws.ToString(b.BlueprintId), Name: aws.ToString(b.Name), Group: aws.ToString(b.Group),
				Version: aws.ToString(b.Version), Platform: string(b.Platform), Type: string(b.Type), Active: aws.ToBool(b.IsActive),
			})
		}
		return out.NextPageToken, nil
	})
	if err != nil {
		return nil, err
	}
	cat.bundles, cat.blueprints, cat.fetched = bundles, blueprints, time.Now()
	return cat, nil
}

// resolveBundle returns the bundle to use for id. A retired id (such as the
// design's nano_2_0) resolves to the current bundle of the same size, with a
// note saying so; an unknown id is an EINVALID error naming the field.
func (c *Client) resolveBundle(ctx context.Context, region, id string) (Bundle, string, error) {
	bundles, err := c.Bundles(ctx, region)
	if err != nil {
		return Bundle{}, "", err
	}
	for _, b := range bundles {
		if b.ID != id {
			continue
		}
		if b.Active {
			return b, "", nil
		}
		var next *Bundle
		for i, n := range bundles {
			if n.Active && family(n.ID) == family(id) && (next == nil || newer(n.ID, next.ID)) {
				next = &bundles[i]
			}
		}
		if next == nil {
			return b, "", fountain.Invalid("bundle_id", "%q is retired and has no current successor; current bundles: %s", id, activeBundleIDs(bundles))
		}
		return *next, fmt.Sprintf("bundle %s is retired by Lightsail; used its current successor %s ($%.2f a month)", id, next.ID, next.PriceMonthly), nil
	}
	return Bundle{}, "", fountain.Invalid("bundle_id", "%q is not a Lightsail bundle in %s; current bundles: %s", id, region, activeBundleIDs(bundles))
}

// resolveBlueprint is resolveBundle for blueprints: a retired image resolves
// to the newest current image of the same family (ubuntu_20_04 -> ubuntu_24_04).
func (c *Client) resolveBlueprint(ctx context.Context, region, id string) (string, string, error) {
	blueprints, err := c.Blueprints(ctx, region)
	if err != nil {
		return "", "", err
	}
	var active []string
	for _, b := range blueprints {
		if b.Active {
			active = append(active, b.ID)
		}
	}
	for _, b := range blueprints {
		if b.ID != id {
			continue
		}
		if b.Active {
			return id, "", nil
		}
		next := ""
		for _, n := range active {
			if family(n) == family(id) && (next == "" || newer(n, next)) {
				next = n
			}
		}
		if next == "" {
			return "", "", fountain.Invalid("blueprint_id", "%q is retired and has no current successor; current blueprints: %v", id, active)
		}
		return next, fmt.Sprintf("blueprint %s is retired by Lightsail; used its current successor %s", id, next), nil
	}
	return "", "", fountain.Invalid("blueprint_id", "%q is not a Lightsail blueprint in %s; current blueprints: %v", id, region, active)
}

// versionRE splits an id into its family and its numeric version:
// nano_3_0 -> nano, [3 0]; nano_win_3_0 -> nano_win; ubuntu_24_04 -> ubuntu.
var versionRE = regexp.MustCompile(`^(.*?)((?:_[0-9]+)+)$`)

// family is an id without its version, so that nano_2_0 and nano_3_0 are
// one family and nano_win_3_0 (Windows) and nano_ipv6_3_0 are others.
func family(id string) string {
	if m := versionRE.FindStringSubmatch(id); m != nil {
		return m[1]
	}
	return id
}

// version is an id's version numbers: ubuntu_24_04 -> [24 4].
func version(id string) []int {
	m := versionRE.FindStringSubmatch(id)
	if m == nil {
		return nil
	}
	var v []int
	for _, part := range strings.Split(strings.TrimPrefix(m[2], "_"), "_") {
		n, _ := strconv.Atoi(part)
		v = append(v, n)
	}
	return v
}

// newer reports whether id a has a higher version than b, by number.
func newer(a, b string) bool {
	return slices.Compare(version(a), version(b)) > 0
}

func (c *Client) bundlePrice(ctx context.Context, region, id string) float64 {
	bundles, err := c.Bundles(ctx, region)
	if err != nil {
		return 0
	}
	for _, b := range bundles {
		if b.ID == id {
			return b.PriceMonthly
		}
	}
	return 0
}

// bundleDisk is the disk of a bundle, in GB (0 when unknown).
func (c *Client) bundleDisk(ctx context.Context, region, id string) int {
	bundles, err := c.Bundles(ctx, region)
	if err != nil {
		return 0
	}
	for _, b := range bundles {
		if b.ID == id {
			return b.DiskGB
		}
	}
	return 0
}

func activeBundleIDs(bundles []Bundle) string {
	s := ""
	for _, b := range bundles {
		if b.Active {
			if s != "" {
				s += ", "
			}
			s += b.ID
		}
	}
	return s
}

// pages calls fetch with each page token, from the first page to the last.
func pages(fetch func(token *string) (next *string, err error)) error {
	var token *string
	for {
		next, err := fetch(token)
		if err != nil {
			return err
		}
		if next == nil || *next == "" {
			return nil
		}
		token = next
	}
}
