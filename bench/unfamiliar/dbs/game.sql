-- game: telemetry of an online multiplayer game. Times are Unix epoch seconds (bigint),
-- relative to the start of today, so "last 7 days" questions keep their answers.
-- Gifts carry two role-named references to players (sender and recipient).
-- Written for nl2sql-shell (Apache-2.0).

CREATE TYPE platform AS ENUM ('pc', 'playstation', 'xbox', 'switch', 'mobile');
CREATE TYPE match_mode AS ENUM ('casual', 'ranked', 'tournament');

CREATE TABLE guilds (
    guild_id integer PRIMARY KEY,
    guild_name text NOT NULL,
    founded_at bigint NOT NULL
);

CREATE TABLE players (
    player_id integer PRIMARY KEY,
    gamer_tag text NOT NULL UNIQUE,
    country_code char(2) NOT NULL,
    platform platform NOT NULL,
    guild_id integer REFERENCES guilds (guild_id),
    created_at bigint NOT NULL,
    is_banned boolean NOT NULL
);

CREATE TABLE matches (
    match_id integer PRIMARY KEY,
    mode match_mode NOT NULL,
    map_name text NOT NULL,
    started_at bigint NOT NULL,
    duration_seconds integer NOT NULL,
    winning_team smallint
);

CREATE TABLE match_players (
    match_id integer NOT NULL REFERENCES matches (match_id),
    player_id integer NOT NULL REFERENCES players (player_id),
    team smallint NOT NULL,
    kills integer NOT NULL,
    deaths integer NOT NULL,
    assists integer NOT NULL,
    PRIMARY KEY (match_id, player_id)
);

CREATE TABLE gifts (
    gift_id integer PRIMARY KEY,
    sender_player_id integer NOT NULL REFERENCES players (player_id),
    recipient_player_id integer NOT NULL REFERENCES players (player_id),
    item_name text NOT NULL,
    coin_value integer NOT NULL,
    sent_at bigint NOT NULL
);

CREATE TABLE purchases (
    purchase_id integer PRIMARY KEY,
    player_id integer NOT NULL REFERENCES players (player_id),
    product_name text NOT NULL,
    price_usd numeric(8, 2) NOT NULL,
    purchased_at bigint NOT NULL,
    refunded boolean NOT NULL
);

INSERT INTO guilds (guild_id, guild_name, founded_at) VALUES
(1, 'Night Owls', extract(epoch FROM date_trunc('day', now()))::bigint - 400 * 86400),
(2, 'Iron Wolves', extract(epoch FROM date_trunc('day', now()))::bigint - 310 * 86400),
(3, 'Pixel Pirates', extract(epoch FROM date_trunc('day', now()))::bigint - 220 * 86400),
(4, 'Quiet Storm', extract(epoch FROM date_trunc('day', now()))::bigint - 95 * 86400),
(5, 'Lucky Clovers', extract(epoch FROM date_trunc('day', now()))::bigint - 20 * 86400);

INSERT INTO players (player_id, gamer_tag, country_code, platform, guild_id, created_at, is_banned)
SELECT p,
       (ARRAY['shadow', 'blaze', 'frost', 'viper', 'nova', 'echo', 'raven', 'tango', 'pixel', 'comet', 'orbit', 'ghost', 'lynx', 'ember', 'drift'])[p % 15 + 1]
         || '_' || (ARRAY['fox', 'byte', 'king', 'ace', 'bolt', 'moon', 'rider'])[(p * 3) % 7 + 1] || (p * 7) % 100,
       (ARRAY['US', 'BR', 'DE', 'KR', 'US', 'GB', 'JP', 'FR', 'PL', 'MX', 'US', 'SE'])[(p * 5) % 12 + 1],
       (ARRAY['pc', 'pc', 'playstation', 'xbox', 'switch', 'mobile', 'playstation'])[p % 7 + 1]::platform,
       CASE WHEN p % 4 = 0 THEN NULL ELSE p % 5 + 1 END,
       extract(epoch FROM date_trunc('day', now()))::bigint - ((p * 41) % 600 + 1) * 86400 + (p * 997) % 86400,
       p % 29 = 0
FROM generate_series(1, 120) AS p;

INSERT INTO matches (match_id, mode, map_name, started_at, duration_seconds, winning_team)
SELECT m,
       (ARRAY['casual', 'ranked', 'casual', 'ranked', 'tournament'])[m % 5 + 1]::match_mode,
       (ARRAY['Harbor', 'Citadel', 'Dunes', 'Glacier', 'Foundry'])[(m * 3) % 5 + 1],
       extract(epoch FROM date_trunc('day', now()))::bigint - (m % 60 + 1) * 86400 + ((m * 7919) % 72000) + 7200,
       600 + (m * 53) % 1500,
       CASE WHEN m % 13 = 0 THEN NULL ELSE m % 2 + 1 END
FROM generate_series(1, 180) AS m;

INSERT INTO match_players (match_id, player_id, team, kills, deaths, assists)
SELECT m.match_id,
       (m.match_id * 11 + slot * 23) % 120 + 1,
       slot % 2 + 1,
       (m.match_id * 3 + slot * 7) % 15,
       (m.match_id + slot * 5) % 11 + 1,
       (m.match_id * 5 + slot) % 9
FROM matches AS m CROSS JOIN generate_series(0, 3) AS slot;

INSERT INTO gifts (gift_id, sender_player_id, recipient_player_id, item_name, coin_value, sent_at)
SELECT g,
       (g * 7) % 40 + 1,
       r.recipient,
       (ARRAY['Golden Skin', 'XP Boost', 'Emote Pack', 'Loot Crate', 'Rare Banner'])[g % 5 + 1],
       (ARRAY[500, 100, 150, 250, 800])[g % 5 + 1],
       extract(epoch FROM date_trunc('day', now()))::bigint - (g * 3 % 90 + 1) * 86400 + (g * 3571) % 86400
FROM generate_series(1, 160) AS g
CROSS JOIN LATERAL (SELECT CASE WHEN g % 3 = 0 THEN (g * g) % 11 + 1 ELSE (g * 13 + 5) % 120 + 1 END AS recipient) AS r
WHERE (g * 7) % 40 + 1 <> r.recipient;

INSERT INTO purchases (purchase_id, player_id, product_name, price_usd, purchased_at, refunded)
SELECT q,
       (q * 17) % 120 + 1,
       pr.name,
       pr.price,
       extract(epoch FROM date_trunc('day', now()))::bigint - (q * 5 % 120 + 1) * 86400 + (q * 4513) % 86400,
       q % 31 = 0
FROM generate_series(1, 220) AS q
CROSS JOIN LATERAL (SELECT (ARRAY['Season Pass', '1000 Coins', '500 Coins', 'Starter Bundle', 'Legendary Skin'])[q % 5 + 1] AS name,
                           (ARRAY[9.99, 9.99, 4.99, 14.99, 19.99])[q % 5 + 1]::numeric(8, 2) AS price) AS pr;

CREATE VIEW player_match_totals AS
SELECT p.player_id,
       p.gamer_tag,
       count(*) AS matches_played,
       sum(mp.kills) AS kills,
       sum(mp.deaths) AS deaths,
       sum(mp.assists) AS assists,
       count(*) FILTER (WHERE mp.team = m.winning_team) AS wins
FROM players AS p
JOIN match_players AS mp ON mp.player_id = p.player_id
JOIN matches AS m ON m.match_id = mp.match_id
GROUP BY p.player_id, p.gamer_tag;
