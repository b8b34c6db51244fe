package cli

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/provex/provex/client"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/sampledata"
)

func runSeed(ctx context.Context, env *Env, args []string) error {
	fs, addr := newFlagSet("seed")
	province := fs.String("province", "", "province whose sample data to load (default: the node's own)")
	if _, err := ParseFlags(fs, args); err != nil {
		return err
	}
	c, err := dial(*addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if *province == "" {
		info, err := c.Node.GetNodeInfo(ctx, nil)
		if err != nil {
			return err
		}
		*province = info.GetMember()
	}
	n, err := Seed(ctx, c, *province)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "loaded %d sample records of %s\n", n, *province)
	return nil
}

// Seed loads the sample dataset of a province into the node behind c. Every
// record carries a request id derived from its name, and its own id, so
// seeding twice creates nothing new.
func Seed(ctx context.Context, c *client.Client, province string) (int, error) {
	records := sampledata.For(province)
	if len(records) == 0 {
		return 0, &UsageError{Msg: fmt.Sprintf("seed: no sample data for %q; there is some for %s", province, strings.Join(sampledata.Provinces(), ", "))}
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, r := range records {
		k, ok := resource.KindOf(r.Collection)
		if !ok {
			return 0, fmt.Errorf("sample record %s/%s: unknown collection", r.Collection, r.ID)
		}
		g.Go(func() error {
			parent := "provinces/" + r.Province
			_, err := c.Create(ctx, parent, k, r.ID, "seed:"+parent+"/"+r.Collection+"/"+r.ID, r.Message)
			if status.Code(err) == codes.AlreadyExists {
				// Seeded before, and the request id forgotten since: a node
				// restored from its peers gets its records back, not the
				// request ids its API saw.
				return nil
			}
			if err != nil {
				return fmt.Errorf("seed %s/%s/%s: %w", parent, r.Collection, r.ID, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return len(records), nil
}
