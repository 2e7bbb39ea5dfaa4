-- Velocity tier of each SKU from its deliveries to customers over the last 30 days:
-- A sells 5 or more units a day, B at least one, C less.
WITH shipped AS (
    SELECT sku, sum(quantity) AS units_30d
    FROM {{ ref('stock_moves') }}
    WHERE destination_usage = 'customer'
      AND date >= now() - INTERVAL 30 DAY
      AND sku IS NOT NULL
    GROUP BY sku
),
skus AS (
    SELECT DISTINCT sku FROM {{ ref('products') }} WHERE sku IS NOT NULL
)
SELECT
    skus.sku,
    coalesce(shipped.units_30d, 0) AS units_30d,
    coalesce(shipped.units_30d, 0) / 30.0 AS units_per_day,
    CASE
        WHEN coalesce(shipped.units_30d, 0) / 30.0 >= 5 THEN 'A'
        WHEN coalesce(shipped.units_30d, 0) / 30.0 >= 1 THEN 'B'
        ELSE 'C'
    END AS velocity_tier
FROM skus
LEFT JOIN shipped USING (sku)
