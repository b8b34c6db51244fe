package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/provex/provex/client/cli"
)

// helpCommands is every command and subcommand of provex with its flags;
// groups lists the commands that only dispatch to subcommands.
var (
	helpCommands = [][]string{
		{"demo"}, {"serve"}, {"ca", "init"}, {"ca", "issue"},
		{"token", "create"}, {"token", "list"}, {"token", "revoke"},
		{"audit", "verify"}, {"verify"}, {"backup"}, {"restore-backup"}, {"restore"}, {"migrate-store"}, {"keygen"},
		{"manifest", "init"}, {"manifest", "add"}, {"manifest", "remove"}, {"manifest", "rotate"}, {"manifest", "move"}, {"manifest", "drop-key"}, {"manifest", "sign"}, {"manifest", "show"},
		{"get"}, {"list"}, {"create"}, {"update"}, {"delete"}, {"undelete"}, {"seed"},
		{"sync", "status"}, {"national", "summary"}, {"national", "search"}, {"national", "freshness"},
		{"version"},
	}
	// onlySwitches are the commands whose flags are all booleans, which
	// flag.PrintDefaults prints without a default when it is false.
	onlySwitches = map[string]bool{"version": true}
	helpGroups   = []string{"ca", "token", "audit", "manifest", "sync", "national"}
)

var flagWithDefault = regexp.MustCompile(`(?m)^  -[a-z-]+ .*\n\s+.*\(default [^)]+\)`)

// TestEveryCommandHelpPrintsItsFlags runs -h and --help of every command
// and subcommand: usage on stdout with the flags and their defaults, exit
// status 0, nothing on stderr. Once "serve --help" printed "flag: help
// requested" and exited 2.
func TestEveryCommandHelpPrintsItsFlags(t *testing.T) {
	t.Setenv("PROVEX_ADDR", "")
	listed := map[string]bool{}
	for _, cmd := range helpCommands {
		listed[cmd[0]] = true
		for _, h := range []string{"--help", "-h"} {
			args := append(append([]string(nil), cmd...), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				code := run(args, strings.NewReader(""), &stdout, &stderr)
				out := stdout.String()
				if code != 0 || stderr.Len() > 0 {
					t.Fatalf("exit %d, want 0; stderr: %s", code, stderr.String())
				}
				if !strings.HasPrefix(out, "Usage: provex "+cmd[0]) {
					t.Errorf("stdout does not start with the usage line:\n%s", out)
				}
				if !strings.Contains(out, "Flags of provex "+strings.Join(cmd, " ")+":") {
					t.Errorf("stdout does not list the flags of %q:\n%s", strings.Join(cmd, " "), out)
				}
				if !flagWithDefault.MatchString(out) && !onlySwitches[strings.Join(cmd, " ")] {
					t.Errorf("no flag is printed with its default:\n%s", out)
				}
			})
		}
	}
	for _, g := range helpGroups {
		for _, h := range []string{"--help", "-h", "help"} {
			t.Run(g+" "+h, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				if code := run([]string{g, h}, strings.NewReader(""), &stdout, &stderr); code != 0 || stderr.Len() > 0 {
					t.Fatalf("exit %d, want 0; stderr: %s", code, stderr.String())
				}
				if !strings.HasPrefix(stdout.String(), "Usage: provex "+g+" ") {
					t.Errorf("stdout does not start with the usage line:\n%s", stdout.String())
				}
			})
		}
	}
	for _, c := range commands() {
		if !listed[c.Name] {
			t.Errorf("command %q is not in helpCommands: add it with its subcommands", c.Name)
		}
	}
	// A mistake is still one: exit 2, usage on stderr.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"serve", "--no-such-flag"}, strings.NewReader(""), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage: provex serve") {
		t.Errorf("serve --no-such-flag: exit %d, stderr %q; want 2 and the usage", code, stderr.String())
	}
}

