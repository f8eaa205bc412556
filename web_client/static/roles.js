// Roles and what each may do in the UI (mirrors hearing_server/core/permissions.py; the server
// enforces the table anyway, the client only hides what would be refused).

export const STAFF_ROLES = new Set(['judge', 'clerk', 'mediator']);
export const CONSOLE_ROLES = STAFF_ROLES;
export const DISPLAY_ROLES = new Set(['courtroom_display']);
// Roles that preside, by kind of session: a mediator presides only over a mediation.
export function presides(role, kind) {
  return role === 'judge' || (role === 'mediator' && kind === 'mediation');
}
// The stored transcript: read and downloaded by the clerk and whoever presides, corrected by
// the clerk, marked final by whoever presides (the server's permission table and
// transcription/service.py decide; this only hides what would be refused).
export function readsTranscript(role, kind) {
  return role === 'clerk' || presides(role, kind);
}
export function correctsTranscript(role) {
  return role === 'clerk';
}
export function finalisesTranscript(role, kind) {
  return presides(role, kind);
}
export function maySuspend(role, kind) {
  return presides(role, kind) || role === 'clerk';
}
export function publishes(role) {
  return !['observer', 'courtroom_display'].includes(role);
}
// The presiding judge and the display are never sent to the waiting room.
export function staysInRoom(role) {
  return ['judge', 'mediator', 'courtroom_display'].includes(role);
}
export function isWitness(role) {
  return role === 'witness' || role === 'expert';
}
export const ROLE_ORDER = ['judge', 'mediator', 'clerk', 'party', 'counsel', 'interpreter',
  'witness', 'expert', 'observer', 'courtroom_display'];

/** Catalogue key of a participant's role label: a party shows their side. */
export function roleKey(p) {
  if (!p || !p.role) return 'role.unknown';
  if (p.role === 'party' && p.side) return `side.${p.side}`;
  return `role.${p.role}`;
}
