package sandbox

import (
	"context"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Removal of containers, volumes and networks is idempotent and tolerates
// concurrent removers: the emulator deletes hosts in the background while
// `fountain sandbox down` may run, and Docker answers a second remover
// "removal ... already in progress", "volume is in use" or "network has
// active endpoints" until the first is done. Those answers mean "wait", so
// the helpers here wait (bounded by removeTimeout and ctx) until the object
// is gone.

// removeTimeout bounds how long one removal waits for another to finish.
const removeTimeout = 2 * time.Minute

// removePoll is how often a waiting removal looks again.
const removePoll = 200 * time.Millisecond

// removeContainer force-removes a container with its anonymous volumes
// and returns once it is gone. Gone already is no error; a removal in
// progress elsewhere is waited for.
func (s *Sandbox) removeContainer(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, removeTimeout)
	defer cancel()
	for {
		_, err := s.docker.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err == nil || isNotFound(err) {
			return nil
		}
		if !isConflict(err) { // conflict: "removal ... is already in progress"
			return fmt.Errorf("remove container %s: %w", shortID(id), err)
		}
		if _, ierr := s.docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); isNotFound(ierr) {
			return nil
		}
		if werr := sleepCtx(ctx, removePoll); werr != nil {
			return fmt.Errorf("remove container %s: still being removed: %w", shortID(id), err)
		}
	}
}

// removeVolume removes a named volume, waiting while a container that is
// being removed still uses it. Gone already is no error.
func (s *Sandbox) removeVolume(ctx context.Context, name string) error {
	return s.retryBusy(ctx, "remove volume "+name, func(ctx context.Context) error {
		_, err := s.docker.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: true})
		return err
	})
}

// removeNetwork removes a network, waiting while containers being removed
// still have endpoints on it. Gone already is no error.
func (s *Sandbox) removeNetwork(ctx context.Context, id, name string) error {
	return s.retryBusy(ctx, "remove network "+name, func(ctx context.Context) error {
		_, err := s.docker.NetworkRemove(ctx, id, client.NetworkRemoveOptions{})
		return err
	})
}

// retryBusy calls remove until it succeeds or answers "not found", for at
// most removeTimeout. Docker answers "in use" (409 Conflict: a volume in
// use) or 403 Forbidden (a network with active endpoints) while a container
// that holds the object is still being removed: those are waited out; any
// other error is returned at once.
func (s *Sandbox) retryBusy(ctx context.Context, what string, remove func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, removeTimeout)
	defer cancel()
	for {
		err := remove(ctx)
		switch {
		case err == nil || isNotFound(err):
			return nil
		case !isBusy(err):
			return fmt.Errorf("%s: %w", what, err)
		}
		if werr := sleepCtx(ctx, removePoll); werr != nil {
			return fmt.Errorf("%s: still in use: %w", what, err)
		}
	}
}

// isBusy reports whether Docker refused a removal because something else
// still holds the object.
func isBusy(err error) bool { return isConflict(err) || cerrdefs.IsPermissionDenied(err) }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
