package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/lightsail"
)

func (a *app) newLBCmd() *cobra.Command {
	cmd := a.newGroupCmd("lb", "Manage Lightsail load balancers")
	cmd.Aliases = []string{"load-balancers", "load-balancer"}
	cmd.Long = "Create Lightsail load balancers, attach and detach instances, set the health check path, add a TLS\n" +
		"certificate (its DNS validation records are shown), and delete them. A load balancer sends each request to an\n" +
		"attached instance that answers 200 on the health check path. It costs $18 a month; `fountain cost` lists it.\n" +
		"In the sandbox it is a real local listener: its URL answers."
	a.addClientFlags(cmd)
	cert := a.newGroupCmd("cert", "TLS certificates of a load balancer")
	cert.AddCommand(a.newLBCertCreateCmd(), a.newLBCertAttachCmd())
	cmd.AddCommand(a.newLBCreateCmd(), a.newLBListCmd(), a.newLBShowCmd(), a.newLBInstancesCmd(true), a.newLBInstancesCmd(false),
		a.newLBHealthPathCmd(), cert, a.newLBRmCmd())
	return cmd
}

// lbCreateOptions are the flags of `lb create`.
type lbCreateOptions struct {
	Name       string
	Port       int
	HealthPath string
	Instances  []string
	Region     string
	DryRun     bool
	mutateFlags
}

func (a *app) newLBCreateCmd() *cobra.Command {
	o := &lbCreateOptions{}
	cmd := &cobra.Command{
		Use:     "create NAME --port PORT",
		Short:   "Create a load balancer (and attach instances)",
		Example: "  fountain lb create web-lb --port 8080 --health-path /healthz --instance web-1 --instance web-2",
		Args:    exactArgs(1, "one load balancer NAME"),
	}
	f := cmd.Flags()
	f.IntVar(&o.Port, "port", 0, "the `port` it forwards to on the instances")
	f.StringVar(&o.HealthPath, "health-path", "", "the `path` it checks on each instance (default /)")
	f.StringArrayVar(&o.Instances, "instance", nil, "an `instance` to attach (repeatable)")
	f.StringVar(&o.Region, "region", "", "AWS `region` (default: the server's)")
	f.BoolVar(&o.DryRun, "dry-run", false, "only print the plan (and what it costs a month) and change nothing")
	o.mutateFlags.add(cmd)
	_ = cmd.MarkFlagRequired("port")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Name = args[0]
		body := lightsail.CreateLoadBalancerInput{LoadBalancerName: o.Name, InstancePort: o.Port, HealthCheckPath: o.HealthPath,
			InstanceNames: o.Instances, Region: o.Region, DryRun: o.DryRun}
		return a.mutation(cmd, o.mutateFlags, "/aws/lightsail/create-load-balancer", body, a.printLBResult)
	})
	return cmd
}

// printLBResult prints where the load balancer of a change answers.
func (a *app) printLBResult(raw json.RawMessage) {
	var res lightsail.LoadBalancerResult
	if json.Unmarshal(raw, &res) != nil || res.LoadBalancer == nil {
		return
	}
	lb := res.LoadBalancer
	fmt.Fprintf(a.io.Out, "Load balancer %s is %s at %s; it costs %s a month.\n", lb.Name, lb.State, lb.URL, money(lb.PriceMonthly))
	printCertificates(a.io.Out, lb.Certificates)
}

// lbListOptions are the flags of `lb list`.
type lbListOptions struct {
	Region string
	JSON   bool
}

func (a *app) newLBListCmd() *cobra.Command {
	o := &lbListOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the region's load balancers",
		Args:    cobra.NoArgs,
	}
	cmd.Flags().StringVar(&o.Region, "region", "", "AWS `region` (default: the server's)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the API's JSON answer")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		c, err := a.newClient()
		if err != nil {
			return err
		}
		var out struct {
			Region        string                   `json:"region"`
			LoadBalancers []lightsail.LoadBalancer `json:"load_balancers"`
		}
		raw, err := c.get(cmd.Context(), "/aws/lightsail/load-balancers", regionQuery(o.Region), &out)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		if len(out.LoadBalancers) == 0 {
			fmt.Fprintf(a.io.ErrOut, "No load balancers in %s.\n", out.Region)
			return nil
		}
		t := newTable(a.io.Out)
		fmt.Fprintln(t, "NAME\tSTATE\tURL\tPORT\tHEALTH CHECK\tINSTANCES\tMONTHLY")
		for _, lb := range out.LoadBalancers {
			fmt.Fprintf(t, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", lb.Name, lb.State, lb.URL, lb.InstancePort, lb.HealthCheckPath, instanceHealths(lb.Instances), money(lb.PriceMonthly))
		}
		return t.Flush()
	})
	return cmd
}

