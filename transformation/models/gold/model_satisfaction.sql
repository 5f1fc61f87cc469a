with vehicles as (
    select * from {{ lakehouse.silver('silver_ecoride_vehicles') }}
),

reviews as (
    select * from {{ lakehouse.silver('silver_ecoride_product_reviews') }}
),

review_tags as (
    select * from {{ lakehouse.silver('silver_review_tags') }}
),

ratings as (
    select
        model_id,
        count(*) as reviews,
        round(avg(rating), 2) as avg_rating,
        {% for stars in range(1, 6) -%}
        count(case when rating = {{ stars }} then 1 end) as ratings_{{ stars }},
        {% endfor -%}
        count(case when is_verified_purchase then 1 end) as verified_reviews
    from reviews
    group by 1
),

tag_counts as (
    select model_id, tag, count(*) as mentions,
        row_number() over (partition by model_id order by count(*) desc, tag) as tag_rank
    from review_tags
    group by 1, 2
),

-- The three most mentioned tags, most mentioned first (ties alphabetical).
top_tags as (
    select model_id, {{ lakehouse.ordered_string_agg('tag', 'tag_rank') }} as top_tags
    from tag_counts
    where tag_rank <= 3
    group by 1
),

final as (
    select
        vehicles.model_id,
        vehicles.model_name,
        top_tags.top_tags,
        coalesce(ratings.reviews, 0) as reviews,
        ratings.avg_rating,
        {% for stars in range(1, 6) -%}
        coalesce(ratings.ratings_{{ stars }}, 0) as ratings_{{ stars }},
        {% endfor -%}
        coalesce(ratings.verified_reviews, 0) as verified_reviews
    from vehicles
    left join ratings on ratings.model_id = vehicles.model_id
    left join top_tags on top_tags.model_id = vehicles.model_id
)

select * from final
