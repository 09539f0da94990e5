-- The extension installs into its own schema and owns every object it creates.
CREATE EXTENSION alert_grouping;
SELECT extname, extversion, extrelocatable, n.nspname
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'alert_grouping';
SELECT c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'alert_grouping' AND c.relkind = 'r'
 ORDER BY 1;
-- Error reporting helper used by the other tests: SQLSTATE and message of a statement.
CREATE FUNCTION public.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    -- Random (version 4) uuids would make the expected output unstable.
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM,
        '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}', '<random uuid>', 'g');
END
$$;
