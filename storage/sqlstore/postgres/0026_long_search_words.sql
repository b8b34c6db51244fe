-- The PostgreSQL counterpart of migrations/0026_long_search_words.sql.
-- A search word whose folded form is longer than 2,500 bytes (the words
-- table's bound, maxIndexedText) is indexed by its start; before, it was
-- left out, and no search found its row. Only a row whose search_text is
-- longer than that can hold one: the kinds holding such a row are indexed
-- again at the next start (reindex).
INSERT INTO reindex (kind) SELECT 'partnerships' WHERE EXISTS (SELECT 1 FROM partnerships WHERE octet_length(search_text) > 2500) ON CONFLICT DO NOTHING;
INSERT INTO reindex (kind) SELECT 'agreements' WHERE EXISTS (SELECT 1 FROM agreements WHERE octet_length(search_text) > 2500) ON CONFLICT DO NOTHING;
INSERT INTO reindex (kind) SELECT 'delegations' WHERE EXISTS (SELECT 1 FROM delegations WHERE octet_length(search_text) > 2500) ON CONFLICT DO NOTHING;
INSERT INTO reindex (kind) SELECT 'friendship-associations' WHERE EXISTS (SELECT 1 FROM friendship_associations WHERE octet_length(search_text) > 2500) ON CONFLICT DO NOTHING;
INSERT INTO reindex (kind) SELECT 'border-gates' WHERE EXISTS (SELECT 1 FROM border_gates WHERE octet_length(search_text) > 2500) ON CONFLICT DO NOTHING;
INSERT INTO reindex (kind) SELECT 'border-markers' WHERE EXISTS (SELECT 1 FROM border_markers WHERE octet_length(search_text) > 2500) ON CONFLICT DO NOTHING;
INSERT INTO reindex (kind) SELECT 'border-incidents' WHERE EXISTS (SELECT 1 FROM border_incidents WHERE octet_length(search_text) > 2500) ON CONFLICT DO NOTHING;
INSERT INTO reindex (kind) SELECT 'trade-reports' WHERE EXISTS (SELECT 1 FROM trade_reports WHERE octet_length(search_text) > 2500) ON CONFLICT DO NOTHING;
INSERT INTO reindex (kind) SELECT 'projects' WHERE EXISTS (SELECT 1 FROM projects WHERE octet_length(search_text) > 2500) ON CONFLICT DO NOTHING;
INSERT INTO reindex (kind) SELECT 'promotion-events' WHERE EXISTS (SELECT 1 FROM promotion_events WHERE octet_length(search_text) > 2500) ON CONFLICT DO NOTHING;
INSERT INTO reindex (kind) SELECT 'investor-leads' WHERE EXISTS (SELECT 1 FROM investor_leads WHERE octet_length(search_text) > 2500) ON CONFLICT DO NOTHING;
INSERT INTO reindex (kind) SELECT 'organizations' WHERE EXISTS (SELECT 1 FROM organizations WHERE octet_length(search_text) > 2500) ON CONFLICT DO NOTHING;
INSERT INTO reindex (kind) SELECT 'information-requests' WHERE EXISTS (SELECT 1 FROM information_requests WHERE octet_length(search_text) > 2500) ON CONFLICT DO NOTHING;
