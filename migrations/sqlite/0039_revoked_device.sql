-- The device id of the cookie a browser session signed in with (the one it held, or the one
-- issued with the sign-in), so that "this wasn't me" on the security page can end that
-- browser's standing as a known device of the account, not only its session.
alter table user_session add column device_id text;
-- Browsers the owner reported: a device cookie naming one is not a known device of the
-- account (no own counter row, no way past the account-wide lock, no known-device step-up
-- exemption) while the account is still at the session epoch it was reported at. `source` is
-- the counter source key, `device:<id>`, which the sign-in lookup compares.
create table revoked_device (
    source text primary key,
    user_id text not null,
    epoch bigint not null,
    revoked_at bigint not null
);
