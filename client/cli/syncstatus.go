package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
)

func runSync(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && IsHelp(args[0]) {
		return Help("sync")
	}
	if len(args) == 0 || args[0] != "status" {
		return &UsageError{Msg: "sync: the subcommand is status"}
	}
	fs, node := newFlagSet("sync status")
	node.defaultTimeout(fs, SyncStatusTimeout)
	all := fs.Bool("all", false, "ask every member of --manifest and check that they converged (exit status 1 if not)")
	manifestFile := fs.String("manifest", "", "federation manifest (with --all)")
	nodesFile := fs.String("nodes", "", "with --all: YAML list of each member's API address, token file and, for TLS, CA file "+
		"(one line each: - {member: cao-bang, addr: \"localhost:7400\", token_file: cao-bang.token, ca_file: ca.pem}); PROVEX_CA is the CA of entries without one")
	if err := ParseFlagsOnly(fs, args[1:]); err != nil {
		return err
	}
	if !*all && (*manifestFile != "" || *nodesFile != "") {
		return &UsageError{Msg: "sync status: --manifest and --nodes are for --all (without it, the one node at --addr is asked)", Flags: fs}
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
			return syncState(ctx, n.Addr, string(token), tokenSource(n.TokenFile), n.CAFile, time.Duration(node.timeout))
		})
	}
	st, err := syncState(ctx, node.addr, os.Getenv("PROVEX_TOKEN"), tokenFromEnvironment, os.Getenv("PROVEX_CA"), time.Duration(node.timeout))
	if err != nil {
		return err
	}
	printNodeStatus(env.Stdout, st)
	return nil
}

