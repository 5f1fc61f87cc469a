{#- The import-CTE filter of every incremental silver model: only bronze rows
    ingested since the newest row the model already holds, minus a lookback
    (var lookback_hours) for batches that committed out of order. Re-reading a
    row is harmless: versions are re-ranked against the stored row and merged. -#}
{% macro new_bronze_rows() -%}
  {%- if is_incremental() -%}
    where _ingested_at > {{ lakehouse.incremental_watermark() }}
  {%- endif -%}
{%- endmacro %}

{#- Newest `_ingested_at` already in the model (rows matching `where`), minus the lookback. -#}
{% macro incremental_watermark(where='true') -%}
  {{ return(adapter.dispatch('incremental_watermark', 'lakehouse')(where)) }}
{%- endmacro %}

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
    duplicates collapse here too. `columns` is the model's output column list. -#}
{% macro latest_version(relation, key, columns) -%}
  select {{ columns | join(', ') }} from (
    select
      {{ columns | join(', ') }},
      row_number() over (
        partition by {{ key }}
        order by _source_key desc, _ingested_at desc, {{ lakehouse.row_hash(columns) }} desc
      ) as version_rank
    from {{ relation }}
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
