// Package deploy is Fountain's deploy engine: it puts Docker apps,
// OpenSearch and Kong onto hosts over SSH.
//
// The data flows one way: a request is validated without I/O (validate.go,
// and each service's Validate), the host is resolved (an address, the
// Lightsail instance behind it if Fountain knows one, the locks the
// operation takes, the key that logs in), then a Plan is built by pure
// functions from the request: an ordered list of steps, each a read-only
// check and an apply. One executor (fountain.Plan.Run) runs every plan,
// records each step, and in a dry run runs only the checks. Everything
// placed into a remote command goes through ssh.Quote; nothing from a
// request is concatenated into a shell line.
package deploy
