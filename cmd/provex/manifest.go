package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/federation"
	"github.com/provex/provex/internal/atomicfile"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/resource"
)

// Defaults of "provex manifest".
const (
	defaultManifestFile  = "manifest.yaml"
	defaultFederationKey = "federation.key"
	defaultValidity      = 365 * 24 * time.Hour
)

const manifestUsage = "init [--member SLUG] [--entry FILE|- | --address A --public-key K --encryption-key K] [--federation-key federation.key] [--out manifest.yaml] [--ca-dir provex-ca | --ca FILE] [--valid 365d]" +
	" | add [--member SLUG] [--entry FILE|- | --address A --public-key K --encryption-key K] [--manifest F] [--federation-key F] [--valid 365d]" +
	" | remove --member SLUG [...]" +
	" | rotate --member SLUG [--entry FILE|- | --public-key K --encryption-key K] [...]" +
	" | move --member SLUG --address HOST:PORT [...]" +
	" | drop-key --member SLUG --public-key RETIRED [...]" +
	" | sign [--accept-changes] [...]" +
	" | show [--manifest F] [--federation-key-pub BASE64]"

// manifestCommand is "provex manifest", ready for the commands() table.
var manifestCommand = cli.Command{
	Name:    "manifest",
	Usage:   manifestUsage,
	Summary: "make and change the signed federation manifest (init, add, remove, rotate, move, drop-key, sign, show): every change is signed with a higher serial",
	Run:     runManifestCommand,
}

func runManifestCommand(_ context.Context, env *cli.Env, args []string) error {
	if len(args) == 0 {
		return &cli.UsageError{Msg: "manifest: want a subcommand: init, add, remove, rotate, move, drop-key, sign or show"}
	}
	switch args[0] {
	case "init":
		return runManifestInit(env, args[1:])
	case "add":
		return runManifestAdd(env, args[1:])
	case "remove":
		return runManifestRemove(env, args[1:])
	case "rotate":
		return runManifestRotate(env, args[1:])
	case "move":
		return runManifestMove(env, args[1:])
	case "drop-key":
		return runManifestDropKey(env, args[1:])
	case "sign":
		return runManifestSign(env, args[1:])
	case "show":
		return runManifestShow(env, args[1:])
	default:
		if cli.IsHelp(args[0]) {
			return cli.Help("manifest")
		}
		return &cli.UsageError{Msg: fmt.Sprintf("manifest: unknown subcommand %q (want init, add, remove, rotate, move, drop-key, sign or show)", args[0])}
	}
}

// validity is a flag for how long a manifest is valid: a number of days
// ("365d") or a Go duration ("8760h"), at most maxValidity.
type validity time.Duration

// maxValidity is the longest a manifest is valid. Durations had no cap
// (9223372036854775807ns was taken, a manifest valid to 2319), and a
// number of days over it was said to be no number (an outside review).
const maxValidity = 100 * 365 * 24 * time.Hour

func (v *validity) String() string {
	d := time.Duration(*v)
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

func (v *validity) Set(s string) error {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return fmt.Errorf("%q is not a number of days such as 365d", s)
		}
		if n > int(maxValidity/(24*time.Hour)) {
			return fmt.Errorf("%q: at most %dd (100 years)", s, maxValidity/(24*time.Hour))
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return fmt.Errorf("%q is neither days (365d) nor a duration (8760h)", s)
		}
	}
	switch {
	case d <= 0:
		return fmt.Errorf("%q: must be positive", s)
	case d > maxValidity:
		return fmt.Errorf("%q: at most %dd (100 years)", s, maxValidity/(24*time.Hour))
	}
	*v = validity(d)
	return nil
}

// changeFlags are the flags of the commands that change a manifest.
type changeFlags struct {
	manifest, key string
	valid         validity
}

func addChangeFlags(flags *flag.FlagSet) *changeFlags {
	c := &changeFlags{valid: validity(defaultValidity)}
	flags.StringVar(&c.manifest, "manifest", defaultManifestFile, "the manifest file to change (replaced atomically)")
	flags.StringVar(&c.key, "federation-key", defaultFederationKey, "the federation's signing key file (from provex manifest init)")
	flags.Var(&c.valid, "valid", "how long the new manifest is valid from now: days (365d) or a duration (8760h)")
	return c
}

