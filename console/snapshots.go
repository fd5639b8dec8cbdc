package console

import (
	"net/http"
	"net/url"
	"time"
)

// An instance's snapshots on its page: the list with size, cost and
// state, take one, delete one (its name typed), and the automatic
// snapshot add-on turned on or off; each through the API's own route,
// plan -> confirm -> apply.

// snapshot is an instance snapshot (GET /aws/lightsail/snapshots).
type snapshot struct {
	Name         string     `json:"snapshot_name"`
	Region       string     `json:"region"`
	State        string     `json:"state"`
	Progress     string     `json:"progress"`
	FromInstance string     `json:"from_instance"`
	SizeGB       int        `json:"size_gb"`
	Automatic    bool       `json:"automatic"`
	CreatedAt    *time.Time `json:"created_at"`
	PriceMonthly float64    `json:"price_monthly_usd"`
}

type snapshotList struct {
	Region    string     `json:"region"`
	Snapshots []snapshot `json:"snapshots"`
}

// autoSnapshot is an instance's AutoSnapshot add-on.
type autoSnapshot struct {
	Enabled   bool   `json:"enabled"`
	TimeOfDay string `json:"snapshot_time_of_day"`
}

// instanceSnapshots are the region's snapshots of the instance name,
// and what they cost a month together.
func (c *Console) instanceSnapshots(r *http.Request, rg, name string) ([]snapshot, float64, *problem) {
	var l snapshotList
	if err := c.api.get(r.Context(), "/aws/lightsail/snapshots", regionQuery(rg), &l); err != nil {
		return nil, 0, asProblem(err)
	}
	var out []snapshot
	var total float64
	for _, s := range l.Snapshots {
		if s.FromInstance == name {
			out = append(out, s)
			total += s.PriceMonthly
		}
	}
	return out, total, nil
}

// hoursOfDay are the times automatic snapshots can be taken at.
var hoursOfDay = func() []string {
	out := make([]string, 24)
	for h := range out {
		out[h] = time.Date(0, 1, 1, h, 0, 0, 0, time.UTC).Format("15:04")
	}
	return out
}()

// snapshotActions are the snapshot changes the instance page offers.
func snapshotActions() []*action {
	auto := func(verb, title string) *action {
		return &action{Name: verb + "-auto-snapshot", Title: title, Method: http.MethodPost, Route: "/aws/lightsail/" + verb + "-auto-snapshot",
			build: func(f url.Values) (*request, error) {
				b := host(f)
				if verb == "enable" {
					setIf(b, "snapshot_time_of_day", f.Get("snapshot_time_of_day"))
				}
				return &request{Body: b, Back: instanceBack(f, ""), Resource: f.Get("instance_name")}, nil
			}}
	}
	return []*action{
		{Name: "create-snapshot", Title: "Take a snapshot of the instance", Method: http.MethodPost, Route: "/aws/lightsail/create-instance-snapshot",
			build: func(f url.Values) (*request, error) {
				b := host(f)
				setIf(b, "snapshot_name", f.Get("snapshot_name"))
				b["wait"] = true
				return &request{Body: b, Back: instanceBack(f, ""), Resource: f.Get("instance_name")}, nil
			}},
		{Name: "delete-snapshot", Title: "Delete the snapshot", Method: http.MethodPost, Route: "/aws/lightsail/delete-instance-snapshot",
			Confirm: "snapshot_name",
			build: func(f url.Values) (*request, error) {
				b := map[string]any{"snapshot_name": f.Get("snapshot_name")}
				setIf(b, "region", f.Get("region"))
				return &request{Body: b, Back: instanceBack(f, ""), Resource: f.Get("snapshot_name")}, nil
			}},
		auto("enable", "Turn on automatic snapshots"),
		auto("disable", "Turn off automatic snapshots"),
	}
}
