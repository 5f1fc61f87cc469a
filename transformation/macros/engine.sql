{#- SQL that differs between DuckDB (default__, executed) and Dremio (dremio__, parsed).
    dbt-dremio's own dateadd/datediff cannot be used inline (DESIGN §7), hence these. -#}

{% macro add_months(expression, months) -%}
  {{ return(adapter.dispatch('add_months', 'lakehouse')(expression, months)) }}
{%- endmacro %}
{% macro default__add_months(expression, months) -%}
  cast({{ expression }} + to_months({{ months }}) as date)
{%- endmacro %}
{% macro dremio__add_months(expression, months) -%}
  cast(timestampadd(month, {{ months }}, {{ expression }}) as date)
{%- endmacro %}

{% macro minutes_between(start_expression, end_expression) -%}
  {{ return(adapter.dispatch('minutes_between', 'lakehouse')(start_expression, end_expression)) }}
{%- endmacro %}
{% macro default__minutes_between(start_expression, end_expression) -%}
  (date_diff('second', {{ start_expression }}, {{ end_expression }}) / 60.0)
{%- endmacro %}
{% macro dremio__minutes_between(start_expression, end_expression) -%}
  (timestampdiff(second, {{ start_expression }}, {{ end_expression }}) / 60.0)
{%- endmacro %}

{% macro days_between(start_expression, end_expression) -%}
  {{ return(adapter.dispatch('days_between', 'lakehouse')(start_expression, end_expression)) }}
{%- endmacro %}
{% macro default__days_between(start_expression, end_expression) -%}
  (date_diff('second', cast({{ start_expression }} as timestamp), cast({{ end_expression }} as timestamp)) / 86400.0)
{%- endmacro %}
{% macro dremio__days_between(start_expression, end_expression) -%}
  (timestampdiff(second, {{ start_expression }}, {{ end_expression }}) / 86400.0)
{%- endmacro %}

{#- Text of the values, ordered, joined by ', ' (aggregate). -#}
{% macro ordered_string_agg(expression, order_by) -%}
  {{ return(adapter.dispatch('ordered_string_agg', 'lakehouse')(expression, order_by)) }}
{%- endmacro %}
{% macro default__ordered_string_agg(expression, order_by) -%}
  string_agg({{ expression }}, ', ' order by {{ order_by }})
{%- endmacro %}
{% macro dremio__ordered_string_agg(expression, order_by) -%}
  listagg({{ expression }}, ', ') within group (order by {{ order_by }})
{%- endmacro %}

{#- A silver table as gold reads it. Dremio views over Nessie tables must name the
    branch (dbt-dremio issue 241); DuckDB reads the attached catalog's current state. -#}
{% macro silver(model_name) -%}
  {{ ref(model_name) }}{{ adapter.dispatch('branch_suffix', 'lakehouse')() }}
{%- endmacro %}
{% macro default__branch_suffix() -%}{%- endmacro %}
{% macro dremio__branch_suffix() -%} at branch main{%- endmacro %}

{#- One row per element of a list column: `unnest_list(relation, 'tags', 'tag', columns)`
    selects `columns` plus `tag` and its 1-based `tag_position` (columns[0] is the parent key). -#}
{% macro unnest_list(relation, list_column, element, columns) -%}
  {{ return(adapter.dispatch('unnest_list', 'lakehouse')(relation, list_column, element, columns)) }}
{%- endmacro %}
{% macro default__unnest_list(relation, list_column, element, columns) -%}
  select {{ columns | join(', ') }}, unnest({{ list_column }}) as {{ element }}, unnest(range(1, len({{ list_column }}) + 1)) as {{ element }}_position
  from {{ relation }}
{%- endmacro %}
{% macro dremio__unnest_list(relation, list_column, element, columns) -%}
  {#- Dremio's FLATTEN has no ordinality: number the elements per parent row. -#}
  select *, row_number() over (partition by {{ columns[0] }} order by {{ element }}) as {{ element }}_position
  from (select {{ columns | join(', ') }}, flatten({{ list_column }}) as {{ element }} from {{ relation }}) as flattened
{%- endmacro %}

{#- Overlapping word windows of a text column: one row per window with
    `chunk_number` (1-based) and `chunk_text`, plus `columns`. -#}
{% macro word_chunks(relation, text_column, size, overlap, columns) -%}
  {{ return(adapter.dispatch('word_chunks', 'lakehouse')(relation, text_column, size, overlap, columns)) }}
{%- endmacro %}
{% macro default__word_chunks(relation, text_column, size, overlap, columns) -%}
  {%- set step = size - overlap -%}
  select
    {{ columns | join(', ') }},
    chunk_start // {{ step }} + 1 as chunk_number,
    array_to_string(words[chunk_start + 1 : chunk_start + {{ size }}], ' ') as chunk_text
  from (
    select {{ columns | join(', ') }}, words, unnest(range(0, greatest(len(words) - {{ overlap }}, 1), {{ step }})) as chunk_start
    from (
      select {{ columns | join(', ') }}, list_filter(regexp_split_to_array({{ text_column }}, '\s+'), w -> w <> '') as words
      from {{ relation }}
    ) as split_pages
  ) as windows
{%- endmacro %}
{% macro dremio__word_chunks(relation, text_column, size, overlap, columns) -%}
  {#- Dremio has no list slicing: fixed character windows of ~7 characters per word instead. -#}
  {%- set width = size * 7 -%}{%- set step = (size - overlap) * 7 -%}
  select {{ columns | join(', ') }}, chunk_number, substr({{ text_column }}, (chunk_number - 1) * {{ step }} + 1, {{ width }}) as chunk_text
  from {{ relation }}
  cross join (select row_number() over (order by 1) as chunk_number from (values (1), (1), (1), (1), (1), (1), (1), (1), (1), (1), (1), (1), (1), (1), (1), (1), (1), (1), (1), (1)) as t(n)) as numbers
  where (chunk_number - 1) * {{ step }} < length({{ text_column }})
{%- endmacro %}

{% macro list_length(expression) -%}
  {{ return(adapter.dispatch('list_length', 'lakehouse')(expression)) }}
{%- endmacro %}
{% macro default__list_length(expression) -%}
  coalesce(len({{ expression }}), 0)
{%- endmacro %}
{% macro dremio__list_length(expression) -%}
  coalesce(array_length({{ expression }}), 0)
{%- endmacro %}
