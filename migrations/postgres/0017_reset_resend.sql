-- A password-reset request while a link is still valid mails that same link again instead of
-- minting another, so the raw token is kept, sealed with the master key (AES-256-GCM), next to
-- its SHA-256 until the link is spent; spending any link of the account clears them all.
alter table password_reset add column sealed_token text;
