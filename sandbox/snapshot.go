package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// Snapshots of hosts.
//
// A host's disk is two things: its container's root filesystem (files,
// packages, /etc, /home, bind-mounted app data) and the Docker volume on
// its /var/lib/docker (the images, containers and volumes of the Docker
// inside). A snapshot copies both at one instant: the host is paused
// (frozen, as a crash-consistent disk snapshot is), its container is
// committed to an image and its volume copied into a volume of the
// snapshot's own, then the host resumes. The copy drops the SSH host keys
// and the machine id, so that a host made from it gets its own, as a
// Lightsail instance made from a snapshot does (cloud-init regenerates
// them).
//
// A host made from a snapshot boots that image with a copy of that volume:
// the same files, and the Docker inside starts the same containers (their
// restart policies do the rest). Snapshot images and volumes carry the
// sandbox's labels (LabelKind "snapshot"); Down removes them with the rest.

// LabelSnapshot names the snapshot an image or volume belongs to.
const LabelSnapshot = "dev.fountain.sandbox.snapshot"

// kindSnapshot and kindHelper are the LabelKind of snapshot images and
// volumes, and of the short-lived containers that copy volumes.
const (
	kindSnapshot = "snapshot"
	kindHelper   = "helper"
)

// snapshotRepo is the repository of snapshot images.
const snapshotRepo = "fountain-sandbox/snapshot"

// hostCmd is what a host runs as PID 1.
var hostCmd = []string{"/lib/systemd/systemd"}

func (s *Sandbox) snapshotVolumeName(snap string) string {
	return s.ns + "-snap-" + shortName(snap) + "-docker"
}

func (s *Sandbox) snapshotTag(snap string) string {
	return snapshotRepo + ":" + s.ns + "-" + shortName(snap)
}

// snapLock is held for reading while a host is made from the snapshot,
// and for writing while the snapshot is taken or deleted.
func (s *Sandbox) snapLock(snap string) *sync.RWMutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snapLocks == nil {
		s.snapLocks = map[string]*sync.RWMutex{}
	}
	l, ok := s.snapLocks[snap]
	if !ok {
		l = &sync.RWMutex{}
		s.snapLocks[snap] = l
	}
	return l
}

// SnapshotHost copies the named host's disk under the snapshot's name (see
// above). A snapshot of that name left from before is replaced.
func (s *Sandbox) SnapshotHost(ctx context.Context, name, snap string) error {
	if !hostNameRE.MatchString(snap) {
		return fmt.Errorf("snapshot %q: %w", snap, ErrInvalidName)
	}
	l := s.snapLock(snap)
	l.Lock()
	defer l.Unlock()
	c, err := s.findHost(ctx, name)
	if err != nil {
		return fmt.Errorf("snapshot host: %w", err)
	}
	if err := s.removeSnapshot(ctx, snap); err != nil {
		return err
	}
	if c.State == container.StateRunning {
		paused, err := freezeForSnapshot(ctx, func() error {
			_, err := s.docker.ContainerPause(ctx, c.ID, client.ContainerPauseOptions{})
			return err
		}, pauseRetryDelay)
		if err != nil {
			return fmt.Errorf("snapshot host %s: pause: %w", name, err)
		}
		if paused {
			defer func() {
				if _, err := s.docker.ContainerUnpause(context.WithoutCancel(ctx), c.ID, client.ContainerUnpauseOptions{}); err != nil {
					s.logf("snapshot host %s: unpause: %v", name, err)
				}
			}()
		} else {
			s.logf("snapshot host %s: the host could not be frozen (%d tries); copying it while it runs", name, pauseTries)
		}
	}
	base, err := s.docker.ContainerCommit(ctx, c.ID, client.ContainerCommitOptions{NoPause: true, Comment: "fountain sandbox snapshot " + snap})
	if err != nil {
		return fmt.Errorf("snapshot host %s: commit: %w", name, err)
	}
	vol := s.snapshotVolumeName(snap)
	if _, err := s.docker.VolumeCreate(ctx, client.VolumeCreateOptions{Name: vol,
		Labels: s.labels(kindSnapshot, LabelSnapshot, snap, LabelInstance, name)}); err != nil {
		_, _ = s.docker.ImageRemove(context.WithoutCancel(ctx), base.ID, client.ImageRemoveOptions{Force: true})
		return fmt.Errorf("snapshot host %s: create volume %s: %w", name, vol, err)
	}
	// One helper, from the committed disk: it forgets the host's identity
	// and copies the Docker volume; committed, it is the snapshot.
	script := "set -e; rm -f /etc/ssh/ssh_host_*; : > /etc/machine-id; cp -a /from/. /to/"
	helper, err := s.runHelper(ctx, base.ID, script, s.volumeName(name), vol)
	if err == nil {
		_, err = s.docker.ContainerCommit(ctx, helper, client.ContainerCommitOptions{
			Reference: s.snapshotTag(snap),
			Comment:   "fountain sandbox snapshot " + snap + " of " + name,
			Changes: []string{`CMD ["/lib/systemd/systemd"]`,
				"LABEL " + LabelSandbox + "=1", "LABEL " + LabelNamespace + "=" + s.ns, "LABEL " + LabelKind + "=" + kindSnapshot,
				"LABEL " + LabelSnapshot + "=" + snap, "LABEL " + LabelInstance + "=" + name},
		})
	}
	if helper != "" {
		if rerr := s.removeContainer(context.WithoutCancel(ctx), helper); rerr != nil {
			s.logf("snapshot host %s: remove the copying container: %v", name, rerr)
		}
	}
	if err == nil {
		err = s.checkSnapshotImage(ctx, snap)
	}
	if err != nil {
		_ = s.removeSnapshot(context.WithoutCancel(ctx), snap)
		_, _ = s.docker.ImageRemove(context.WithoutCancel(ctx), base.ID, client.ImageRemoveOptions{Force: true})
		return fmt.Errorf("snapshot host %s: %w", name, err)
	}
	return nil
}

