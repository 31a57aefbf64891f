-- PKCE is required of every client by default (RFC 9700 §2.1.1); a confidential client
-- registered with `authd client add --no-pkce` may leave it out. Clients registered before
-- this migration get the default: PKCE required.
alter table client add column pkce_optional integer not null default 0;
