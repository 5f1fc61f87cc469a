with sales as (
    select * from {{ lakehouse.silver('silver_ecoride_sales') }}
),

customers as (
    select * from {{ lakehouse.silver('silver_ecoride_customers') }}
),

purchases as (
    select
        customer_id,
        count(*) as purchases,
        sum(net_revenue_usd) as lifetime_value_usd,
        min(sale_date) as first_purchase_date,
        max(sale_date) as last_purchase_date
    from sales
    group by 1
),

-- Segments (docs/transformation.md): fleet = 5+ vehicles, repeat = 2-4,
-- premium = one vehicle for 60,000 USD or more net, standard = the rest.
final as (
    select
        purchases.customer_id,
        customers.state,
        customers.city,
        case
            when purchases.purchases >= 5 then 'fleet'
            when purchases.purchases >= 2 then 'repeat'
            when purchases.lifetime_value_usd >= 60000 then 'premium'
            else 'standard'
        end as segment,
        purchases.purchases,
        purchases.lifetime_value_usd,
        purchases.purchases > 1 as is_repeat_buyer,
        purchases.first_purchase_date,
        purchases.last_purchase_date
    from purchases
    left join customers on customers.customer_id = purchases.customer_id
)

select * from final
