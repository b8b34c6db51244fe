package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/pki"
)

// Defaults of "provex ca".
const (
	defaultCADir        = "provex-ca"
	defaultCAValidity   = pki.DefaultCAValidity
	defaultNodeValidity = pki.DefaultCertValidity
)

const caUsage = "init [--dir DIR] [--name N] [--validity 87600h] | issue --member SLUG [--ca-dir DIR] [--out DIR] [--host h1,h2] [--validity 8760h] [--force]"

// caCommand is "provex ca", ready for the commands() table.
var caCommand = cli.Command{
	Name:    "ca",
	Usage:   caUsage,
	Summary: "make the federation CA (init) or a node's TLS certificate tls.crt/tls.key (issue)",
	Run:     runCACommand,
}

// runCA runs "provex ca ARGS..." printing to the process's stdout and
// stderr. Usage mistakes are *cli.UsageError.
func runCA(args []string) error {
	return runCACommand(context.Background(), &cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin}, args)
}

func runCACommand(_ context.Context, env *cli.Env, args []string) error {
	if len(args) == 0 {
		return &cli.UsageError{Msg: "ca: want a subcommand: init or issue"}
	}
	switch args[0] {
	case "init":
		return runCAInit(env, args[1:])
	case "issue":
		return runCAIssue(env, args[1:])
	default:
		if cli.IsHelp(args[0]) {
			return cli.Help("ca")
		}
		return &cli.UsageError{Msg: fmt.Sprintf("ca: unknown subcommand %q (want init or issue)", args[0])}
	}
}

func parseFlags(flags *flag.FlagSet, args []string) error {
	flags.SetOutput(io.Discard)
	if err := flags.Parse(args); err != nil {
		return cli.FlagError(flags, err)
	}
	if flags.NArg() > 0 {
		return &cli.UsageError{Msg: fmt.Sprintf("%s: unexpected argument %q", flags.Name(), flags.Arg(0))}
	}
	return nil
}

// runCAInit makes the federation CA.
func runCAInit(env *cli.Env, args []string) error {
	flags := flag.NewFlagSet("ca init", flag.ContinueOnError)
	dir := flags.String("dir", defaultCADir, "directory to write ca.pem and ca.key to (created if missing; an existing CA is never overwritten)")
	name := flags.String("name", pki.DefaultCAName, "CommonName of the CA certificate")
	validity := flags.Duration("validity", defaultCAValidity, "how long the CA certificate is valid")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *validity < pki.MinValidity {
		return &cli.UsageError{Msg: fmt.Sprintf("ca init: --validity %v: must be at least %v", *validity, pki.MinValidity)}
	}
	ca, err := pki.InitCA(*dir, *name, *validity, time.Now())
	if err != nil {
		return err
	}
	certPath := filepath.Join(*dir, pki.CACertFile)
	fmt.Fprintf(env.Stderr, "wrote %s (the federation CA certificate, expires %s)\n", certPath, ca.Certificate().NotAfter.UTC().Format(time.RFC3339))
	fmt.Fprintf(env.Stderr, "wrote %s (the CA private key: keep it private and offline; nodes never need it)\n", filepath.Join(*dir, pki.CAKeyFile))
	fmt.Fprintf(env.Stderr, "provex manifest init --ca-dir %s puts the CA certificate (printed below) into the federation manifest; issue each node's certificate with\n  provex ca issue --ca-dir %s --member SLUG --host HOST --out NODE_DATA_DIR\n", *dir, *dir)
	fmt.Fprintf(env.Stdout, "ca: |\n%s", indent(string(ca.CertPEM()), "  "))
	return nil
}

// runCAIssue issues a node certificate.
func runCAIssue(env *cli.Env, args []string) error {
	flags := flag.NewFlagSet("ca issue", flag.ContinueOnError)
	member := flags.String("member", "", "the federation member the node is (a province slug such as cao-bang, or mofa); required")
	caDir := flags.String("ca-dir", defaultCADir, "directory holding ca.pem and ca.key")
	out := flags.String("out", ".", "directory to write tls.crt and tls.key to (the node's data directory)")
	hosts := flags.String("host", "", "comma-separated DNS names and IP addresses of the node (default localhost,127.0.0.1,::1)")
	validity := flags.Duration("validity", defaultNodeValidity, "how long the certificate is valid (cut to the CA's expiry)")
	force := flags.Bool("force", false, "replace tls.crt/tls.key in --out even if they belong to another member")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *member == "" {
		return &cli.UsageError{Msg: "ca issue: --member is required"}
	}
	if !pki.ValidMemberID(*member) {
		return &cli.UsageError{Msg: fmt.Sprintf("ca issue: %q is not a federation member (want a province slug such as cao-bang, or mofa)", *member)}
	}
	if *validity < pki.MinValidity {
		return &cli.UsageError{Msg: fmt.Sprintf("ca issue: --validity %v: must be at least %v", *validity, pki.MinValidity)}
	}
	var hostList []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hostList = append(hostList, h)
		}
	}
	if !*force {
		if err := checkReplace(*out, *member); err != nil {
			return err
		}
	}
	ca, err := pki.LoadCA(*caDir)
	if err != nil {
		return err
	}
	now := time.Now()
	certPEM, keyPEM, err := ca.Issue(*member, hostList, *validity, now)
	if err != nil {
		return err
	}
	cert, err := pki.ParseCertificatePEM(certPEM)
	if err != nil {
		return err
	}
	if err := pki.WriteNodeFiles(*out, certPEM, keyPEM); err != nil {
		return err
	}
	// A certificate's times are in whole seconds.
	if cert.NotAfter.Before(now.Add(*validity).Truncate(time.Second)) {
		fmt.Fprintf(env.Stderr, "note: the certificate expires with the CA certificate, before the --validity asked for\n")
	}
	var names []string
	names = append(names, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		names = append(names, ip.String())
	}
	fmt.Fprintf(env.Stdout, "member:  %s\nserial:  %X\nexpires: %s\nhosts:   %s\n", *member, cert.SerialNumber, cert.NotAfter.UTC().Format(time.RFC3339), strings.Join(names, ","))
	fmt.Fprintf(env.Stderr, "wrote %s and %s (keep tls.key private)\n", filepath.Join(*out, pki.NodeCertFile), filepath.Join(*out, pki.NodeKeyFile))
	return nil
}

// checkReplace refuses to replace a node certificate in dir that names a
// member other than member (or cannot be read), so that one node's identity
// is not overwritten by mistake. Renewing the same member's is fine.
func checkReplace(dir, member string) error {
	path := filepath.Join(dir, pki.NodeCertFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	cert, err := pki.ParseCertificatePEM(data)
	if err != nil {
		return fmt.Errorf("%s exists and is not a certificate (%v); use --force to replace it", path, err)
	}
	old, err := pki.MemberOf(cert)
	if err != nil {
		return fmt.Errorf("%s exists and names no member (%v); use --force to replace it", path, err)
	}
	if old != member {
		return fmt.Errorf("%s is the certificate of %s, not %s; use --force to replace it", path, old, member)
	}
	return nil
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}
