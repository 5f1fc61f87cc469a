{#- Full refresh (`dbt build --full-refresh`) on silver in the attached Iceberg
    REST catalog (Nessie; native and docker modes on DuckDB).

    dbt-duckdb rebuilds a table as create-then-swap inside one transaction:
    CREATE `<model>__dbt_tmp`, RENAME `<model>` to `<model>__dbt_backup`, RENAME
    the tmp table to `<model>`, COMMIT. DuckDB 1.5.5's Iceberg catalog cannot
    rename a table created in the same, uncommitted transaction: the commit fails
    with "Table <model>__dbt_tmp does not exist" after the first rename already
    reached the catalog. The alternatives do not exist there either: CREATE OR
    REPLACE is not implemented, and a table dropped in a transaction cannot be
    created again in it (checked against our Nessie).

    So on an Iceberg catalog every rename first commits what the transaction has
    done (the new table is then complete and committed) and renames in a fresh
    transaction, which the materialization commits as usual. If the model's
    query fails, nothing has been renamed and the old table stays. Renames are
    separate catalog calls in Iceberg REST anyway (never atomic together), so
    committing between them loses no guarantee. Everywhere else (the DuckDB
    file, embedded mode) dbt-duckdb's rename runs unchanged.

    Dropping the backup afterwards needs a plain DROP: dbt-duckdb says DROP ...
    CASCADE, which DuckDB's Iceberg catalog rejects (not implemented).

    Both override dbt-duckdb's `duckdb__*` macros (`adapter.dispatch` looks in
    the root project first) and fall back to them off Iceberg. -#}
{% macro duckdb__rename_relation(from_relation, to_relation) -%}
  {%- if lakehouse.is_iceberg_catalog(from_relation.database) -%}
    {%- do adapter.commit() -%}
    {%- do adapter.ensure_transaction() -%}
  {%- endif -%}
  {{- dbt.duckdb__rename_relation(from_relation, to_relation) -}}
{%- endmacro %}

{% macro duckdb__drop_relation(relation) -%}
  {%- if lakehouse.is_iceberg_catalog(relation.database) -%}
    {% call statement('drop_relation', auto_begin=False) -%}
      drop {{ relation.type }} if exists {{ relation }}
    {%- endcall %}
  {%- else -%}
    {{- dbt.duckdb__drop_relation(relation) -}}
  {%- endif -%}
{%- endmacro %}

{#- True when `database` is an attached Iceberg catalog (DuckDB). -#}
{% macro is_iceberg_catalog(database) -%}
  {%- if database is none -%}{{ return(false) }}{%- endif -%}
  {%- set found = run_query(
        "select 1 from duckdb_databases() where database_name = '" ~ adapter.escape_sql_string(database)
        ~ "' and type = 'iceberg'") -%}
  {{- return(found.rows | length > 0) -}}
{%- endmacro %}
