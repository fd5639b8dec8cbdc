package sandbox

import "github.com/moby/moby/api/types/container"

// MinMemoryMB is the least memory a host may be limited to: below it
// systemd and sshd alone do not fit.
const MinMemoryMB = 128

// memoryLimit is the container resources of a host limited to mb MiB of
// memory with no swap (Lightsail instances have none); 0 is no limit.
func memoryLimit(mb int) container.Resources {
	if mb <= 0 {
		return container.Resources{}
	}
	b := int64(mb) << 20
	return container.Resources{Memory: b, MemorySwap: b}
}
