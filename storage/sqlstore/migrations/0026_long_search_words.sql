-- A search word whose folded form is longer than 2,500 bytes (the words
-- table's bound, maxIndexedText) is indexed by its start; before, it was
-- left out, and no search found its row. Only a row whose search_text is
-- longer than that can hold one: the kinds holding such a row are indexed
-- again at the next start (reindex).
INSERT OR IGNORE INTO reindex (kind) SELECT 'partnerships' WHERE EXISTS (SELECT 1 FROM partnerships WHERE length(CAST(search_text AS BLOB)) > 2500);
INSERT OR IGNORE INTO reindex (kind) SELECT 'agreements' WHERE EXISTS (SELECT 1 FROM agreements WHERE length(CAST(search_text AS BLOB)) > 2500);
INSERT OR IGNORE INTO reindex (kind) SELECT 'delegations' WHERE EXISTS (SELECT 1 FROM delegations WHERE length(CAST(search_text AS BLOB)) > 2500);
INSERT OR IGNORE INTO reindex (kind) SELECT 'friendship-associations' WHERE EXISTS (SELECT 1 FROM friendship_associations WHERE length(CAST(search_text AS BLOB)) > 2500);
INSERT OR IGNORE INTO reindex (kind) SELECT 'border-gates' WHERE EXISTS (SELECT 1 FROM border_gates WHERE length(CAST(search_text AS BLOB)) > 2500);
INSERT OR IGNORE INTO reindex (kind) SELECT 'border-markers' WHERE EXISTS (SELECT 1 FROM border_markers WHERE length(CAST(search_text AS BLOB)) > 2500);
INSERT OR IGNORE INTO reindex (kind) SELECT 'border-incidents' WHERE EXISTS (SELECT 1 FROM border_incidents WHERE length(CAST(search_text AS BLOB)) > 2500);
INSERT OR IGNORE INTO reindex (kind) SELECT 'trade-reports' WHERE EXISTS (SELECT 1 FROM trade_reports WHERE length(CAST(search_text AS BLOB)) > 2500);
INSERT OR IGNORE INTO reindex (kind) SELECT 'projects' WHERE EXISTS (SELECT 1 FROM projects WHERE length(CAST(search_text AS BLOB)) > 2500);
INSERT OR IGNORE INTO reindex (kind) SELECT 'promotion-events' WHERE EXISTS (SELECT 1 FROM promotion_events WHERE length(CAST(search_text AS BLOB)) > 2500);
INSERT OR IGNORE INTO reindex (kind) SELECT 'investor-leads' WHERE EXISTS (SELECT 1 FROM investor_leads WHERE length(CAST(search_text AS BLOB)) > 2500);
INSERT OR IGNORE INTO reindex (kind) SELECT 'organizations' WHERE EXISTS (SELECT 1 FROM organizations WHERE length(CAST(search_text AS BLOB)) > 2500);
INSERT OR IGNORE INTO reindex (kind) SELECT 'information-requests' WHERE EXISTS (SELECT 1 FROM information_requests WHERE length(CAST(search_text AS BLOB)) > 2500);