func syncState(ctx context.Context, addr, token string, src tokenSource, caFile string, timeout time.Duration) (*syncv1.GetSyncStateResponse, error) {
	c, err := dialWith(addr, token, src, caFile, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
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
	fmt.Fprintf(w, "node %s\n", terminalSafe(st.GetMember()))
	fmt.Fprintf(w, "manifest %s\n", terminalSafe(manifestLine(st.GetManifest())))
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ORIGIN\tSEQ\tHEAD\tSIGNED UP TO\tVERIFIED UP TO\tUNOPENED\tREJECTED\tDAMAGED")
	for _, o := range st.GetOrigins() {
		var damaged []string
		for _, d := range o.GetDamaged() {
			if last := d.GetRange().GetLast(); last == math.MaxInt64 {
				// A hold on the node's own log: every entry from first on.
				damaged = append(damaged, fmt.Sprintf("%d.. (writes held)", d.GetRange().GetFirst()))
			} else {
				damaged = append(damaged, fmt.Sprintf("%d..%d", d.GetRange().GetFirst(), last))
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%s\n", terminalSafe(o.GetOrigin()), o.GetSeq(), short(o.GetHeadHash()), o.GetCheckpoint().GetSeq(),
			o.GetVerifiedSeq(), o.GetUnopened(), o.GetRejected(), strings.Join(damaged, ","))
	}
	tw.Flush()
	// A hold's reason says what to do (a forked log: restore), which the
	// table's "(writes held)" does not.
	for _, o := range st.GetOrigins() {
		for _, d := range o.GetDamaged() {
			if d.GetRange().GetLast() == math.MaxInt64 {
				fmt.Fprintf(w, "writes of %s held from %d on: %s\n", terminalSafe(o.GetOrigin()), d.GetRange().GetFirst(), terminalSafe(d.GetProblem()))
			}
		}
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tADDRESS\tLAST CONTACT\tPULLS\tRECEIVED\tRUNS REFUSED\tREPAIRED\tLAST ERROR")
	for _, p := range st.GetPeers() {
		// The last error stays until another replaces it: its age tells an
		// old one (a peer's restart) from a current one.
		lastError := p.GetLastError()
		if lastError != "" && p.GetLastErrorTime() != nil {
			lastError = "(" + ago(p.GetLastErrorTime(), true) + ") " + lastError
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", terminalSafe(p.GetMember()), terminalSafe(p.GetAddress()), ago(p.GetLastContact(), p.GetLastContact() != nil),
			p.GetPulls(), p.GetEntriesReceived(), p.GetRunsRefused(), p.GetEntriesRepaired(), terminalSafe(lastError))
	}
	tw.Flush()
	m := st.GetMetrics()
	fmt.Fprintf(w, "\napplied %d, rejected %d, unopened %d, runs refused %d, repaired %d, served %d, pulls %d (%d failed), announcements %d, bytes received %d\n",
		m.GetEntriesApplied(), m.GetEntriesRejected(), m.GetEntriesUnopened(), m.GetRunsRefused(), m.GetEntriesRepaired(), m.GetEntriesServed(),
		m.GetPulls(), m.GetPullErrors(), m.GetAnnouncementsReceived(), m.GetBytesReceived())
}

// manifestLine says where a node's manifest stands: its serial, expiry,
// and the expiry warning or the stop of sync past the grace period.
func manifestLine(m *syncv1.ManifestState) string {
	line := fmt.Sprintf("serial %d", m.GetSerial())
	if m.GetExpireTime() != nil {
		line += ", expires " + m.GetExpireTime().AsTime().UTC().Format(time.RFC3339)
	}
	if m.GetSyncStopped() {
		line += ", SYNC STOPPED"
	}
	if len(m.GetDigest()) > 0 {
		line += ", digest " + short(m.GetDigest())
	}
	if m.GetWarning() != "" {
		line += ": " + m.GetWarning()
	}
	if m.GetConflict() != "" {
		line += "; MANIFESTS DIFFER: " + m.GetConflict()
	}
	return line
}

// manifestsOfOneSerial says which nodes on serial newest hold which
// manifest, when they (or the file checked against, of that serial) hold
// more than one: two manifests were signed with that serial, and nodes
// never move from one to the other. "" when all agree.
func manifestsOfOneSerial(m *federation.Manifest, newest uint64, all map[string]*syncv1.GetSyncStateResponse) string {
	holders := map[string][]string{}
	if uint64(m.Serial) == newest {
		d := short(m.Digest())
		holders[d] = append(holders[d], "the file checked against")
	}
	for _, mem := range m.Members {
		ms := all[mem.ID].GetManifest()
		if ms.GetSerial() != newest || len(ms.GetDigest()) == 0 {
			continue
		}
		d := short(ms.GetDigest())
		holders[d] = append(holders[d], mem.ID)
	}
	if len(holders) < 2 {
		return ""
	}
	groups := make([]string, 0, len(holders))
	for d, who := range holders {
		groups = append(groups, fmt.Sprintf("%s (%s)", strings.Join(who, ", "), d))
	}
	slices.Sort(groups)
	return fmt.Sprintf("two or more manifests were signed with serial %d: %s hold different ones; %s", newest, strings.Join(groups, " and "), federation.OneSerialAdvice(int(newest)))
}

// ErrNotConverged is the error of a convergence check that found the
// federation not converged (exit status 1).
var ErrNotConverged = errors.New("the federation has not converged")

// federationStatus asks every member and reports, per origin, each node's
// position and lag behind the furthest node, and whether all agree on every
// origin's head hash: the convergence check. The federation has converged
// only when every member answered, all hold every origin up to the same
// head hash, none holds entries sealed to it that it cannot open, and none
// has a damaged log. Entries a node holds and has not applied are
// reported: those an origin signed that name records it does not own
// every node refuses alike; a node refusing more than another at the same
// head is named as one whose version may not know their record's kind.
func federationStatus(ctx context.Context, w io.Writer, m *federation.Manifest, state func(context.Context, federation.Member) (*syncv1.GetSyncStateResponse, error)) error {
	type pos struct {
		seq  uint64
		hash string
	}
	states := map[string]map[string]pos{}
	all := map[string]*syncv1.GetSyncStateResponse{}
	unreachable := map[string]string{}
	origins := map[string]bool{}
	var problems, warnings []string
	for _, mem := range m.Members {
		st, err := state(ctx, mem)
		if err != nil {
			unreachable[mem.ID] = FormatError(err)
			continue
		}
		if st.GetMember() != mem.ID {
			// The address given for it reaches another member's node
			// (nodes.yaml wrong, a port reused): its answer is not
			// mem's, and counting it would call mem converged.
			unreachable[mem.ID] = fmt.Sprintf("the node at its address is %q's, not %q's", st.GetMember(), mem.ID)
			continue
		}
		all[mem.ID] = st
		states[mem.ID] = map[string]pos{}
		if ms := st.GetManifest(); ms.GetSyncStopped() {
			problems = append(problems, fmt.Sprintf("%s has stopped syncing: manifest %s", mem.ID, manifestLine(ms)))
		} else if ms.GetWarning() != "" {
			warnings = append(warnings, fmt.Sprintf("%s: manifest %s", mem.ID, manifestLine(ms)))
		}
		if ms := st.GetManifest(); ms.GetConflict() != "" {
			problems = append(problems, fmt.Sprintf("%s: %s", mem.ID, ms.GetConflict()))
		}
		for _, o := range st.GetOrigins() {
			states[mem.ID][o.GetOrigin()] = pos{o.GetSeq(), hex.EncodeToString(o.GetHeadHash())}
			origins[o.GetOrigin()] = true
			if n := o.GetUnopened(); n > 0 {
				problems = append(problems, fmt.Sprintf("%s holds %d entries of %s sealed to it that it cannot open (it lacks the key they were sealed to, or %s sealed them wrongly)", mem.ID, n, o.GetOrigin(), o.GetOrigin()))
			}
			for _, d := range o.GetDamaged() {
				if d.GetRange().GetLast() == math.MaxInt64 {
					problems = append(problems, fmt.Sprintf("%s: writes of %s held from %d on (%s)", mem.ID, o.GetOrigin(), d.GetRange().GetFirst(), d.GetProblem()))
					continue
				}
				problems = append(problems, fmt.Sprintf("%s: stored log of %s damaged at %d..%d (%s)", mem.ID, o.GetOrigin(),
					d.GetRange().GetFirst(), d.GetRange().GetLast(), d.GetProblem()))
			}
		}
	}
	// Entries a node holds and has not applied: the count alone comes
	// here, not why (a record the origin does not own is one reason of
	// several). Fewer at another node at the same head says that node
	// applies some of them: a version that does not know their record's
	// kind refused them (a rolling upgrade), and applies them once
	// restarted on the new one.
	for _, mem := range m.Members {
		for _, o := range all[mem.ID].GetOrigins() {
			n := o.GetRejected()
			if n == 0 {
				continue
			}
			fewest, by := n, ""
			for _, other := range m.Members {
				if st, ok := all[other.ID]; ok && other.ID != mem.ID && states[other.ID][o.GetOrigin()] == states[mem.ID][o.GetOrigin()] {
					if r := rejectedOf(st, o.GetOrigin()); r < fewest {
						fewest, by = r, other.ID
					}
				}
			}
			if by != "" {
				warnings = append(warnings, fmt.Sprintf("%s holds %d entries of %s it has not applied, %d more than %s at the same head, which applies them: is %s on an older version, which does not know their record's kind? Restarted on the new one, it applies them (its log says why it refused each)",
					mem.ID, n, o.GetOrigin(), n-fewest, by, mem.ID))
				continue
			}
			warnings = append(warnings, fmt.Sprintf("%s holds %d entries of %s it has not applied (a record %s does not own, a malformed state or time, a kind of record its version does not know ...): %s's log says why, for each", mem.ID, n, o.GetOrigin(), o.GetOrigin(), mem.ID))
		}
	}
	var originList, former []string
	for o := range origins {
		if _, ok := m.Member(o); !ok {
			// A member the manifest removed: nodes stop pulling its log,
			// so copies of it stay as far as each got, for good.
			former = append(former, o)
			continue
		}
		originList = append(originList, o)
	}
	sort.Strings(originList)
	if len(former) > 0 {
		sort.Strings(former)
		warnings = append(warnings, fmt.Sprintf("logs of origins the manifest does not list (removed members) are held and not compared: %s", strings.Join(former, ", ")))
	}
	problems = append(problems, unopenedByCount(m, all)...)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	header := []string{"ORIGIN"}
	for _, mem := range m.Members {
		header = append(header, strings.ToUpper(mem.ID))
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	converged := len(unreachable) == 0 && len(problems) == 0
	// Members on different manifests disagree on who is in the federation
	// and with which keys: not converged until the newest, the checker's
	// own copy included, reached all. So after a new manifest is written
	// to one node's file, the check says yes only once it has travelled.
	serials := []string{"manifest serial"}
	newest := uint64(m.Serial)
	for _, st := range all {
		newest = max(newest, st.GetManifest().GetSerial())
	}
	for _, mem := range m.Members {
		st, ok := all[mem.ID]
		if !ok {
			serials = append(serials, "unreachable")
			continue
		}
		cell := fmt.Sprint(st.GetManifest().GetSerial())
		if st.GetManifest().GetSerial() != newest {
			converged = false
			cell += " (behind)"
		}
		serials = append(serials, cell)
	}
	fmt.Fprintln(tw, strings.Join(serials, "\t"))
	if uint64(m.Serial) < newest {
		warnings = append(warnings, fmt.Sprintf("the manifest checked against is serial %d, older than the nodes' %d", m.Serial, newest))
	}
	if split := manifestsOfOneSerial(m, newest, all); split != "" {
		converged = false
		problems = append(problems, split)
	}
	for _, o := range originList {
		var furthest pos
		for _, st := range states {
			if p := st[o]; p.seq > furthest.seq {
				furthest = p
			}
		}
		row := []string{terminalSafe(o)}
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
	ids := make([]string, 0, len(unreachable))
	for id := range unreachable {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(w, "%s unreachable: %s\n", id, terminalSafe(unreachable[id]))
	}
	for _, p := range problems {
		fmt.Fprintln(w, "PROBLEM:", terminalSafe(p))
	}
	for _, p := range warnings {
		fmt.Fprintln(w, "WARNING:", terminalSafe(p))
	}
	if !converged {
		fmt.Fprintln(w, "converged: no")
		return ErrNotConverged
	}
	fmt.Fprintln(w, "converged: yes (every node is on the same manifest, reports the same head hash for every origin, opens everything sealed to it, and finds its logs intact)")
	return nil
}

// rejectedOf is how many entries of origin st's node holds rejected.
func rejectedOf(st *syncv1.GetSyncStateResponse, origin string) int64 {
	for _, o := range st.GetOrigins() {
		if o.GetOrigin() == origin {
			return o.GetRejected()
		}
	}
	return 0
}

// unopenedByCount compares, for every origin that answered, how many of its
// entries it sealed to each member with how many of them that member
// opened, where the member holds the origin's whole log. A member that
// lost a key, or an origin that sealed to a key it should not have, shows
// here even though the member itself cannot tell such an entry was for it.
func unopenedByCount(m *federation.Manifest, all map[string]*syncv1.GetSyncStateResponse) []string {
	var out []string
	for _, origin := range m.Members {
		ost, ok := all[origin.ID]
		if !ok {
			continue
		}
		var own *syncv1.OriginState
		for _, o := range ost.GetOrigins() {
			if o.GetOrigin() == origin.ID {
				own = o
			}
		}
		if own == nil {
			continue
		}
		for _, reader := range m.Members {
			rst, ok := all[reader.ID]
			want := own.GetSealedFor()[reader.ID]
			if !ok || reader.ID == origin.ID {
				continue
			}
			for _, o := range rst.GetOrigins() {
				switch {
				case o.GetOrigin() != origin.ID || o.GetSeq() != own.GetSeq():
				case o.GetOpened() < want:
					out = append(out, fmt.Sprintf("%s opened %d of the %d entries %s sealed to it: it holds %d it should be able to open and cannot",
						reader.ID, o.GetOpened(), want, origin.ID, want-o.GetOpened()))
				case o.GetOpened() > want:
					out = append(out, fmt.Sprintf("%s counts %d entries of %s opened, but %s sealed only %d to it: the counts disagree",
						reader.ID, o.GetOpened(), origin.ID, origin.ID, want))
				}
			}
		}
	}
	return out
}

// nodeEntry is one member's API in a --nodes file. Tokens are each node's
// own, so the check needs one per member.
type nodeEntry struct {
	Member    string `json:"member"`
	Addr      string `json:"addr"`
	TokenFile string `json:"token_file"`
	// CAFile is the CA certificate to reach the node's API over TLS
	// (default: PROVEX_CA; neither: plaintext, for dev mode).
	CAFile string `json:"ca_file,omitempty"`
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
	relative := func(p string) string {
		if p != "" && !filepath.IsAbs(p) {
			return filepath.Join(filepath.Dir(path), p)
		}
		return p
	}
	out := map[string]nodeEntry{}
	for _, n := range list {
		n.TokenFile = relative(n.TokenFile)
		n.CAFile = relative(n.CAFile)
		if n.CAFile == "" {
			n.CAFile = os.Getenv("PROVEX_CA")
		}
		out[n.Member] = n
	}
	return out, nil
}
