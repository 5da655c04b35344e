-- clinic: an outpatient clinic's records. Every identifier is mixed-case and quoted
-- ("PatientVisit"."visitDate"), so queries must quote them too.
-- Written for nl2sql-shell (Apache-2.0). Visit dates are relative to CURRENT_DATE.

CREATE TYPE "VisitType" AS ENUM ('checkup', 'follow_up', 'urgent', 'telehealth', 'procedure');
CREATE TYPE "VisitStatus" AS ENUM ('scheduled', 'completed', 'no_show', 'cancelled');

CREATE TABLE "Clinician" (
    "clinicianId" integer PRIMARY KEY,
    "fullName" text NOT NULL,
    "specialty" text NOT NULL,
    "hiredOn" date NOT NULL,
    "isAcceptingPatients" boolean NOT NULL
);

CREATE TABLE "Patient" (
    "patientId" integer PRIMARY KEY,
    "firstName" text NOT NULL,
    "lastName" text NOT NULL,
    "birthDate" date NOT NULL,
    "sex" char(1) NOT NULL,
    "insurancePlan" text NOT NULL,
    "postalCode" text NOT NULL,
    "primaryClinicianId" integer REFERENCES "Clinician" ("clinicianId"),
    "registeredOn" date NOT NULL
);

CREATE TABLE "PatientVisit" (
    "visitId" integer PRIMARY KEY,
    "patientId" integer NOT NULL REFERENCES "Patient" ("patientId"),
    "clinicianId" integer NOT NULL REFERENCES "Clinician" ("clinicianId"),
    "visitDate" date NOT NULL,
    "startTime" time NOT NULL,
    "visitType" "VisitType" NOT NULL,
    "status" "VisitStatus" NOT NULL,
    "durationMinutes" integer,
    "billedAmount" numeric(10, 2)
);

CREATE TABLE "Referral" (
    "referralId" integer PRIMARY KEY,
    "patientId" integer NOT NULL REFERENCES "Patient" ("patientId"),
    "referringClinicianId" integer NOT NULL REFERENCES "Clinician" ("clinicianId"),
    "referredToClinicianId" integer NOT NULL REFERENCES "Clinician" ("clinicianId"),
    "referredOn" date NOT NULL,
    "reason" text NOT NULL,
    "isUrgent" boolean NOT NULL
);

CREATE TABLE "Prescription" (
    "prescriptionId" integer PRIMARY KEY,
    "visitId" integer NOT NULL REFERENCES "PatientVisit" ("visitId"),
    "drugName" text NOT NULL,
    "doseMg" numeric(8, 2) NOT NULL,
    "daysSupply" integer NOT NULL,
    "refillsAllowed" integer NOT NULL
);

INSERT INTO "Clinician" ("clinicianId", "fullName", "specialty", "hiredOn", "isAcceptingPatients") VALUES
(1, 'Dr. Amara Osei', 'Family Medicine', CURRENT_DATE - 3650, true),
(2, 'Dr. Ben Hollis', 'Family Medicine', CURRENT_DATE - 2900, false),
(3, 'Dr. Carmen Ruiz', 'Internal Medicine', CURRENT_DATE - 2400, true),
(4, 'Dr. David Cho', 'Internal Medicine', CURRENT_DATE - 1800, true),
(5, 'Nurse Pr. Elena Petrova', 'Family Medicine', CURRENT_DATE - 700, true),
(6, 'Dr. Farid Haddad', 'Cardiology', CURRENT_DATE - 3200, true),
(7, 'Dr. Grace Lindqvist', 'Dermatology', CURRENT_DATE - 2100, false),
(8, 'Dr. Hiro Sato', 'Endocrinology', CURRENT_DATE - 1600, true),
(9, 'Dr. Imani Brooks', 'Orthopedics', CURRENT_DATE - 1250, true),
(10, 'Dr. Jonas Keller', 'Neurology', CURRENT_DATE - 900, true),
(11, 'Dr. Kavya Menon', 'Psychiatry', CURRENT_DATE - 500, true),
(12, 'Dr. Liam O''Connor', 'Gastroenterology', CURRENT_DATE - 200, true);

