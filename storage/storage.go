// Package storage is the boundary between provex's services and where records
// live. A Store reads records, lists them by filter with keyset pagination,
// and applies writes atomically together with the change-log entry that
// records them. storage/sqlstore implements it; storage/storagetest is the
// conformance suite every implementation must pass.
package storage

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/audit"
	"github.com/provex/provex/changelog"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
)

// Store holds a node's records and its change log.
type Store interface {
	// Get returns the record with the given name, deleted or not. A missing
	// record is an *apperr.Error with code NOT_FOUND.
	//
	// Get, List and Summarize audit the read as the Actor of ctx asks
	// (Actor.Reads). The read is answered once its audit record is queued,
	// before that record commits; when the queue is full the read is
	// refused (RESOURCE_EXHAUSTED), never answered unaudited.
	Get(ctx context.Context, kind *resource.Kind, name string) (proto.Message, error)
	// List returns one page of records matching q, in q.OrderBy order with
	// arrival order in this store as the last tie-breaker (and the default).
	List(ctx context.Context, q Query) (Page, error)
	// Write applies w atomically: the record change, its change-log entry
	// and its request id commit together or not at all. Concurrent writes
	// may share a commit, but each one succeeds or fails on its own and is
	// acknowledged only after its commit is durable. A write that returns
	// the stored record without writing it (a retried request id, a Mutate
	// that returns ErrUnchanged) reads that record, and is audited as a Get
	// of it.
	Write(ctx context.Context, w Write) (proto.Message, error)
	// Head returns the last entry the node's own origin appended (Seq 0 when
	// the log is empty).
	Head(ctx context.Context) (changelog.Entry, error)
	// Summarize groups the live records of q.Kind that match q.Province and
	// q.Filter and totals each group.
	Summarize(ctx context.Context, q SummaryQuery) ([]SummaryRow, error)
	// Changes returns up to limit entries of origin's log with Seq > after,
	// in order, as stored (sealed entries sealed), and fewer once their
	// names and data pass ChangesBytes (at least one): callers that want
	// more ask again after the last. Entries in a damaged range are
	// returned too: servers check what they serve.
	Changes(ctx context.Context, origin string, after uint64, limit int) ([]changelog.Entry, error)
	// DiskFull is when the store was first refused a commit for a full
	// disk since it last stored something, or the zero time. While it is
	// set the store checks for room every few seconds.
	DiskFull() time.Time
	// ReadOnly is when the store was first refused a commit by a database
	// that takes no writes (PostgreSQL's read_only_sql_transaction: a
	// failover that left the node on a standby) since it last stored
	// something, or the zero time. While it is set the store checks every
	// few seconds whether it takes writes again.
	ReadOnly() time.Time
	Close() error

	// The rest serves sync between nodes.

	// Origins returns, for every origin whose entries this node holds, the
	// last entry, the newest signed checkpoint, and what the node did not
	// apply or found damaged.
	Origins(ctx context.Context) ([]OriginState, error)
	// Checkpoint returns origin's newest checkpoint with Seq <= upTo (Seq 0
	// when there is none). Through the hash chain it proves every entry up
	// to its Seq, so a sender needs only the newest one in a batch.
	Checkpoint(ctx context.Context, origin string, upTo uint64) (changelog.Checkpoint, error)
	// NextCheckpoint returns origin's oldest checkpoint with Seq >= from
	// (Seq 0 when there is none).
	NextCheckpoint(ctx context.Context, origin string, from uint64) (changelog.Checkpoint, error)
	// KeepCheckpoint stores cp, verified by the caller, in place of the one
	// held at its Seq, when the entry held there has cp's Hash (a newer
	// signature of an entry already held: the origin re-signed its head
	// after a key rotation). It reports whether it stored it.
	KeepCheckpoint(ctx context.Context, cp changelog.Checkpoint) (bool, error)
	// SignOwnCheckpoint signs a checkpoint of the node's own entry seq,
	// whose hash is hash, with the key the node signs with now, storing
	// nothing; false when it has none. A node serving its log from before
	// a rotation of its key sends such checkpoints with its runs: peers
	// take only the current key's for entries they do not hold, and would
	// otherwise hold the whole old log waiting for the head's.
	SignOwnCheckpoint(seq uint64, hash []byte) (changelog.Checkpoint, bool)
	// ApplyRemote appends entries of another origin, verified by the caller
	// up to the signed checkpoint cp (which ends them), and applies the
	// record states they carry, all in one transaction. earlier are
	// checkpoints within the entries (of runs joined into one), kept with
	// cp so that this node passes on proofs as dense as it received. entries must start
	// right after the last entry held of the origin and link to it;
	// otherwise nothing is applied and the error says so. Every entry is
	// stored whole; its state is applied only where this node may read it
	// (sealed entries it opens), and only when it names a record of the
	// entry's origin. The entries held but not applied are returned.
	ApplyRemote(ctx context.Context, entries []changelog.Entry, cp changelog.Checkpoint, earlier ...changelog.Checkpoint) ([]Refusal, error)

	// Self-verification and repair.

	// VerifyLog checks origin's stored log with the origin's public key:
	// from the last entry proven intact, or, when full, from the first. It
	// records what it finds (Damaged) and where the next incremental check
	// starts.
	VerifyLog(ctx context.Context, origin string, keys []ed25519.PublicKey, full bool) (LogCheck, error)
	// Damaged returns origin's damaged ranges, which are not to be served.
	Damaged(origin string) []Damage
	// ReportDamage records a damaged range found outside VerifyLog (by a
	// server checking what it sends).
	ReportDamage(ctx context.Context, d Damage) error
	// Repair replaces stored copies of origin's entries by verified ones:
	// entries continue the stored entry before the first of them, and the
	// last is the one cp (whose signature the caller checked) names. It
	// clears the damage they cover and returns how many entries it
	// rewrote; record states are not touched (damage is in the log only).
	Repair(ctx context.Context, entries []changelog.Entry, cp changelog.Checkpoint) (int, error)
}

