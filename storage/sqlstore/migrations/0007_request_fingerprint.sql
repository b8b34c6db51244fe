-- provex schema, version 7: what a request id was used for.
--
-- A Create's request id is remembered with a fingerprint of the request it
-- came with (a hash the service computes), so a retry of that request gets
-- the first answer while the same id on a different request is refused
-- (AIP-155). Ids remembered before this have no fingerprint (NULL) and are
-- honoured for any request, as they were.
ALTER TABLE request_ids ADD COLUMN fingerprint BLOB;
