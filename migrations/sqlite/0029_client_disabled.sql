-- Disabled clients (admin console, admin API, `authd client disable|enable`): when the operator
-- disabled the client (unix seconds); null = enabled. A disabled client is refused at /token
-- (invalid_client) and /authorize; its grants are revoked and its unused codes spent when it is
-- disabled, so re-enabling it revives none of them.
alter table client add column disabled_at integer;
-- Access tokens of this client issued at or before this time (unix seconds) are refused: set
-- when the client is disabled and kept when it is enabled again, so a token from before the
-- disable never works again (client-credentials tokens belong to no grant to revoke).
alter table client add column tokens_revoked_at integer;