// memberFlags say which member, and its keys: the entry provex keygen
// printed, or flags.
type memberFlags struct {
	member, address, entry, pub, enc string
}

func addMemberFlags(flags *flag.FlagSet, withAddress bool) *memberFlags {
	f := &memberFlags{}
	flags.StringVar(&f.member, "member", "", "the member's id: a province slug such as cao-bang, or mofa (default: the entry's)")
	flags.StringVar(&f.entry, "entry", "", "file with the member's entry as provex keygen printed it (- reads stdin)")
	flags.StringVar(&f.pub, "public-key", "", "the member's base64 Ed25519 public key (instead of --entry)")
	flags.StringVar(&f.enc, "encryption-key", "", "the member's base64 X25519 encryption key (instead of --entry)")
	if withAddress {
		flags.StringVar(&f.address, "address", "", "the member's sync host:port (default: the entry's)")
	}
	return f
}

// read returns the entry the flags describe. The flags fill in what the
// entry leaves out (keygen prints placeholders when not told the member or
// address), and --address replaces the entry's; a member or key given both
// ways must agree.
func (f *memberFlags) read(env *cli.Env, cmd string) (federation.Entry, error) {
	var e federation.Entry
	if f.entry != "" {
		var (
			data []byte
			err  error
		)
		if f.entry == "-" {
			data, err = io.ReadAll(io.LimitReader(env.Stdin, 1<<20))
		} else {
			data, err = os.ReadFile(f.entry)
		}
		if err != nil {
			return e, fmt.Errorf("%s: read the member's entry: %w", cmd, err)
		}
		if e, err = federation.ParseEntry(data); err != nil {
			return e, fmt.Errorf("%s: %w (in %s)", cmd, err, f.entry)
		}
	}
	if f.member != "" {
		if e.ID != "" && e.ID != f.member {
			return e, &cli.UsageError{Msg: fmt.Sprintf("%s: the entry is %s's, not %s's", cmd, e.ID, f.member)}
		}
		e.ID = f.member
	}
	if e.ID == "" {
		return e, &cli.UsageError{Msg: cmd + ": which member? give --member (the entry names none)"}
	}
	if f.address != "" {
		e.Address = f.address
	}
	if f.pub != "" {
		k, err := federation.DecodePublicKey(f.pub)
		if err != nil {
			return e, &cli.UsageError{Msg: fmt.Sprintf("%s: --public-key: %v", cmd, err)}
		}
		if e.PublicKey != nil && !e.PublicKey.Equal(k) {
			return e, &cli.UsageError{Msg: cmd + ": --public-key differs from the entry's public_key"}
		}
		e.PublicKey = k
	}
	if f.enc != "" {
		k, err := federation.DecodeEncryptionKey(f.enc)
		if err != nil {
			return e, &cli.UsageError{Msg: fmt.Sprintf("%s: --encryption-key: %v", cmd, err)}
		}
		if e.EncryptionKey != nil && !e.EncryptionKey.Equal(k) {
			return e, &cli.UsageError{Msg: cmd + ": --encryption-key differs from the entry's encryption_key"}
		}
		e.EncryptionKey = k
	}
	return e, nil
}

// newMember makes a whole member of an entry, for init and add.
func newMember(cmd string, e federation.Entry) (federation.Member, error) {
	var missing []string
	if e.Address == "" {
		missing = append(missing, "address (--address)")
	}
	if e.PublicKey == nil {
		missing = append(missing, "public_key (--public-key)")
	}
	if e.EncryptionKey == nil {
		missing = append(missing, "encryption_key (--encryption-key)")
	}
	if len(missing) > 0 {
		return federation.Member{}, &cli.UsageError{Msg: fmt.Sprintf("%s: %s lacks %s: give --entry with what provex keygen --member %s --address HOST:PORT printed, or the flags",
			cmd, e.ID, strings.Join(missing, ", "), e.ID)}
	}
	role := e.Role
	if role == "" {
		role = federation.RoleProvince
		if e.ID == resource.Ministry {
			role = federation.RoleMinistry
		}
	}
	return federation.Member{ID: e.ID, Role: role, Address: e.Address, PublicKey: e.PublicKey, EncryptionKey: e.EncryptionKey}, nil
}

