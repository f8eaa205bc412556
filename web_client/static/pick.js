// The party's slot-picking page (/pick#token=...): the mediation's free slots in the
// mediators' after-hours windows, in the court's zone (and the party's own when elsewhere);
// a tap selects, the confirm button books and the confirmation is served by SMS / e-mail.
// The token stays in the fragment: the browser never sends it; this script puts it in the
// API's path.

import { LANGUAGES, getLang, onLangChange, setLang, t } from './i18n.js';
import { clear, h, setT } from './dom.js';

const app = document.getElementById('app');
const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
let offer = null;
let chosen = null;

function fmt(iso, zone, opts) {
  return new Intl.DateTimeFormat(getLang(), { timeZone: zone, ...opts }).format(new Date(iso));
}
const DAY = { month: 'long', day: 'numeric', weekday: 'short' };
const TIME = { hour: '2-digit', minute: '2-digit', hour12: false };

function langBar() {
  const bar = h('span', { class: 'lang' });
  for (const [code, label] of LANGUAGES) {
    const b = h('button', { type: 'button', 'aria-pressed': String(code === getLang()) }, label);
    b.addEventListener('click', () => setLang(code));
    bar.append(b);
  }
  return bar;
}

function top(court) {
  return h('header', { class: 'pick-top' }, h('span', { class: 'court', text: court || '' }), langBar());
}

function describe(o) {
  const rows = [
    ['pick.case', o.case_number],
    ['pick.matter', o.title],
    ['pick.party', o.party],
    ['pick.mediator', o.mediator],
    ['pick.length', t('pick.minutes', { n: o.minutes })],
    ['pick.place', o.courtroom || t('pick.online')],
  ];
  const dl = h('dl');
  for (const [key, value] of rows) dl.append(h('dt', { t: key }), h('dd', { text: value }));
  const zone = o.own_time_zone && o.own_time_zone !== o.time_zone
    ? t('pick.zoneBoth', { court: o.time_zone, own: o.own_time_zone })
    : t('pick.zone', { court: o.time_zone });
  return h('section', { class: 'pick-card' }, h('h1', { t: 'pick.title' }), dl,
    h('p', { class: 'pick-zone', id: 'pick-zone', text: zone }));
}

function slotLabel(o, iso) {
  const end = new Date(new Date(iso).getTime() + o.minutes * 60000).toISOString();
  const main = `${fmt(iso, o.time_zone, TIME)}–${fmt(end, o.time_zone, TIME)}`;
  const own = o.own_time_zone && o.own_time_zone !== o.time_zone
    ? h('small', { text: `${fmt(iso, o.own_time_zone, { ...DAY, ...TIME })} (${o.own_time_zone})` })
    : null;
  return [main, own];
}

function whenText(o, iso) {
  const court = `${fmt(iso, o.time_zone, { ...DAY, ...TIME })} (${o.time_zone})`;
  if (!o.own_time_zone || o.own_time_zone === o.time_zone) return court;
  return `${court} = ${fmt(iso, o.own_time_zone, { ...DAY, ...TIME })} (${o.own_time_zone})`;
}

function render() {
  clear(app);
  const o = offer;
  const main = h('main', { class: 'pick-main' }, describe(o));
  app.append(top(o.court), main);
  if (o.booked) {
    main.append(h('section', { class: 'pick-card pick-done', id: 'pick-booked' },
      h('h2', { t: o.booked.active ? 'pick.bookedTitle' : 'pick.cancelled' }),
      h('p', { text: whenText(o, o.booked.start) }),
      h('p', { t: 'pick.served' })));
    return;
  }
  if (!o.slots.length) {
    main.append(h('section', { class: 'pick-card pick-empty', id: 'pick-none', t: 'pick.none' }));
    return;
  }
  main.append(h('p', { t: 'pick.choose' }));
  const days = new Map();
  for (const iso of o.slots) {
    const day = fmt(iso, o.time_zone, DAY);
    if (!days.has(day)) days.set(day, []);
    days.get(day).push(iso);
  }
  const buttons = [];
  for (const [day, slots] of days) {
    const grid = h('div', { class: 'pick-slots' });
    for (const iso of slots) {
      const b = h('button', { type: 'button', class: 'pick-slot', 'aria-pressed': String(iso === chosen),
        dataset: { start: iso } }, ...slotLabel(o, iso));
      b.addEventListener('click', () => {
        chosen = iso;
        for (const other of buttons) other.setAttribute('aria-pressed', String(other === b));
        confirmText.textContent = t('pick.confirmWhen', { when: whenText(o, iso) });
        confirm.hidden = false;
      });
      buttons.push(b);
      grid.append(b);
    }
    main.append(h('section', { class: 'pick-day' }, h('h2', { text: day }), grid));
  }
  const confirmText = h('p', { id: 'pick-chosen' });
  const button = h('button', { type: 'button', id: 'pick-confirm', t: 'pick.confirm' });
  const status = h('p', { id: 'pick-status', role: 'status' });
  const confirm = h('section', { class: 'pick-confirm', hidden: chosen === null }, confirmText, button, status);
  if (chosen) confirmText.textContent = t('pick.confirmWhen', { when: whenText(o, chosen) });
  button.addEventListener('click', () => book(button, status));
  main.append(confirm);
}

async function book(button, status) {
  button.disabled = true;
  setT(status, 'pick.booking');
  let resp;
  try {
    resp = await fetch(`/api/pick/${encodeURIComponent(token)}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ start: chosen }), cache: 'no-store',
    });
  } catch {
    setT(status, 'pick.network');
    button.disabled = false;
    return;
  }
  if (resp.ok) {
    chosen = null;
    await load();
    return;
  }
  const body = await resp.json().catch(() => ({}));
  if (resp.status === 409 || body.code === 'not_a_slot' || body.code === 'in_the_past') {
    // Taken meanwhile (or gone): the fresh list, and say why.
    chosen = null;
    await load();
    const note = h('section', { class: 'pick-card pick-error', id: 'pick-taken', t: 'pick.taken' });
    app.querySelector('main')?.prepend(note);
    return;
  }
  status.textContent = body.message || t('pick.failed');
  button.disabled = false;
}

function fail(key) {
  clear(app);
  app.append(top(''), h('main', { class: 'pick-main' },
    h('section', { class: 'pick-card pick-error', id: 'pick-error', t: key })));
}

async function load() {
  if (!token) return fail('pick.invalid');
  let resp;
  try {
    resp = await fetch(`/api/pick/${encodeURIComponent(token)}`, { cache: 'no-store' });
  } catch {
    return fail('pick.network');
  }
  if (resp.status === 410) return fail('pick.expired');
  if (!resp.ok) return fail('pick.invalid');
  offer = await resp.json();
  render();
}

onLangChange(() => { if (offer) render(); });
// Another link opened in this tab (only the fragment differs): start over with its token.
window.addEventListener('hashchange', () => location.reload());
document.documentElement.lang = getLang();
load();
