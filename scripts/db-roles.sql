-- Pantheon's two database roles, for the database this runs in (run by a superuser; idempotent, safe to run at once
-- from several processes). scripts/prereqs.sh runs it for ./run.sh and ./test.sh, the integration tests for their own
-- databases, and a deployment once before `resources setup`.
--   pantheon_owner  owns the schema and applies schema changes (`resources setup`); never used by the running backend.
--   pantheon_app    what the backend runs as: data rights only (granted by `resources setup`), no DDL, no BYPASSRLS.
--   pantheon_tools  what the tools API runs as: reads projects, appends tool events (granted by `resources setup`).
-- The passwords are the development defaults; a deployment sets its own (ALTER ROLE ... PASSWORD).
DO $$
BEGIN
    CREATE ROLE pantheon_owner LOGIN PASSWORD 'pantheon_owner' NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN
    CREATE ROLE pantheon_app LOGIN PASSWORD 'pantheon_app' NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN
    CREATE ROLE pantheon_tools LOGIN PASSWORD 'pantheon_tools' NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
-- Roles made by an older run keep what they were made with: hold them to what this file says.
ALTER ROLE pantheon_app NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
ALTER ROLE pantheon_owner NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
ALTER ROLE pantheon_tools NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;

DO $$
DECLARE
    r record;
BEGIN
    EXECUTE format('GRANT CONNECT, CREATE ON DATABASE %I TO pantheon_owner', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO pantheon_app', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO pantheon_tools', current_database());
    -- The application role creates nothing, anywhere: not in public either.
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    CREATE SCHEMA IF NOT EXISTS pantheon AUTHORIZATION pantheon_owner;
    ALTER SCHEMA pantheon OWNER TO pantheon_owner;
    -- A schema made before these roles existed (by the superuser) passes to the owner role, object by object.
    FOR r IN SELECT c.oid::regclass AS name, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'pantheon' AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relowner <> 'pantheon_owner'::regrole
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO pantheon_owner',
            CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, r.name);
    END LOOP;
    FOR r IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'pantheon' AND c.relkind = 'S' AND c.relowner <> 'pantheon_owner'::regrole
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
    LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNER TO pantheon_owner', r.name);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'pantheon' AND p.proowner <> 'pantheon_owner'::regrole
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO pantheon_owner', r.name);
    END LOOP;
    FOR r IN SELECT t.oid::regtype AS name FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname = 'pantheon' AND t.typtype IN ('c', 'e', 'd') AND t.typowner <> 'pantheon_owner'::regrole
               AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid AND c.relkind <> 'c')
    LOOP
        EXECUTE format('ALTER TYPE %s OWNER TO pantheon_owner', r.name);
    END LOOP;
END $$;
