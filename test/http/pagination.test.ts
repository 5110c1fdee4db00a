// Every list is a keyset-paginated page: walking next_cursor until has_more is false yields each
// item once, in the list's order, even with inserts between pages; a cursor that does not fit
// the list, or whose row has gone, is a 400 rather than a page that silently ends the list.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { type ClinicFixture, createClinic, createSlot } from '../helpers/fixtures.js';
import { sendStripe, stripeEvent, WEBHOOK_ENV } from '../helpers/webhooks.js';

type Item = { id: string };
interface Page {
  next_cursor: string | null;
  has_more: boolean;
  [list: string]: unknown;
}

describe('pagination', () => {
  let db: TestDatabase;
  let t: TestApp;
  let clinic: ClinicFixture;
  let staff: Record<string, string>;
  let admin: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db, WEBHOOK_ENV);
    clinic = await createClinic(db.pool, { patients: 7 });
    staff = await bearer({ role: 'clinic_admin', clinic_id: clinic.clinicId });
    admin = await bearer({ role: 'platform_admin', sub: 'pager' });
  });
  afterAll(async () => {
    await t.close();
    await db.drop();
  });

  const get = async (url: string, headers: Record<string, string>) => {
    const response = await t.app.inject({ method: 'GET', url, headers });
    return { status: response.statusCode, body: response.json() as Page };
  };
  const withQuery = (url: string, query: string) => `${url}${url.includes('?') ? '&' : '?'}${query}`;

  /** Follows next_cursor with the given page size; returns every item and the page sizes. */
  async function walk(url: string, list: string, headers: Record<string, string>, limit: number) {
    const items: Item[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 50; pages++) {
      const next = cursor === null ? '' : `&cursor=${cursor}`;
      const { status, body } = await get(withQuery(url, `limit=${limit}${next}`), headers);
      expect(status, JSON.stringify(body)).toBe(200);
      const page = body[list] as Item[];
      items.push(...page);
      sizes.push(page.length);
      expect(body.has_more).toBe(body.next_cursor !== null);
      if (!body.has_more) return { items, sizes };
      cursor = body.next_cursor;
    }
    throw new Error('more than 50 pages');
  }

  const ids = (items: Item[]) => items.map((item) => item.id);

  it('walks every list page by page, each item once and in the order of one big page', async () => {
    const slots = [];
    for (let i = 0; i < 7; i++) slots.push(await createSlot(db.pool, clinic));
    for (const [i, patient] of clinic.patientIds.slice(0, 5).entries()) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/appointments',
        headers: { ...staff, 'idempotency-key': randomUUID() },
        payload: { slot_id: slots[i], patient_id: patient },
      });
      expect(response.statusCode).toBe(201);
    }
    for (let i = 0; i < 4; i++) {
      await db.pool.query(
        `INSERT INTO users (clinic_id, role, full_name, email) VALUES ($1, 'practitioner', $2, $3)`,
        [clinic.clinicId, `Dr Page ${i}`, `page-${i}-${randomUUID()}@test.example`],
      );
      await createClinic(db.pool, { patients: 0 });
      await sendStripe(t.app, stripeEvent('charge.refunded', { id: `ch_${i}`, payment_intent: 'pi_none' }));
    }
    await db.pool.query(`UPDATE webhook_events SET status = 'dead_letter'`);

    const base = `/api/clinics/${clinic.clinicId}`;
    const lists: Array<[string, string, Record<string, string>, number]> = [
      [`${base}/slots`, 'slots', staff, 7],
      ['/api/appointments', 'appointments', staff, 5],
      [`${base}/patients`, 'patients', staff, 7],
      [`${base}/practitioners`, 'practitioners', staff, 5],
      ['/api/clinics', 'clinics', admin, 5],
      ['/admin/webhook-events?status=dead_letter', 'events', admin, 4],
    ];
    for (const [url, list, headers, count] of lists) {
      const whole = (await get(withQuery(url, 'limit=100'), headers)).body;
      expect(whole[list], url).toHaveLength(count);
      expect(whole).toMatchObject({ has_more: false, next_cursor: null });
      const walked = await walk(url, list, headers, 2);
      expect(ids(walked.items), url).toEqual(ids(whole[list] as Item[]));
      expect(walked.sizes, url).toEqual([...Array(Math.floor(count / 2)).fill(2), ...(count % 2 ? [1] : [])]);
    }
  });

  it('says has_more false on a page that ends the list exactly', async () => {
    const other = await createClinic(db.pool, { patients: 4 });
    const auth = await bearer({ role: 'staff', clinic_id: other.clinicId });
    const { body } = await get(`/api/clinics/${other.clinicId}/patients?limit=4`, auth);
    expect(body).toMatchObject({ has_more: false, next_cursor: null });
    expect(body.patients).toHaveLength(4);
  });

  it('is stable under inserts: rows added behind the cursor do not shift later pages', async () => {
    const own = await createClinic(db.pool);
    const auth = await bearer({ role: 'staff', clinic_id: own.clinicId });
    const url = `/api/clinics/${own.clinicId}/slots`;
    for (const hours of [30, 31, 32, 33, 34, 35])
      await createSlot(db.pool, own, { startsInMinutes: hours * 60 });
    const first = (await get(`${url}?limit=3`, auth)).body;
    const seen = ids(first.slots as Item[]);
    // One slot before the cursor (an earlier start) and one after it arrive between pages.
    const before = await createSlot(db.pool, own, { startsInMinutes: 29 * 60 });
    const after = await createSlot(db.pool, own, { startsInMinutes: 36 * 60 });
    const rest = (await get(`${url}?limit=10&cursor=${first.next_cursor}`, auth)).body;
    const later = ids(rest.slots as Item[]);
    expect(later).toHaveLength(4);
    expect(later).toContain(after);
    expect(later).not.toContain(before);
    expect(later.filter((id) => seen.includes(id))).toEqual([]);
  });

  it('keeps patient names out of cursors (they travel in logged URLs)', async () => {
    const { body } = await get(`/api/clinics/${clinic.clinicId}/patients?limit=2`, staff);
    const decoded = Buffer.from(body.next_cursor as string, 'base64url').toString('utf8');
    expect(decoded).not.toMatch(/Patient/);
    expect(decoded).toContain((body.patients as Item[])[1]?.id);
  });

  it('refuses a cursor that does not fit the list, or whose row has gone, with 400 invalid_cursor', async () => {
    const url = `/api/clinics/${clinic.clinicId}/slots`;
    const slotsCursor = (await get(`${url}?limit=1`, staff)).body.next_cursor as string;
    const patientsCursor = (await get(`/api/clinics/${clinic.clinicId}/patients?limit=1`, staff)).body
      .next_cursor as string;
    const garbage = Buffer.from('["slots","not-a-uuid"]').toString('base64url');
    for (const cursor of [patientsCursor, garbage, 'bm90IGpzb24', 'AAAA']) {
      const { status, body } = await get(`${url}?cursor=${cursor}`, staff);
      expect(status, cursor).toBe(400);
      expect(body.code).toBe('invalid_cursor');
    }
    const gone = await createSlot(db.pool, clinic, { startsInMinutes: 365 * 24 * 60 });
    const goneCursor = Buffer.from(JSON.stringify(['slots', gone])).toString('base64url');
    expect((await get(`${url}?cursor=${goneCursor}`, staff)).status).toBe(200);
    await sql(db.pool, 'DELETE FROM appointment_slots WHERE id = $1', [gone]);
    const { status, body } = await get(`${url}?cursor=${goneCursor}`, staff);
    expect(status).toBe(400);
    expect(body.code).toBe('invalid_cursor');
    expect((await get(`${url}?cursor=${slotsCursor}`, staff)).status).toBe(200);
  });

  it('refuses a limit over the documented maximum or below 1', async () => {
    for (const url of [
      `/api/clinics/${clinic.clinicId}/slots?limit=1001`,
      `/api/clinics/${clinic.clinicId}/patients?limit=501`,
      '/api/appointments?limit=0',
      '/admin/webhook-events?limit=1001',
    ]) {
      const headers = url.startsWith('/admin') ? admin : staff;
      const { status, body } = await get(url, headers);
      expect(status, url).toBe(400);
      expect(body.code).toBe('validation_error');
    }
  });
});
