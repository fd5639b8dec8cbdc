package lightsail

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"

	"github.com/fountainai/fountain"
)

// DefaultKeyPair returns the private key (PEM) of the region's default key
// pair, the key that logs into instances created without key_pair_name.
// Lightsail keeps it; DownloadDefaultKeyPair gives it.
func (c *Client) DefaultKeyPair(ctx context.Context, region string) ([]byte, error) {
	region, err := c.region(region)
	if err != nil {
		return nil, err
	}
	api, err := c.api(ctx, region)
	if err != nil {
		return nil, err
	}
	out, err := api.DownloadDefaultKeyPair(ctx, &lightsail.DownloadDefaultKeyPairInput{})
	if err != nil {
		return nil, awsError("download the default key pair of "+region, err)
	}
	pem := aws.ToString(out.PrivateKeyBase64)
	if pem == "" {
		return nil, fountain.Errorf(fountain.EUPSTREAM, "Lightsail gave no private key for the default key pair of %s", region)
	}
	return []byte(pem), nil
}
