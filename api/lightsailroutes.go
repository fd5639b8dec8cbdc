package api

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// snapshotRoutes registers the instance snapshot routes (routes.go calls
// it beside the other Lightsail routes).
func (s *Server) snapshotRoutes(tags []string) {
	mutation(s, huma.Operation{OperationID: "create-instance-snapshot", Path: "/aws/lightsail/create-instance-snapshot", Tags: tags,
		Summary: "Snapshot an instance",
		Description: "Takes a snapshot of a running or stopped instance (CreateInstanceSnapshot): its whole disk, to create instances from later. " +
			"A snapshot of the same name of the same instance changes nothing; of another instance, 409. It is billed per GB-month (the plan says how much). " +
			"wait waits until it is available."}, s.createSnapshot)
	register(s, huma.Operation{OperationID: "list-instance-snapshots", Method: http.MethodGet, Path: "/aws/lightsail/snapshots", Tags: tags,
		Summary: "List instance snapshots", Description: "The region's instance snapshots: state, source instance, size and monthly cost."}, s.listSnapshots)
	mutation(s, huma.Operation{OperationID: "delete-instance-snapshot", Path: "/aws/lightsail/delete-instance-snapshot", Tags: tags,
		Summary: "Delete an instance snapshot", Description: "Deletes a snapshot. A missing one changes nothing; a pending one answers 409."}, s.deleteSnapshot)
	mutation(s, huma.Operation{OperationID: "enable-auto-snapshot", Path: "/aws/lightsail/enable-auto-snapshot", Tags: tags,
		Summary: "Turn on automatic snapshots",
		Description: "Enables the AutoSnapshot add-on (EnableAddOn): Lightsail snapshots the instance daily at snapshot_time_of_day (HH:00 UTC, default 06:00) and keeps the last seven. " +
			"Already on at that time changes nothing; at another time, the time is changed."}, s.autoSnapshot(true))
	mutation(s, huma.Operation{OperationID: "disable-auto-snapshot", Path: "/aws/lightsail/disable-auto-snapshot", Tags: tags,
		Summary: "Turn off automatic snapshots", Description: "Disables the AutoSnapshot add-on (DisableAddOn). Already off changes nothing."}, s.autoSnapshot(false))
}

// loadBalancerRoutes registers the load balancer routes.
func (s *Server) loadBalancerRoutes(tags []string) {
	mutation(s, huma.Operation{OperationID: "create-load-balancer", Path: "/aws/lightsail/create-load-balancer", Tags: tags,
		Summary: "Create a load balancer",
		Description: "Creates a Lightsail load balancer forwarding to instance_port on its instances, checking health_check_path (default /) on each, " +
			"and attaches instance_names (running ones). An existing one with the same port changes nothing, or only its health check path and the instances to attach; " +
			"another port answers 409. It costs $18 a month (the plan says so)."}, s.createLoadBalancer)
	mutation(s, huma.Operation{OperationID: "attach-instances-to-load-balancer", Path: "/aws/lightsail/attach-instances-to-load-balancer", Tags: tags,
		Summary: "Attach instances to a load balancer", Description: "Attaches running instances; attached ones change nothing."}, s.loadBalancerInstances(true))
	mutation(s, huma.Operation{OperationID: "detach-instances-from-load-balancer", Path: "/aws/lightsail/detach-instances-from-load-balancer", Tags: tags,
		Summary: "Detach instances from a load balancer", Description: "Detaches instances; detached ones change nothing."}, s.loadBalancerInstances(false))
	mutation(s, huma.Operation{OperationID: "update-load-balancer", Path: "/aws/lightsail/update-load-balancer", Tags: tags,
		Summary: "Set a load balancer's health check path", Description: "Sets the path checked on each instance (UpdateLoadBalancerAttribute HealthCheckPath)."}, s.updateLoadBalancer)
	mutation(s, huma.Operation{OperationID: "create-load-balancer-certificate", Path: "/aws/lightsail/create-load-balancer-certificate", Tags: tags,
		Summary: "Create a TLS certificate for a load balancer",
		Description: "Requests a certificate for domain_name and up to 9 alternative_names (no wildcards; at most 2 per load balancer). " +
			"The answer shows the DNS validation records (CNAMEs) to add: Lightsail issues the certificate once it finds them."}, s.createCertificate)
	mutation(s, huma.Operation{OperationID: "attach-load-balancer-certificate", Path: "/aws/lightsail/attach-load-balancer-certificate", Tags: tags,
		Summary: "Attach a TLS certificate to a load balancer", Description: "Attaches an ISSUED certificate: the load balancer then serves HTTPS on 443. A pending one answers 409."}, s.attachCertificate)
	mutation(s, huma.Operation{OperationID: "delete-load-balancer", Path: "/aws/lightsail/delete-load-balancer", Tags: tags,
		Summary: "Delete a load balancer", Description: "Deletes a load balancer and its certificates; the instances stay. A missing one changes nothing."}, s.deleteLoadBalancer)
	register(s, huma.Operation{OperationID: "list-load-balancers", Method: http.MethodGet, Path: "/aws/lightsail/load-balancers", Tags: tags,
		Summary: "List load balancers", Description: "The region's load balancers: address, state, instances and their health, monthly price."}, s.listLoadBalancers)
	register(s, huma.Operation{OperationID: "get-load-balancer", Method: http.MethodGet, Path: "/aws/lightsail/load-balancers/{name}", Tags: tags,
		Summary:     "Show a load balancer",
		Description: "One load balancer: each instance's health (initial, healthy, unhealthy, unused, ...) and why, and its certificates with their DNS validation records."}, s.getLoadBalancer)
}
