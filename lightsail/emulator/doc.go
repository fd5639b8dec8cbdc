// Package emulator is a wire-level emulator of the Amazon Lightsail API
// (2016-11-28) that the real aws-sdk-go-v2 Lightsail client can talk to
// without an AWS account.
//
// A [Server] is an [net/http.Handler] that speaks AWS JSON 1.1 exactly as
// Lightsail does: every call is a POST with Content-Type
// application/x-amz-json-1.1 and X-Amz-Target Lightsail_20161128.<Operation>,
// members are lowerCamelCase and timestamps are epoch seconds with a
// fraction. Every request must carry a valid AWS Signature Version 4 for the
// signing name "lightsail"; the region of the credential scope selects the
// emulated region, and all state (instances, static IPs, key pairs,
// operations) is kept per region. Errors carry the X-Amzn-ErrorType header
// and a {"__type":...,"message":...} body, so the SDK surfaces them as the
// modelled types (*types.NotFoundException, *types.InvalidInputException, ...).
//
// Point the SDK at a Server with lightsail.Options.BaseEndpoint (or
// AWS_ENDPOINT_URL_LIGHTSAIL) and static credentials. Without
// Options.Credentials the server accepts exactly one well-known pair,
// [AccessKeyID] and [SecretAccessKey], which only tests should rely on:
// anything a user runs takes a private pair from [LoadOrCreateCredentials].
//
// Instances move through their states over time: pending (0) -> running
// (16); stopping (64) -> stopped (80); rebooting -> running. The durations
// are Options and states are computed lazily from an injectable clock, so
// tests are deterministic. Public addresses come from a loopback prefix
// (127.1.0.0/16 by default) so nothing handed out can reach another network.
//
// With Options.Hosts set, instances are backed by real machines (sandbox
// mode): the emulator calls the [Hosts] methods in the background and
// reports the host's address and real SSH host keys.
//
// Instance snapshots (pending -> available) and load balancers
// (provisioning -> active, with their instances' health and TLS
// certificates that go PENDING_VALIDATION -> ISSUED) are emulated too
// (snapshots.go, loadbalancers.go, lbcerts.go). Hosts that implement
// [SnapshotHosts] back snapshots with real copies of a host's disk, and
// Options.Balancers backs load balancers with real listeners (sandbox
// mode). The answers are checked against Lightsail's own service model
// (testdata/lightsail-model.json, from botocore) by fidelity_test.go.
//
// Tests make it fail as AWS does with [Server.InjectFault] (a service
// error, throttling) and [Server.InjectAccessDenied] (IAM's refusal of an
// action, with IAM's message naming the user, the action and the resource).
//
// Where AWS does not document its behaviour, the choice the emulator made is
// described in the doc comment of the operation's handler.
package emulator
