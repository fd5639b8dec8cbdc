package emulator

import (
	"fmt"
	"slices"
)

// Bundle is a Lightsail instance plan as GetBundles returns it. The JSON
// tags are the wire member names.
type Bundle struct {
	Price                  float64  `json:"price"`
	CPUCount               int      `json:"cpuCount"`
	DiskSizeInGb           int      `json:"diskSizeInGb"`
	BundleID               string   `json:"bundleId"`
	InstanceType           string   `json:"instanceType"`
	IsActive               bool     `json:"isActive"`
	Name                   string   `json:"name"`
	Power                  int      `json:"power"`
	RAMSizeInGb            float64  `json:"ramSizeInGb"`
	TransferPerMonthInGb   int      `json:"transferPerMonthInGb"`
	SupportedPlatforms     []string `json:"supportedPlatforms"`
	SupportedAppCategories []string `json:"supportedAppCategories,omitempty"`
	PublicIpv4AddressCount int      `json:"publicIpv4AddressCount"`
}

// Blueprint is a Lightsail instance image as GetBlueprints returns it.
// Username is not on the wire: it is the login user of instances created
// from the blueprint (ubuntu on Ubuntu, admin on Debian, ec2-user on Amazon
// Linux).
type Blueprint struct {
	BlueprintID string `json:"blueprintId"`
	Name        string `json:"name"`
	Group       string `json:"group"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	IsActive    bool   `json:"isActive"`
	MinPower    int    `json:"minPower"`
	Version     string `json:"version"`
	VersionCode string `json:"versionCode"`
	ProductURL  string `json:"productUrl,omitempty"`
	LicenseURL  string `json:"licenseUrl,omitempty"`
	Platform    string `json:"platform"`
	Username    string `json:"-"`
}

// Platform and blueprint type values.
const (
	PlatformLinuxUnix = "LINUX_UNIX"
	BlueprintTypeOS   = "os"
)

func linuxBundle(id, name, typ string, price float64, cpus int, ram float64, disk, transfer, power int, active bool) Bundle {
	return Bundle{
		Price: price, CPUCount: cpus, DiskSizeInGb: disk, BundleID: id, InstanceType: typ,
		IsActive: active, Name: name, Power: power, RAMSizeInGb: ram, TransferPerMonthInGb: transfer,
		SupportedPlatforms: []string{PlatformLinuxUnix}, PublicIpv4AddressCount: 1,
	}
}

// bundles is the Linux/Unix IPv4 plan list: the current third generation
// (_3_0) and the retired second generation (_2_0, isActive false).
var bundles = []Bundle{
	linuxBundle("nano_3_0", "Nano", "nano", 5, 2, 0.5, 20, 1024, 300, true),
	linuxBundle("micro_3_0", "Micro", "micro", 7, 2, 1, 40, 2048, 500, true),
	linuxBundle("small_3_0", "Small", "small", 12, 2, 2, 60, 3072, 1000, true),
	linuxBundle("medium_3_0", "Medium", "medium", 24, 2, 4, 80, 4096, 1500, true),
	linuxBundle("large_3_0", "Large", "large", 44, 2, 8, 160, 5120, 2000, true),
	linuxBundle("xlarge_3_0", "Xlarge", "xlarge", 84, 4, 16, 320, 6144, 3000, true),
	linuxBundle("2xlarge_3_0", "2Xlarge", "2xlarge", 164, 8, 32, 640, 7168, 4000, true),
	linuxBundle("nano_2_0", "Nano", "nano", 3.5, 1, 0.5, 20, 1024, 300, false),
	linuxBundle("micro_2_0", "Micro", "micro", 5, 1, 1, 40, 2048, 500, false),
	linuxBundle("small_2_0", "Small", "small", 10, 1, 2, 60, 3072, 1000, false),
	linuxBundle("medium_2_0", "Medium", "medium", 20, 2, 4, 80, 4096, 1500, false),
	linuxBundle("large_2_0", "Large", "large", 40, 2, 8, 160, 5120, 2000, false),
}

// blueprints is the OS image list.
var blueprints = []Blueprint{
	{
		BlueprintID: "amazon_linux_2023", Name: "Amazon Linux 2023", Group: "amazon_linux_2023", Type: BlueprintTypeOS,
		Description: "Amazon Linux 2023 is the next generation of Amazon Linux from Amazon Web Services.",
		IsActive:    true, Version: "2023.6", VersionCode: "1", Platform: PlatformLinuxUnix, Username: "ec2-user",
		ProductURL: "https://aws.amazon.com/linux/amazon-linux-2023/",
		LicenseURL: "https://aws.amazon.com/agreement/",
	},
	{
		BlueprintID: "debian_12", Name: "Debian", Group: "debian_12", Type: BlueprintTypeOS,
		Description: "Debian GNU/Linux 12 (bookworm).",
		IsActive:    true, Version: "12", VersionCode: "1", Platform: PlatformLinuxUnix, Username: "admin",
		ProductURL: "https://www.debian.org/", LicenseURL: "https://www.debian.org/legal/licenses/",
	},
	{
		BlueprintID: "ubuntu_20_04", Name: "Ubuntu", Group: "ubuntu_20", Type: BlueprintTypeOS,
		Description: "Ubuntu 20.04 LTS (Focal Fossa).",
		IsActive:    false, Version: "20.04 LTS", VersionCode: "1", Platform: PlatformLinuxUnix, Username: "ubuntu",
		ProductURL: "https://ubuntu.com/", LicenseURL: "https://ubuntu.com/legal",
	},
	{
		BlueprintID: "ubuntu_22_04", Name: "Ubuntu", Group: "ubuntu_22", Type: BlueprintTypeOS,
		Description: "Ubuntu 22.04 LTS (Jammy Jellyfish).",
		IsActive:    true, Version: "22.04 LTS", VersionCode: "1", Platform: PlatformLinuxUnix, Username: "ubuntu",
		ProductURL: "https://ubuntu.com/", LicenseURL: "https://ubuntu.com/legal",
	},
	{
		BlueprintID: "ubuntu_24_04", Name: "Ubuntu", Group: "ubuntu_24", Type: BlueprintTypeOS,
		Description: "Ubuntu 24.04 LTS (Noble Numbat).",
		IsActive:    true, Version: "24.04 LTS", VersionCode: "1", Platform: PlatformLinuxUnix, Username: "ubuntu",
		ProductURL: "https://ubuntu.com/", LicenseURL: "https://ubuntu.com/legal",
	},
}

// Bundles returns a copy of the emulator's plan catalogue, active and
// inactive.
func Bundles() []Bundle {
	out := make([]Bundle, len(bundles))
	for i, b := range bundles {
		b.SupportedPlatforms = slices.Clone(b.SupportedPlatforms)
		out[i] = b
	}
	return out
}

// Blueprints returns a copy of the emulator's image catalogue, active and
// inactive.
func Blueprints() []Blueprint { return slices.Clone(blueprints) }

func findBundle(id string) (Bundle, bool) {
	for _, b := range bundles {
		if b.BundleID == id {
			return b, true
		}
	}
	return Bundle{}, false
}

func findBlueprint(id string) (Blueprint, bool) {
	for _, b := range blueprints {
		if b.BlueprintID == id {
			return b, true
		}
	}
	return Blueprint{}, false
}

// regionInfo describes a Lightsail region for GetRegions.
type regionInfo struct {
	name, displayName, continent, description string
}

// lightsailRegions is the RegionName enum of the model.
var lightsailRegions = []regionInfo{
	{"us-east-1", "Virginia", "NA", "This region is recommended to serve users in the eastern United States"},
	{"us-east-2", "Ohio", "NA", "This region is recommended to serve users in the eastern United States and eastern Canada"},
	{"us-west-1", "N. California", "NA", "This region is recommended to serve users in California"},
	{"us-west-2", "Oregon", "NA", "This region is recommended to serve users in the northwestern United States, Alaska, and western Canada"},
	{"eu-west-1", "Ireland", "EU", "This region is recommended to serve users in Ireland, the United Kingdom, and Iceland"},
	{"eu-west-2", "London", "EU", "This region is recommended to serve users in London, the United Kingdom, and Iceland"},
	{"eu-west-3", "Paris", "EU", "This region is recommended to serve users in France, Belgium, and Luxembourg"},
	{"eu-central-1", "Frankfurt", "EU", "This region is recommended to serve users in Germany, Switzerland, Austria, and central Europe"},
	{"eu-north-1", "Stockholm", "EU", "This region is recommended to serve users in Scandinavia and northern Europe"},
	{"eu-south-2", "Spain", "EU", "This region is recommended to serve users in Spain and Portugal"},
	{"ca-central-1", "Canada", "NA", "This region is recommended to serve users in Canada"},
	{"ap-east-1", "Hong Kong", "AP", "This region is recommended to serve users in Hong Kong"},
	{"ap-south-1", "Mumbai", "AP", "This region is recommended to serve users in India"},
	{"ap-southeast-1", "Singapore", "AP", "This region is recommended to serve users in Southeast Asia"},
	{"ap-southeast-2", "Sydney", "AP", "This region is recommended to serve users in Australia and New Zealand"},
	{"ap-northeast-1", "Tokyo", "AP", "This region is recommended to serve users in Japan"},
	{"ap-northeast-2", "Seoul", "AP", "This region is recommended to serve users in South Korea"},
	{"ap-southeast-3", "Jakarta", "AP", "This region is recommended to serve users in Indonesia"},
	{"ap-southeast-5", "Malaysia", "AP", "This region is recommended to serve users in Malaysia"},
	{"sa-east-1", "Sao Paulo", "SA", "This region is recommended to serve users in South America"},
}

func knownRegion(name string) bool {
	for _, r := range lightsailRegions {
		if r.name == name {
			return true
		}
	}
	return false
}

// zoneSuffixes are the availability zones of every emulated region.
var zoneSuffixes = []string{"a", "b", "c"}

// zones returns the availability zones of a region.
func zones(region string) []string {
	out := make([]string, len(zoneSuffixes))
	for i, s := range zoneSuffixes {
		out[i] = region + s
	}
	return out
}

type getBundlesInput struct {
	IncludeInactive *bool   `json:"includeInactive"`
	PageToken       *string `json:"pageToken"`
	AppCategory     *string `json:"appCategory"`
}

type indexed[T any] struct {
	i int
	v T
}

func indexKey[T any](x indexed[T]) string { return fmt.Sprintf("%06d", x.i) }

// catalogueList is the shared body of GetBundles and GetBlueprints: it
// decodes the request, keeps the entries of all that are active (every one
// with includeInactive) and returns the requested page in catalogue order.
// No entry supports the Lightsail for Research app category, so
// appCategory=LfR returns an empty list.
func catalogueList[T any](c *call, all []T, active func(T) bool) ([]T, string, *apiError) {
	var in getBundlesInput
	if err := c.decode(&in); err != nil {
		return nil, "", err
	}
	if cat := str(in.AppCategory); cat != "" && cat != "LfR" {
		return nil, "", errInvalid("1 validation error detected: Value '%s' at 'appCategory' failed to satisfy constraint: Member must satisfy enum value set: [LfR]", cat)
	}
	var list []indexed[T]
	for i, v := range all {
		if (active(v) || boolv(in.IncludeInactive)) && in.AppCategory == nil {
			list = append(list, indexed[T]{i, v})
		}
	}
	return pagedList(c, list, indexKey[T], in.PageToken, func(x indexed[T]) T { return x.v })
}

// getBundles answers GetBundles (see catalogueList).
func (c *call) getBundles() (any, *apiError) {
	list, next, aerr := catalogueList(c, Bundles(), func(b Bundle) bool { return b.IsActive })
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		Bundles       []Bundle `json:"bundles"`
		NextPageToken string   `json:"nextPageToken,omitempty"`
	}{list, next}, nil
}

// getBlueprints answers GetBlueprints (see catalogueList).
func (c *call) getBlueprints() (any, *apiError) {
	list, next, aerr := catalogueList(c, Blueprints(), func(b Blueprint) bool { return b.IsActive })
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		Blueprints    []Blueprint `json:"blueprints"`
		NextPageToken string      `json:"nextPageToken,omitempty"`
	}{list, next}, nil
}

type zoneJSON struct {
	ZoneName string `json:"zoneName"`
	State    string `json:"state"`
}

type regionJSON struct {
	ContinentCode                       string     `json:"continentCode"`
	Description                         string     `json:"description"`
	DisplayName                         string     `json:"displayName"`
	Name                                string     `json:"name"`
	AvailabilityZones                   []zoneJSON `json:"availabilityZones"`
	RelationalDatabaseAvailabilityZones []zoneJSON `json:"relationalDatabaseAvailabilityZones"`
}

// getRegions answers GetRegions with every region of the model's RegionName
// enum, each with availability zones a, b and c when asked for.
func (c *call) getRegions() (any, *apiError) {
	var in struct {
		IncludeAvailabilityZones                   *bool `json:"includeAvailabilityZones"`
		IncludeRelationalDatabaseAvailabilityZones *bool `json:"includeRelationalDatabaseAvailabilityZones"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	out := struct {
		Regions []regionJSON `json:"regions"`
	}{Regions: []regionJSON{}}
	for _, r := range lightsailRegions {
		rj := regionJSON{
			ContinentCode: r.continent, Description: r.description, DisplayName: r.displayName, Name: r.name,
			AvailabilityZones: []zoneJSON{}, RelationalDatabaseAvailabilityZones: []zoneJSON{},
		}
		for _, z := range zones(r.name) {
			if boolv(in.IncludeAvailabilityZones) {
				rj.AvailabilityZones = append(rj.AvailabilityZones, zoneJSON{z, "available"})
			}
			if boolv(in.IncludeRelationalDatabaseAvailabilityZones) {
				rj.RelationalDatabaseAvailabilityZones = append(rj.RelationalDatabaseAvailabilityZones, zoneJSON{z, "available"})
			}
		}
		out.Regions = append(out.Regions, rj)
	}
	return out, nil
}
