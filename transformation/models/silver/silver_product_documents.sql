{{ config(unique_key='page_id') }}

{%- set columns = [
    'page_id', 'doc_type', 'doc_name', 'model_id', 'page_text', 'page_number', '_source_key', '_ingested_at',
] %}

with bronze_documents as (
    select * from {{ source('bronze', 'product_documents') }}
    {{ lakehouse.new_bronze_rows('product_documents') }}
),

typed as (
    select
        lower(doc_type) || '/' || doc_name || '#' || cast(page_number as {{ dbt.type_string() }}) as page_id,
        lower({{ lakehouse.clean_text('doc_type') }}) as doc_type,
        {{ lakehouse.clean_text('doc_name') }} as doc_name,
        upper({{ lakehouse.clean_text('model_id') }}) as model_id,
        trim(text) as page_text,
        page_number,
        _source_key,
        _ingested_at
    from bronze_documents
    where doc_name is not null and page_number is not null
),

{{ lakehouse.current_versions('typed', 'page_id', columns) }}

select * from final