// runManifestInit makes the federation's signing key (or takes the one in
// --federation-key) and the first manifest, serial 1, with the CA
// certificate and a first member. A manifest always has a member, so every
// manifest file this command and the others write is complete and signed:
// there is no draft a node could be handed by mistake.
func runManifestInit(env *cli.Env, args []string) error {
	flags := flag.NewFlagSet("manifest init", flag.ContinueOnError)
	keyFile := flags.String("federation-key", defaultFederationKey, "the federation's signing key file: made (0600) if missing, used if it exists")
	out := flags.String("out", defaultManifestFile, "the manifest file to write (never replaced)")
	caDir := flags.String("ca-dir", defaultCADir, "directory of the federation CA (provex ca init); only its "+pki.CACertFile+" is read")
	caFile := flags.String("ca", "", "the federation CA certificate file (instead of --ca-dir)")
	valid := validity(defaultValidity)
	flags.Var(&valid, "valid", "how long the manifest is valid: days (365d) or a duration (8760h)")
	mf := addMemberFlags(flags, true)
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *caFile != "" && isSet(flags, "ca-dir") {
		return &cli.UsageError{Msg: "manifest init: give --ca-dir or --ca, not both"}
	}
	if mf.entry == "" && mf.pub == "" {
		return &cli.UsageError{Msg: "manifest init: the manifest needs its first member (usually mofa): give --entry with what provex keygen --member mofa --address HOST:PORT printed"}
	}
	e, err := mf.read(env, "manifest init")
	if err != nil {
		return err
	}
	first, err := newMember("manifest init", e)
	if err != nil {
		return err
	}
	caPath := *caFile
	if caPath == "" {
		caPath = filepath.Join(*caDir, pki.CACertFile)
	}
	caPEM, err := os.ReadFile(caPath)
	if err != nil {
		return fmt.Errorf("manifest init: the federation CA certificate: %w (make it with provex ca init, or name it with --ca)", err)
	}
	if _, err := os.Lstat(*out); err == nil {
		return fmt.Errorf("manifest init: %s already exists; refusing to replace a manifest (change it with provex manifest add, remove, rotate or sign)", *out)
	}
	key, made, err := federationKey(*keyFile)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	m := &federation.Manifest{Serial: 1, Issued: now, Expires: now.Add(time.Duration(valid)), Members: []federation.Member{first}, CA: caPEM}
	if err := m.Sign(key); err != nil {
		return fmt.Errorf("manifest init: %w", err)
	}
	if made {
		// Written only now that the manifest is known to be good, so a
		// mistake in the flags leaves no key behind.
		if err := federation.WriteSigningKeyFile(*keyFile, key); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "wrote %s: the federation's signing key. Keep it private and offline, like the CA key: whoever holds it decides who the members are\n", *keyFile)
	}
	if err := m.WriteNewFile(*out); err != nil {
		return err
	}
	reportWrite(env, *out, m)
	fmt.Fprintf(env.Stderr, "nodes trust the federation key of the first manifest they hold and then take only manifests it signed; "+
		"check a copy with provex manifest show --manifest FILE --federation-key-pub %s\n", federation.EncodePublicKey(m.FederationKey))
	return nil
}

// federationKey reads the federation key at path, or makes a new one
// (made) for the caller to write once it is sure to need it.
func federationKey(path string) (key ed25519.PrivateKey, made bool, err error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		_, key, err := federation.GenerateKey()
		return key, true, err
	}
	key, err = federation.ReadSigningKeyFile(path)
	return key, false, err
}

