// Package sandbox backs Fountain's embedded Lightsail emulator with real
// hosts: Docker containers that run systemd as PID 1, OpenSSH, a sudo user
// "ubuntu" and apt, and that behave like a fresh Lightsail Ubuntu instance.
//
// Everything goes through the Docker Engine API (github.com/moby/moby/client);
// no docker CLI is needed. A Sandbox owns, per namespace:
//
//   - the host image, built from an embedded Dockerfile (recipe/) on top of
//     ubuntu:24.04 when that image is present, or else on a Debian root
//     filesystem made with debootstrap from the machine's own apt mirror and
//     imported into Docker. Images are tagged by a content hash of the recipe
//     and the base image ID, so an unchanged recipe is never rebuilt;
//   - one bridge network, over which hosts reach the in-process registry
//     (a host's private address is its address there);
//   - one container, one volume (/var/lib/docker) and one public network per
//     host. A host's public address is the gateway of its public network, a
//     /30 bridge no container joins (so an address of this machine, not
//     loopback), where the ports in [HostPorts] are published: as an
//     instance's public IP, it reaches the host from this machine, from
//     every host and from the containers on them, and only those ports
//     answer there. The /30s are carved from a block Docker hands out,
//     clear of Docker's networks and this machine's routes (public.go);
//   - an ed25519 key pair installed as the ubuntu user's authorized key;
//   - an OCI registry (go-containerregistry's pkg/registry) standing in for
//     GHCR: this machine pushes to [Status.RegistryPush] and hosts pull from
//     [Status.RegistryPullPrefix];
//   - a CA per data directory ([CA]) that hosts trust, and a TLS front on the
//     network's gateway serving the registry under its real names
//     ([RegistryNames]: ghcr.io, and the hosts' Docker Hub mirror) and other
//     names through [Sandbox.HandleHost] (artifacts.opensearch.org);
//   - a caching apt proxy on the gateway ([AptProxy]) whose cache is shared
//     by every sandbox and test process of the machine.
//
// Every container, volume and network carries [LabelSandbox] and the
// namespace label, so [Sandbox.Down] removes exactly what Fountain created
// (and stops what listens on the gateway); the apt cache, the CA and the
// SSH key stay.
package sandbox
