{#- Row rules: one CASE per dataset giving the first rule a row breaks, or null.
    Silver facts keep rows where it is null; silver.rejected_rows keeps the rest,
    so both read the same definition. Rule names are documented in docs/transformation.md. -#}

{% macro sales_rule() -%}
  case
    when sale_date is null then 'unparseable_date'
    when sale_price_usd is null or sale_price_usd <= 0 then 'non_positive_price'
    when discount_usd < 0 then 'negative_discount'
  end
{%- endmacro %}

{#- The rules read bronze column names, so a silver model and silver.rejected_rows
    evaluate them on the same rows. -#}
{% macro customers_rule() -%}
  case when signup_date is null then 'unparseable_date' end
{%- endmacro %}

{% macro reviews_rule() -%}
  case
    when review_date is null then 'unparseable_date'
    when rating is null or rating not between 1 and 5 then 'rating_out_of_range'
  end
{%- endmacro %}

{% macro sessions_rule() -%}
  case
    when start_time is null or end_time is null then 'unparseable_timestamp'
    when end_time < start_time then 'end_before_start'
    when energy_kwh is null or energy_kwh <= 0 then 'non_positive_energy'
    when cost_usd < 0 then 'negative_cost'
  end
{%- endmacro %}

{% macro health_rule() -%}
  case when recorded_at is null then 'unparseable_timestamp' end
{%- endmacro %}
