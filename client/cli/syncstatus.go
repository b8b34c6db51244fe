package cli

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/provex/provex/client"
	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
)

func runSync(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "status" {
		return &UsageError{Msg: "sync: the subcommand is status"}
	}
	fs, addr := newFlagSet("sync status")
	all := fs.Bool("all", false, "ask every member of --manifest and check that they converged")
	manifestFile := fs.String("manifest", "", "federation manifest (with --all)")
	nodesFile := fs.String("nodes", "", "with --all: YAML list of each member's API address and token file (- member: cao-bang, addr: localhost:7400, token_file: t)")
	if _, err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *all {
		if *manifestFile == "" {
			return &UsageError{Msg: "sync status --all needs --manifest"}
		}
		m, err := federation.LoadManifest(*manifestFile)
		if err != nil {
			return err
		}
		if *nodesFile == "" {
			return &UsageError{Msg: "sync status --all needs --nodes: where each member's API is and a token for it"}
		}
		nodes, err := readNodes(*nodesFile)
		if err != nil {
			return err
		}
		return federationStatus(ctx, env.Stdout, m, func(ctx context.Context, mem federation.Member) (*syncv1.GetSyncStateResponse, error) {
			n, ok := nodes[mem.ID]
			if !ok {
				return nil, fmt.Errorf("%s is not in %s", mem.ID, *nodesFile)
			}
			token, err := os.ReadFile(n.TokenFile)
			if err != nil {
				return nil, err
			}
			c, err := client.Dial(n.Addr, client.WithToken(strings.TrimSpace(string(token))))
			if err != nil {
				return nil, err
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return syncv1.NewSyncServiceClient(c.Conn()).GetSyncState(ctx, &syncv1.GetSyncStateRequest{})
		})
	}
	st, err := syncState(ctx, *addr)
	if err != nil {
		return err
	}
	printNodeStatus(env.Stdout, st)
	return nil
}

func syncState(ctx context.Context, addr string) (*syncv1.GetSyncStateResponse, error) {
	c, err := dial(addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return syncv1.NewSyncServiceClient(c.Conn()).GetSyncState(ctx, &syncv1.GetSyncStateRequest{})
}

func short(h []byte) string {
	s := hex.EncodeToString(h)
	if len(s) > 12 {
		s = s[:12]
	}
	return s
}

func ago(t interface{ AsTime() time.Time }, set bool) string {
	if !set {
		return "never"
	}
	return time.Since(t.AsTime()).Round(time.Millisecond).String() + " ago"
}

func printNodeStatus(w io.Writer, st *syncv1.GetSyncStateResponse) {
	fmt.Fprintf(w, "node %s\n\n", st.GetMember())
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ORIGIN\tSEQ\tHEAD\tSIGNED UP TO\tHOLES")
	for _, o := range st.GetOrigins() {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\n", o.GetOrigin(), o.GetSeq(), short(o.GetHeadHash()), o.GetCheckpoint().GetSeq(), o.GetHoles())
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tADDRESS\tLAST CONTACT\tPULLS\tRECEIVED\tREJECTED\tLAST ERROR")
	for _, p := range st.GetPeers() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", p.GetMember(), p.GetAddress(), ago(p.GetLastContact(), p.GetLastContact() != nil),
			p.GetPulls(), p.GetEntriesReceived(), p.GetEntriesRejected(), p.GetLastError())
	}
	tw.Flush()
	m := st.GetMetrics()
	fmt.Fprintf(w, "\napplied %d, rejected %d, served %d, holes filled %d, pulls %d (%d failed), announcements %d, bytes received %d\n",
		m.GetEntriesApplied(), m.GetEntriesRejected(), m.GetEntriesServed(), m.GetHolesFilled(), m.GetPulls(), m.GetPullErrors(),
		m.GetAnnouncementsReceived(), m.GetBytesReceived())
}

// federationStatus asks every member and reports, per origin, each node's
// position and lag behind the furthest node, and whether all agree on every
// origin's head hash: the convergence check.
func federationStatus(ctx context.Context, w io.Writer, m *federation.Manifest, state func(context.Context, federation.Member) (*syncv1.GetSyncStateResponse, error)) error {
	type pos struct {
		seq  uint64
		hash string
	}
	states := map[string]map[string]pos{}
	reachable := map[string]string{}
	origins := map[string]bool{}
	for _, mem := range m.Members {
		st, err := state(ctx, mem)
		if err != nil {
			reachable[mem.ID] = FormatError(err)
			continue
		}
		states[mem.ID] = map[string]pos{}
		for _, o := range st.GetOrigins() {
			states[mem.ID][o.GetOrigin()] = pos{o.GetSeq(), hex.EncodeToString(o.GetHeadHash())}
			origins[o.GetOrigin()] = true
		}
	}
	var originList []string
	for o := range origins {
		originList = append(originList, o)
	}
	sort.Strings(originList)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	header := []string{"ORIGIN"}
	for _, mem := range m.Members {
		header = append(header, strings.ToUpper(mem.ID))
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	converged := len(reachable) == 0
	for _, o := range originList {
		var furthest pos
		for _, st := range states {
			if p := st[o]; p.seq > furthest.seq {
				furthest = p
			}
		}
		row := []string{o}
		for _, mem := range m.Members {
			st, ok := states[mem.ID]
			if !ok {
				row = append(row, "unreachable")
				continue
			}
			p := st[o]
			cell := fmt.Sprint(p.seq)
			if p != furthest {
				converged = false
				cell += fmt.Sprintf(" (lag %d)", furthest.seq-p.seq)
				if p.seq == furthest.seq {
					cell += " DIVERGED"
				}
			}
			row = append(row, cell)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	for id, err := range reachable {
		fmt.Fprintf(w, "%s unreachable: %s\n", id, err)
	}
	if converged {
		fmt.Fprintln(w, "converged: yes (every node reports the same head hash for every origin)")
	} else {
		fmt.Fprintln(w, "converged: no")
	}
	return nil
}

// nodeEntry is one member's API in a --nodes file. Tokens are each node's
// own, so the check needs one per member.
type nodeEntry struct {
	Member    string `json:"member"`
	Addr      string `json:"addr"`
	TokenFile string `json:"token_file"`
}

func readNodes(path string) (map[string]nodeEntry, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var list []nodeEntry
	if err := yaml.UnmarshalStrict(raw, &list); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]nodeEntry{}
	for _, n := range list {
		if !filepath.IsAbs(n.TokenFile) {
			n.TokenFile = filepath.Join(filepath.Dir(path), n.TokenFile)
		}
		out[n.Member] = n
	}
	return out, nil
}