INSERT INTO "Patient" ("patientId", "firstName", "lastName", "birthDate", "sex", "insurancePlan", "postalCode", "primaryClinicianId", "registeredOn")
SELECT p,
       (ARRAY['Olivia', 'Noah', 'Emma', 'Liam', 'Ava', 'Mateo', 'Sophia', 'Elijah', 'Mia', 'Lucas', 'Zara', 'Omar', 'Chloe', 'Ravi', 'Nora', 'Kai', 'Leah'])[p % 17 + 1],
       (ARRAY['Adams', 'Baker', 'Chen', 'Diaz', 'Evans', 'Flores', 'Gupta', 'Hughes', 'Ibrahim', 'Jensen', 'Khan', 'Lopez', 'Murphy'])[(p * 5) % 13 + 1],
       DATE '1940-01-01' + (p * 157) % 29000,
       (ARRAY['F', 'M', 'F', 'M', 'X'])[p % 5 + 1],
       (ARRAY['Medicare', 'BlueCross', 'Aetna', 'Medicaid', 'BlueCross', 'Self-pay', 'UnitedHealth'])[p % 7 + 1],
       lpad((94100 + (p * 3) % 40)::text, 5, '0'),
       p % 5 + 1,
       CURRENT_DATE - (40 + (p * 23) % 1500)
FROM generate_series(1, 150) AS p;

INSERT INTO "PatientVisit" ("visitId", "patientId", "clinicianId", "visitDate", "startTime", "visitType", "status", "durationMinutes", "billedAmount")
SELECT n,
       pt."patientId",
       CASE WHEN n % 3 = 0 THEN 6 + (n / 3) % 7 ELSE pt."primaryClinicianId" END,
       CASE WHEN n % 20 = 0 THEN CURRENT_DATE + (n % 28 + 1) ELSE CURRENT_DATE - (n * 37) % 360 END,
       time '08:00' + ((n * 7) % 18) * interval '30 minutes',
       vt.t,
       st.s,
       CASE WHEN st.s = 'completed' THEN (ARRAY[20, 30, 45, 15, 60])[n % 5 + 1] + (vt.t = 'procedure')::int * 30 END,
       CASE WHEN st.s = 'completed' THEN (ARRAY[120, 180, 95, 260, 75, 150])[n % 6 + 1] + (vt.t = 'procedure')::int * 400 + (vt.t = 'urgent')::int * 90
            WHEN st.s = 'no_show' THEN 25 END
FROM generate_series(1, 400) AS n
JOIN "Patient" AS pt ON pt."patientId" = (n * 13) % 150 + 1
CROSS JOIN LATERAL (SELECT ((ARRAY['checkup', 'follow_up', 'follow_up', 'urgent', 'telehealth', 'checkup', 'procedure'])[n % 7 + 1])::"VisitType" AS t) AS vt
CROSS JOIN LATERAL (SELECT (CASE WHEN n % 20 = 0 THEN 'scheduled' WHEN n % 17 = 0 THEN 'no_show'
                                 WHEN n % 19 = 0 THEN 'cancelled' ELSE 'completed' END)::"VisitStatus" AS s) AS st;

INSERT INTO "Referral" ("referralId", "patientId", "referringClinicianId", "referredToClinicianId", "referredOn", "reason", "isUrgent")
SELECT r,
       pt."patientId",
       pt."primaryClinicianId",
       6 + (r * 5) % 7,
       CURRENT_DATE - (r * 11) % 330,
       (ARRAY['Chest pain on exertion', 'Suspicious mole', 'Poorly controlled diabetes', 'Knee pain', 'Recurring migraines', 'Anxiety and low mood', 'Chronic heartburn'])[(r * 5) % 7 + 1],
       r % 6 = 0
FROM generate_series(1, 70) AS r
JOIN "Patient" AS pt ON pt."patientId" = (r * 17) % 150 + 1;

