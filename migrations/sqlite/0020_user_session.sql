-- The index of signed-in browser sessions (docs/mfa.md, "Account security page"): one row per
-- tower-sessions session, so the owner can list and end them. `id` is the row's own random id
-- (the page shows it); the tower-sessions id is kept only sealed (`session_sealed`, associated
-- data `user_session:<id>`), to delete that session's row. `epoch` is the account's session
-- epoch at sign-in: a row from an older epoch is a dead session.
create table user_session (
    id text primary key not null,
    user_id text not null,
    session_sealed text not null,
    epoch integer not null,
    network text not null,
    country text,
    device text not null,
    sign_in_event text,
    risk_reasons text,
    last_seen_at integer not null,
    created_at integer not null
);
create index user_session_user on user_session (user_id, last_seen_at);