// TestEveryCommandRefusesAnExtraArgument: every command and subcommand
// given an argument it does not take exits 2 saying so, before it opens or
// makes anything. demo, restore, audit verify, token create and token list
// ignored it (demo served the whole federation, token create made a
// token: an outside review), and token revoke opened the database first.
func TestEveryCommandRefusesAnExtraArgument(t *testing.T) {
	t.Setenv("PROVEX_ADDR", "")
	dir := t.TempDir()
	// The default data directory, CA and manifest are relative: a command
	// that made one would make it here, where it is seen.
	t.Chdir(dir)
	// What a command takes before the extra argument. demo's bad
	// --log-level fails a demo that took the argument instead of serving.
	takes := map[string][]string{
		"demo":         {"--log-level", "bogus"},
		"token create": {"--role", "viewer", "--member", "cao-bang"},
		"restore":      {"--member", "cao-bang", "--key", "node.key", "--manifest", "manifest.yaml"},
	}
	// The commands of one positional argument count them.
	counted := map[string]string{
		"token revoke":     "0123456789abcdef",
		"get":              "provinces/cao-bang/agreements/x",
		"list":             "provinces/cao-bang/agreements",
		"create":           "provinces/cao-bang/agreements",
		"update":           "provinces/cao-bang/agreements/x",
		"delete":           "provinces/cao-bang/agreements/x",
		"undelete":         "provinces/cao-bang/agreements/x",
		"national summary": "delegations",
	}
	type refusal struct {
		args []string
		want string
	}
	// An argument before the flags is refused too (flag.Parse stops at it).
	cases := []refusal{{[]string{"token", "create", "extra", "--role", "viewer", "--member", "cao-bang"}, `unexpected argument "extra"`}}
	for _, cmd := range helpCommands {
		name := strings.Join(cmd, " ")
		args := append(append([]string(nil), cmd...), takes[name]...)
		want := `unexpected argument "extra"`
		if arg, ok := counted[name]; ok {
			args, want = append(args, arg), "got 2 arguments"
		}
		cases = append(cases, refusal{append(args, "extra"), want})
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(c.args, strings.NewReader(""), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("provex %s: exit %d, stderr %q; want 2 and %q", strings.Join(c.args, " "), code, stderr.String(), c.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused command line left files behind: %v", entries)
	}
}

// TestUsageLinesNameEveryFlag: the usage line of every command, as provex
// help prints it, names each flag its --help lists, in the subcommand's
// own part of it ("search [...]" of "summary ... | search ... |
// freshness"). list --page-token, national summary --parent and five
// flags of national search worked unnamed (an outside review). --addr and
// --timeout are said once for every client command, below the list.
func TestUsageLinesNameEveryFlag(t *testing.T) {
	t.Setenv("PROVEX_ADDR", "")
	flagLine := regexp.MustCompile(`(?m)^  -([a-z-]+)`)
	// serve's usage names the flags to start a node with; serve --help
	// lists its many limits and switches.
	named := map[string]bool{"serve": true}
	var help, discard bytes.Buffer
	run([]string{"help"}, strings.NewReader(""), &help, &discard)
	timeoutDefault := regexp.MustCompile(`(?m)^  -timeout duration\n.*\(default ([^)]+)\)`)
	for _, cmd := range helpCommands {
		name := strings.Join(cmd, " ")
		if named[name] {
			continue
		}
		var stdout, stderr bytes.Buffer
		if code := run(append(append([]string(nil), cmd...), "--help"), strings.NewReader(""), &stdout, &stderr); code != 0 {
			t.Fatalf("%s --help: exit %d: %s", name, code, stderr.String())
		}
		usage, flags, _ := strings.Cut(stdout.String(), "\n")
		usage = strings.TrimPrefix(usage, "Usage: provex "+cmd[0]+" ")
		if len(cmd) > 1 {
			part, ok := subcommandUsage(usage, cmd[0], cmd[1])
			if !ok {
				t.Errorf("the usage of provex %s has no part for %s: %q", cmd[0], cmd[1], usage)
				continue
			}
			usage = part
		}
		_, flags, _ = strings.Cut(flags, "Flags of provex "+name+":")
		// provex help says how long client commands wait: sync status's
		// 5s went unsaid under "default 1m0s" (an outside review).
		if m := timeoutDefault.FindStringSubmatch(flags); m != nil && !strings.Contains(help.String(), m[1]) {
			t.Errorf("provex help does not say that provex %s waits %s by default", name, m[1])
		}
		for _, m := range flagLine.FindAllStringSubmatch(flags, -1) {
			if m[1] == "addr" || m[1] == "timeout" || strings.Contains(usage, "[...]") {
				continue
			}
			if !regexp.MustCompile(`(^|[ \[|])--?` + regexp.QuoteMeta(m[1]) + `\b`).MatchString(usage) {
				t.Errorf("the usage line of provex %s does not name --%s: %q", name, m[1], usage)
			}
		}
	}
}

// subcommandUsage is the parts of a group's usage for its subcommand sub:
// each from the " | " before sub's name to the one before the next
// subcommand's ("[--data DIR | --store URL]" is inside one part; sync
// status has two).
func subcommandUsage(usage, group, sub string) (string, bool) {
	subs := map[string]bool{}
	for _, c := range helpCommands {
		if len(c) > 1 && c[0] == group {
			subs[c[1]] = true
		}
	}
	var parts []string
	for i, seg := range strings.Split(usage, " | ") {
		if word, _, _ := strings.Cut(seg, " "); i == 0 || subs[word] {
			parts = append(parts, seg)
		} else {
			parts[len(parts)-1] += " | " + seg
		}
	}
	var own []string
	for _, part := range parts {
		if word, _, _ := strings.Cut(part, " "); word == sub {
			own = append(own, part)
		}
	}
	return strings.Join(own, " | "), len(own) > 0
}

// TestTokenRevokeTakesFlagsAfterItsID: "token revoke ID [--data DIR]" as
// its usage writes it revokes the token in DIR, and "token revoke ID -h"
// prints the help instead of revoking. The flags after the id were once
// taken for more ids: a usage error, after opening ./data.
func TestTokenRevokeTakesFlagsAfterItsID(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"token", "create", "--data", dir, "--member", "cao-bang", "--role", "viewer", "--label", "ops"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("token create: exit %d: %s", code, stderr.String())
	}
	id, _, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(stdout.String()), "pvx_"), "_")
	if !ok {
		t.Fatalf("token create printed %q, not a token", stdout.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"token", "revoke", id, "-h"}, strings.NewReader(""), &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "Usage: provex token") {
		t.Errorf("token revoke ID -h: exit %d, stdout %q, stderr %q; want 0 and the usage", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"token", "revoke", id, "--data", dir}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("token revoke ID --data DIR: exit %d: %s", code, stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"token", "list", "--data", dir}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("token list: exit %d: %s", code, stderr.String())
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[0] == id && f[5] == "-" {
			t.Errorf("token %s is not revoked:\n%s", id, stdout.String())
		}
	}
}

