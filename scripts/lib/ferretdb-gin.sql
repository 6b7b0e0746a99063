-- Installed by scripts/lib/services.sh into the PostgreSQL database behind a FerretDB it starts.
--
-- FerretDB 1.24 (PostgreSQL handler) pushes an equality filter down as `_jsonb->'f' @> '"v"'`,
-- which the btree indexes it creates for createIndex cannot serve (FerretDB issue #4646): every
-- find or update by _id scans its whole collection (measured here: ~150 lookups/s at 5,000
-- documents, falling as the collection grows). GIN expression indexes (jsonb_path_ops) serve `@>`,
-- so this event trigger gives every collection table FerretDB creates one for each field Herald
-- looks documents up by: _id, provider_message_id (status webhooks), phone (history, erasure) and
-- reference_id (history filter: without it that lookup read every document, 660 ms at 200,000).
-- Herald's own code stays plain MongoDB; on MongoDB proper none of this applies.
CREATE OR REPLACE FUNCTION herald_ferretdb_gin() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE
  obj record;
  tbl text;
  field text;
BEGIN
  FOR obj IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
    IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = obj.objid AND attname = '_jsonb' AND NOT attisdropped) THEN
      SELECT relname INTO tbl FROM pg_class WHERE oid = obj.objid;
      FOREACH field IN ARRAY ARRAY['_id', 'provider_message_id', 'phone', 'reference_id'] LOOP
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb -> %L) jsonb_path_ops)',
          left(tbl, 45) || '_gin_' || left(md5(field), 8), obj.objid::regclass, field);
      END LOOP;
    END IF;
  END LOOP;
END
$fn$;
DROP EVENT TRIGGER IF EXISTS herald_ferretdb_gin;
CREATE EVENT TRIGGER herald_ferretdb_gin ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
  EXECUTE FUNCTION herald_ferretdb_gin();
