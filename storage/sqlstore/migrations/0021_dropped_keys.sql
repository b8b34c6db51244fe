-- provex schema, version 21: signing keys the manifest dropped.
--
-- A member that rotated its key keeps the old one among its
-- previous_public_keys until its new key's checkpoint has reached every
-- copy of its log; the manifest then drops it. The old key's checkpoints
-- still stored verify with no key the manifest lists, so every check took
-- them for forged (an error in the log, a PROBLEM in provex verify) until
-- it had dropped them. A node now keeps every signing key a manifest it
-- took no longer lists (SaveManifest), and its checks take a checkpoint of
-- such a key, of an entry a later checkpoint of a listed key proves, as
-- superseded, not bad (changelog.Checker.DroppedKeys).
CREATE TABLE IF NOT EXISTS dropped_keys (
  member TEXT NOT NULL,
  public_key BLOB NOT NULL,
  PRIMARY KEY (member, public_key)
) STRICT, WITHOUT ROWID;
