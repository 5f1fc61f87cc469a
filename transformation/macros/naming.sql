{#- Schemas are exactly `silver` and `gold` (no target-schema prefix), on every target. -#}
{#- On DuckDB with Nessie the silver namespace follows LAKEHOUSE_SILVER_NAMESPACE
    (default `silver`), so tests never touch the real one. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
  {%- if custom_schema_name is none -%}{{ target.schema }}
  {%- elif custom_schema_name | trim == 'silver' and target.type == 'duckdb' and env_var('LAKEHOUSE_MODE', 'embedded') != 'embedded' -%}
    {{- env_var('LAKEHOUSE_SILVER_NAMESPACE', 'silver') -}}
  {%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}

{#- Model names are unique across the project, so silver models carry a `silver_`
    prefix; the relation drops it (`silver_ecoride_sales` -> silver.ecoride_sales). -#}
{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
  {%- if custom_alias_name -%}{{ custom_alias_name | trim }}
  {%- elif node.name.startswith('silver_') -%}{{ node.name[7:] }}
  {%- else -%}{{ node.name }}{%- endif -%}
{%- endmacro %}

{#- Where silver tables live: on DuckDB with Nessie (native/docker modes) in the
    attached Iceberg catalog `nessie`; embedded in the DuckDB file. Dremio keeps its own rule. -#}
{% macro generate_database_name(custom_database_name=none, node=none) -%}
  {{- adapter.dispatch('lakehouse_database_name', 'lakehouse')(custom_database_name, node) -}}
{%- endmacro %}

{% macro default__lakehouse_database_name(custom_database_name, node) -%}
  {%- if custom_database_name is not none -%}{{ custom_database_name | trim }}
  {%- elif node is not none and node.fqn[1:2] == ['silver'] and env_var('LAKEHOUSE_MODE', 'embedded') != 'embedded' -%}nessie
  {%- else -%}{{ target.database }}{%- endif -%}
{%- endmacro %}

{% macro dremio__lakehouse_database_name(custom_database_name, node) -%}
  {{- dremio__generate_database_name(custom_database_name, node) -}}
{%- endmacro %}
