package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/federation"
)

const keygenUsage = "[--out node.key | --rotate node.key | --rotate-encryption node.key] [--member SLUG --address HOST:PORT]"

// runKeygen writes a new node key file (a signing and an encryption key)
// and prints the member's manifest entry, which provex manifest add takes.
// With --rotate it puts a new signing and a new encryption key in front of
// an existing file's, and prints the entry for provex manifest rotate: the
// old keys stay in the file, the signing key for the node to sign with
// until the manifest publishes the new one, the encryption keys to open
// what was sealed to them. --rotate-encryption replaces the encryption key
// alone.
func runKeygen(_ context.Context, env *cli.Env, args []string) error {
	flags := flag.NewFlagSet("keygen", flag.ContinueOnError)
	out := flags.String("out", "node.key", "file to write the private keys to (never overwritten)")
	rotate := flags.String("rotate", "", "key file whose signing and encryption keys to replace (the old ones stay in it)")
	rotateEnc := flags.String("rotate-encryption", "", "key file whose encryption key alone to replace (the old ones stay in it)")
	member := flags.String("member", "", "member id for the printed manifest entry (a province slug or mofa)")
	address := flags.String("address", "", "the node's sync (peer) host:port for the printed manifest entry: the address its peers dial, not its API's")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *rotate != "" && *rotateEnc != "" || (*rotate != "" || *rotateEnc != "") && isSet(flags, "out") {
		return &cli.UsageError{Msg: "keygen: give one of --out, --rotate and --rotate-encryption"}
	}
	var (
		keys federation.NodeKeys
		err  error
	)
	switch {
	case *rotate != "":
		if keys, err = federation.RotateKeys(*rotate); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "put a new signing key and a new encryption key in front of %s's (the old ones stay: the node signs with the old key until "+
			"the manifest publishes the new one, and opens what was sealed to the old ones); publish this entry with\n"+
			"  provex manifest rotate --member %s --entry FILE\n", *rotate, orPlaceholder(*member, "MEMBER"))
	case *rotateEnc != "":
		if keys, err = federation.RotateEncryptionKey(*rotateEnc); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "added a new encryption key to %s (the %d older ones stay, to open what was sealed to them); "+
			"publish it with provex manifest rotate --member %s --entry FILE, FILE holding:\n", *rotateEnc, len(keys.Encryption)-1, orPlaceholder(*member, "MEMBER"))
		if *member == "" {
			fmt.Fprintf(env.Stdout, "    encryption_key: %s\n", federation.EncodeEncryptionKey(keys.EncryptionPublic()))
			return nil
		}
	default:
		if keys, err = federation.GenerateKeys(); err != nil {
			return err
		}
		if err := federation.WriteKeyFile(*out, keys); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "wrote %s (keep it private); the member's manifest entry follows: the ministry adds it with provex manifest add --entry FILE\n", *out)
	}
	fmt.Fprint(env.Stdout, federation.FormatEntry(*member, *address, keys.SigningPublic(), keys.EncryptionPublic()))
	return nil
}

func orPlaceholder(v, placeholder string) string {
	if v == "" {
		return placeholder
	}
	return v
}
