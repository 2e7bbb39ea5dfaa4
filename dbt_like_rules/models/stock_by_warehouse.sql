-- Totals per warehouse in base units: what each warehouse holds, reserves, has on hold and
-- in transit, and how many SKUs have nothing available.
SELECT
    warehouse,
    count(*) AS skus,
    sum(on_hand) AS on_hand,
    sum(reserved) AS reserved,
    sum(quality_hold) AS quality_hold,
    sum(in_transit) AS in_transit,
    sum(available) AS available,
    count(*) FILTER (WHERE available = 0) AS skus_out_of_stock
FROM {{ ref('canonical_inventory') }}
GROUP BY warehouse
ORDER BY warehouse
