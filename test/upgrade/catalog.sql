-- A listing of everything the extension alert_grouping defines, one line per fact, with no
-- OIDs and no data: identical listings mean identical installations. Used by test/upgrade/run
-- on a fresh install, an updated install and a dump/restore copy.
\set QUIET on
SET search_path = pg_catalog;  -- every name below the catalog prints schema-qualified
\pset tuples_only on
\pset format unaligned

-- Helper values: the extension and its schema.
\set QUIET on
\o /dev/null
CREATE TEMP TABLE ag_ext AS
SELECT e.oid AS ext, e.extnamespace AS nsp FROM pg_extension e WHERE e.extname = 'alert_grouping';
\o

WITH members AS (
    SELECT d.classid, d.objid, d.objsubid FROM pg_depend d, pg_temp.ag_ext x
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = x.ext AND d.deptype = 'e'),
rels AS (
    SELECT c.* FROM pg_class c, pg_temp.ag_ext x WHERE c.relnamespace = x.nsp),
rolename(oid, name) AS (
    SELECT 0::oid, 'public'::text UNION ALL SELECT r.oid, r.rolname::text FROM pg_roles r),
lines(section, line) AS (
    -- the extension itself
    SELECT 'extension', pg_catalog.format('%s version=%s relocatable=%s schema=%s',
               e.extname, e.extversion, e.extrelocatable, e.extnamespace::regnamespace)
      FROM pg_extension e, pg_temp.ag_ext x WHERE e.oid = x.ext
    UNION ALL
    SELECT 'config_dump', pg_catalog.format('%s condition=%L', c.relid::regclass, c.cond)
      FROM pg_extension e, pg_temp.ag_ext x,
           unnest(e.extconfig, e.extcondition) AS c(relid, cond)
     WHERE e.oid = x.ext
    -- members
    UNION ALL
    SELECT 'member', pg_describe_object(m.classid, m.objid, m.objsubid) FROM members m
    -- schema
    UNION ALL
    SELECT 'schema', pg_catalog.format('%s owner=%s acl=%s', n.nspname, n.nspowner::regrole,
                                       n.nspacl::text)
      FROM pg_namespace n, pg_temp.ag_ext x WHERE n.oid = x.nsp
    -- functions and procedures in the schema, and any member function elsewhere
    UNION ALL
    SELECT 'function', pg_catalog.format(
               '%s returns %s kind=%s lang=%s volatility=%s strict=%s security_definer=%s leakproof=%s parallel=%s cost=%s rows=%s config=%s acl=%s owner=%s src_md5=%s bin=%s',
               p.oid::regprocedure, pg_get_function_result(p.oid), p.prokind, l.lanname,
               p.provolatile, p.proisstrict, p.prosecdef, p.proleakproof, p.proparallel,
               p.procost, p.prorows, p.proconfig::text, p.proacl::text, p.proowner::regrole,
               md5(p.prosrc), p.probin)
      FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang, pg_temp.ag_ext x
     WHERE p.pronamespace = x.nsp
        OR p.oid IN (SELECT objid FROM members WHERE classid = 'pg_proc'::regclass)
    UNION ALL
    SELECT 'function_args', pg_catalog.format('%s (%s)', p.oid::regprocedure,
                                              pg_get_function_arguments(p.oid))
      FROM pg_proc p, pg_temp.ag_ext x WHERE p.pronamespace = x.nsp
    -- types: enums with their labels in order, domains, composite types outside tables
    UNION ALL
    SELECT 'type', pg_catalog.format('%s typtype=%s acl=%s owner=%s labels=%s', t.oid::regtype,
               t.typtype, t.typacl::text, t.typowner::regrole,
               (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                  FROM pg_enum e WHERE e.enumtypid = t.oid))
      FROM pg_type t, pg_temp.ag_ext x
     WHERE t.typnamespace = x.nsp AND t.typtype IN ('e', 'd', 'r', 'm', 'b')
    UNION ALL
    SELECT 'type', pg_catalog.format('%s composite of %s', t.oid::regtype, c.relname)
      FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid, pg_temp.ag_ext x
     WHERE t.typnamespace = x.nsp AND t.typtype = 'c' AND c.relkind = 'c'
    -- relations
    UNION ALL
    SELECT 'relation', pg_catalog.format(
               '%s kind=%s persistence=%s options=%s rls=%s force_rls=%s replident=%s acl=%s owner=%s',
               c.oid::regclass, c.relkind, c.relpersistence, c.reloptions::text,
               c.relrowsecurity, c.relforcerowsecurity, c.relreplident, c.relacl::text,
               c.relowner::regrole)
      FROM rels c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
    UNION ALL
    SELECT 'view', pg_catalog.format('%s %s', c.oid::regclass, pg_get_viewdef(c.oid))
      FROM rels c WHERE c.relkind IN ('v', 'm')
    UNION ALL
    SELECT 'sequence', pg_catalog.format('%s type=%s start=%s inc=%s min=%s max=%s cache=%s cycle=%s owned_by=%s',
               s.seqrelid::regclass, s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin,
               s.seqmax, s.seqcache, s.seqcycle,
               (SELECT pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid) FROM pg_depend d
                 WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
                   AND d.deptype IN ('a', 'i') AND d.refclassid = 'pg_class'::regclass))
      FROM pg_sequence s JOIN rels c ON c.oid = s.seqrelid
    -- columns, in their order (position among the live columns)
    UNION ALL
    SELECT 'column', pg_catalog.format('%s #%s %s %s not_null=%s default=%s identity=%s generated=%s collation=%s acl=%s',
               c.oid::regclass,
               lpad((row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum))::text, 3, '0'), a.attname,
               format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated,
               CASE WHEN a.attcollation <> 0 THEN a.attcollation::regcollation::text END,
               a.attacl::text)
      FROM rels c JOIN pg_attribute a ON a.attrelid = c.oid
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND a.attnum > 0 AND NOT a.attisdropped
    -- constraints (tables and domains)
    UNION ALL
    SELECT 'constraint', pg_catalog.format('%s %s type=%s deferrable=%s deferred=%s validated=%s %s',
               COALESCE(co.conrelid::regclass::text, co.contypid::regtype::text), co.conname,
               co.contype, co.condeferrable, co.condeferred, co.convalidated,
               pg_get_constraintdef(co.oid))
      FROM pg_constraint co, pg_temp.ag_ext x WHERE co.connamespace = x.nsp
    -- indexes
    UNION ALL
    SELECT 'index', pg_catalog.format('%s clustered=%s replident=%s', pg_get_indexdef(i.indexrelid),
                                      i.indisclustered, i.indisreplident)
      FROM pg_index i JOIN rels c ON c.oid = i.indrelid
    -- triggers
    UNION ALL
    SELECT 'trigger', pg_catalog.format('%s enabled=%s', pg_get_triggerdef(t.oid), t.tgenabled)
      FROM pg_trigger t JOIN rels c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
    -- row-level security policies
    UNION ALL
    SELECT 'policy', pg_catalog.format('%s on %s cmd=%s permissive=%s roles=%s using=(%s) check=(%s)',
               p.polname, p.polrelid::regclass, p.polcmd, p.polpermissive,
               (SELECT string_agg(r.name, ',' ORDER BY r.name) FROM rolename r
                 WHERE r.oid = ANY (p.polroles)),
               pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
      FROM pg_policy p JOIN rels c ON c.oid = p.polrelid
    -- rules (rewrite), other than views' own
    UNION ALL
    SELECT 'rule', pg_get_ruledef(r.oid)
      FROM pg_rewrite r JOIN rels c ON c.oid = r.ev_class WHERE r.rulename <> '_RETURN'
    -- default privileges in the schema, initial privileges of members, comments
    UNION ALL
    SELECT 'default_acl', pg_catalog.format('%s %s %s', d.defaclrole::regrole, d.defaclobjtype,
                                            d.defaclacl::text)
      FROM pg_default_acl d, pg_temp.ag_ext x WHERE d.defaclnamespace IN (x.nsp, 0)
    UNION ALL
    SELECT 'init_privs', pg_catalog.format('%s %s %s', pg_describe_object(i.classoid, i.objoid, i.objsubid),
                                           i.privtype, i.initprivs::text)
      FROM pg_init_privs i
     WHERE (i.classoid, i.objoid) IN (SELECT classid, objid FROM members)
        OR (i.classoid = 'pg_class'::regclass AND i.objoid IN (SELECT oid FROM rels))
    UNION ALL
    SELECT 'comment', pg_catalog.format('%s: %s', pg_describe_object(d.classoid, d.objoid, d.objsubid),
                                        d.description)
      FROM pg_description d
     WHERE (d.classoid, d.objoid) IN (SELECT classid, objid FROM members)
        OR (d.classoid = 'pg_class'::regclass AND d.objoid IN (SELECT oid FROM rels))
    -- event triggers, casts and operators the extension owns show up as members; event
    -- triggers also carry their definition
    UNION ALL
    SELECT 'event_trigger', pg_catalog.format('%s on %s tags=%s enabled=%s fn=%s', t.evtname,
               t.evtevent, t.evttags::text, t.evtenabled, t.evtfoid::regprocedure)
      FROM pg_event_trigger t
     WHERE t.oid IN (SELECT objid FROM members WHERE classid = 'pg_event_trigger'::regclass)
)
SELECT section || ' | ' || line FROM lines ORDER BY section, line COLLATE "C";
