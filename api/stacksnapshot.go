package api

import (
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/stack"
)

// autoSnapshotCall is the call of an instance's auto_snapshot:
// enable-auto-snapshot at its time, disable-auto-snapshot for off
// (nothing to do on an instance the plan creates: it has none), none
// when the file leaves it out. ok is false when there is no call.
func autoSnapshotCall(name string, in stack.Instance, region string, exists bool) (stackCall, bool) {
	switch in.AutoSnapshot {
	case "":
		return stackCall{}, false
	case stack.AutoSnapshotOff:
		if !exists {
			return stackCall{}, false
		}
		body := &lightsail.AutoSnapshotInput{InstanceName: name, Region: region}
		// The route's validation fills in the default time of day, which
		// the next call of disable-auto-snapshot (the apply after the dry
		// run) would refuse: it starts without one each time.
		return stackCall{route: "disable-auto-snapshot", body: body, dry: func(d bool) { body.DryRun, body.TimeOfDay = d, "" }}, true
	}
	body := &lightsail.AutoSnapshotInput{InstanceName: name, TimeOfDay: in.AutoSnapshot, Region: region}
	c := stackCall{route: "enable-auto-snapshot", body: body, dry: func(d bool) { body.DryRun = d }}
	if !exists {
		c.after = "once instance " + name + " exists"
	}
	return c, true
}
