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

// runKeygen writes a new node key file (a signing and an encryption key)
// and prints the manifest entry that publishes its public keys; or, with
// --rotate-encryption, puts a new encryption key in front of an existing
// file's, keeping the old ones to open what was sealed to them.
func runKeygen(_ context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("out", "node.key", "file to write the private keys to (never overwritten)")
	rotate := fs.String("rotate-encryption", "", "key file whose encryption key to replace (the old ones stay in it)")
	member := fs.String("member", "", "member id for the printed manifest entry (a province slug or mofa)")
	address := fs.String("address", "", "gRPC host:port for the printed manifest entry")
	if err := fs.Parse(args); err != nil {
		return &cli.UsageError{Msg: "keygen: " + err.Error()}
	}
	var (
		keys federation.NodeKeys
		err  error
	)
	if *rotate != "" {
		if keys, err = federation.RotateEncryptionKey(*rotate); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "added a new encryption key to %s (the %d older ones stay, to open what was sealed to them); "+
			"in the member's entry of the federation manifest, set:\n", *rotate, len(keys.Encryption)-1)
		if *member == "" {
			fmt.Fprintf(env.Stdout, "    encryption_key: %s\n", federation.EncodeEncryptionKey(keys.EncryptionPublic()))
			return nil
		}
	} else {
		if keys, err = federation.GenerateKeys(); err != nil {
			return err
		}
		if err := federation.WriteKeyFile(*out, keys); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "wrote %s (keep it private); add this to the federation manifest:\n", *out)
	}
	role := federation.RoleProvince
	if *member == resource.Ministry {
		role = federation.RoleMinistry
	}
	fmt.Fprintf(env.Stdout, "  - id: %s\n    role: %s\n    address: %s\n    public_key: %s\n    encryption_key: %s\n",
		orPlaceholder(*member, "MEMBER"), role, orPlaceholder(*address, "HOST:PORT"),
		federation.EncodePublicKey(keys.SigningPublic()), federation.EncodeEncryptionKey(keys.EncryptionPublic()))
	return nil
}

func orPlaceholder(v, placeholder string) string {
	if v == "" {
		return placeholder
	}
	return v
}
