-- The pure-SQL expansion of research/scheduling.md: the same rules as src/schedules/expand.ts
-- (local dates, window bounds resolved like Temporal's 'compatible', candidates on the local
-- grid, no slot in a gap, one per occurrence of a repeated time, slots that fit), with the same
-- fast path for windows without an offset change. Not used by Carebook: npm run bench:slots runs
-- it as the baseline, and test/schedules/sql-oracle.test.ts as an independent oracle.
-- It ignores exceptions, time off, holidays and overlaps between windows (the bench and the oracle
-- use none). Nothing in it depends on the session's TimeZone.

-- The UTC offset of an instant in a zone.
CREATE FUNCTION bench_offset(p_at timestamptz, p_zone text) RETURNS interval
LANGUAGE sql STABLE AS $$ SELECT (p_at AT TIME ZONE p_zone) - (p_at AT TIME ZONE 'UTC') $$;

-- Every instant a local time names (none in a gap, two in a repeated hour). PostgreSQL's AT TIME
-- ZONE names one; the others are at most an hour away (tzdata shifts are 30 or 60 minutes).
CREATE FUNCTION bench_occurrences(p_local timestamp, p_zone text) RETURNS SETOF timestamptz
LANGUAGE sql STABLE AS $$
  SELECT DISTINCT c FROM unnest(ARRAY[-60, -30, 0, 30, 60]) AS d(minutes)
    CROSS JOIN LATERAL (SELECT (p_local AT TIME ZONE p_zone) + make_interval(mins => d.minutes) AS c) x
   WHERE (c AT TIME ZONE p_zone) = p_local
$$;

-- 'compatible': the earlier occurrence in an overlap; in a gap, shifted forward (which is what
-- AT TIME ZONE does there).
CREATE FUNCTION bench_compatible(p_local timestamp, p_zone text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT min(c) FROM bench_occurrences(p_local, p_zone) c), p_local AT TIME ZONE p_zone)
$$;

CREATE FUNCTION bench_expand_sql(p_now timestamptz)
RETURNS TABLE (practitioner_id uuid, schedule_id uuid, rule_id uuid, local_date date, starts_at timestamptz,
               ends_at timestamptz)
LANGUAGE sql STABLE AS $$
  WITH win AS (
    SELECT s.practitioner_id, s.id AS schedule_id, r.id AS rule_id, d::date AS local_date, z.zone,
           make_interval(mins => s.slot_minutes) AS slot,
           d::date + r.start_time AS local_start,
           d::date + CASE WHEN r.end_time <= r.start_time THEN 1 ELSE 0 END + r.end_time AS local_end
      FROM practitioner_schedules s
      JOIN clinics c ON c.id = s.clinic_id
     CROSS JOIN LATERAL (SELECT coalesce(s.timezone, c.timezone) AS zone) z
      JOIN schedule_rules r ON r.schedule_id = s.id
     -- timestamp (not timestamptz) steps, so the session's TimeZone cannot shift a date.
     CROSS JOIN LATERAL generate_series(
             greatest(s.valid_from, (p_now AT TIME ZONE z.zone)::date - 1)::timestamp,
             least(coalesce(s.valid_until, 'infinity'::date), (p_now AT TIME ZONE z.zone)::date + s.horizon_days)::timestamp,
             interval '1 day') AS d
     WHERE extract(isodow FROM d) = r.weekday
       AND ((d::date - (s.valid_from - (extract(isodow FROM s.valid_from)::integer - 1))) / 7) % r.every_n_weeks = 0
  ), bounds AS (
    SELECT w.*, bench_compatible(w.local_start, w.zone) AS ws, bench_compatible(w.local_end, w.zone) AS we
      FROM win w
  ), steady AS (
    -- Fast path: one offset from start to end, so local time is the instant shifted by it.
    SELECT b.*, bench_offset(b.ws, b.zone) AS off FROM bounds b
     WHERE bench_offset(b.ws, b.zone) = bench_offset(b.we, b.zone)
  ), candidates AS (
    SELECT s.practitioner_id, s.schedule_id, s.rule_id, s.local_date, s.slot, s.ws, s.we,
           (g AT TIME ZONE 'UTC') - s.off AS starts_at
      FROM steady s CROSS JOIN LATERAL generate_series(s.local_start, s.local_end, s.slot) AS g
    UNION ALL
    SELECT b.practitioner_id, b.schedule_id, b.rule_id, b.local_date, b.slot, b.ws, b.we, o
      FROM bounds b
     CROSS JOIN LATERAL generate_series(b.local_start, b.we AT TIME ZONE b.zone, b.slot) AS g
     CROSS JOIN LATERAL bench_occurrences(g, b.zone) AS o
     WHERE bench_offset(b.ws, b.zone) <> bench_offset(b.we, b.zone)
  )
  SELECT practitioner_id, schedule_id, rule_id, local_date, starts_at, starts_at + slot
    FROM candidates
   WHERE starts_at >= ws AND starts_at + slot <= we AND starts_at > p_now
$$;
