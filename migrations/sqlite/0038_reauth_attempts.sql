-- Password checks a browser session made on the account security page (re-authentication, a
-- change's current password) since its last right password: counted in one statement before
-- each check, so guesses sent at once are each counted; past five the session ends.
alter table user_session add column reauth_attempts integer not null default 0;