INSERT INTO "Prescription" ("prescriptionId", "visitId", "drugName", "doseMg", "daysSupply", "refillsAllowed")
SELECT row_number() OVER (ORDER BY v."visitId", k),
       v."visitId",
       d.name,
       d.dose,
       (ARRAY[30, 90, 10, 30, 60])[(v."visitId" + k) % 5 + 1],
       (v."visitId" + k) % 4
FROM "PatientVisit" AS v
CROSS JOIN generate_series(0, 1) AS k
CROSS JOIN LATERAL (SELECT (ARRAY['Metformin', 'Lisinopril', 'Atorvastatin', 'Amoxicillin', 'Sertraline', 'Omeprazole', 'Ibuprofen', 'Levothyroxine', 'Amlodipine'])[(v."visitId" * 3 + k * 4) % 9 + 1] AS name,
                           (ARRAY[500, 10, 20, 875, 50, 20, 400, 0.05, 5])[(v."visitId" * 3 + k * 4) % 9 + 1]::numeric AS dose) AS d
WHERE v."status" = 'completed' AND (v."visitId" % 2 = 0 OR (k = 0 AND v."visitId" % 5 = 0)) AND (k = 0 OR v."visitId" % 6 = 0);

CREATE TABLE "LabPanel" (
    "labPanelId" integer PRIMARY KEY,
    "visitId" integer NOT NULL REFERENCES "PatientVisit" ("visitId"),
    "collectedAt" timestamp NOT NULL,
    "isFasting" boolean NOT NULL,
    "labVendor" text NOT NULL,
    "glucoseMgDl" numeric(8,0),
    "hba1cPct" numeric(8,1),
    "sodiumMmolL" numeric(8,1),
    "potassiumMmolL" numeric(8,1),
    "chlorideMmolL" numeric(8,1),
    "bicarbonateMmolL" numeric(8,1),
    "bunMgDl" numeric(8,0),
    "creatinineMgDl" numeric(8,2),
    "egfrMlMin" numeric(8,0),
    "calciumMgDl" numeric(8,1),
    "totalProteinGDl" numeric(8,1),
    "albuminGDl" numeric(8,1),
    "bilirubinTotalMgDl" numeric(8,2),
    "altUL" numeric(8,0),
    "astUL" numeric(8,0),
    "alkPhosUL" numeric(8,0),
    "cholesterolTotalMgDl" numeric(8,0),
    "ldlMgDl" numeric(8,0),
    "hdlMgDl" numeric(8,0),
    "triglyceridesMgDl" numeric(8,0),
    "tshMiuL" numeric(8,2),
    "freeT4NgDl" numeric(8,2),
    "wbcKUl" numeric(8,1),
    "rbcMUl" numeric(8,1),
    "hemoglobinGDl" numeric(8,1),
    "hematocritPct" numeric(8,1),
    "mcvFl" numeric(8,0),
    "mchPg" numeric(8,1),
    "mchcGDl" numeric(8,1),
    "rdwPct" numeric(8,1),
    "plateletsKUl" numeric(8,0),
    "neutrophilsPct" numeric(8,0),
    "lymphocytesPct" numeric(8,0),
    "monocytesPct" numeric(8,1),
    "eosinophilsPct" numeric(8,1),
    "basophilsPct" numeric(8,1),
    "ironUgDl" numeric(8,0),
    "ferritinNgMl" numeric(8,0),
    "vitaminDNgMl" numeric(8,0),
    "vitaminB12PgMl" numeric(8,0),
    "folateNgMl" numeric(8,1),
    "crpMgL" numeric(8,1),
    "esrMmHr" numeric(8,0),
    "uricAcidMgDl" numeric(8,1),
    "magnesiumMgDl" numeric(8,2),
    "phosphorusMgDl" numeric(8,1),
    "psaNgMl" numeric(8,1),
    "inrRatio" numeric(8,2),
    "ptSeconds" numeric(8,1),
    "pttSeconds" numeric(8,1),
    "fibrinogenMgDl" numeric(8,0),
    "dDimerUgMl" numeric(8,2),
    "troponinNgL" numeric(8,1),
    "bnpPgMl" numeric(8,0),
    "ldhUL" numeric(8,0),
    "ggtUL" numeric(8,0),
    "lipaseUL" numeric(8,0),
    "amylaseUL" numeric(8,0),
    "cortisolUgDl" numeric(8,1),
    "insulinUuMl" numeric(8,1),
    "urineProteinMgDl" numeric(8,0),
    "urineSpecificGravity" numeric(6,3),
    "urinePh" numeric(8,2),
    "reviewedByClinicianId" integer REFERENCES "Clinician" ("clinicianId"),
    "flaggedAbnormal" boolean NOT NULL
);

