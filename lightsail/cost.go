package lightsail

import (
	"context"
	"fmt"
	"math"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
)

// UnattachedStaticIPMonthly is what Lightsail charges a month for a static IP
// that is not attached to an instance ($0.005 an hour); attached ones are free.
const UnattachedStaticIPMonthly = 3.65

// Cost is the monthly cost of what exists in a region.
type Cost struct {
	Region   string     `json:"region" doc:"AWS region."`
	Currency string     `json:"currency" doc:"Always USD."`
	Items    []CostItem `json:"items" doc:"One line per billed resource."`
	TotalUSD float64    `json:"total_monthly_usd" doc:"Total per month, in US dollars."`
}

// CostItem is one billed resource.
type CostItem struct {
	Resource string  `json:"resource" doc:"Resource name."`
	Type     string  `json:"type" doc:"instance, static_ip, snapshot or load_balancer."`
	Plan     string  `json:"plan" doc:"Bundle id; the static IP's state; a snapshot's size (billed per GB-month); a load balancer's flat rate."`
	Monthly  float64 `json:"monthly_usd" doc:"Monthly price in US dollars."`
}

// Cost reports the monthly cost of the region's instances, static IPs,
// instance snapshots ($0.05 per GB-month of their size) and load
// balancers.
func (c *Client) Cost(ctx context.Context, region string) (Cost, error) {
	insts, err := c.ListInstances(ctx, region)
	if err != nil {
		return Cost{}, err
	}
	region, _ = c.region(region)
	cost := Cost{Region: region, Currency: "USD", Items: []CostItem{}}
	for _, in := range insts {
		cost.Items = append(cost.Items, CostItem{Resource: in.Name, Type: "instance", Plan: in.BundleID, Monthly: in.PriceMonthly})
	}
	api, err := c.api(ctx, region)
	if err != nil {
		return Cost{}, err
	}
	err = pages(func(token *string) (*string, error) {
		out, err := api.GetStaticIps(ctx, &lightsail.GetStaticIpsInput{PageToken: token})
		if err != nil {
			return nil, awsError("list static ips", err)
		}
		for _, ip := range out.StaticIps {
			item := CostItem{Resource: aws.ToString(ip.Name), Type: "static_ip", Plan: "attached"}
			if !aws.ToBool(ip.IsAttached) {
				item.Plan, item.Monthly = "unattached", UnattachedStaticIPMonthly
			}
			cost.Items = append(cost.Items, item)
		}
		return out.NextPageToken, nil
	})
	if err != nil {
		return Cost{}, err
	}
	snaps, err := c.ListSnapshots(ctx, region)
	if err != nil {
		return Cost{}, err
	}
	for _, s := range snaps {
		cost.Items = append(cost.Items, CostItem{Resource: s.Name, Type: "snapshot", Plan: fmt.Sprintf("%d GB at $%.2f/GB-month", s.SizeGB, SnapshotGBMonthly), Monthly: s.PriceMonthly})
	}
	lbs, err := c.ListLoadBalancers(ctx, region)
	if err != nil {
		return Cost{}, err
	}
	for _, lb := range lbs {
		cost.Items = append(cost.Items, CostItem{Resource: lb.Name, Type: "load_balancer", Plan: "flat rate", Monthly: lb.PriceMonthly})
	}
	for _, it := range cost.Items {
		cost.TotalUSD += it.Monthly
	}
	cost.TotalUSD = math.Round(cost.TotalUSD*100) / 100
	return cost, nil
}
