{{ config(unique_key='review_tag_id') }}

-- One row per distinct canonical tag of the current version of each review.

with reviews as (
    select * from {{ ref('silver_ecoride_product_reviews') }}
    {{ lakehouse.new_bronze_rows() }}
),

tags as (
    {{ lakehouse.unnest_list('reviews', 'tags', 'tag', ['review_id', 'model_id', 'rating', '_source_key', '_ingested_at']) }}
),

final as (
    select distinct
        review_id || '#' || lower(trim(tag)) as review_tag_id,
        review_id,
        model_id,
        lower(trim(tag)) as tag,
        rating,
        _source_key,
        _ingested_at
    from tags
    where {{ lakehouse.clean_text('tag') }} is not null
)

select * from final
