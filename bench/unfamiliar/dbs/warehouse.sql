-- warehouse: a fulfilment operator's warehouses, stock, orders and cold-room sensors.
-- Every table and column carries the "wh" prefix and is declared unquoted in camelCase,
-- so PostgreSQL folds the names to lower case (whItemName -> whitemname).
-- Written for nl2sql-shell (Apache-2.0). Dates are relative to CURRENT_DATE; sensor
-- readings are epoch seconds (bigint) relative to the start of today.

CREATE TYPE whOrderState AS ENUM ('received', 'picking', 'packed', 'shipped', 'cancelled');

CREATE TABLE whSite (
    whSiteId integer PRIMARY KEY,
    whSiteName text NOT NULL,
    whSiteCity text NOT NULL,
    whSiteCountry text NOT NULL,
    whSiteSqm integer NOT NULL
);

CREATE TABLE whItem (
    whItemId integer PRIMARY KEY,
    whItemSku text NOT NULL UNIQUE,
    whItemName text NOT NULL,
    whItemCategory text NOT NULL,
    whItemUnitCost numeric(10, 2) NOT NULL,
    whItemWeightKg numeric(8, 3) NOT NULL,
    whItemIsHazmat boolean NOT NULL,
    whItemNeedsCold boolean NOT NULL
);

CREATE TABLE whBin (
    whBinId integer PRIMARY KEY,
    whBinSiteId integer NOT NULL REFERENCES whSite (whSiteId),
    whBinCode text NOT NULL,
    whBinZone text NOT NULL,
    whBinCapacity integer NOT NULL
);

CREATE TABLE whStock (
    whStockBinId integer NOT NULL REFERENCES whBin (whBinId),
    whStockItemId integer NOT NULL REFERENCES whItem (whItemId),
    whStockQty integer NOT NULL,
    whStockCountedOn date NOT NULL,
    PRIMARY KEY (whStockBinId, whStockItemId)
);

CREATE TABLE whCust (
    whCustId integer PRIMARY KEY,
    whCustName text NOT NULL,
    whCustCity text NOT NULL,
    whCustCountry text NOT NULL,
    whCustSince date NOT NULL
);

CREATE TABLE whOrder (
    whOrderId integer PRIMARY KEY,
    whOrderCustId integer NOT NULL REFERENCES whCust (whCustId),
    whOrderSiteId integer NOT NULL REFERENCES whSite (whSiteId),
    whOrderPlacedOn date NOT NULL,
    whOrderShippedOn date,
    whOrderStatus whOrderState NOT NULL,
    whOrderIsExpress boolean NOT NULL
);

CREATE TABLE whOrderLine (
    whLineId integer PRIMARY KEY,
    whLineOrderId integer NOT NULL REFERENCES whOrder (whOrderId),
    whLineItemId integer NOT NULL REFERENCES whItem (whItemId),
    whLineQty integer NOT NULL,
    whLineUnitPrice numeric(10, 2) NOT NULL
);

CREATE TABLE whSensor (
    whSensorId integer PRIMARY KEY,
    whSensorSiteId integer NOT NULL REFERENCES whSite (whSiteId),
    whSensorKind text NOT NULL,
    whSensorLabel text NOT NULL
);

CREATE TABLE whReading (
    whReadingId integer PRIMARY KEY,
    whReadingSensorId integer NOT NULL REFERENCES whSensor (whSensorId),
    whReadingTs bigint NOT NULL,
    whReadingValue numeric(6, 2) NOT NULL
);

INSERT INTO whSite (whSiteId, whSiteName, whSiteCity, whSiteCountry, whSiteSqm) VALUES
(1, 'Rotterdam Hub', 'Rotterdam', 'Netherlands', 42000),
(2, 'Leipzig Cross-dock', 'Leipzig', 'Germany', 18000),
(3, 'Reno Fulfilment', 'Reno', 'United States', 55000),
(4, 'Monterrey Overflow', 'Monterrey', 'Mexico', 9000);

INSERT INTO whItem (whItemId, whItemSku, whItemName, whItemCategory, whItemUnitCost, whItemWeightKg, whItemIsHazmat, whItemNeedsCold)
SELECT i,
       (ARRAY['EL', 'HG', 'FD', 'PC', 'TY', 'CH'])[i % 6 + 1] || '-' || lpad((1000 + i * 7)::text, 5, '0'),
       (ARRAY['USB-C Charger', 'Garden Hose', 'Frozen Berries', 'Shampoo', 'Puzzle Cube', 'Drain Cleaner',
              'Bluetooth Speaker', 'Cast Iron Pan', 'Oat Milk', 'Sunscreen', 'Board Game', 'Bleach',
              'Desk Lamp', 'Storage Box', 'Ice Cream Tub', 'Toothpaste', 'Kite', 'Lighter Fluid'])[(i - 1) % 18 + 1]
         || ' ' || (ARRAY['Mini', 'Classic', 'XL', 'Eco'])[(i - 1) / 18 + 1],
       (ARRAY['Electronics', 'Home & Garden', 'Grocery', 'Personal Care', 'Toys', 'Chemicals'])[(i - 1) % 6 + 1],
       round(2.5 + (i * 37) % 90 + ((i * 13) % 100) / 100.0, 2),
       round(0.1 + ((i * 29) % 60) / 8.0, 3),
       (i - 1) % 6 = 5,
       (i - 1) % 18 IN (2, 8, 14)
FROM generate_series(1, 72) AS i;

