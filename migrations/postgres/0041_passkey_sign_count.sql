-- The authenticator's signature counter as last accepted, beside the sealed credential that
-- also holds it, so that a use is recorded only if it moved the counter on (compare-and-set):
-- two uses with one count (a cloned key used at the same moment, or a clone answering a
-- step-up started before the real key's last use) cannot both pass. 0 for keys that keep no
-- counter (most synced passkeys), and for existing keys until their next use.
alter table passkey add column sign_count bigint not null default 0;
