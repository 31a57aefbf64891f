create table client (
    id text primary key not null,
    secret_hash text,
    redirect_uris text not null,
    post_logout_redirect_uris text not null,
    scopes text not null,
    grants text not null,
    is_public boolean not null,
    is_first_party boolean not null,
    created_at bigint not null
);

create table signing_key (
    kid text primary key not null,
    alg text not null,
    private_key text not null,
    public_jwk text not null,
    created_at bigint not null,
    retire_after bigint
);

create table token_family (
    id text primary key not null,
    client_id text not null,
    user_id text not null,
    scope text not null,
    auth_time bigint not null,
    expires_at bigint not null,
    revoked_at bigint,
    created_at bigint not null
);

create table auth_code (
    code_hash text primary key not null,
    client_id text not null,
    user_id text not null,
    redirect_uri text not null,
    scope text not null,
    nonce text,
    code_challenge text,
    auth_time bigint not null,
    expires_at bigint not null,
    family_id text,
    used_at bigint,
    created_at bigint not null
);

create table refresh_token (
    token_hash text primary key not null,
    family_id text not null references token_family (id),
    expires_at bigint not null,
    used_at bigint,
    created_at bigint not null
);
create index refresh_token_family on refresh_token (family_id);

create table revoked_token (
    jti text primary key not null,
    expires_at bigint not null,
    created_at bigint not null
);

create table consent (
    user_id text not null,
    client_id text not null,
    scopes text not null,
    created_at bigint not null,
    primary key (user_id, client_id)
);
