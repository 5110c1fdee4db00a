// When a video visit's room can be joined: from shortly before the start to shortly after the end.
// The room's own window (nbf / exp, then everyone is ejected) and the meeting tokens follow it.

/** The room opens this long before the start and closes this long after the end. */
export const ROOM_OPENS_BEFORE_S = 10 * 60;
export const ROOM_CLOSES_AFTER_S = 30 * 60;

/** In Unix seconds, the unit the video provider takes. */
export interface JoinWindow {
  nbf: number;
  exp: number;
}

export function roomWindow(appointment: { startsAt: Date; endsAt: Date }): JoinWindow {
  return {
    nbf: Math.floor(appointment.startsAt.getTime() / 1000) - ROOM_OPENS_BEFORE_S,
    exp: Math.floor(appointment.endsAt.getTime() / 1000) + ROOM_CLOSES_AFTER_S,
  };
}
