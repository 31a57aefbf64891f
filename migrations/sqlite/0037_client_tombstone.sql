-- The ids of deleted clients and when each was deleted (unix seconds). A client added again
-- under such an id starts with `tokens_revoked_at` at that time, so the access tokens issued to
-- the one deleted (JWTs, not stored: only this cut-off can refuse them) do not come back to life.
create table client_tombstone (
    id text primary key,
    deleted_at integer not null
);
