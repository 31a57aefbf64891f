-- The consent page's links of an application (`authd client add|update --client-uri
-- --policy-uri --tos-uri`), each optional; and the account's OIDC `profile` claims: the
-- `name` its owner sets on /account and when that profile last changed (`updated_at`, unix
-- seconds; null: never changed, the account's creation time stands in).
alter table client add column client_uri text;
alter table client add column policy_uri text;
alter table client add column tos_uri text;
alter table account add column name text;
alter table account add column profile_updated_at bigint;
