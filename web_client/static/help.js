// "Ask the clerk for help" and the court's phone number, wherever a participant may be stuck
// (the self-test's refused devices, the end and error screens). The request goes to the
// server (POST /api/me/help), which alerts the clerk's console and board.
import { api } from './api.js';
import { h, setT } from './dom.js';
import { icon } from './icons.js';

/**
 * A block with the help button (when `ask`) and the court's phone (when the server has one).
 * `reason`: what the participant is stuck on (media_blocked, no_device, ended, other), or a
 * function giving it at the time of asking.
 */
export function helpBlock(ctx, reason, { ask = true } = {}) {
  const phone = ctx.info?.help_phone || '';
  const status = h('p', { class: 'help-status', role: 'status', hidden: true });
  const button = ask
    ? h('button', { type: 'button', class: 'secondary', dataset: { action: 'ask-help' } }, icon('users'), h('span', { t: 'help.ask' }))
    : null;
  const call = phone
    ? h('a', { class: 'help-phone', href: `tel:${phone.replace(/[^0-9+]/g, '')}`, dataset: { testid: 'court-phone' } },
      icon('phone'), h('span', { t: 'help.phone', tp: { phone } }))
    : null;
  button?.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const why = typeof reason === 'function' ? reason() : reason;
      await api(ctx.token, '/api/me/help', { method: 'POST', json: { reason: why } });
      status.hidden = false;
      setT(status, 'help.asked');
    } catch (err) {
      console.warn('help request failed', err);
      status.hidden = false;
      setT(status, 'help.failed');
      button.disabled = false;
    }
  });
  return h('div', { class: 'help-block' }, button, call, status);
}