// TestDashboardNamesRealCommands: the commands the dashboard's sign-in
// page tells its reader to run exist (are in helpCommands). It once said
// "provex token issue", which is "token create".
func TestDashboardNamesRealCommands(t *testing.T) {
	page, err := os.ReadFile("../../server/web/static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	found := regexp.MustCompile(`<code>provex ([a-z-]+(?: [a-z-]+)?)`).FindAllStringSubmatch(string(page), -1)
	if len(found) == 0 {
		t.Fatal("the page names no provex command: the test checks nothing")
	}
	known := map[string]bool{}
	for _, c := range helpCommands {
		known[strings.Join(c, " ")] = true
	}
	for _, m := range found {
		if !known[m[1]] {
			t.Errorf("the dashboard names provex %s, which is not a command", m[1])
		}
	}
}

// TestUnknownSubcommandHelpIsAMistake: "GROUP bogus --help" is a usage
// error (exit 2) in every command group, not the help of a subcommand that
// does not exist; "token issue --help" once printed "Flags of provex token
// issue" and exited 0.
func TestUnknownSubcommandHelpIsAMistake(t *testing.T) {
	for _, g := range helpGroups {
		var stdout, stderr bytes.Buffer
		if code := run([]string{g, "bogus", "--help"}, strings.NewReader(""), &stdout, &stderr); code != 2 {
			t.Errorf("%s bogus --help: exit %d, want 2; stdout %q", g, code, stdout.String())
		}
	}
}

// TestServeHelpNamesEveryConfigKey: serve --help names each key the config
// file takes (yaml.UnmarshalStrict refuses any other); it once named 5 of
// 17, none of metrics_addr, tls_dir or trace_otlp.
func TestServeHelpNamesEveryConfigKey(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"serve", "--help"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("serve --help: exit %d %s", code, stderr.String())
	}
	for _, key := range []string{"member", "data_dir", "key_file", "tls_dir", "metrics_addr", "trace_otlp", "max_connections_per_client", "max_calls_per_client", "audit_all_reads"} {
		if !strings.Contains(stdout.String(), key) {
			t.Errorf("serve --help does not name the config key %s", key)
		}
	}
}

// TestStoreFlagIsCheckedFirst: every command's --store takes only a
// PostgreSQL URL that parses, refused as a usage error before anything is
// opened or made, without repeating the password the URL may hold.
func TestStoreFlagIsCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []string{"sqlite:" + dir, "mysql://provex:s3cret-pw@localhost/x", "postgres://provex:s3cret-pw@localhost:notaport/x"} {
		for _, args := range [][]string{
			{"serve", "--member", "mofa", "--data", dir, "--dev", "--store", bad},
			{"restore", "--member", "mofa", "--data", dir, "--key", "k", "--manifest", "m", "--store", bad},
			{"token", "list", "--data", dir, "--store", bad},
			{"verify", "--store", bad},
		} {
			var stdout, stderr strings.Builder
			code := run(args, strings.NewReader(""), &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), "--store") || strings.Contains(stderr.String(), "s3cret-pw") {
				t.Errorf("%s: exit %d, want 2 naming --store without the password:\n%s", strings.Join(args, " "), code, stderr.String())
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused --store left files in the data directory: %v", entries)
	}
}