INSERT INTO "LabPanel" ("labPanelId", "visitId", "collectedAt", "isFasting", "labVendor", "glucoseMgDl", "hba1cPct", "sodiumMmolL", "potassiumMmolL", "chlorideMmolL", "bicarbonateMmolL", "bunMgDl", "creatinineMgDl", "egfrMlMin", "calciumMgDl", "totalProteinGDl", "albuminGDl", "bilirubinTotalMgDl", "altUL", "astUL", "alkPhosUL", "cholesterolTotalMgDl", "ldlMgDl", "hdlMgDl", "triglyceridesMgDl", "tshMiuL", "freeT4NgDl", "wbcKUl", "rbcMUl", "hemoglobinGDl", "hematocritPct", "mcvFl", "mchPg", "mchcGDl", "rdwPct", "plateletsKUl", "neutrophilsPct", "lymphocytesPct", "monocytesPct", "eosinophilsPct", "basophilsPct", "ironUgDl", "ferritinNgMl", "vitaminDNgMl", "vitaminB12PgMl", "folateNgMl", "crpMgL", "esrMmHr", "uricAcidMgDl", "magnesiumMgDl", "phosphorusMgDl", "psaNgMl", "inrRatio", "ptSeconds", "pttSeconds", "fibrinogenMgDl", "dDimerUgMl", "troponinNgL", "bnpPgMl", "ldhUL", "ggtUL", "lipaseUL", "amylaseUL", "cortisolUgDl", "insulinUuMl", "urineProteinMgDl", "urineSpecificGravity", "urinePh", "reviewedByClinicianId", "flaggedAbnormal")
SELECT row_number() OVER (ORDER BY v."visitId"),
       v."visitId",
       v."visitDate" + time '08:00' + (v."visitId" % 5) * interval '25 minutes',
       v."visitId" % 3 <> 0,
       (ARRAY['Quest', 'LabCorp', 'Sonic'])[v."visitId" % 3 + 1],
       round(72 + ((v."visitId" * 7) % 31) * 3, 0),
       round(4.8 + ((v."visitId" * 5) % 23) * 0.2, 1),
       round(134 + ((v."visitId" * 3) % 17) * 0.5, 1),
       round(3.4 + ((v."visitId" * 7) % 19) * 0.1, 1),
       round(97 + ((v."visitId" * 11) % 15) * 0.5, 1),
       round(21 + ((v."visitId" * 5) % 13) * 0.5, 1),
       round(7 + ((v."visitId" * 3) % 19) * 1, 0),
       round(0.6 + ((v."visitId" * 13) % 21) * 0.05, 2),
       round(55 + ((v."visitId" * 7) % 29) * 2, 0),
       round(8.4 + ((v."visitId" * 5) % 17) * 0.1, 1),
       round(6.0 + ((v."visitId" * 3) % 23) * 0.1, 1),
       round(3.3 + ((v."visitId" * 7) % 17) * 0.1, 1),
       round(0.2 + ((v."visitId" * 11) % 21) * 0.05, 2),
       round(10 + ((v."visitId" * 5) % 29) * 2, 0),
       round(12 + ((v."visitId" * 3) % 23) * 2, 0),
       round(40 + ((v."visitId" * 7) % 19) * 5, 0),
       round(140 + ((v."visitId" * 11) % 27) * 5, 0),
       round(60 + ((v."visitId" * 7) % 25) * 5, 0),
       round(32 + ((v."visitId" * 5) % 21) * 2, 0),
       round(70 + ((v."visitId" * 3) % 23) * 10, 0),
       round(0.4 + ((v."visitId" * 7) % 25) * 0.2, 2),
       round(0.8 + ((v."visitId" * 5) % 21) * 0.05, 2),
       round(3.5 + ((v."visitId" * 11) % 23) * 0.4, 1),
       round(3.9 + ((v."visitId" * 3) % 19) * 0.1, 1),
       round(10.5 + ((v."visitId" * 7) % 23) * 0.3, 1),
       round(33 + ((v."visitId" * 5) % 19) * 0.8, 1),
       round(78 + ((v."visitId" * 3) % 23) * 1, 0),
       round(26 + ((v."visitId" * 7) % 19) * 0.3, 1),
       round(31 + ((v."visitId" * 5) % 17) * 0.2, 1),
       round(11.5 + ((v."visitId" * 11) % 19) * 0.2, 1),
       round(140 + ((v."visitId" * 3) % 29) * 10, 0),
       round(40 + ((v."visitId" * 7) % 31) * 1, 0),
       round(18 + ((v."visitId" * 5) % 23) * 1, 0),
       round(2 + ((v."visitId" * 3) % 17) * 0.5, 1),
       round(0.5 + ((v."visitId" * 11) % 19) * 0.3, 1),
       round(0.1 + ((v."visitId" * 7) % 11) * 0.1, 1),
       round(40 + ((v."visitId" * 5) % 27) * 5, 0),
       round(12 + ((v."visitId" * 3) % 31) * 8, 0),
       round(12 + ((v."visitId" * 7) % 23) * 2, 0),
       round(180 + ((v."visitId" * 11) % 29) * 25, 0),
       round(3 + ((v."visitId" * 5) % 27) * 0.5, 1),
       round(0.2 + ((v."visitId" * 3) % 23) * 0.6, 1),
       round(2 + ((v."visitId" * 7) % 19) * 2, 0),
       round(3 + ((v."visitId" * 5) % 25) * 0.25, 1),
       round(1.6 + ((v."visitId" * 11) % 19) * 0.05, 2),
       round(2.4 + ((v."visitId" * 3) % 21) * 0.1, 1),
       round(0.2 + ((v."visitId" * 7) % 23) * 0.3, 1),
       round(0.8 + ((v."visitId" * 5) % 23) * 0.05, 2),
       round(10.5 + ((v."visitId" * 3) % 21) * 0.2, 1),
       round(24 + ((v."visitId" * 7) % 19) * 0.8, 1),
       round(180 + ((v."visitId" * 11) % 27) * 12, 0),
       round(0.1 + ((v."visitId" * 5) % 23) * 0.05, 2),
       round(1 + ((v."visitId" * 3) % 19) * 1.5, 1),
       round(10 + ((v."visitId" * 7) % 25) * 15, 0),
       round(120 + ((v."visitId" * 5) % 27) * 8, 0),
       round(8 + ((v."visitId" * 11) % 23) * 3, 0),
       round(10 + ((v."visitId" * 3) % 21) * 4, 0),
       round(25 + ((v."visitId" * 7) % 23) * 6, 0),
       round(4 + ((v."visitId" * 5) % 21) * 1, 1),
       round(2 + ((v."visitId" * 3) % 19) * 1.5, 1),
       round(0 + ((v."visitId" * 7) % 13) * 5, 0),
       round(1.003 + ((v."visitId" * 11) % 15) * 0.002, 3),
       round(5.0 + ((v."visitId" * 5) % 13) * 0.25, 2),
       v."clinicianId",
       (v."visitId" * 7) % 31 >= 26 OR (v."visitId" * 7) % 23 >= 20
FROM "PatientVisit" AS v
WHERE v."status" = 'completed' AND v."visitType" IN ('checkup', 'follow_up', 'procedure');

CREATE VIEW "VisitSummary" AS
SELECT v."visitId",
       v."visitDate",
       p."firstName" || ' ' || p."lastName" AS "patientName",
       c."fullName" AS "clinicianName",
       c."specialty",
       v."visitType",
       v."status",
       v."billedAmount"
FROM "PatientVisit" AS v
JOIN "Patient" AS p ON p."patientId" = v."patientId"
JOIN "Clinician" AS c ON c."clinicianId" = v."clinicianId";
