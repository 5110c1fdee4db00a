// /api/payments/{id} and /api/appointments/{id}/video — thin HTTP over visits.ts. What they answer
// (a client_secret, a meeting token) is fetched from the provider per request and never stored.
import type { FastifyInstance } from 'fastify';
import type { Pool } from '../db/pool.js';
import { principalOf, requireRole, tenantContext } from '../http/auth.js';
import { AUTHENTICATED, DATABASE, json, problemResponses } from '../http/responses.js';
import { IdParams, ref } from '../http/schemas.js';
import type { TypedApp } from '../http/types.js';
import type { OutboundServices } from './provider.js';
import { PaymentView, VideoJoin } from './schemas.js';
import { paymentView, videoJoin } from './visits.js';

export async function outboundRoutes(
  app: FastifyInstance,
  deps: { pool: Pool; services: Partial<OutboundServices> },
): Promise<void> {
  const api = app as TypedApp;

  api.get(
    '/api/payments/:id',
    {
      schema: {
        operationId: 'getPayment',
        tags: ['appointments'],
        summary: 'A payment, with the client_secret that pays it',
        description:
          'The owning patient and clinic staff. While the payment can be paid, `client_secret` is fetched from the payment provider (the PaymentIntent created first if the worker has not yet); it is never stored or logged.',
        params: IdParams,
        response: {
          200: json('The payment.', ref(PaymentView)),
          ...problemResponses(
            'validation_error',
            'forbidden',
            'resource_not_found',
            ...AUTHENTICATED,
            ...DATABASE,
          ),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      requireRole(principal, 'patient', 'staff', 'clinic_admin');
      reply.header('cache-control', 'no-store');
      return paymentView(deps, tenantContext(principal), request.params.id);
    },
  );

  api.get(
    '/api/appointments/:id/video',
    {
      schema: {
        operationId: 'joinVideoVisit',
        tags: ['appointments'],
        summary: 'Join a video visit',
        description:
          "The visit's patient, or its practitioner (who gets owner rights and admits the patient), from 10 minutes before the start to 30 minutes after the end. The token is minted for this request and never stored.",
        params: IdParams,
        response: {
          200: json('What the participant needs to join.', ref(VideoJoin)),
          ...problemResponses(
            'validation_error',
            'forbidden',
            'video_not_yours',
            'appointment_not_found',
            'video_not_open',
            'video_room_not_ready',
            ...AUTHENTICATED,
            ...DATABASE,
          ),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      requireRole(principal, 'patient', 'staff', 'clinic_admin');
      reply.header('cache-control', 'no-store');
      return videoJoin(deps, tenantContext(principal), principal, request.params.id);
    },
  );
}
