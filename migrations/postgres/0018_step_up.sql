-- Step-up (docs/mfa.md): whether the account's address is verified (unix seconds of the
-- verification; null = not verified) and the owner's "ask for my second factor at every
-- sign-in" setting. Accounts from before this migration are unverified. Authorization codes
-- and grants keep how the user authenticated (RFC 8176 `amr`, a JSON list; null = `["pwd"]`)
-- for the ID tokens' `acr` and `amr`.
alter table account add column email_verified_at bigint;
alter table account add column require_mfa boolean not null default false;
alter table auth_code add column amr text;
alter table token_family add column amr text;