// Preparer is a store that can do, ahead of applying a run of another
// origin's entries, the work on them that needs no transaction (opening
// sealed states, decoding and checking them, making their rows' values):
// a sync engine prepares the next run on its own goroutine while the
// store's writer applies this one. ApplyPrepared of consecutive runs
// PrepareRemote prepared is ApplyRemote of their entries joined (earlier
// are the checkpoints ending the runs before the last, cp the last's);
// it also returns how many of the entries it stored, which the store did
// not hold already (another peer's pull may have brought them).
type Preparer interface {
	PrepareRemote(entries []changelog.Entry) PreparedRun
	ApplyPrepared(ctx context.Context, runs []PreparedRun, cp changelog.Checkpoint, earlier ...changelog.Checkpoint) ([]Refusal, int, error)
}

// PreparedRun is a run of entries a Preparer prepared, for that store
// alone.
type PreparedRun interface {
	Entries() []changelog.Entry
}

// RunSizer is a store that applies other origins' entries best in
// transactions of a size of its own: a sync engine joins consecutive runs
// (ApplyRemote) up to ApplyRunSize entries or bytes of entries, instead of
// its default; zero keeps the default.
type RunSizer interface {
	ApplyRunSize() (entries, bytes int)
}

// OriginState is how far a node holds one origin's log.
type OriginState struct {
	Origin string
	// Seq and Hash are of the last entry held (0 and the zero hash when
	// none); entries are appended only in order.
	Seq  uint64
	Hash []byte
	// HLC is the clock time of that entry: when the origin made the change.
	HLC int64
	// Checkpoint is the newest signed checkpoint held (Seq 0 when none).
	Checkpoint changelog.Checkpoint
	// Rejected counts entries held but not applied because their state
	// names another origin's record or is not a record; Unopened, entries
	// sealed to this node that it could not open.
	Rejected, Unopened int
	// Verified is the last entry the node's own checks proved intact;
	// Damaged, the ranges that do not verify.
	Verified uint64
	Damaged  []Damage
	// Opened counts the origin's sealed states this node opened as one of
	// their readers. For the node's own origin, SealedFor counts its
	// entries sealed to each other member: a member holding the whole log
	// has opened exactly that many, or it holds entries it should be able
	// to open and cannot.
	Opened    int64
	SealedFor map[string]int64
}

// Refusal is an entry a node holds but did not apply.
type Refusal struct {
	Origin string
	Seq    uint64
	// Unopened: the entry is sealed to this node but did not open; else it
	// is rejected (its state names a record its origin does not own, or is
	// not a record).
	Unopened bool
	Reason   string
}

