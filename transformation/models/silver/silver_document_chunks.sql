{{ config(unique_key='chunk_id') }}

-- Retrieval chunks: each page's words in windows of var chunk_words (default 50)
-- that start every chunk_words - chunk_overlap_words (default 40) words, so
-- consecutive chunks share 10 words and a sentence cut at one edge is whole in the next.

with pages as (
    select * from {{ ref('silver_product_documents') }}
    {{ lakehouse.new_bronze_rows() }}
),

chunks as (
    {{ lakehouse.word_chunks('pages', 'page_text', var('chunk_words', 50), var('chunk_overlap_words', 10),
        ['page_id', 'doc_type', 'doc_name', 'model_id', 'page_number', '_source_key', '_ingested_at']) }}
),

final as (
    select
        page_id || '#' || cast(chunk_number as {{ dbt.type_string() }}) as chunk_id,
        page_id,
        doc_type,
        doc_name,
        model_id,
        chunk_text,
        page_number,
        chunk_number,
        _source_key,
        _ingested_at
    from chunks
    where chunk_text <> ''
)

select * from final
