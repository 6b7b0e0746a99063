-- Installed by scripts/lib/services.sh into the PostgreSQL database behind a FerretDB it starts;
-- safe to run again (every start does), and a run on an older database upgrades it.
--
-- FerretDB 1.24 (PostgreSQL handler) pushes an equality filter down as `_jsonb->'f' @> '"v"'`,
-- which the btree indexes it creates for createIndex cannot serve (FerretDB issue #4646): every
-- find or update by _id scans its whole collection (measured here: ~150 lookups/s at 5,000
-- documents, falling as the collection grows). GIN expression indexes (jsonb_path_ops) serve `@>`,
-- so this event trigger gives every collection table FerretDB creates one for each field Herald
-- looks documents up by with an equality filter: _id, provider_message_id (status webhooks),
-- phone (history, erasure) and reference_id (history filter: without it that lookup read every
-- document, 660 ms at 200,000).
--
-- fastupdate = off: with PostgreSQL's default (on) new GIN entries go to a pending list that every
-- lookup reads in full until a vacuum merges it (or it outgrows gin_pending_list_limit, 4 MB), and
-- nothing vacuums FerretDB's tables but its `compact` command where autovacuum is off (as on the
-- development machine). Measured with 16 clients at 100,000 messages, everything else as the
-- scripts set it (docs/ferretdb-tuning.md): find by _id 319 -> 1,353/s, updateOne 275 -> 861/s,
-- findOneAndUpdate 267 -> 756/s; an insert costs up to 10 % more CPU (0.32 -> 0.35 ms a message).
--
-- Measured and left out: tenant (a small tenant's history page 2.0 -> 8.3/s at 100,000 messages,
-- but every write maintains one more index, from no difference to +50 % CPU per write across two
-- runs, and a large tenant's page gains nothing: FerretDB still reads all of its messages); type
-- (template versions by type: no gain at 33 or 550 versions). Not indexed either: day (no
-- equality lookup uses it; the statistics read day ranges, which FerretDB 1.24 does not push down).
--
-- Herald's own code stays plain MongoDB; on MongoDB proper none of this applies.
CREATE OR REPLACE FUNCTION herald_ferretdb_gin_fields() RETURNS text[] LANGUAGE sql IMMUTABLE AS
$$ SELECT ARRAY['_id', 'provider_message_id', 'phone', 'reference_id'] $$;

-- The GIN indexes one FerretDB collection table should have (existing ones are left alone).
CREATE OR REPLACE FUNCTION herald_ferretdb_gin_table(tbl regclass) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  field text;
BEGIN
  FOREACH field IN ARRAY herald_ferretdb_gin_fields() LOOP
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb -> %L) jsonb_path_ops) WITH (fastupdate = off)',
      left((SELECT relname FROM pg_class WHERE oid = tbl), 45) || '_gin_' || left(md5(field), 8), tbl, field);
  END LOOP;
END
$fn$;

-- A FerretDB collection table: one `_jsonb` column, outside PostgreSQL's own schemas, and not
-- FerretDB's per-database metadata table.
CREATE OR REPLACE FUNCTION herald_ferretdb_is_collection(tbl regclass) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = tbl AND c.relkind = 'r' AND c.relname NOT LIKE '\_ferretdb\_%'
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
      AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tbl AND attname = '_jsonb' AND NOT attisdropped))
$$;

CREATE OR REPLACE FUNCTION herald_ferretdb_gin() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE
  obj record;
BEGIN
  FOR obj IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
    IF herald_ferretdb_is_collection(obj.objid::regclass) THEN
      PERFORM herald_ferretdb_gin_table(obj.objid::regclass);
    END IF;
  END LOOP;
END
$fn$;
DROP EVENT TRIGGER IF EXISTS herald_ferretdb_gin;
CREATE EVENT TRIGGER herald_ferretdb_gin ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
  EXECUTE FUNCTION herald_ferretdb_gin();

-- Upgrade what an earlier version of this file (or FerretDB before it) left: collection tables
-- without these GIN indexes get them, and GIN indexes still on fastupdate are switched off and
-- their pending list merged now (switching alone does not empty it).
DO $upgrade$
DECLARE
  tbl regclass;
  idx regclass;
BEGIN
  FOR tbl IN SELECT c.oid::regclass FROM pg_class c WHERE c.relkind = 'r' AND herald_ferretdb_is_collection(c.oid::regclass) LOOP
    PERFORM herald_ferretdb_gin_table(tbl);
  END LOOP;
  FOR idx IN
    SELECT i.indexrelid::regclass FROM pg_index i
      JOIN pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_am am ON am.oid = ic.relam
    WHERE am.amname = 'gin' AND ic.relname LIKE '%\_gin\_%'
      AND herald_ferretdb_is_collection(i.indrelid::regclass)
      AND NOT EXISTS (SELECT 1 FROM unnest(ic.reloptions) o WHERE o ~* '^fastupdate=(off|false|no|0)$')
  LOOP
    EXECUTE format('ALTER INDEX %s SET (fastupdate = off)', idx);
    PERFORM gin_clean_pending_list(idx);
  END LOOP;
END
$upgrade$;
