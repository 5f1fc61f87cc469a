{{ config(unique_key='sale_id') }}

{%- set columns = [
    'sale_id', 'customer_id', 'vehicle_id', 'model_id', 'payment_method', 'dealership', 'state',
    'sale_price_usd', 'discount_usd', 'net_revenue_usd', 'sale_date', '_source_key', '_ingested_at',
] %}

with bronze_sales as (
    select * from {{ source('bronze', 'ecoride_sales') }}
    {{ lakehouse.new_bronze_rows('ecoride_sales') }}
),

typed as (
    select
        {{ lakehouse.clean_text('sale_id') }} as sale_id,
        {{ lakehouse.clean_text('customer_id') }} as customer_id,
        {{ lakehouse.clean_text('vehicle_id') }} as vehicle_id,
        upper({{ lakehouse.clean_text('model_id') }}) as model_id,
        lower({{ lakehouse.clean_text('payment_method') }}) as payment_method,
        {{ lakehouse.clean_text('dealership') }} as dealership,
        upper({{ lakehouse.clean_text('state') }}) as state,
        sale_price_usd,
        coalesce(discount_usd, 0) as discount_usd,
        sale_date,
        _source_key,
        _ingested_at
    from bronze_sales
),

valid as (
    select * from typed where {{ lakehouse.sales_rule() }} is null
),

-- Dealership casing: a single-case spelling takes the mixed-case spelling seen
-- for the same name (in this batch or already in silver), else word capitals.
dealership_spellings as (
    select lower(dealership) as dealership_key, min(dealership) as dealership
    from (
        select dealership from valid where not {{ lakehouse.is_single_case('dealership') }}
        {%- if is_incremental() %}
        union all
        select distinct dealership from {{ this }}
        {%- endif %}
    ) as spellings
    group by 1
),

cased as (
    select
        valid.sale_id,
        valid.customer_id,
        valid.vehicle_id,
        valid.model_id,
        valid.payment_method,
        case
            when {{ lakehouse.is_single_case('valid.dealership') }}
                then coalesce(dealership_spellings.dealership, {{ lakehouse.initcap('valid.dealership') }})
            else valid.dealership
        end as dealership,
        valid.state,
        valid.sale_price_usd,
        valid.discount_usd,
        valid.sale_price_usd - valid.discount_usd as net_revenue_usd,
        valid.sale_date,
        valid._source_key,
        valid._ingested_at
    from valid
    left join dealership_spellings on lower(valid.dealership) = dealership_spellings.dealership_key
),

{{ lakehouse.current_versions('cased', 'sale_id', columns) }}

select * from final
