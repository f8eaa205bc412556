// Roles as the UI presents them (which view, labels, order). What a viewer may do comes from
// the server: see mayDo.

export const STAFF_ROLES = new Set(['judge', 'clerk', 'mediator']);
export const CONSOLE_ROLES = STAFF_ROLES;
export const DISPLAY_ROLES = new Set(['courtroom_display']);
// What the viewer may do is the server's answer (`allowed_actions` in /api/me, from the one
// permission table, for this viewer's role in this kind of session); the client never copies
// the table. It only hides controls the server would refuse anyway.
export function mayDo(info, action) {
  return Array.isArray(info?.allowed_actions) && info.allowed_actions.includes(action);
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
