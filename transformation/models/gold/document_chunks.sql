with chunks as (
    select * from {{ lakehouse.silver('silver_document_chunks') }}
),

vehicles as (
    select * from {{ lakehouse.silver('silver_ecoride_vehicles') }}
),

final as (
    select
        chunks.chunk_id,
        chunks.page_id,
        chunks.doc_type,
        chunks.doc_name,
        chunks.model_id,
        vehicles.model_name,
        chunks.chunk_text,
        chunks.page_number,
        chunks.chunk_number
    from chunks
    left join vehicles on vehicles.model_id = chunks.model_id
)

select * from final
