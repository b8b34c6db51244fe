package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/storage/sqlstore"
)

// Set at link time by scripts/release.sh (-ldflags "-X main.buildVersion=...
// -X main.buildCommit=..."): a release is named by its tag, and a binary
// built from a tarball or in a container without .git still knows its
// commit.
var (
	buildVersion = "dev"
	buildCommit  = ""
)

// buildInfo is what "provex version" prints.
type buildInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
	SQLite  string `json:"sqlite"`
}

func currentBuild() buildInfo {
	b := buildInfo{Version: buildVersion, Commit: buildCommit, Go: runtime.Version(), SQLite: sqlstore.LibraryVersion()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		// go install module@v1.2.3 stamps the module version; a plain
		// go build in a checkout stamps "(devel)" and the VCS revision.
		if b.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		if b.Commit == "" {
			modified := false
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					b.Commit = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
			if b.Commit != "" && modified {
				b.Commit += "-dirty"
			}
		}
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

// version is the node's version as NodeService reports it.
func version() string {
	b := currentBuild()
	return fmt.Sprintf("provex %s (%s)", b.Version, b.Commit)
}

const versionUsage = "[--json]"

func runVersion(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print a JSON object (version, commit, go, sqlite)")
	if err := fs.Parse(args); err != nil {
		return cli.FlagError(fs, err)
	}
	if fs.NArg() > 0 {
		return &cli.UsageError{Msg: fmt.Sprintf("version: unexpected argument %q", fs.Arg(0))}
	}
	b := currentBuild()
	if *asJSON {
		return json.NewEncoder(stdout).Encode(b)
	}
	_, err := fmt.Fprintf(stdout, "provex %s\ncommit: %s\ngo:     %s\nsqlite: %s\n", b.Version, b.Commit, b.Go, b.SQLite)
	return err
}