func isSet(flags *flag.FlagSet, name string) bool {
	set := false
	flags.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func runManifestAdd(env *cli.Env, args []string) error {
	flags := flag.NewFlagSet("manifest add", flag.ContinueOnError)
	cf := addChangeFlags(flags)
	mf := addMemberFlags(flags, true)
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	e, err := mf.read(env, "manifest add")
	if err != nil {
		return err
	}
	mem, err := newMember("manifest add", e)
	if err != nil {
		return err
	}
	return changeManifest(env, "manifest add", cf, false, func(m *federation.Manifest) error { return m.AddMember(mem) })
}

func runManifestRemove(env *cli.Env, args []string) error {
	flags := flag.NewFlagSet("manifest remove", flag.ContinueOnError)
	cf := addChangeFlags(flags)
	member := flags.String("member", "", "the member to take out")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *member == "" {
		return &cli.UsageError{Msg: "manifest remove: --member is required"}
	}
	return changeManifest(env, "manifest remove", cf, false, func(m *federation.Manifest) error { return m.RemoveMember(*member) })
}

// runManifestMove gives a member a new sync address.
func runManifestMove(env *cli.Env, args []string) error {
	flags := flag.NewFlagSet("manifest move", flag.ContinueOnError)
	cf := addChangeFlags(flags)
	member := flags.String("member", "", "the member whose node moved")
	address := flags.String("address", "", "its new sync host:port")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *member == "" || *address == "" {
		return &cli.UsageError{Msg: "manifest move: --member and --address are required"}
	}
	return changeManifest(env, "manifest move", cf, false, func(m *federation.Manifest) error { return m.MoveMember(*member, *address) })
}

// runManifestDropKey takes a member's retired signing key out of the
// manifest.
func runManifestDropKey(env *cli.Env, args []string) error {
	flags := flag.NewFlagSet("manifest drop-key", flag.ContinueOnError)
	cf := addChangeFlags(flags)
	member := flags.String("member", "", "the member whose retired key to drop")
	pub := flags.String("public-key", "", "the retired public key, as manifest show lists it")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *member == "" || *pub == "" {
		return &cli.UsageError{Msg: "manifest drop-key: --member and --public-key are required"}
	}
	key, err := federation.DecodePublicKey(*pub)
	if err != nil {
		return &cli.UsageError{Msg: fmt.Sprintf("manifest drop-key: --public-key: %v", err)}
	}
	return changeManifest(env, "manifest drop-key", cf, false, func(m *federation.Manifest) error { return m.DropRetiredKey(*member, key) })
}

// runManifestRotate publishes a member's new keys: from the entry
// keygen --rotate printed (both keys) or keygen --rotate-encryption (the
// encryption key alone). An address in the entry other than the member's
// is refused: rotate changes keys, and move the address.
func runManifestRotate(env *cli.Env, args []string) error {
	flags := flag.NewFlagSet("manifest rotate", flag.ContinueOnError)
	cf := addChangeFlags(flags)
	mf := addMemberFlags(flags, false)
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	e, err := mf.read(env, "manifest rotate")
	if err != nil {
		return err
	}
	if e.PublicKey == nil && e.EncryptionKey == nil {
		return &cli.UsageError{Msg: "manifest rotate: no new key: give --entry with what provex keygen --rotate printed, or --public-key and --encryption-key"}
	}
	return changeManifest(env, "manifest rotate", cf, false, func(m *federation.Manifest) error {
		// It was signed with the address unchanged, and no word said so.
		if cur, ok := m.Member(e.ID); ok && e.Address != "" && e.Address != cur.Address {
			return fmt.Errorf("the entry gives %s the address %s, and the manifest %s: rotate publishes keys only; "+
				"move the member first (provex manifest move --member %s --address %s), or leave address out of the entry", e.ID, e.Address, cur.Address, e.ID, e.Address)
		}
		return m.RotateMember(e.ID, e.PublicKey, e.EncryptionKey)
	})
}

func runManifestSign(env *cli.Env, args []string) error {
	flags := flag.NewFlagSet("manifest sign", flag.ContinueOnError)
	cf := addChangeFlags(flags)
	accept := flags.Bool("accept-changes", false, "sign a manifest whose contents changed since it was signed (read them with provex manifest show first)")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	return changeManifest(env, "manifest sign", cf, *accept, func(*federation.Manifest) error { return nil })
}

// changeManifest applies change to the manifest and writes it back signed,
// with the next serial, issued now and valid for cf.valid. It refuses
// first what nodes would refuse or what would sign more than the operator
// asked for: a federation key other than the manifest's (nodes holding it
// take only manifests its key signed), and, unless acceptChanges, a
// manifest changed since it was signed (its signature does not verify), as
// signing it would vouch for changes nobody reviewed. A manifest never
// signed (one made before manifests were) is signed as it is: the key that
// signs it first becomes the federation key.
func changeManifest(env *cli.Env, cmd string, cf *changeFlags, acceptChanges bool, change func(*federation.Manifest) error) error {
	m, err := federation.LoadManifest(cf.manifest)
	if err != nil {
		return err
	}
	key, err := federation.ReadSigningKeyFile(cf.key)
	if err != nil {
		return err
	}
	pub := key.Public().(ed25519.PublicKey)
	// The signed manifest this change replaces, kept beside it.
	var signed *federation.Manifest
	switch {
	case m.FederationKey == nil && m.Signature == nil:
		fmt.Fprintf(env.Stderr, "%s was never signed: signing it makes %s (the key in %s) the federation key nodes trust\n",
			cf.manifest, federation.EncodePublicKey(pub), cf.key)
	case !m.FederationKey.Equal(pub):
		return fmt.Errorf("%s: %s names the federation key %s, but %s holds %s: nodes that hold this manifest take only manifests signed by %s. Give the key file that signed it",
			cmd, cf.manifest, federation.EncodePublicKey(m.FederationKey), cf.key, federation.EncodePublicKey(pub), federation.EncodePublicKey(m.FederationKey))
	default:
		err := m.VerifySignature(pub)
		if err == nil {
			signed = m
		} else {
			if !acceptChanges {
				return fmt.Errorf("%s: %s was changed since it was signed (%v). Restore the signed copy, or read it with provex manifest show --manifest %s and, if every line is meant, sign it with provex manifest sign --accept-changes",
					cmd, cf.manifest, err, cf.manifest)
			}
			fmt.Fprintf(env.Stderr, "signing %s as it is now, changes since its last signature included\n", cf.manifest)
		}
	}
	var superseded []byte
	if signed != nil {
		if superseded, err = signed.Marshal(); err != nil {
			return err
		}
	}
	if err := change(m); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	m.Serial++
	m.Issued, m.Expires = now, now.Add(time.Duration(cf.valid))
	if err := m.Sign(key); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if superseded != nil {
		kept, err := keepSuperseded(cf.manifest, m.Serial-1, superseded)
		if err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
		fmt.Fprintf(env.Stderr, "kept serial %d in %s\n", m.Serial-1, kept)
	}
	if err := m.WriteFile(cf.manifest); err != nil {
		return err
	}
	reportWrite(env, cf.manifest, m)
	return nil
}

// keepSuperseded writes data, the signed manifest of serial that a change
// of the file at path replaces, beside it (manifest.yaml of serial 6 as
// manifest.serial-6.yaml): a node that missed a rotation refuses the
// manifest dropping the old key until it is given the rotation's, which
// the file no longer holds. A kept file of that serial with other content
// (two copies of the master signed with one serial) is not replaced.
func keepSuperseded(path string, serial int, data []byte) (string, error) {
	ext := filepath.Ext(path)
	kept := fmt.Sprintf("%s.serial-%d%s", strings.TrimSuffix(path, ext), serial, ext)
	err := atomicfile.Write(kept, data, 0o644, false)
	if errors.Is(err, fs.ErrExist) {
		if held, rerr := os.ReadFile(kept); rerr == nil && bytes.Equal(held, data) {
			return kept, nil
		}
		return "", fmt.Errorf("%s holds another manifest of serial %d than the one %s replaces: two copies of the master were signed with one serial; find out which the nodes hold, move the kept file aside (keep it) and run the command again",
			kept, serial, path)
	}
	if err != nil {
		return "", fmt.Errorf("keep the manifest of serial %d: %w", serial, err)
	}
	return kept, nil
}

func reportWrite(env *cli.Env, path string, m *federation.Manifest) {
	fmt.Fprintf(env.Stderr, "wrote %s: serial %d, members %s, expires %s, signed by the federation key %s\n",
		path, m.Serial, strings.Join(m.MemberIDs(), ", "), m.Expires.Format(time.RFC3339), federation.EncodePublicKey(m.FederationKey))
}

// runManifestShow prints a manifest and whether its signature verifies:
// with --federation-key-pub, against the key the nodes trust; without, only
// against the key it names itself, which shows it is intact but not who
// signed it. It fails (exit status 1) when the signature does not verify.
func runManifestShow(env *cli.Env, args []string) error {
	flags := flag.NewFlagSet("manifest show", flag.ContinueOnError)
	path := flags.String("manifest", defaultManifestFile, "the manifest file")
	trustedFlag := flags.String("federation-key-pub", "", "the base64 federation public key to check the signature with (default: the one the manifest names)")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	var trusted ed25519.PublicKey
	if *trustedFlag != "" {
		var err error
		if trusted, err = federation.DecodePublicKey(*trustedFlag); err != nil {
			return &cli.UsageError{Msg: "manifest show: --federation-key-pub: " + err.Error()}
		}
	}
	m, err := federation.LoadManifest(*path)
	if err != nil {
		return err
	}
	now := time.Now()
	var b bytes.Buffer
	fmt.Fprintf(&b, "serial:         %d\n", m.Serial)
	if !m.Issued.IsZero() {
		fmt.Fprintf(&b, "issued:         %s\n", m.Issued.Format(time.RFC3339))
	}
	expiry := "none"
	if !m.Expires.IsZero() {
		expiry = m.Expires.Format(time.RFC3339)
	}
	fmt.Fprintf(&b, "expires:        %s\n", expiry)
	fresh, why := m.Freshness(now)
	fmt.Fprintf(&b, "freshness:      %s\n", freshnessText(fresh, why))
	fedKey := "none (never signed)"
	if m.FederationKey != nil {
		fedKey = federation.EncodePublicKey(m.FederationKey)
	}
	fmt.Fprintf(&b, "federation key: %s\n", fedKey)
	var sigErr error
	switch {
	case trusted != nil:
		if sigErr = m.VerifySignature(trusted); sigErr == nil {
			fmt.Fprintf(&b, "signature:      verifies with the federation key given\n")
		}
	default:
		if sigErr = m.VerifySignature(m.FederationKey); sigErr == nil {
			fmt.Fprintf(&b, "signature:      verifies with the federation key it names (the file is intact; compare that key with the one your nodes trust)\n")
		}
	}
	if sigErr != nil {
		fmt.Fprintf(&b, "signature:      DOES NOT VERIFY: %v\n", sigErr)
	}
	if len(m.CA) > 0 {
		if cert, err := pki.ParseCertificatePEM(m.CA); err == nil {
			fmt.Fprintf(&b, "ca:             %s, expires %s\n", cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339))
		}
	} else {
		fmt.Fprintf(&b, "ca:             none (nodes with peers need it)\n")
	}
	fmt.Fprintf(&b, "members (%d):\n", len(m.Members))
	for _, mem := range m.Members {
		fmt.Fprintf(&b, "  %-14s %-8s %s\n", mem.ID, mem.Role, mem.Address)
		fmt.Fprintf(&b, "    public_key:     %s\n", federation.EncodePublicKey(mem.PublicKey))
		for _, old := range mem.PreviousPublicKeys {
			fmt.Fprintf(&b, "    previous key:   %s\n", federation.EncodePublicKey(old))
		}
		fmt.Fprintf(&b, "    encryption_key: %s\n", federation.EncodeEncryptionKey(mem.EncryptionKey))
	}
	if _, err := env.Stdout.Write(b.Bytes()); err != nil {
		return err
	}
	if sigErr != nil {
		return fmt.Errorf("manifest show: %s: %w", *path, sigErr)
	}
	return nil
}

func freshnessText(f federation.Freshness, why string) string {
	name := map[federation.Freshness]string{
		federation.Fresh:       "fresh",
		federation.ExpiresSoon: "expires soon",
		federation.InGrace:     "EXPIRED, in grace",
		federation.Stale:       "STALE",
	}[f]
	if why == "" {
		return name
	}
	return name + ": " + why
}