// TestTokenCreateOnANewDirectoryAsksForItsMember: token create on a data
// directory no node has run in, without --member, says to give it and
// leaves no database behind (it once left an empty provex.db, whose member
// nothing then recorded).
func TestTokenCreateOnANewDirectoryAsksForItsMember(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"token", "create", "--data", dir, "--role", "editor", "--label", "desk officer"}, strings.NewReader(""), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "give --member") {
		t.Errorf("token create on a new directory: exit %d, stderr %q; want 1 and to be told to give --member", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "provex.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("token create refused, yet left a database: %v", err)
	}
}

// TestDiskReserveFlagIsChecked: restore takes --disk-reserve-mb as serve
// does (it kept no reserve, and could fill the disk: an outside review),
// and both refuse a value out of range as a usage error.
func TestDiskReserveFlagIsChecked(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"serve", "--member", "mofa", "--data", dir, "--dev", "--disk-reserve-mb", "-2"},
		{"restore", "--member", "mofa", "--data", dir, "--key", "k", "--manifest", "m", "--disk-reserve-mb", "-2"},
	} {
		var stdout, stderr strings.Builder
		if code := run(args, strings.NewReader(""), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--disk-reserve-mb -2") {
			t.Errorf("%s: exit %d, want 2 naming --disk-reserve-mb:\n%s", strings.Join(args, " "), code, stderr.String())
		}
	}
}

// TestTokenExpiresIsBounded: token create refuses a lifetime that is not
// positive, before making a database, and one ending after the last time
// a node keeps; one ending before it is kept as given. --expires -1h made
// a token that never expired, and 2562047h one that expired in 1734 (an
// outside review).
func TestTokenExpiresIsBounded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	create := func(expires string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run([]string{"token", "create", "--data", dir, "--member", "cao-bang", "--role", "viewer", "--label", "ops", "--expires", expires}, strings.NewReader(""), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	for _, expires := range []string{"-1h", "0s", "-9223372036854775808ns"} {
		if code, stdout, stderr := create(expires); code != 2 || stdout != "" || !strings.Contains(stderr, "must be positive") {
			t.Errorf("--expires %s: exit %d, stdout %q, stderr %q; want 2 and \"must be positive\"", expires, code, stdout, stderr)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused lifetime made the data directory: %v", err)
	}
	for _, expires := range []string{"2562047h", "9223372036854775807ns"} {
		if code, stdout, stderr := create(expires); code != 1 || stdout != "" || !strings.Contains(stderr, "after 2262-04-11T23:47:16Z, the last time a node keeps") {
			t.Errorf("--expires %s: exit %d, stdout %q, stderr %q; want 1 and the last time a node keeps", expires, code, stdout, stderr)
		}
	}
	if code, _, stderr := create("1000000h"); code != 0 {
		t.Fatalf("--expires 1000000h: exit %d: %s", code, stderr)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"token", "list", "--data", dir}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("token list: exit %d: %s", code, stderr.String())
	}
	// One token, expiring in about 114 years: not one of the refused.
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "T") {
		t.Fatalf("token list:\n%s", stdout.String())
	}
	expiry, err := time.Parse(time.RFC3339, strings.Fields(lines[1])[4])
	if err != nil || expiry.Year() < time.Now().Year()+113 {
		t.Errorf("the token kept expires %v (%v), want about 114 years from now:\n%s", expiry, err, stdout.String())
	}
}

// TestClientHelpNamesTheEnvironment: provex --help and the help of every
// client command and subcommand say where the token and the CA come from.
// Neither said PROVEX_TOKEN: the only place to learn it was an error
// telling the CLI's user to send a header (an outside review).
func TestClientHelpNamesTheEnvironment(t *testing.T) {
	t.Setenv("PROVEX_ADDR", "")
	client := map[string]bool{}
	for _, c := range cli.Commands() {
		client[c.Name] = true
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("--help: exit %d: %s", code, stderr.String())
	}
	for _, v := range []string{"PROVEX_TOKEN", "PROVEX_CA", "PROVEX_ADDR"} {
		if !strings.Contains(stdout.String(), v) {
			t.Errorf("provex --help does not name %s:\n%s", v, stdout.String())
		}
	}
	for _, cmd := range helpCommands {
		if !client[cmd[0]] {
			continue
		}
		stdout.Reset()
		stderr.Reset()
		if code := run(append(append([]string(nil), cmd...), "--help"), strings.NewReader(""), &stdout, &stderr); code != 0 {
			t.Fatalf("%s --help: exit %d: %s", strings.Join(cmd, " "), code, stderr.String())
		}
		if !strings.Contains(stdout.String(), "\nEnvironment:\n  PROVEX_TOKEN  the bearer token") || !strings.Contains(stdout.String(), "PROVEX_CA") {
			t.Errorf("provex %s --help does not name PROVEX_TOKEN and PROVEX_CA:\n%s", strings.Join(cmd, " "), stdout.String())
		}
	}
}
