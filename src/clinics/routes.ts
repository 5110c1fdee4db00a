// /api/clinics… — setting a clinic up without SQL. A token may act only for its own clinic
// (platform admins for any); the database's policies check the same again.
import type { FastifyInstance } from 'fastify';
import type { Pool } from '../db/pool.js';
import { type Principal, principalOf, requireClinic, requireRole, tenantContext } from '../http/auth.js';
import { problemResponses } from '../http/errors.js';
import { IdParams } from '../http/schemas.js';
import type { TypedApp } from '../http/types.js';
import {
  Clinic,
  ClinicList,
  CreateClinic,
  CreatePatient,
  CreatePractitioner,
  CreateSlots,
  Patient,
  PatientList,
  PractitionerList,
  SlotList,
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

export async function clinicRoutes(app: FastifyInstance, deps: { pool: Pool }): Promise<void> {
  const api = app as TypedApp;
  const { pool } = deps;
  const tags = ['clinics'];

  api.post(
    '/api/clinics',
    {
      schema: {
        tags,
        summary: 'Create a clinic (platform admins)',
        body: CreateClinic,
        response: { 201: Clinic, ...problemResponses(400, 401, 403, 409) },
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
        tags,
        summary: 'Clinics visible to the caller',
        response: { 200: ClinicList, ...problemResponses(401) },
      },
    },
    async (request) => ({ clinics: await clinics.listClinics(pool, tenantContext(principalOf(request))) }),
  );

  api.post(
    '/api/clinics/:id/practitioners',
    {
      schema: {
        tags,
        summary: 'Add a practitioner (clinic admins)',
        params: IdParams,
        body: CreatePractitioner,
        response: { 201: StaffMember, ...problemResponses(400, 401, 403, 409) },
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
        tags,
        summary: 'Practitioners of a clinic',
        params: IdParams,
        response: { 200: PractitionerList, ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const context = actFor(principalOf(request), request.params.id, 'patient', ...STAFF);
      return { practitioners: await clinics.listPractitioners(pool, context, request.params.id) };
    },
  );

  api.post(
    '/api/clinics/:id/patients',
    {
      schema: {
        tags,
        summary: 'Register a patient (staff)',
        params: IdParams,
        body: CreatePatient,
        response: { 201: Patient, ...problemResponses(400, 401, 403) },
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
        tags,
        summary: 'Patients of a clinic (staff)',
        params: IdParams,
        response: { 200: PatientList, ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const context = actFor(principalOf(request), request.params.id, ...STAFF);
      return { patients: await clinics.listPatients(pool, context, request.params.id) };
    },
  );

  api.post(
    '/api/clinics/:id/slots',
    {
      schema: {
        tags,
        summary: 'Create one slot, or many ({"slots": […]}) all-or-nothing',
        description: 'Overlapping slots of one practitioner are refused with 409 slot_overlap.',
        params: IdParams,
        body: CreateSlots,
        response: { 201: SlotList, ...problemResponses(400, 401, 403, 409, 422) },
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
        tags,
        summary: 'Slots of a clinic',
        params: IdParams,
        querystring: SlotQuery,
        response: { 200: SlotList, ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const context = actFor(principalOf(request), request.params.id, 'patient', ...STAFF);
      return { slots: await clinics.listSlots(pool, context, request.params.id, request.query) };
    },
  );
}
