-- provex schema, version 20: words waiting for the search index.
--
-- A record written on this node puts its row's id in its kind's
-- {table}_words_pending instead of each of its words in {table}_words: an
-- inverted index keyed (word, record) takes a new record's words on as many
-- leaf pages as it has distinct words, which made a single write's commit
-- about a third longer (11 to 14 of its 43 to 48 pages, for an agreement
-- with a title and a summary). The writer moves the words of the pending
-- rows into {table}_words, sorted, once enough of them wait (search.go,
-- mergePendingWords); a search reads the pending rows beside the words'
-- and checks them by their search_text, as it checks every row it finds.
-- PostgreSQL's GIN indexes keep a pending list for the same reason.
-- Every kind added later needs its pending table with its words table.
CREATE TABLE IF NOT EXISTS partnerships_words_pending (record INTEGER PRIMARY KEY) STRICT;
CREATE TABLE IF NOT EXISTS agreements_words_pending (record INTEGER PRIMARY KEY) STRICT;
CREATE TABLE IF NOT EXISTS delegations_words_pending (record INTEGER PRIMARY KEY) STRICT;
CREATE TABLE IF NOT EXISTS friendship_associations_words_pending (record INTEGER PRIMARY KEY) STRICT;
CREATE TABLE IF NOT EXISTS border_gates_words_pending (record INTEGER PRIMARY KEY) STRICT;
CREATE TABLE IF NOT EXISTS border_markers_words_pending (record INTEGER PRIMARY KEY) STRICT;
CREATE TABLE IF NOT EXISTS border_incidents_words_pending (record INTEGER PRIMARY KEY) STRICT;
CREATE TABLE IF NOT EXISTS trade_reports_words_pending (record INTEGER PRIMARY KEY) STRICT;
CREATE TABLE IF NOT EXISTS projects_words_pending (record INTEGER PRIMARY KEY) STRICT;
CREATE TABLE IF NOT EXISTS promotion_events_words_pending (record INTEGER PRIMARY KEY) STRICT;
CREATE TABLE IF NOT EXISTS investor_leads_words_pending (record INTEGER PRIMARY KEY) STRICT;
CREATE TABLE IF NOT EXISTS incident_acknowledgements_words_pending (record INTEGER PRIMARY KEY) STRICT;
CREATE TABLE IF NOT EXISTS information_requests_words_pending (record INTEGER PRIMARY KEY) STRICT;
CREATE TABLE IF NOT EXISTS information_responses_words_pending (record INTEGER PRIMARY KEY) STRICT;
CREATE TABLE IF NOT EXISTS agreement_opinions_words_pending (record INTEGER PRIMARY KEY) STRICT;
CREATE TABLE IF NOT EXISTS organizations_words_pending (record INTEGER PRIMARY KEY) STRICT;
