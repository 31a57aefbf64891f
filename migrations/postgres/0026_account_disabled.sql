-- Disabled accounts (`authd user disable`): when the operator disabled the account (unix
-- seconds); null = enabled. A disabled account cannot sign in by any path (docs/architecture.md,
-- "Accounts"); `authd user enable` sets it back to null.
alter table account add column disabled_at bigint;