// pauseTries is how many times a snapshot tries to freeze its host, and
// pauseRetryDelay the wait between two tries.
const (
	pauseTries      = 4
	pauseRetryDelay = 250 * time.Millisecond
)

// freezeForSnapshot pauses a host for its snapshot. The freezer can fail
// for a moment ("unable to freeze" from runc, when a process inside sits in
// an uninterruptible wait on a busy machine), so it tries pauseTries times;
// if the host still cannot be frozen, the snapshot goes on with the host
// running (paused false, no error), as a real disk snapshot of a running
// instance does: what a crash would leave, less exactly. Only a cancelled
// context stops it.
func freezeForSnapshot(ctx context.Context, pause func() error, delay time.Duration) (paused bool, err error) {
	for i := range pauseTries {
		if i > 0 {
			select {
			case <-ctx.Done():
				return false, ctx.Err()
			case <-time.After(delay):
			}
		}
		if err := pause(); err == nil {
			return true, nil
		} else if ctx.Err() != nil {
			return false, err
		}
	}
	return false, nil
}

// checkSnapshotImage checks that the snapshot's image boots as a host
// does: systemd, and no entrypoint left from the helper.
func (s *Sandbox) checkSnapshotImage(ctx context.Context, snap string) error {
	insp, err := s.docker.ImageInspect(ctx, s.snapshotTag(snap))
	if err != nil {
		return fmt.Errorf("inspect the snapshot image: %w", err)
	}
	cfg := insp.Config
	if cfg == nil {
		return errors.New("the snapshot image has no configuration")
	}
	if len(cfg.Entrypoint) != 0 || !slices.Equal(cfg.Cmd, hostCmd) {
		return fmt.Errorf("the snapshot image would not boot systemd (entrypoint %q, cmd %q)", cfg.Entrypoint, cfg.Cmd)
	}
	return nil
}

// runHelper runs script in a short-lived container of image, with volume
// from mounted read-only on /from and volume to on /to, and returns the
// (exited) container once the script succeeded. The container has the
// capability to copy every extended attribute (overlay2's whiteouts and
// opaque directories live in trusted.* attributes) and no network.
func (s *Sandbox) runHelper(ctx context.Context, image, script, from, to string) (string, error) {
	res, err := s.docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: image, Cmd: []string{"/bin/sh", "-c", script}, Labels: s.labels(kindHelper)},
		HostConfig: &container.HostConfig{
			CapAdd:      []string{"SYS_ADMIN"},
			NetworkMode: "none",
			Mounts: []mount.Mount{
				{Type: mount.TypeVolume, Source: from, Target: "/from", ReadOnly: true},
				{Type: mount.TypeVolume, Source: to, Target: "/to"},
			},
		},
	})
	if err != nil {
		return "", fmt.Errorf("create the copying container: %w", err)
	}
	id := res.ID
	wait := s.docker.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := s.docker.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return id, fmt.Errorf("start the copying container: %w", err)
	}
	select {
	case w := <-wait.Result:
		if w.StatusCode != 0 {
			return id, fmt.Errorf("copy %s to %s: exit %d: %s", from, to, w.StatusCode, s.lastLogs(ctx, id))
		}
		return id, nil
	case err := <-wait.Error:
		return id, fmt.Errorf("copy %s to %s: %w", from, to, err)
	}
}

