{{ config(unique_key='review_id') }}

{%- set columns = [
    'review_id', 'model_id', 'customer_id', 'title', 'review_text', 'tags', 'rating', 'helpful_votes',
    'is_verified_purchase', 'review_date', '_source_key', '_ingested_at',
] %}

with bronze_reviews as (
    select * from {{ source('bronze', 'ecoride_product_reviews') }}
    {{ lakehouse.new_bronze_rows('ecoride_product_reviews') }}
),

typed as (
    select
        {{ lakehouse.clean_text('review_id') }} as review_id,
        upper({{ lakehouse.clean_text('model_id') }}) as model_id,
        {{ lakehouse.clean_text('customer_id') }} as customer_id,
        {{ lakehouse.clean_text('title') }} as title,
        {{ lakehouse.clean_text('review_text') }} as review_text,
        -- Tags canonical: trimmed, lower case, no empties, no repeats, sorted.
        {{ lakehouse.clean_tags('tags') }} as tags,
        rating,
        helpful_votes,
        -- An absent verified_purchase key is not a verified purchase.
        coalesce(verified_purchase, false) as is_verified_purchase,
        review_date,
        _source_key,
        _ingested_at
    from bronze_reviews
    where {{ lakehouse.clean_text('review_id') }} is not null
      and {{ lakehouse.reviews_rule() }} is null
),

{{ lakehouse.current_versions('typed', 'review_id', columns) }}

select * from final
