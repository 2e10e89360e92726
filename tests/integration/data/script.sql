-- Small deterministic workload for the memscope/valgrind comparison
-- (tests/integration/oracle.py --real sqlite): run as
--   sqlite3 :memory: < tests/integration/data/script.sql
CREATE TABLE items(id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, name TEXT NOT NULL, price REAL);
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 200)
INSERT INTO items(id, grp, name, price)
  SELECT n, n % 7, 'item-' || printf('%04d', n) || '-' || substr('abcdefghijklmnopqrstuvwxyz', 1 + n % 26, 5), (n * 37 % 101) / 4.0
  FROM seq;
INSERT INTO items(grp, name, price) VALUES (3, 'extra-one', 1.25), (5, 'extra-two', 2.5);
CREATE INDEX items_grp ON items(grp, price);
SELECT count(*), sum(price) FROM items;
SELECT grp, count(*) AS n, round(avg(price), 3) AS avg_price, min(name), max(name)
  FROM items GROUP BY grp ORDER BY grp;
SELECT name FROM items WHERE grp = 4 AND price > 10 ORDER BY price DESC, name LIMIT 5;
UPDATE items SET price = price * 2 WHERE grp = 1;
DELETE FROM items WHERE id % 10 = 0;
SELECT grp, group_concat(id, ',') FROM (SELECT grp, id FROM items WHERE id < 40 ORDER BY id) GROUP BY grp ORDER BY grp;