INSERT INTO whBin (whBinId, whBinSiteId, whBinCode, whBinZone, whBinCapacity)
SELECT b,
       (b - 1) % 4 + 1,
       chr(65 + (b - 1) / 4 % 6) || '-' || lpad(((b - 1) / 24 + 1)::text, 2, '0') || '-' || ((b - 1) % 4 + 1),
       (ARRAY['ambient', 'ambient', 'cold', 'bulk', 'hazmat', 'ambient'])[(b - 1) / 4 % 6 + 1],
       (ARRAY[200, 200, 120, 800, 60, 200])[(b - 1) / 4 % 6 + 1]
FROM generate_series(1, 72) AS b;

INSERT INTO whStock (whStockBinId, whStockItemId, whStockQty, whStockCountedOn)
SELECT b.whBinId, i.whItemId, (b.whBinId * 7 + i.whItemId * 3) % 90 + CASE WHEN (b.whBinId + i.whItemId) % 11 = 0 THEN 0 ELSE 5 END - 5,
       CURRENT_DATE - (b.whBinId + i.whItemId) % 45
FROM whBin AS b JOIN whItem AS i
  ON (i.whItemId + b.whBinId) % 9 = 0
 AND (b.whBinZone = 'hazmat') = i.whItemIsHazmat
 AND (b.whBinZone = 'cold') = i.whItemNeedsCold;

INSERT INTO whCust (whCustId, whCustName, whCustCity, whCustCountry, whCustSince)
SELECT c,
       (ARRAY['Northwind', 'Brightcart', 'Pebble', 'Urbanista', 'Kiwi', 'Mosaic', 'Tandem', 'Oakleaf', 'Swift', 'Lantern'])[(c - 1) % 10 + 1]
         || ' ' || (ARRAY['Shop', 'Goods', 'Direct', 'Market'])[(c - 1) / 10 + 1],
       (ARRAY['Amsterdam', 'Berlin', 'Munich', 'Austin', 'Denver', 'Lyon', 'Madrid', 'Chicago'])[(c * 3) % 8 + 1],
       (ARRAY['Netherlands', 'Germany', 'Germany', 'United States', 'United States', 'France', 'Spain', 'United States'])[(c * 3) % 8 + 1],
       CURRENT_DATE - (100 + c * 31)
FROM generate_series(1, 40) AS c;

INSERT INTO whOrder (whOrderId, whOrderCustId, whOrderSiteId, whOrderPlacedOn, whOrderShippedOn, whOrderStatus, whOrderIsExpress)
SELECT o,
       (o * 7) % 40 + 1,
       CASE WHEN o % 10 = 0 THEN 4 ELSE (o % 3) + 1 END,
       CURRENT_DATE - (o * 3) % 180,
       CASE WHEN st.s = 'shipped' THEN CURRENT_DATE - (o * 3) % 180 + (o % 4) + (o % 5 = 0)::int * 3 END,
       st.s,
       o % 7 = 0
FROM generate_series(1, 300) AS o
CROSS JOIN LATERAL (SELECT (CASE WHEN o % 23 = 0 THEN 'cancelled'
                                 WHEN (o * 3) % 180 < 3 THEN 'received'
                                 WHEN (o * 3) % 180 < 5 THEN 'picking'
                                 WHEN (o * 3) % 180 < 7 THEN 'packed'
                                 ELSE 'shipped' END)::whOrderState AS s) AS st;

INSERT INTO whOrderLine (whLineId, whLineOrderId, whLineItemId, whLineQty, whLineUnitPrice)
SELECT row_number() OVER (ORDER BY o.whOrderId, k),
       o.whOrderId,
       i.whItemId,
       (o.whOrderId + k * 3) % 6 + 1,
       round(i.whItemUnitCost * 1.4, 2)
FROM whOrder AS o
CROSS JOIN generate_series(0, 2) AS k
JOIN whItem AS i ON i.whItemId = (o.whOrderId * 5 + k * 17) % 72 + 1
WHERE k < o.whOrderId % 3 + 1;

INSERT INTO whSensor (whSensorId, whSensorSiteId, whSensorKind, whSensorLabel)
SELECT s,
       (s - 1) / 3 + 1,
       (ARRAY['temperature', 'temperature', 'humidity'])[(s - 1) % 3 + 1],
       (ARRAY['Cold room', 'Dock door', 'Main floor'])[(s - 1) % 3 + 1] || ' ' || ((s - 1) / 3 + 1)
FROM generate_series(1, 12) AS s;

-- one reading every 12 hours for the last 30 days (00:00 and 12:00 of the 30 days before today)
INSERT INTO whReading (whReadingId, whReadingSensorId, whReadingTs, whReadingValue)
SELECT row_number() OVER (ORDER BY h, s.whSensorId),
       s.whSensorId,
       extract(epoch FROM date_trunc('day', now()))::bigint - h * 12 * 3600,
       CASE WHEN s.whSensorKind = 'humidity' THEN 40 + (h * 7 + s.whSensorId) % 25
            WHEN s.whSensorLabel LIKE 'Cold room%' THEN 2 + ((h * 5 + s.whSensorId) % 9) * 0.5
                 + CASE WHEN (h + s.whSensorId) % 37 = 0 THEN 7 ELSE 0 END
            ELSE 12 + (h * 3 + s.whSensorId * 2) % 14 END
FROM whSensor AS s
CROSS JOIN generate_series(1, 60) AS h;
