-- What the sign-in and consent pages show of an application: its name and logo
-- (`authd client add --name --logo-uri`). Both optional; a client without a name is shown by id.
alter table client add column name text;
alter table client add column logo_uri text;
