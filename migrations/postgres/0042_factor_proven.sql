-- Whether a second factor was set up by a session whose sign-in had passed a factor: one set
-- up with the password alone (the account's first factor, on a sign-in that needed none) could
-- be a stolen-password holder's, so the owner's password reset, which proves the mailbox,
-- removes it (`domain/accounts/reset.rs`). Factors set up before this column count as proved,
-- as the reset treated them before.
alter table passkey add column proven boolean not null default true;
alter table mfa_totp add column proven boolean not null default true;
