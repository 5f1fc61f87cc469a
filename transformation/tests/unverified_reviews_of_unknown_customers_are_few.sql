-- The deliberate violation `unknown_customer` (data/README.md): reviews by deleted
-- accounts. They are never verified purchases (the relationships test on verified
-- reviews proves it); this warns when they exceed 1 % of reviews, which would mean
-- customers are being lost rather than deleted.
{{ config(severity='warn') }}
with reviews as (select * from {{ ref('silver_ecoride_product_reviews') }}),
customers as (select * from {{ ref('silver_ecoride_customers') }}),
unknown as (
    select count(*) as unknown_reviews from reviews
    left join customers on customers.customer_id = reviews.customer_id
    where customers.customer_id is null
)
select unknown_reviews from unknown, (select count(*) as all_reviews from reviews) as totals
where unknown_reviews > 0.01 * all_reviews