// instanceHealths is "web-1 healthy, web-2 unhealthy".
func instanceHealths(insts []lightsail.LoadBalancerInstance) string {
	if len(insts) == 0 {
		return "-"
	}
	parts := make([]string, len(insts))
	for i, in := range insts {
		parts[i] = in.Name + " " + in.Health
	}
	return strings.Join(parts, ", ")
}

// lbShowOptions are the flags of `lb show`.
type lbShowOptions struct {
	Name   string
	Region string
	JSON   bool
}

func (a *app) newLBShowCmd() *cobra.Command {
	o := &lbShowOptions{}
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a load balancer: its instances' health, its certificates and their DNS validation records",
		Args:  exactArgs(1, "one load balancer NAME"),
	}
	cmd.Flags().StringVar(&o.Region, "region", "", "AWS `region` (default: the server's)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the API's JSON answer")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Name = args[0]
		c, err := a.newClient()
		if err != nil {
			return err
		}
		var lb lightsail.LoadBalancer
		raw, err := c.get(cmd.Context(), "/aws/lightsail/load-balancers/"+url.PathEscape(o.Name), regionQuery(o.Region), &lb)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		printFields(a.io.Out, [][2]string{
			{"Name", lb.Name},
			{"State", lb.State},
			{"Region", lb.Region},
			{"DNS name", lb.DNSName},
			{"URL", lb.URL},
			{"Protocol", lb.Protocol},
			{"Instance port", fmt.Sprint(lb.InstancePort)},
			{"Health check", lb.HealthCheckPath},
			{"Monthly", money(lb.PriceMonthly)},
		})
		fmt.Fprintln(a.io.Out, "Instances:")
		if len(lb.Instances) == 0 {
			fmt.Fprintln(a.io.Out, "  none attached")
		}
		t := newTable(a.io.Out)
		for _, in := range lb.Instances {
			fmt.Fprintf(t, "  %s\t%s\t%s\n", in.Name, in.Health, in.Reason)
		}
		t.Flush()
		printCertificates(a.io.Out, lb.Certificates)
		return nil
	})
	return cmd
}

// printCertificates prints each certificate and its DNS validation records.
func printCertificates(w io.Writer, certs []lightsail.Certificate) {
	for _, c := range certs {
		attached := ""
		if c.Attached {
			attached = ", attached"
		}
		fmt.Fprintf(w, "Certificate %s (%s%s) for %s:\n", c.Name, c.Status, attached, strings.Join(append([]string{c.DomainName}, c.AlternativeNames...), ", "))
		t := newTable(w)
		for _, r := range c.ValidationRecords {
			fmt.Fprintf(t, "  %s\t%s\t%s\t%s\n", r.Name, r.Type, r.Value, r.Status)
		}
		t.Flush()
	}
}

// lbInstancesOptions are the flags of `lb attach|detach`.
type lbInstancesOptions struct {
	Name      string
	Instances []string
	Region    string
	DryRun    bool
	mutateFlags
}

func (a *app) newLBInstancesCmd(attach bool) *cobra.Command {
	o := &lbInstancesOptions{}
	verb, path, short := "detach", "/aws/lightsail/detach-instances-from-load-balancer", "Detach instances from a load balancer"
	if attach {
		verb, path, short = "attach", "/aws/lightsail/attach-instances-to-load-balancer", "Attach running instances to a load balancer"
	}
	cmd := &cobra.Command{
		Use:   verb + " NAME INSTANCE...",
		Short: short,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return fmt.Errorf("%s takes a load balancer NAME and at least one INSTANCE (got %d arguments)", cmd.CommandPath(), len(args))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Region, "region", "", "AWS `region` (default: the server's)")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "only print the plan and change nothing")
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Name, o.Instances = args[0], args[1:]
		body := lightsail.LoadBalancerInstancesInput{LoadBalancerName: o.Name, InstanceNames: o.Instances, Region: o.Region, DryRun: o.DryRun}
		return a.mutation(cmd, o.mutateFlags, path, body, nil)
	})
	return cmd
}

// lbHealthPathOptions are the flags of `lb health-check`.
type lbHealthPathOptions struct {
	Name, Path, Region string
	DryRun             bool
	mutateFlags
}

