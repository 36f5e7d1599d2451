-- What proves a platform account is still the one a link names (the mapping's `identity`
-- expression, as JSON text): a platform that reuses a deleted account's key, or an account
-- replaced out of band, no longer answers to the old link. NULL: not known yet.
ALTER TABLE identities ADD COLUMN proof TEXT;
