package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/textfold"
	"github.com/provex/provex/resource"
)

// Text search (storage.Query.Text). A row's search_text is its kind's
// SearchPaths folded by textfold, each field's words between single spaces,
// the fields apart, and a space at both ends: " cua khau ta lung | shuikou ".
// A search for "Tà Lùng" keeps the rows whose search_text is LIKE
// "% ta lung%": the words in that order within one field, each whole but
// the last, which may be the start of a word ("ta lu" finds it too).
//
// The LIKE alone would read every row. {table}_words holds each distinct
// word of each row, keyed (word, record), so the rows holding one word, or
// a word starting with the last one, come from an index range; a search
// reads those of its rarest word, and the rows whose words are pending
// (below), and checks them with the LIKE. When every
// word is held by searchDense rows or more, it reads the table in order
// instead: so many rows holding each word make matches likely dense enough
// to fill a page soon, while sorting that many rows' ids would cost more.
// Below that, the rarest word's rows are read even when they are many: a
// phrase of two common syllables ("ta lung": about 2% of the rows hold
// each) matches few rows, and reading the table for them read a third of
// it (100 ms at 1,000,000 rows with searchDense 5,000; BENCHMARKS.md).

// searchFieldSep keeps a phrase from running from one field into the next.
// Folded words never hold it (textfold makes punctuation a space).
const searchFieldSep = " | "

// searchDense is the count of rows holding a word above which a search
// reads the table in order instead of the word's rows (see above). A
// variable so that tests can make every word dense.
var searchDense = 50000