// OpenEnded is the last seq of a hold on the node's own log: a damage
// range no entry will ever reach, which refuses the node's writes after
// its head until an operator (a restore) lifts it.
const OpenEnded = uint64(math.MaxInt64)

// ForkedLog begins the problem of a hold on a node's own log that its
// peers hold another history of, signed with its key: one no repair ends.
const ForkedLog = "this node's log forked"

// Damage is a range of stored entries that does not verify.
type Damage struct {
	changelog.Range
	Found   time.Time
	Problem string
}

// LogCheck is what one VerifyLog found.
type LogCheck struct {
	// Checked is the number of entries read; Verified the last entry
	// proven intact.
	Checked  int
	Verified uint64
	Damaged  []Damage
	// BadCheckpoints counts checkpoints dropped for a bad signature;
	// Superseded those dropped as signed with a key the manifest no longer
	// lists, of entries a later checkpoint of a listed key proves.
	BadCheckpoints, Superseded int
	Problems                   []string
}

// ChangesBytes bounds the entries' names and data one Changes call reads
// (past it by at most one entry): a pull served in batches of 500 entries
// of 4 MB each held 2 GB for a peer that stopped reading.
const ChangesBytes = 4 << 20

// Query selects records of one kind.
type Query struct {
	Kind *resource.Kind
	// Province limits the list to one owner; resource.AllProvinces lists all.
	Province string
	// Filter is a checked filter over Kind.Schema, or nil.
	Filter      filter.Expr
	OrderBy     []filter.OrderKey
	ShowDeleted bool
	// Text, when set, keeps records whose searched fields (resource.Kind
	// SearchPaths) hold its words in order, the last possibly cut short,
	// ignoring case, diacritics and normal form (internal/textfold).
	Text string
	// After continues a previous page; nil starts from the beginning.
	After *Cursor
	// Limit is the page size, at least 1.
	Limit int
	// Used is what the answer holds already, in bytes, and PerRecord what
	// it holds beside each record (a wrapper's fields): a page of several
	// lists (a search across collections) ends when the answer is full.
	Used, PerRecord int
}

// Dim is one dimension of a summary.
type Dim struct {
	// Field is a filterable field; nil means the owning province.
	Field *filter.Field
	// Bucket truncates a date or timestamp field: "year", "quarter" or
	// "month" (keys year, year*10+quarter, year*100+month; 0 when unset),
	// or "age" for timestamps (keys 0..4 for 0-7, 8-30, 31-90, 91-365 and
	// more days before Now; -1 when unset). Empty keeps the value.
	Bucket string
}

// SummaryQuery groups and totals one kind's live records.
type SummaryQuery struct {
	Kind     *resource.Kind
	Province string
	Filter   filter.Expr
	Dims     []Dim
	// Sums are integer fields summed per group.
	Sums []filter.Field
	// Currency, when set, is the currency field of the money amounts in
	// Sums: groups are split by it, and it is the last key.
	Currency *filter.Field
	// Now is the reference time of "age" buckets.
	Now time.Time
	// Distinct, when set, makes each row's Count the number of distinct
	// set values of this string or enum field among the group's records
	// (each element of a repeated field once; empty strings and enum 0
	// not counted) instead of the number of records. Sums and Currency
	// are then empty. It reads the matching records rather than a rollup,
	// so queries without it stay as fast as they were.
	Distinct *filter.Field
	// Unanswered, when set, keeps only the records that no live record of
	// Unanswered.Kind owned by Unanswered.Province names in its field
	// Unanswered.Field: what a workflow still awaits (an agreement without
	// the ministry's opinion), counted without reading the records. It
	// reads the table, with one seek in the answers' index per record the
	// filter matches.
	Unanswered *Answers
	// From and Through, when set, bound the groups to those whose keys
	// (one per Dim, the currency not among them) are at or after From and
	// at or before Through in the order rows come in, and Limit, when
	// above 0, keeps the first Limit rows: a page of groups reads its own
	// range, not every group (keyset paging, services/national).
	From, Through []any
	Limit         int
}

// Answers are the records of Kind owned by Province that answer another
// record by naming it in Field.
type Answers struct {
	Kind     *resource.Kind
	Field    filter.Field
	Province string
}

