-- saas: a subscription-billing app and its CRM, in two schemas (crm, billing) and nothing in public.
-- Written for nl2sql-shell (Apache-2.0). Dates are relative to CURRENT_DATE so that the
-- "last N days" questions keep their answers whatever day the suite is loaded.

CREATE SCHEMA crm;
CREATE SCHEMA billing;

CREATE TYPE crm.account_segment AS ENUM ('smb', 'mid_market', 'enterprise');
CREATE TYPE crm.deal_stage AS ENUM ('prospecting', 'proposal', 'negotiation', 'won', 'lost');
CREATE TYPE billing.subscription_status AS ENUM ('trialing', 'active', 'past_due', 'canceled');
CREATE TYPE billing.invoice_status AS ENUM ('draft', 'open', 'paid', 'void', 'uncollectible');
CREATE TYPE billing.payment_method AS ENUM ('card', 'ach', 'wire', 'paypal');

CREATE TABLE crm.sales_reps (
    rep_id integer PRIMARY KEY,
    full_name text NOT NULL,
    region text NOT NULL,
    hired_on date NOT NULL
);

CREATE TABLE crm.accounts (
    account_id integer PRIMARY KEY,
    account_name text NOT NULL,
    industry text NOT NULL,
    country text NOT NULL,
    segment crm.account_segment NOT NULL,
    owner_rep_id integer REFERENCES crm.sales_reps (rep_id),
    created_on date NOT NULL
);

CREATE TABLE crm.contacts (
    contact_id integer PRIMARY KEY,
    account_id integer NOT NULL REFERENCES crm.accounts (account_id),
    full_name text NOT NULL,
    job_title text NOT NULL,
    email text NOT NULL,
    is_primary boolean NOT NULL
);

CREATE TABLE crm.deals (
    deal_id integer PRIMARY KEY,
    account_id integer NOT NULL REFERENCES crm.accounts (account_id),
    rep_id integer NOT NULL REFERENCES crm.sales_reps (rep_id),
    stage crm.deal_stage NOT NULL,
    amount numeric(12, 2) NOT NULL,
    opened_on date NOT NULL,
    closed_on date
);

CREATE TABLE billing.plans (
    plan_id integer PRIMARY KEY,
    plan_name text NOT NULL,
    monthly_price numeric(10, 2) NOT NULL,
    included_seats integer NOT NULL,
    extra_seat_price numeric(10, 2) NOT NULL,
    is_legacy boolean NOT NULL
);

CREATE TABLE billing.subscriptions (
    subscription_id integer PRIMARY KEY,
    account_id integer NOT NULL REFERENCES crm.accounts (account_id),
    plan_id integer NOT NULL REFERENCES billing.plans (plan_id),
    status billing.subscription_status NOT NULL,
    seats integer NOT NULL,
    started_on date NOT NULL,
    canceled_on date
);

CREATE TABLE billing.invoices (
    invoice_id integer PRIMARY KEY,
    subscription_id integer NOT NULL REFERENCES billing.subscriptions (subscription_id),
    issued_on date NOT NULL,
    due_on date NOT NULL,
    amount_due numeric(12, 2) NOT NULL,
    status billing.invoice_status NOT NULL
);

CREATE TABLE billing.payments (
    payment_id integer PRIMARY KEY,
    invoice_id integer NOT NULL REFERENCES billing.invoices (invoice_id),
    paid_on date NOT NULL,
    amount numeric(12, 2) NOT NULL,
    method billing.payment_method NOT NULL
);

INSERT INTO crm.sales_reps (rep_id, full_name, region, hired_on) VALUES
(1, 'Maya Okafor', 'North America', CURRENT_DATE - 1500),
(2, 'Lucas Brandt', 'EMEA', CURRENT_DATE - 1320),
(3, 'Priya Raman', 'APAC', CURRENT_DATE - 1100),
(4, 'Diego Salas', 'North America', CURRENT_DATE - 900),
(5, 'Hannah Weiss', 'EMEA', CURRENT_DATE - 700),
(6, 'Tom Gallagher', 'North America', CURRENT_DATE - 480),
(7, 'Aiko Tanaka', 'APAC', CURRENT_DATE - 300),
(8, 'Sofia Marques', 'EMEA', CURRENT_DATE - 150);

