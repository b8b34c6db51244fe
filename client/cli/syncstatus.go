package cli

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

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
		return federationStatus(ctx, env.Stdout, m)
	}
	st, err := syncState(ctx, *addr)
	if err != nil {
		return err
	}
	printNodeStatus(env.Stdout, st)
	return nil
}

func syncState(ctx context.Context, addr string) (*syncv1.GetSyncStateResponse, error) {
	c, err := client.Dial(addr)
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
func federationStatus(ctx context.Context, w io.Writer, m *federation.Manifest) error {
	type pos struct {
		seq  uint64
		hash string
	}
	states := map[string]map[string]pos{}
	reachable := map[string]string{}
	origins := map[string]bool{}
	for _, mem := range m.Members {
		st, err := syncState(ctx, mem.Address)
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
