-- Passkeys (WebAuthn credentials). `credential` is webauthn-rs's credential (public key, sign
-- count, backup flags) as JSON, sealed with the master key under `passkey:<id>`: public-key
-- material is not secret, but sealing keeps it integral (a database writer cannot swap in a key
-- of their own). `credential_id` (base64url) is unique across accounts: one authenticator
-- credential belongs to one account.
create table passkey (
    id text primary key not null,
    account_id text not null references account (id) on delete cascade,
    credential_id text not null,
    name text not null,
    credential text not null,
    created_at integer not null,
    last_used_at integer,
    constraint passkey_credential_key unique (credential_id)
);
create index passkey_account on passkey (account_id);