INSERT INTO crm.accounts (account_id, account_name, industry, country, segment, owner_rep_id, created_on)
SELECT i,
       (ARRAY['Acme', 'Bluefin', 'Cedar', 'Delta', 'Ember', 'Falcon', 'Granite', 'Harbor', 'Iris', 'Juniper', 'Kestrel', 'Lumen'])[(i - 1) % 12 + 1]
         || ' ' || (ARRAY['Labs', 'Logistics', 'Health', 'Retail', 'Foods', 'Analytics', 'Studios', 'Systems', 'Partners', 'Capital'])[(i - 1) / 12 + 1],
       (ARRAY['Software', 'Logistics', 'Healthcare', 'Retail', 'Food & Beverage', 'Software', 'Media', 'Software', 'Professional Services', 'Finance'])[(i - 1) / 12 + 1],
       (ARRAY['United States', 'United Kingdom', 'Germany', 'United States', 'Canada', 'France', 'Australia', 'Netherlands', 'United States', 'Japan'])[(i * 7) % 10 + 1],
       (CASE WHEN i % 10 = 0 THEN 'enterprise' WHEN i % 3 = 0 THEN 'mid_market' ELSE 'smb' END)::crm.account_segment,
       i % 8 + 1,
       CURRENT_DATE - (20 + i * 9)
FROM generate_series(1, 120) AS i;

INSERT INTO crm.contacts (contact_id, account_id, full_name, job_title, email, is_primary)
SELECT 2 * a.account_id - 1 + k,
       a.account_id,
       (ARRAY['Alex', 'Jordan', 'Sam', 'Taylor', 'Morgan', 'Casey', 'Riley', 'Jamie', 'Avery', 'Quinn', 'Rowan'])[(a.account_id + k * 5) % 11 + 1]
         || ' ' || (ARRAY['Nguyen', 'Smith', 'Garcia', 'Kowalski', 'Haddad', 'Larsen', 'Moreau', 'Ito', 'Silva', 'Brown', 'Fischer', 'Patel', 'Rossi'])[(a.account_id * 3 + k) % 13 + 1],
       CASE WHEN k = 0 THEN (ARRAY['CFO', 'VP Finance', 'Head of Operations', 'CTO'])[a.account_id % 4 + 1]
            ELSE (ARRAY['Accounts Payable Clerk', 'IT Manager', 'Office Manager'])[a.account_id % 3 + 1] END,
       lower(replace(a.account_name, ' ', '')) || '.' || CASE WHEN k = 0 THEN 'billing' ELSE 'admin' END || '@example.com',
       k = 0
FROM crm.accounts AS a CROSS JOIN generate_series(0, 1) AS k;

INSERT INTO crm.deals (deal_id, account_id, rep_id, stage, amount, opened_on, closed_on)
SELECT j,
       (j * 7) % 120 + 1,
       (j * 3 + j / 7) % 8 + 1,
       (ARRAY['won', 'lost', 'won', 'proposal', 'negotiation', 'prospecting'])[j % 6 + 1]::crm.deal_stage,
       1000 * (j % 13 + 2) + (j * 37) % 500,
       CURRENT_DATE - ((j * 53) % 400 + 10),
       CASE WHEN j % 6 IN (0, 1, 2) THEN LEAST(CURRENT_DATE - ((j * 53) % 400 + 10) + (j % 50 + 7), CURRENT_DATE - 1) END
FROM generate_series(1, 150) AS j;

INSERT INTO billing.plans (plan_id, plan_name, monthly_price, included_seats, extra_seat_price, is_legacy) VALUES
(1, 'Starter', 29.00, 3, 9.00, false),
(2, 'Team', 99.00, 10, 8.00, false),
(3, 'Business', 299.00, 25, 7.00, false),
(4, 'Enterprise', 999.00, 100, 6.00, false),
(5, 'Pro (2019)', 149.00, 15, 10.00, true);

INSERT INTO billing.subscriptions (subscription_id, account_id, plan_id, status, seats, started_on, canceled_on)
SELECT a.account_id,
       a.account_id,
       p.plan_id,
       s.status,
       p.included_seats + a.account_id % 7,
       CASE WHEN s.status = 'trialing' THEN CURRENT_DATE - (a.account_id % 14 + 1) ELSE a.created_on + 3 END,
       CASE WHEN s.status = 'canceled' THEN CURRENT_DATE - (a.account_id % 60 + 5) END