func (a *app) newLBHealthPathCmd() *cobra.Command {
	o := &lbHealthPathOptions{}
	cmd := &cobra.Command{
		Use:     "health-check NAME PATH",
		Short:   "Set the path a load balancer checks on each instance",
		Example: "  fountain lb health-check web-lb /healthz",
		Args:    exactArgs(2, "a load balancer NAME and a PATH"),
	}
	cmd.Flags().StringVar(&o.Region, "region", "", "AWS `region` (default: the server's)")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "only print the plan and change nothing")
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Name, o.Path = args[0], args[1]
		body := lightsail.UpdateLoadBalancerInput{LoadBalancerName: o.Name, HealthCheckPath: o.Path, Region: o.Region, DryRun: o.DryRun}
		return a.mutation(cmd, o.mutateFlags, "/aws/lightsail/update-load-balancer", body, nil)
	})
	return cmd
}

// lbCertCreateOptions are the flags of `lb cert create`.
type lbCertCreateOptions struct {
	Name, Cert, Domain, Region string
	Alternatives               []string
	DryRun                     bool
	mutateFlags
}

func (a *app) newLBCertCreateCmd() *cobra.Command {
	o := &lbCertCreateOptions{}
	cmd := &cobra.Command{
		Use:     "create NAME CERTIFICATE --domain DOMAIN",
		Short:   "Request a TLS certificate; prints the DNS records that validate it",
		Example: "  fountain lb cert create web-lb web-cert --domain example.com --alt www.example.com",
		Args:    exactArgs(2, "a load balancer NAME and a CERTIFICATE name"),
	}
	f := cmd.Flags()
	f.StringVar(&o.Domain, "domain", "", "the `domain` it is for, e.g. example.com")
	f.StringArrayVar(&o.Alternatives, "alt", nil, "another `name` it covers (repeatable, at most 9)")
	f.StringVar(&o.Region, "region", "", "AWS `region` (default: the server's)")
	f.BoolVar(&o.DryRun, "dry-run", false, "only print the plan and change nothing")
	o.mutateFlags.add(cmd)
	_ = cmd.MarkFlagRequired("domain")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Name, o.Cert = args[0], args[1]
		body := lightsail.CertificateInput{LoadBalancerName: o.Name, CertificateName: o.Cert, DomainName: o.Domain,
			AlternativeNames: o.Alternatives, Region: o.Region, DryRun: o.DryRun}
		return a.mutation(cmd, o.mutateFlags, "/aws/lightsail/create-load-balancer-certificate", body, func(raw json.RawMessage) {
			var res lightsail.LoadBalancerResult
			if json.Unmarshal(raw, &res) != nil || res.LoadBalancer == nil {
				return
			}
			for _, c := range res.LoadBalancer.Certificates {
				if c.Name == o.Cert {
					fmt.Fprintln(a.io.Out, "Add these DNS records; Lightsail issues the certificate once it finds them:")
					printCertificates(a.io.Out, []lightsail.Certificate{c})
				}
			}
		})
	})
	return cmd
}

// lbCertAttachOptions are the flags of `lb cert attach`.
type lbCertAttachOptions struct {
	Name, Cert, Region string
	DryRun             bool
	mutateFlags
}

func (a *app) newLBCertAttachCmd() *cobra.Command {
	o := &lbCertAttachOptions{}
	cmd := &cobra.Command{
		Use:   "attach NAME CERTIFICATE",
		Short: "Attach an issued certificate: the load balancer serves HTTPS",
		Args:  exactArgs(2, "a load balancer NAME and a CERTIFICATE name"),
	}
	cmd.Flags().StringVar(&o.Region, "region", "", "AWS `region` (default: the server's)")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "only print the plan and change nothing")
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Name, o.Cert = args[0], args[1]
		body := lightsail.AttachCertificateInput{LoadBalancerName: o.Name, CertificateName: o.Cert, Region: o.Region, DryRun: o.DryRun}
		return a.mutation(cmd, o.mutateFlags, "/aws/lightsail/attach-load-balancer-certificate", body, nil)
	})
	return cmd
}

func (a *app) newLBRmCmd() *cobra.Command {
	return a.newDeleteCmd(deleteCmd{
		use: "rm NAME", args: "one load balancer NAME", what: "load balancer",
		short: "Delete a load balancer and its certificates (the instances stay)",
		long:  "Delete a load balancer and its certificates; the instances stay. Its DNS name is gone for good.",
		ask:   "Delete load balancer %s and its certificates?",
		route: "/aws/lightsail/delete-load-balancer",
		body: func(name, region string, dry bool) any {
			return lightsail.LoadBalancerInput{LoadBalancerName: name, Region: region, DryRun: dry}
		},
	})
}
