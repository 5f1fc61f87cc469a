{#- The import-CTE filter of every incremental silver model: the rows at or after
    the floor of `bronze_floor`. A model reading `source('bronze', bronze_table)`
    names the table, so only rows committed since its last run are read; a child
    model reading a silver parent (no bronze table) gets the lookback floor alone.
    Re-reading a row is harmless: versions are re-ranked against the stored row
    and merged. -#}
{% macro new_bronze_rows(bronze_table=none) -%}
  {%- if is_incremental() -%}
    where _ingested_at >= {{ lakehouse.bronze_floor(bronze_table) }}
  {%- endif -%}
{%- endmacro %}

{#- Where an incremental run starts reading (`_ingested_at`), the larger of:
    * the lookback floor: the newest `_ingested_at` already in the model (rows
      matching `where`) minus var lookback_hours (batches committed out of order);
    * the new-files floor (DuckDB, `bronze_table` given): the smallest
      `_ingested_at` lower bound of the bronze data files committed since the
      model last read the table — Iceberg metadata, published per connection by
      warehouse/increments.py; 'infinity' when nothing was committed since.
    Without the second, a run after a bulk load re-read every row stamped within
    the lookback (9 M sales: out of memory at 512 MB).
    In a model run the floor is looked up first and inlined as a constant: the
    engine then skips bronze files (Iceberg manifest bounds) and row groups that
    hold only older rows, where a subquery would make it read every row's
    `_ingested_at` (DuckDB does not push a subquery's value into the Iceberg
    scan). Unit tests keep the lookback subquery: their `this` is a fixture. -#}
{% macro bronze_floor(bronze_table=none, where='true') -%}
  {%- set watermark = adapter.dispatch('incremental_watermark', 'lakehouse')(where) -%}
  {%- if execute and model.resource_type == 'model' -%}
    {%- set floor = watermark if bronze_table is none else adapter.dispatch('new_files_floor', 'lakehouse')(bronze_table, watermark) -%}
    {%- set found = run_query('select cast(' ~ floor ~ ' as ' ~ dbt.type_string() ~ ')') -%}
    {{- return(adapter.dispatch('timestamp_literal', 'lakehouse')(found.columns[0].values()[0])) -}}
  {%- endif -%}
  {{- return(watermark) -}}
{%- endmacro %}

{% macro default__new_files_floor(bronze_table, watermark) -%}
  greatest({{ watermark }}, (
    select increments.min_ingested_at
    from _lakehouse.bronze_consumed as consumed
    inner join bronze.main.lakehouse_increments as increments
      on increments.bronze_table = consumed.bronze_table and increments.table_uuid is not distinct from consumed.table_uuid
     and increments.after_sequence = consumed.sequence_number
    where consumed.model = '{{ model.name }}' and consumed.bronze_table = '{{ bronze_table }}'
  ))
{%- endmacro %}

{#- Dremio (parsed only): the lookback floor; the increments come from the DuckDB plugin. -#}
{% macro dremio__new_files_floor(bronze_table, watermark) -%}{{ watermark }}{%- endmacro %}

{#- Post-hook of every silver model, after its transaction committed: the bronze
    sequence numbers this run read become the model's starting point. A failed
    run records nothing, so its rows are read again. -#}
{% macro record_bronze_consumed() -%}
  {{- return(adapter.dispatch('record_bronze_consumed', 'lakehouse')()) -}}
{%- endmacro %}

{% macro default__record_bronze_consumed() -%}
  {#- `dbt build --empty` reads no rows: nothing was consumed. -#}
  {%- if flags.EMPTY -%}{{ return('') }}{%- endif -%}
  {%- set tables = [] -%}
  {%- for source in model.sources if source[0] == 'bronze' -%}
    {%- do tables.append("'" ~ source[1] ~ "'") -%}
  {%- endfor -%}
  {%- if tables -%}
    insert or replace into _lakehouse.bronze_consumed
    select '{{ model.name }}', bronze_table, table_uuid, sequence_number, now()
    from bronze.main.lakehouse_snapshots where bronze_table in ({{ tables | join(', ') }})
  {%- endif -%}
{%- endmacro %}

{% macro dremio__record_bronze_consumed() -%}{%- endmacro %}

{% macro default__timestamp_literal(text) -%}timestamptz '{{ text }}'{%- endmacro %}
{% macro dremio__timestamp_literal(text) -%}timestamp '{{ text }}'{%- endmacro %}

{% macro default__incremental_watermark(where) -%}
  (select coalesce(max(_ingested_at), {{ lakehouse.epoch() }}) - interval '{{ var("lookback_hours", 1) }}' hour from {{ this }} where {{ where }})
{%- endmacro %}

{% macro dremio__incremental_watermark(where) -%}
  (select timestampadd(hour, -{{ var("lookback_hours", 1) }}, coalesce(max(_ingested_at), {{ lakehouse.epoch() }})) from {{ this }} where {{ where }})
{%- endmacro %}

{% macro epoch() -%}
  {{ return(adapter.dispatch('epoch', 'lakehouse')()) }}
{%- endmacro %}
{% macro default__epoch() -%}timestamptz '1970-01-01 00:00:00+00'{%- endmacro %}
{% macro dremio__epoch() -%}timestamp '1970-01-01 00:00:00'{%- endmacro %}


{#- Keep one row per key: the version from the latest file by key order
    (`_source_key`; file names sort chronologically, and a re-sent copy sorts
    right after its original with the same content), then the latest ingestion,
    then a content hash so the choice never depends on scan order. Exact
    duplicates collapse here too. `columns` is the model's output column list.
    Only keys with more than one row are ranked: the rest pass through, so a
    full build sorts the few repeated keys, not every row (9 M sales: the
    window over all rows needed minutes and spilled gigabytes). -#}
{% macro latest_version(relation, key, columns) -%}
  {%- set repeated -%}
    (select {{ key }} as repeated_key, true as is_repeated from {{ relation }} group by {{ key }} having count(*) > 1) as repeated
  {%- endset -%}
  {%- set qualified = [] -%}
  {%- for column in columns -%}{%- do qualified.append('candidate.' ~ column) -%}{%- endfor -%}
  select {{ qualified | join(', ') }}
  from {{ relation }} as candidate
  left join {{ repeated }} on candidate.{{ key }} is not distinct from repeated.repeated_key
  where repeated.is_repeated is null
  union all
  select {{ columns | join(', ') }} from (
    select
      {{ qualified | join(', ') }},
      row_number() over (
        partition by candidate.{{ key }}
        order by candidate._source_key desc, candidate._ingested_at desc, {{ lakehouse.row_hash(qualified) }} desc
      ) as version_rank
    from {{ relation }} as candidate
    inner join {{ repeated }} on candidate.{{ key }} is not distinct from repeated.repeated_key
  ) as ranked
  where version_rank = 1
{%- endmacro %}

{#- Incremental runs re-rank the new rows against the stored version of the same
    keys, so a late file with an earlier name never overwrites a later one. -#}
{% macro with_stored_versions(relation, key, columns) -%}
  select {{ columns | join(', ') }} from {{ relation }}
  {%- if is_incremental() %}
  union all
  select {{ columns | join(', ') }} from {{ this }} where {{ key }} in (select {{ key }} from {{ relation }})
  {%- endif %}
{%- endmacro %}

{#- The last two CTEs of a versioned silver model, `candidates` and `final`: per
    key, the latest version among `relation` (the new bronze rows, typed and
    cleaned) and, in an incremental run, the stored one. -#}
{% macro current_versions(relation, key, columns) -%}
candidates as (
    {{ lakehouse.with_stored_versions(relation, key, columns) }}
),

final as (
    {{ lakehouse.latest_version('candidates', key, columns) }}
)
{%- endmacro %}