// SummaryRow is one group: its keys (one per Dim, then the currency), the
// number of records and the sums. Rows come ordered by their keys, as the
// database orders them; a text key is a string, a number an int64.
type SummaryRow struct {
	Keys  []any
	Count int64
	Sums  []int64
}

// SumOutOfRangeError is a Summarize whose group's sum of Field does not fit
// in int64 (Keys are the group's, as in SummaryRow). Sums never wrap: the
// caller says which group it was.
type SumOutOfRangeError struct {
	Kind  *resource.Kind
	Field filter.Field
	Keys  []any
}

func (e *SumOutOfRangeError) Error() string {
	return fmt.Sprintf("the sum of %s of %s in group %v does not fit in int64", e.Field.Path, e.Kind.Collection, e.Keys)
}

// Cursor is the keyset position after the last record of a page: the
// encoded values of its order_by fields, then its row, the position at which
// the record arrived in this node's store (the default order and the
// tie-breaker).
type Cursor struct {
	Values []any
	Row    int64
}

// Page is one page of a List.
type Page struct {
	Records []proto.Message
	// Next is nil on the last page.
	Next *Cursor
	// Full is set when the page ended because the answer had no room for
	// its next record; with no Records (Query.Used took the room), Next is
	// nil and the list goes on from Query.After.
	Full bool
	// Bytes is what the page's records add to the answer.
	Bytes int
}

// Stamp is what a write's commit gives it: the time of the change (the
// hybrid logical clock of its change-log entry) and its sequence number in
// the node's log. Services derive update_time and etag from it.
type Stamp struct {
	Time time.Time
	Seq  uint64
}

// Write is one read-modify-write of one record.
type Write struct {
	Kind *resource.Kind
	Name string
	// RequestID makes the write idempotent: when a write with the same id
	// was committed before, Write returns that record's current state and
	// Mutate is not called.
	RequestID string
	// Fingerprint identifies the request RequestID came with, and is
	// remembered beside it: a later write with the same RequestID and a
	// different Fingerprint is refused (INVALID_ARGUMENT on request_id), as
	// AIP-155 asks, instead of answering a request that was not made.
	Fingerprint []byte
	// Mutate receives the stored record (nil when there is none) and the
	// stamp of this write, and returns the new state. Returning an error
	// abandons this write alone. Returning ErrUnchanged leaves the record
	// as it is: nothing is written or logged, the stamp is unused, and
	// Write returns current (audited as a read of it, as Get would be). (A sentinel, not "return current": a Mutate
	// that edits current in place and returns it must still be written.)
	// It runs inside the write transaction, so
	// it must be quick and must not block. It may run more than once for
	// one write (a group commit whose batch runs again), so it must
	// depend on its arguments alone and change nothing else.
	Mutate func(current proto.Message, stamp Stamp) (proto.Message, error)
}

// ErrUnchanged, returned by Write.Mutate for an existing record, leaves it
// as it is.
var ErrUnchanged = errors.New("record unchanged")

// Actor is who makes a write or a read, for the audit trail: the caller's
// identity, the request id of the call and the call itself.
type Actor struct {
	Name      string
	RequestID string
	Action    string
	// Reads says which of the actor's reads (Get, List, Summarize) the
	// audit trail records.
	Reads ReadAudit
}

// ReadAudit is which reads the audit trail records.
type ReadAudit int8

const (
	// ReadsNotAudited: the node's own tools, tests and sync, which serve
	// nobody's eyes (sync sends stored entries, sealed when not public).
	ReadsNotAudited ReadAudit = iota
	// ReadsConfidential: calls that return national or restricted records,
	// naming those records, and every summary (its totals may include
	// them).
	ReadsConfidential
	// ReadsAll: every read, naming every record returned.
	ReadsAll
)

type actorKey struct{}

// WithActor returns ctx carrying the actor of the writes made with it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor ctx carries; writes without one (the node's
// own tools and tests) are by "local".
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	if a.Name == "" {
		a.Name = "local"
	}
	return a
}

// AuditLog reads the node's audit trail (package audit).
type AuditLog interface {
	// AuditRecords returns up to limit records after sequence number
	// after, oldest first, optionally only those of one actor or resource.
	AuditRecords(ctx context.Context, after int64, limit int, actor, resource string) ([]audit.Record, error)
	// VerifyAudit checks the whole trail and its cover of the change log.
	VerifyAudit(ctx context.Context) (count int64, head []byte, problems []string, err error)
}