// searchText is what a row of kind k keeps in search_text for record m.
func searchText(k *resource.Kind, m proto.Message) string {
	var fields []string
	for _, v := range k.SearchText(m) {
		if f := textfold.Fold(v); f != "" {
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return ""
	}
	return " " + strings.Join(fields, searchFieldSep) + " "
}

// SearchIndex is what the store keeps to find record m of kind k: the text
// of its row's search_text and the words its words table holds. For
// baselines that insert a node's rows without the node (bench).
func SearchIndex(k *resource.Kind, m proto.Message) (text string, words []string) {
	text = searchText(k, m)
	return text, searchWords(text)
}

// searchWords are the distinct words of a search_text as the kind's words
// table holds them for its row (indexedWord).
func searchWords(text string) []string {
	seen := map[string]bool{searchFieldSep[1:2]: true}
	var out []string
	for _, w := range strings.Fields(text) {
		if w = indexedWord(w); !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// indexedWord is what the words table holds of folded word w: w, or, when
// it is longer than maxIndexedText (PostgreSQL could not index it), its
// longest start within that many bytes, which a search for the word, or
// for its start, finds, the LIKE keeping the rows that hold it whole.
// Such words were left out, and a title of 139 "㌖" (each folded to the 18
// bytes of キロメートル) was found by no search for it (an outside review).
func indexedWord(w string) string {
	if len(w) <= maxIndexedText {
		return w
	}
	cut := maxIndexedText
	for cut > 0 && !utf8.RuneStart(w[cut]) {
		cut--
	}
	return w[:cut]
}

// putWords indexes a row's words (a recordRow's, made with its search
// text) and takeWords unindexes those of the search text it had; only the
// writer calls them, inside its transaction. The words go
// as one JSON array to one statement: a statement per word made a write
// of 64 concurrent writers cost about a fifth more.
func (db *DB) putWords(tx *writeTx, st *kindStmts, id int64, words []string) error {
	return db.execWords(tx, st.insertWords, id, words)
}

// Words pending (migration 20). A record written on this node, one at a
// time, does not put its words in {table}_words but its row's id in
// {table}_words_pending (pendWords): each distinct word of a new row lands
// on a leaf page of its own in an index keyed (word, record), and those
// pages were a quarter of what a single write's commit wrote. The writer
// moves the pending rows' words into {table}_words, sorted, once
// pendingWordsMerge rows of a kind wait (mergeDueWords, at the end of a
// group commit): a few hundred rows' words share their pages. A search
// reads the pending rows beside the rows its word finds, and keeps those
// its LIKE matches (searchWhere). A pull's runs index their words at once,
// many rows a statement (indexBatch), and do not pend.
//
// Until it is merged, a pending row's words may be partly in the words
// table (a restore wrote its row from a run, or a migration reindexed it):
// the merge adds what is missing, and CheckRecords checks the words of
// the rows not pending.

// pendingWordsMerge is how many rows of a kind wait before their words are
// merged: a search reads up to that many (and a group commit's) more rows,
// 0.1 ms more in BenchmarkSearchWithPendingRows.
var pendingWordsMerge = 256

// pendWords marks row id of kind k as holding words not yet indexed.
func (db *DB) pendWords(tx *writeTx, k *resource.Kind, st *kindStmts, id int64, words []string) error {
	if len(words) == 0 {
		return nil
	}
	if _, err := tx.Exec(st.pendWords, id); err != nil {
		return fmt.Errorf("words of row %d: %w", id, err)
	}
	db.pended[k] = true
	return nil
}

// mergeDueWords merges the pending words of each kind written in the
// transaction that has pendingWordsMerge rows or more waiting. It runs in
// every commit that pended words.
func (db *DB) mergeDueWords(tx *writeTx) error {
	defer clear(db.pended)
	for k := range db.pended {
		st, err := db.kindStmts(k)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(st.countPending).Scan(&n); err != nil {
			return fmt.Errorf("count the pending words of %s: %w", k.Collection, err)
		}
		if n >= pendingWordsMerge {
			if err := mergePendingWords(tx, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergeAllPendingWords merges every kind's pending words in a transaction
// of its own, once the writer goroutine has stopped (Close).
func (db *DB) mergeAllPendingWords() error {
	tx, err := db.beginWrite()
	if err != nil {
		return err
	}
	defer db.endWrite()
	for _, k := range resource.Kinds() {
		if err := mergePendingWords(tx, k); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// mergePendingWords indexes the words of kind k's pending rows, in word
// order so that each page of the index is written once, and empties the
// pending table. A pending id whose row is gone is dropped.
func mergePendingWords(tx *writeTx, k *resource.Kind) error {
	t := k.Table()
	rows, err := tx.Query("SELECT r.id, r.search_text FROM " + t + "_words_pending p JOIN " + t + " r ON r.id = p.record")
	if err != nil {
		return fmt.Errorf("read the pending words of %s: %w", k.Collection, err)
	}
	type posting struct {
		word   string
		record int64
	}
	var postings []posting
	for rows.Next() {
		var (
			id   int64
			text string
		)
		if err := rows.Scan(&id, &text); err != nil {
			rows.Close()
			return err
		}
		for _, w := range searchWords(text) {
			postings = append(postings, posting{w, id})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	slices.SortFunc(postings, func(a, b posting) int {
		return cmp.Or(strings.Compare(a.word, b.word), cmp.Compare(a.record, b.record))
	})
	args := make([]any, 0, 2*len(postings))
	for _, p := range postings {
		args = append(args, p.record, p.word)
	}
	if err := insertRows(tx, t+"_words (record, word)", 2, args, " ON CONFLICT DO NOTHING", nil); err != nil {
		return fmt.Errorf("index the pending words of %s: %w", k.Collection, err)
	}
	if _, err := tx.Exec("DELETE FROM " + t + "_words_pending"); err != nil {
		return fmt.Errorf("empty the pending words of %s: %w", k.Collection, err)
	}
	return nil
}

func (db *DB) takeWords(tx *writeTx, st *kindStmts, id int64, text string) error {
	return db.execWords(tx, st.deleteWords, id, searchWords(text))
}

func (db *DB) execWords(tx *writeTx, stmt string, id int64, words []string) error {
	if len(words) == 0 {
		return nil
	}
	list, err := json.Marshal(words)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(stmt, id, string(list)); err != nil {
		return fmt.Errorf("words of row %d: %w", id, err)
	}
	return nil
}

// The statements of execWords, on a kind's table t. (WHERE true: SQLite
// would read the ON of an upsert after a bare FROM as a join's.)
func insertWordsSQL(d dialect, t string) string {
	return "INSERT INTO " + t + "_words (record, word) SELECT CAST(?1 AS BIGINT), value FROM " + d.jsonStrings("?2") + " WHERE true ON CONFLICT DO NOTHING"
}

func deleteWordsSQL(d dialect, t string) string {
	return "DELETE FROM " + t + "_words WHERE record = ?1 AND word IN (SELECT value FROM " + d.jsonStrings("?2") + ")"
}

// takeAllWords unindexes the words of every row of kind k of province: by
// their keys, read from the rows, since the words table has no index by
// record.
func (db *DB) takeAllWords(tx *writeTx, k *resource.Kind, province string) error {
	st, err := db.kindStmts(k)
	if err != nil {
		return err
	}
	rows, err := tx.Query("SELECT id, search_text FROM "+k.Table()+" WHERE province = ? AND search_text != ''", province)
	if err != nil {
		return err
	}
	type row struct {
		id   int64
		text string
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.text); err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range all {
		if err := db.takeWords(tx, st, r.id, r.text); err != nil {
			return err
		}
	}
	return nil
}

// searchWhere is the condition of a search for text in k's rows, and its
// arguments. It counts (up to searchDense) the rows of each word of text
// to pick the one whose rows to read.
func (db *DB) searchWhere(ctx context.Context, k *resource.Kind, text string) (string, []any, error) {
	if len(k.SearchPaths()) == 0 {
		return "", nil, apperr.Invalid("text", "%s have no title to search", k.Collection)
	}
	words := textfold.Words(text)
	if len(words) == 0 {
		return "", nil, apperr.Invalid("text", "has no letter or digit to search for")
	}
	table := k.Table() + "_words"
	like := "search_text LIKE ? ESCAPE '\\'"
	args := []any{"% " + likeEscaper.Replace(strings.Join(words, " ")) + "%"}
	var (
		best     = searchDense
		bestCond string
		bestArgs []any
	)
	for i, w := range words {
		w = indexedWord(w)
		cond, wargs := "word = ?", []any{w}
		if i == len(words)-1 {
			// Any word starting with w: byte order puts them from w up to w
			// followed by U+10FFFF, the last code point (F4 8F BF BF), which
			// folded words never hold (a bound of 0xFF, not UTF-8, is
			// refused by PostgreSQL's text).
			cond, wargs = "word >= ? AND word < ?", []any{w, w + "\U0010FFFF"}
		}
		var n int
		err := db.queries.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM "+table+" WHERE "+cond+" LIMIT ?) AS found", append(wargs, searchDense)...).Scan(&n)
		if err != nil {
			return "", nil, fmt.Errorf("search %s: %w", k.Collection, err)
		}
		if n < best {
			best, bestCond, bestArgs = n, cond, wargs
		}
	}
	if bestCond == "" {
		return like, args, nil
	}
	return "id IN (SELECT record FROM " + table + " WHERE " + bestCond + " UNION ALL SELECT record FROM " + table + "_pending) AND " + like, append(bestArgs, args...), nil
}