FROM crm.accounts AS a
CROSS JOIN LATERAL (SELECT CASE WHEN a.account_id % 17 = 0 THEN 5
                                WHEN a.segment = 'enterprise' THEN 4
                                WHEN a.segment = 'mid_market' THEN 3 - a.account_id % 2
                                ELSE 1 + (a.account_id % 4 = 1)::int END AS plan_id) AS pick
JOIN billing.plans AS p ON p.plan_id = pick.plan_id
CROSS JOIN LATERAL (SELECT (CASE WHEN a.account_id % 11 = 0 THEN 'canceled'
                                 WHEN a.account_id % 13 = 0 THEN 'past_due'
                                 WHEN a.account_id % 19 = 0 THEN 'trialing'
                                 ELSE 'active' END)::billing.subscription_status AS status) AS s;

INSERT INTO billing.invoices (invoice_id, subscription_id, issued_on, due_on, amount_due, status)
SELECT row_number() OVER (ORDER BY x.issued_on, x.subscription_id),
       x.subscription_id, x.issued_on, x.due_on, x.amount_due, x.status
FROM (
    SELECT s.subscription_id,
           CURRENT_DATE - (k * 30 + s.subscription_id % 28) AS issued_on,
           CURRENT_DATE - (k * 30 + s.subscription_id % 28) + CASE WHEN a.segment = 'smb' THEN 14 ELSE 30 END AS due_on,
           p.monthly_price + GREATEST(s.seats - p.included_seats, 0) * p.extra_seat_price AS amount_due,
           (CASE WHEN s.status = 'past_due' AND k <= 1 THEN 'open'
                 WHEN k = 0 AND s.subscription_id % 4 = 0 THEN 'open'
                 WHEN s.subscription_id % 23 = 0 AND k = 5 THEN 'uncollectible'
                 WHEN s.subscription_id % 29 = 0 AND k = 3 THEN 'void'
                 ELSE 'paid' END)::billing.invoice_status AS status
    FROM billing.subscriptions AS s
    JOIN crm.accounts AS a ON a.account_id = s.account_id
    JOIN billing.plans AS p ON p.plan_id = s.plan_id
    CROSS JOIN generate_series(0, 5) AS k
    WHERE s.status <> 'trialing'
      AND CURRENT_DATE - (k * 30 + s.subscription_id % 28) >= s.started_on
      AND (s.canceled_on IS NULL OR CURRENT_DATE - (k * 30 + s.subscription_id % 28) <= s.canceled_on)
) AS x;

-- next month's drafts for a few accounts
INSERT INTO billing.invoices (invoice_id, subscription_id, issued_on, due_on, amount_due, status)
SELECT 10000 + s.subscription_id, s.subscription_id, CURRENT_DATE + 3, CURRENT_DATE + 33, p.monthly_price, 'draft'
FROM billing.subscriptions AS s JOIN billing.plans AS p ON p.plan_id = s.plan_id
WHERE s.status = 'active' AND s.subscription_id % 9 = 0;

INSERT INTO billing.payments (payment_id, invoice_id, paid_on, amount, method)
SELECT row_number() OVER (ORDER BY i.invoice_id),
       i.invoice_id,
       LEAST(i.issued_on + CASE WHEN i.subscription_id % 5 = 0 THEN 35 + i.invoice_id % 10 ELSE i.invoice_id % 9 END, CURRENT_DATE),
       i.amount_due,
       (ARRAY['card', 'ach', 'wire', 'paypal', 'card'])[i.subscription_id % 5 + 1]::billing.payment_method
FROM billing.invoices AS i
WHERE i.status = 'paid';

CREATE VIEW billing.invoice_balances AS
SELECT i.invoice_id,
       s.account_id,
       i.issued_on,
       i.due_on,
       i.status,
       i.amount_due,
       COALESCE(SUM(p.amount), 0) AS amount_paid,
       i.amount_due - COALESCE(SUM(p.amount), 0) AS balance
FROM billing.invoices AS i
JOIN billing.subscriptions AS s ON s.subscription_id = i.subscription_id
LEFT JOIN billing.payments AS p ON p.invoice_id = i.invoice_id
GROUP BY i.invoice_id, s.account_id;
