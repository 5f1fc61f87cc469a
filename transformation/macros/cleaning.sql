{#- Cleaning helpers shared by the silver models. Engine differences live in
    dispatched macros: default__ runs on DuckDB, dremio__ where Dremio's SQL differs. -#}

{#- Trimmed text, empty as null. -#}
{% macro clean_text(column) -%}
  nullif(trim({{ column }}), '')
{%- endmacro %}

{#- Every word capitalised ("SAN DIEGO" -> "San Diego"). -#}
{% macro initcap(expression) -%}
  {{ return(adapter.dispatch('initcap', 'lakehouse')(expression)) }}
{%- endmacro %}

{% macro default__initcap(expression) -%}
  array_to_string(list_transform(string_split(lower({{ expression }}), ' '), w -> upper(left(w, 1)) || substr(w, 2)), ' ')
{%- endmacro %}

{% macro dremio__initcap(expression) -%}
  initcap({{ expression }})
{%- endmacro %}

{#- True when a text is all upper or all lower case (then its casing carries no information). -#}
{% macro is_single_case(expression) -%}
  ({{ expression }} = upper({{ expression }}) or {{ expression }} = lower({{ expression }}))
{%- endmacro %}

{#- True when bronze rescued the original text of `field` (the typed value could not hold it). -#}
{% macro was_rescued(field) -%}
  {{ return(adapter.dispatch('was_rescued', 'lakehouse')(field)) }}
{%- endmacro %}

{% macro default__was_rescued(field) -%}
  coalesce(json_exists(_rescued_data, '$."{{ field }}"'), false)
{%- endmacro %}

{% macro dremio__was_rescued(field) -%}
  coalesce(position('"{{ field }}"' in _rescued_data) > 0, false)
{%- endmacro %}

{#- A stable hash of the given columns: a deterministic tie-break between versions. -#}
{% macro row_hash(columns) -%}
  {%- set parts = [] -%}
  {%- for column in columns -%}
    {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '~')") -%}
    {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
  {%- endfor -%}
  {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}

{#- Review tags canonical: trimmed, lower case, without empties and repeats, sorted. -#}
{% macro clean_tags(column) -%}
  {{ lakehouse.canonical_list(column, 'lower') }}
{%- endmacro %}

{#- Service flags canonical: trimmed, upper case, without empties and repeats, sorted. -#}
{% macro clean_flags(column) -%}
  {{ lakehouse.canonical_list(column, 'upper') }}
{%- endmacro %}

{#- A list of texts canonical: each trimmed and cased by `case` (`lower` or `upper`),
    without empties and repeats, sorted. -#}
{% macro canonical_list(column, case) -%}
  {{ return(adapter.dispatch('canonical_list', 'lakehouse')(column, case)) }}
{%- endmacro %}

{% macro default__canonical_list(column, case) -%}
  list_sort(list_distinct(list_filter(list_transform(coalesce({{ column }}, []), t -> {{ case }}(trim(t))), t -> t <> '')))
{%- endmacro %}

{% macro dremio__canonical_list(column, case) -%}
  {#- Dremio has no lambdas over lists; the flattening child models (silver.review_tags)
      clean each element, and Dremio readers of the lists see them as bronze had them. -#}
  {{ column }}
{%- endmacro %}
