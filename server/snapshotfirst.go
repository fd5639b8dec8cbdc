package server

import (
	"context"
	"strings"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail"
)

// lightsailSnapshots takes the snapshots of a deploy's snapshot_first
// (deploy.Snapshotter) with the Lightsail client: create-instance-snapshot
// waited for, its steps logged in the deploy's snapshot step.
type lightsailSnapshots struct{ ls *lightsail.Client }

func (s lightsailSnapshots) SnapshotInstance(ctx context.Context, rec fountain.Recorder, region, instance, name string) error {
	in := lightsail.CreateSnapshotInput{InstanceName: instance, SnapshotName: name, Region: region, Wait: true}
	if err := s.ls.ValidateCreateSnapshot(&in); err != nil {
		return err
	}
	out, err := s.ls.CreateSnapshot(ctx, loggedSteps{rec}, in)
	if out.Message != "" {
		rec.Log(out.Message)
	}
	return err
}

// loggedSteps records the steps of a call made within one step of an
// operation as log lines of that step.
type loggedSteps struct{ fountain.Recorder }

func (l loggedSteps) Step(ctx context.Context, name string, fn func(context.Context) (fountain.StepResult, error)) error {
	res, err := fn(ctx)
	line := name
	switch {
	case err != nil:
		line += ": failed: " + fountain.ErrorMessage(err)
	case res.Output != "":
		line += ": " + strings.ReplaceAll(strings.TrimRight(res.Output, "\n"), "\n", "; ")
	case res.Reason != "":
		line += ": " + res.Reason
	}
	l.Log(line)
	return err
}
