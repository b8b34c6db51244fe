package cli

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/client"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/sampledata"
)

func runSeed(ctx context.Context, env *Env, args []string) error {
	fs, node := newFlagSet("seed")
	province := fs.String("province", "", "province whose sample data to load (default: the node's own)")
	if err := ParseFlagsOnly(fs, args); err != nil {
		return err
	}
	c, err := node.dial()
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
	fmt.Fprintf(env.Stdout, "loaded %d sample records of %s\n", n, terminalSafe(*province))
	return nil
}

// Seed loads the sample dataset of a province into the node behind c. Every
// record carries its own id and a request id derived from its name and
// content (seedRequestID), so seeding twice creates nothing new, and
// seeding after provex's sample changed adds the records it lacks and
// leaves those it holds as they are.
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
			requestID, err := seedRequestID(r)
			if err != nil {
				return err
			}
			_, err = c.Create(ctx, parent, k, r.ID, requestID, r.Message)
			if status.Code(err) == codes.AlreadyExists {
				// Seeded before, and the request id forgotten since (a node
				// restored from its peers gets its records back, not the
				// request ids its API saw), or seeded from another version
				// of the sample.
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

// seedRequestID is a sample record's request id: its collection and id, and
// a fingerprint of its content. A node remembers a request id with the
// request it came with, and refuses it with another (AIP-155); with the
// content in the id, a record provex's sample changed since a node was
// seeded (a demo directory kept across an upgrade) is a new request, which
// the node answers ALREADY_EXISTS, not a reused id. The province is left
// out: a node holds one province's records, and ids stay under the API's
// 100 characters.
func seedRequestID(r sampledata.Record) (string, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(r.Message)
	if err != nil {
		return "", fmt.Errorf("sample record %s: %w", r.Name(), err)
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("seed:%s/%s@%x", r.Collection, r.ID, sum[:6]), nil
}
