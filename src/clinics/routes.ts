// /api/clinics… — setting a clinic up without SQL. A token may act only for its own clinic
// (platform admins for any); the database's policies check the same again.
import type { FastifyInstance } from 'fastify';
import type { Pool } from '../db/pool.js';
import { type Principal, principalOf, requireClinic, requireRole, tenantContext } from '../http/auth.js';
import { cursorAfter, pageFields } from '../http/pagination.js';
import { AUTHENTICATED, DATABASE, JSON_BODY, json, problemResponses } from '../http/responses.js';
import { IdParams, ref } from '../http/schemas.js';
import type { TypedApp } from '../http/types.js';
import {
  Clinic,
  ClinicPage,
  CreateClinic,
  CreatePatient,
  CreatePractitioner,
  CreateSlots,
  ListQuery,
  Patient,
  PatientPage,
  PractitionerPage,
  SlotList,
  SlotPage,
  SlotQuery,
  StaffMember,
} from './schemas.js';
import * as clinics from './service.js';

const STAFF = ['staff', 'clinic_admin', 'platform_admin'] as const;

/** Role check, clinic check and the context to act in that clinic. */
function actFor(principal: Principal, clinicId: string, ...roles: Principal['role'][]) {
  requireRole(principal, ...roles);
  requireClinic(principal, clinicId);
  return tenantContext(principal, clinicId);
}

/** What every route here may answer: it names a clinic in its path and reads the database. */
const CLINIC_ROUTE = ['validation_error', 'forbidden', ...AUTHENTICATED, ...DATABASE] as const;
const LIST = [...CLINIC_ROUTE, 'invalid_cursor'] as const;

