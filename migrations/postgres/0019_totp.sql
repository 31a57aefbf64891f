-- Second factors (docs/mfa.md): an account's authenticator app (RFC 6238) — its secret sealed
-- with the master key, unconfirmed until a first code is typed, and the last time step
-- accepted (a code works once) — and its recovery codes, each stored as a SHA-256 only.
create table mfa_totp (
    user_id text primary key not null,
    secret_sealed text not null,
    confirmed_at bigint,
    last_step bigint not null default 0,
    created_at bigint not null
);
create table mfa_recovery_code (
    user_id text not null,
    digest text not null,
    used_at bigint,
    created_at bigint not null,
    primary key (user_id, digest)
);
