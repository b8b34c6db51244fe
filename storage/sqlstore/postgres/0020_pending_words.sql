-- The PostgreSQL counterpart of migrations/0020_pending_words.sql.
CREATE TABLE IF NOT EXISTS partnerships_words_pending (record BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS agreements_words_pending (record BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS delegations_words_pending (record BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS friendship_associations_words_pending (record BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS border_gates_words_pending (record BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS border_markers_words_pending (record BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS border_incidents_words_pending (record BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS trade_reports_words_pending (record BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS projects_words_pending (record BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS promotion_events_words_pending (record BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS investor_leads_words_pending (record BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS incident_acknowledgements_words_pending (record BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS information_requests_words_pending (record BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS information_responses_words_pending (record BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS agreement_opinions_words_pending (record BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS organizations_words_pending (record BIGINT PRIMARY KEY);