/** `readPool` (a replica, when configured) serves the slot listing; every write uses `pool`. */
export async function clinicRoutes(
  app: FastifyInstance,
  deps: { pool: Pool; readPool?: Pool },
): Promise<void> {
  const api = app as TypedApp;
  const { pool } = deps;
  const readPool = deps.readPool ?? pool;
  const tags = ['clinics'];

  api.post(
    '/api/clinics',
    {
      schema: {
        operationId: 'createClinic',
        tags,
        summary: 'Create a clinic (platform admins)',
        description: 'The slug is unique across clinics; the time zone is checked against the IANA database.',
        body: ref(CreateClinic),
        response: {
          201: json('The new clinic.', ref(Clinic)),
          ...problemResponses(...JSON_BODY, ...CLINIC_ROUTE, 'slug_taken'),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      requireRole(principal, 'platform_admin');
      return reply
        .code(201)
        .send(await clinics.createClinic(pool, tenantContext(principal, null), request.body));
    },
  );

  api.get(
    '/api/clinics',
    {
      schema: {
        operationId: 'listClinics',
        tags,
        summary: 'Clinics visible to the caller',
        description: 'Your own clinic; every clinic for platform admins.',
        querystring: ListQuery,
        response: {
          200: json('A page of clinics, by name.', ref(ClinicPage)),
          ...problemResponses('validation_error', 'invalid_cursor', ...AUTHENTICATED, ...DATABASE),
        },
      },
    },
    async (request) => {
      const after = cursorAfter('clinics', request.query.cursor);
      const page = await clinics.listClinics(pool, tenantContext(principalOf(request)), request.query, after);
      return { clinics: page.items, ...pageFields('clinics', page) };
    },
  );

  api.post(
    '/api/clinics/:id/practitioners',
    {
      schema: {
        operationId: 'createPractitioner',
        tags,
        summary: 'Add a practitioner (clinic admins)',
        description: 'The email is unique within the clinic.',
        params: IdParams,
        body: ref(CreatePractitioner),
        response: {
          201: json('The new practitioner.', ref(StaffMember)),
          ...problemResponses(...JSON_BODY, ...CLINIC_ROUTE, 'email_taken', 'reference_not_found'),
        },
      },
    },
    async (request, reply) => {
      const context = actFor(principalOf(request), request.params.id, 'clinic_admin', 'platform_admin');
      return reply
        .code(201)
        .send(await clinics.createPractitioner(pool, context, request.params.id, request.body));
    },
  );

  api.get(
    '/api/clinics/:id/practitioners',
    {
      schema: {
        operationId: 'listPractitioners',
        tags,
        summary: 'Practitioners of a clinic',
        description: 'For patients and staff of the clinic. Paginated by cursor.',
        params: IdParams,
        querystring: ListQuery,
        response: {
          200: json('A page of practitioners, by name.', ref(PractitionerPage)),
          ...problemResponses(...LIST),
        },
      },
    },
    async (request) => {
      const context = actFor(principalOf(request), request.params.id, 'patient', ...STAFF);
      const after = cursorAfter('practitioners', request.query.cursor);
      const page = await clinics.listPractitioners(pool, context, request.params.id, request.query, after);
      return { practitioners: page.items, ...pageFields('practitioners', page) };
    },
  );

  api.post(
    '/api/clinics/:id/patients',
    {
      schema: {
        operationId: 'createPatient',
        tags,
        summary: 'Register a patient (staff)',
        description: 'Personal data: kept out of logs and metrics. Phone numbers are E.164.',
        params: IdParams,
        body: ref(CreatePatient),
        response: {
          201: json('The new patient.', ref(Patient)),
          ...problemResponses(...JSON_BODY, ...CLINIC_ROUTE, 'reference_not_found'),
        },
      },
    },
    async (request, reply) => {
      const context = actFor(principalOf(request), request.params.id, ...STAFF);
      return reply
        .code(201)
        .send(await clinics.createPatient(pool, context, request.params.id, request.body));
    },
  );

  api.get(
    '/api/clinics/:id/patients',
    {
      schema: {
        operationId: 'listPatients',
        tags,
        summary: 'Patients of a clinic (staff)',
        description: 'For staff of the clinic. Paginated by cursor; the cursor holds an id, never a name.',
        params: IdParams,
        querystring: ListQuery,
        response: {
          200: json('A page of patients, by name.', ref(PatientPage)),
          ...problemResponses(...LIST),
        },
      },
    },
    async (request) => {
      const context = actFor(principalOf(request), request.params.id, ...STAFF);
      const after = cursorAfter('patients', request.query.cursor);
      const page = await clinics.listPatients(pool, context, request.params.id, request.query, after);
      return { patients: page.items, ...pageFields('patients', page) };
    },
  );

  api.post(
    '/api/clinics/:id/slots',
    {
      schema: {
        operationId: 'createSlots',
        tags,
        summary: 'Create one slot, or many ({"slots": […]}) all-or-nothing',
        description: 'Overlapping slots of one practitioner are refused with 409 slot_overlap.',
        params: IdParams,
        body: ref(CreateSlots),
        response: {
          201: json('The slots created.', ref(SlotList)),
          ...problemResponses(...JSON_BODY, ...CLINIC_ROUTE, 'slot_overlap', 'practitioner_not_found'),
        },
      },
    },
    async (request, reply) => {
      const context = actFor(principalOf(request), request.params.id, ...STAFF);
      const slots = 'slots' in request.body ? request.body.slots : [request.body];
      return reply
        .code(201)
        .send({ slots: await clinics.createSlots(pool, context, request.params.id, slots) });
    },
  );

  api.get(
    '/api/clinics/:id/slots',
    {
      schema: {
        operationId: 'listSlots',
        tags,
        summary: 'Slots of a clinic',
        description: 'From now on unless `from` says otherwise; `available=true` for bookable ones only.',
        params: IdParams,
        querystring: SlotQuery,
        response: {
          200: json('A page of slots, by start time.', ref(SlotPage)),
          ...problemResponses(...LIST),
        },
      },
    },
    async (request) => {
      const context = actFor(principalOf(request), request.params.id, 'patient', ...STAFF);
      const after = cursorAfter('slots', request.query.cursor);
      const page = await clinics.listSlots(readPool, context, request.params.id, request.query, after);
      return { slots: page.items, ...pageFields('slots', page) };
    },
  );
}