// lastLogs returns a container's last lines.
func (s *Sandbox) lastLogs(ctx context.Context, id string) string {
	r, err := s.docker.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "20"})
	if err != nil {
		return ""
	}
	defer r.Close()
	var b strings.Builder
	_, _ = stdcopy.StdCopy(&b, &b, io.LimitReader(r, 8192))
	return strings.TrimSpace(b.String())
}

// snapshotImage returns the image of a snapshot (by its tag), or
// ErrNotFound.
func (s *Sandbox) snapshotImage(ctx context.Context, snap string) (string, error) {
	insp, err := s.docker.ImageInspect(ctx, s.snapshotTag(snap))
	if isNotFound(err) {
		return "", fmt.Errorf("%w: snapshot %s", ErrNotFound, snap)
	}
	if err != nil {
		return "", fmt.Errorf("find snapshot %s: %w", snap, err)
	}
	return insp.ID, nil
}

// DeleteSnapshot removes a snapshot's image and volume (waiting while a
// host is being made from it); one already gone is no error.
func (s *Sandbox) DeleteSnapshot(ctx context.Context, snap string) error {
	l := s.snapLock(snap)
	l.Lock()
	defer l.Unlock()
	return s.removeSnapshot(ctx, snap)
}

// removeSnapshot removes a snapshot's image (and the parent it was made
// from) and its volume. The caller holds the snapshot's lock. The image is
// removed by its tag: while hosts made from it run, Docker only untags it
// and removes it with the last of them (pruneSnapshotImages) or at Down.
func (s *Sandbox) removeSnapshot(ctx context.Context, snap string) error {
	var errs []error
	if _, err := s.docker.ImageRemove(ctx, s.snapshotTag(snap), client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !isNotFound(err) {
		errs = append(errs, fmt.Errorf("remove snapshot image %s: %w", snap, err))
	}
	errs = append(errs, s.removeVolume(ctx, s.snapshotVolumeName(snap)))
	return errors.Join(errs...)
}

// pruneSnapshotImages removes the namespace's snapshot images that lost
// their tag (deleted snapshots) and that no host uses any more; the others
// stay. Best effort: it reports nothing.
func (s *Sandbox) pruneSnapshotImages(ctx context.Context) {
	f := s.filters(LabelKind + "=" + kindSnapshot)
	f.Add("dangling", "true")
	list, err := s.docker.ImageList(ctx, client.ImageListOptions{Filters: f})
	if err != nil {
		return
	}
	for _, img := range list.Items {
		_, _ = s.docker.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{PruneChildren: true})
	}
}

// removeSnapshotImages removes every snapshot image of the namespace
// (Down).
func (s *Sandbox) removeSnapshotImages(ctx context.Context) error {
	list, err := s.docker.ImageList(ctx, client.ImageListOptions{Filters: s.filters(LabelKind + "=" + kindSnapshot)})
	if err != nil {
		return fmt.Errorf("list snapshot images: %w", err)
	}
	var errs []error
	for _, img := range list.Items {
		if _, err := s.docker.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove snapshot image %s: %w", shortID(img.ID), err))
		}
	}
	return errors.Join(errs...)
}

// snapshotImages lists the namespace's snapshot images as "image TAG"
// lines (Leftovers).
func (s *Sandbox) snapshotImages(ctx context.Context) ([]string, error) {
	list, err := s.docker.ImageList(ctx, client.ImageListOptions{Filters: s.filters(LabelKind + "=" + kindSnapshot)})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []string
	for _, img := range list.Items {
		name := shortID(strings.TrimPrefix(img.ID, "sha256:"))
		if len(img.RepoTags) > 0 {
			name = img.RepoTags[0]
		}
		out = append(out, "image "+name)
	}
	return out, nil
}

// CreateHostFromSnapshot creates and boots a host from a snapshot: its
// image, and a copy of its Docker volume (the snapshot stays as it is, for
// more hosts).
func (s *Sandbox) CreateHostFromSnapshot(ctx context.Context, name, snap string, opts HostOptions) (Host, error) {
	opts.fromSnapshot = snap
	return s.CreateHostWith(ctx, name, opts)
}
