package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/federation"
	"github.com/provex/provex/resource"
)

// runKeygen writes a new node key and prints the manifest entry that
// publishes its public key.
func runKeygen(_ context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("out", "node.key", "file to write the private key to (never overwritten)")
	member := fs.String("member", "", "member id for the printed manifest entry (a province slug or mofa)")
	address := fs.String("address", "", "gRPC host:port for the printed manifest entry")
	if err := fs.Parse(args); err != nil {
		return &cli.UsageError{Msg: "keygen: " + err.Error()}
	}
	pub, priv, err := federation.GenerateKey()
	if err != nil {
		return err
	}
	if err := federation.WriteKeyFile(*out, priv); err != nil {
		return err
	}
	role := federation.RoleProvince
	if *member == resource.Ministry {
		role = federation.RoleMinistry
	}
	fmt.Fprintf(env.Stderr, "wrote %s (keep it private); add this to the federation manifest:\n", *out)
	fmt.Fprintf(env.Stdout, "  - id: %s\n    role: %s\n    address: %s\n    public_key: %s\n",
		orPlaceholder(*member, "MEMBER"), role, orPlaceholder(*address, "HOST:PORT"), federation.EncodePublicKey(pub))
	return nil
}

func orPlaceholder(v, placeholder string) string {
	if v == "" {
		return placeholder
	}
	return v
}
