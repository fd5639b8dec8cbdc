// Package deploy is Fountain's deploy engine: it puts Docker apps,
// OpenSearch and Kong onto hosts over SSH.
//
// The data flows one way: a request is validated without I/O (validate.go,
// and each service's Validate), the host is resolved (an address, the
// Lightsail instance behind it if Fountain knows one, the locks the
// operation takes, the key that logs in), then each action is observe ->
// plan -> apply: a recorded step reads the host into plain facts
// (DockerAppFacts, KongFacts, KongChangeFacts), a pure function makes a
// fountain.Plan of changes from the request and the facts (PlanDockerApp,
// PlanRollback, PlanRemove, PlanKongDeploy, PlanKongChange), whose
// effects are values (an ssh.Cmd, a container spec, a Kong config), and
// the service's executor applies them, one recorded step each; a dry run
// applies nothing. Docker apps (DockerApps) and Kong (Gateway) are
// services of their own that the Engine hands out. Everything
// placed into a remote command goes through ssh.Quote; nothing from a
// request is concatenated into a shell line.
package deploy
