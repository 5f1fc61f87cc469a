with sales as (
    select * from {{ lakehouse.silver('silver_ecoride_sales') }}
),

monthly as (
    select
        cast({{ dbt.date_trunc('month', 'sale_date') }} as date) as month,
        model_id,
        state,
        count(*) as units,
        sum(net_revenue_usd) as revenue_usd
    from sales
    group by 1, 2, 3
),

-- Growth against the previous calendar month of the same model and state; a
-- month without sales there has no row, so the growth is null.
final as (
    select
        monthly.month,
        monthly.model_id,
        monthly.state,
        monthly.units,
        monthly.revenue_usd,
        previous.revenue_usd as previous_revenue_usd,
        case
            when previous.revenue_usd > 0
                then round(cast((monthly.revenue_usd - previous.revenue_usd) * 100.0 / previous.revenue_usd as {{ dbt.type_numeric() }}), 2)
        end as revenue_growth_pct
    from monthly
    left join monthly as previous
        on previous.model_id = monthly.model_id
        and previous.state = monthly.state
        and previous.month = {{ lakehouse.add_months('monthly.month', -1) }}
)

select * from final
