-- 020: the read roles never read login sessions or login locks.
--
-- 018 counted on "nobody else needs them", but on a database where it ran before 017 (017 removed 008's
-- default SELECT for the read roles on every new table), akig_read_all and akig_read_owner could read
-- every user's session nonces, addresses and lockouts. Only akig_app uses these tables (018's grant).
REVOKE ALL ON login_sessions, login_locks FROM akig_read_all, akig_read_owner, akig_write;
