{#- The import-CTE filter of every incremental silver model: only bronze rows
    ingested since the newest row the model already holds, minus a lookback
    (var lookback_hours) for batches that committed out of order. Re-reading a
    row is harmless: versions are re-ranked against the stored row and merged. -#}
{% macro new_bronze_rows() -%}
  {%- if is_incremental() -%}
    where _ingested_at > {{ lakehouse.incremental_watermark() }}
  {%- endif -%}
{%- endmacro %}

{#- Newest `_ingested_at` already in the model (rows matching `where`), minus the lookback.
    In a model run it is looked up first and inlined as a constant: the engine then
    skips bronze files (Iceberg manifest bounds) and row groups that hold only older
    rows, where a subquery would make it read every row's `_ingested_at` (DuckDB does
    not push a subquery's value into the Iceberg scan). Unit tests keep the subquery:
    their `this` is a fixture, not a table. -#}
{% macro incremental_watermark(where='true') -%}
  {%- set watermark = adapter.dispatch('incremental_watermark', 'lakehouse')(where) -%}
  {%- if execute and model.resource_type == 'model' -%}
    {%- set found = run_query('select cast(' ~ watermark ~ ' as ' ~ dbt.type_string() ~ ')') -%}
    {{- return(adapter.dispatch('timestamp_literal', 'lakehouse')(found.columns[0].values()[0])) -}}
  {%- endif -%}
  {{- return(watermark) -}}
{%- endmacro %}

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
