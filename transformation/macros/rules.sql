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
