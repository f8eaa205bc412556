// The clerk's calendar (/calendar#token=<staff token>): the court's bookings by day or week in
// the court's time zone, clashes highlighted (red, with what clashes with what), cancelled
// ones struck through; a booking opens its service status per recipient and channel, with
// the service receipt (送达回证) of each delivery.
import { api } from './api.js';
import { readStaffToken } from './board.js';
import { clear, h, setT } from './dom.js';
import { getLang, onLangChange, t } from './i18n.js';
import { languageSwitcher, messageScreen, stateBadge, toast } from './ui.js';

const DAY_MS = 86400000;

function ymd(date, zone) {
  // en-CA formats as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(date);
}

function addDays(day, n) {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

function mondayOf(day) {
  const [y, m, d] = day.split('-').map(Number);
  const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
  return addDays(day, -weekday);
}

/** Run the calendar in ``root``. */
export async function runCalendar(root) {
  const token = readStaffToken();
  if (!token) {
    messageScreen(root, { titleKey: 'error.title', bodyKey: 'board.noToken', kind: 'error' });
    return;
  }
  let zone = 'Asia/Shanghai';
  try {
    zone = (await (await api(token, '/api/schedule/courtrooms')).json()).time_zone;
  } catch (err) {
    messageScreen(root, { titleKey: 'error.title', bodyKey: `error.${err.code}`, kind: 'error' });
    return;
  }
  const state = { view: new URLSearchParams(location.search).get('view') === 'week' ? 'week' : 'day',
    anchor: new URLSearchParams(location.search).get('day') || ymd(new Date(), zone), data: null, open: null };

  const title = h('span', { class: 'cal-range', dataset: { testid: 'cal-range' } });
  const viewButtons = ['day', 'week'].map((v) => h('button', { type: 'button', class: 'secondary small', dataset: { view: v }, t: `calendar.${v}` }));
  const prev = h('button', { type: 'button', class: 'secondary small', dataset: { action: 'prev' }, text: '‹' });
  const today = h('button', { type: 'button', class: 'secondary small', dataset: { action: 'today' }, t: 'calendar.today' });
  const next = h('button', { type: 'button', class: 'secondary small', dataset: { action: 'next' }, text: '›' });
  const grid = h('div', { class: 'cal-grid', dataset: { testid: 'cal-grid' } });
  const detail = h('section', { class: 'panel cal-detail', dataset: { testid: 'cal-detail' }, hidden: true });
  const zoneNote = h('p', { class: 'hint', text: '' });
  clear(root).append(h('div', { class: 'screen board calendar' },
    h('header', { class: 'console-bar board-bar' },
      h('div', {}, h('strong', { t: 'calendar.title' }), ' ', title),
      h('a', { class: 'board-link', href: '/board', t: 'board.title' }),
      languageSwitcher()),
    h('main', { class: 'board-main' },
      h('div', { class: 'cal-tools' }, ...viewButtons, prev, today, next, zoneNote),
      grid, detail)));

  const days = () => {
    const first = state.view === 'week' ? mondayOf(state.anchor) : state.anchor;
    return Array.from({ length: state.view === 'week' ? 7 : 1 }, (_, i) => addDays(first, i));
  };

  function time(iso) {
    return new Intl.DateTimeFormat(getLang(), { timeZone: zone, hour: '2-digit', minute: '2-digit', hour12: false }).format(new Date(iso));
  }
  function dayTitle(day) {
    const [y, m, d] = day.split('-').map(Number);
    return new Intl.DateTimeFormat(getLang(), { timeZone: 'UTC', month: 'long', day: 'numeric', weekday: 'short' }).format(new Date(Date.UTC(y, m - 1, d)));
  }

  function clashText(b) {
    return b.clashes.map((c) => t('calendar.clashWith', {
      what: c.what === 'courtroom' ? t('calendar.courtroom') : t(`role.${c.what}`), name: c.name,
      case: c.case_number, from: time(c.start), to: time(c.end),
    })).join(t('calendar.clashJoin'));
  }

  function card(b) {
    const cancelled = b.status === 'cancelled';
    const el = h('button', { type: 'button', class: `cal-booking${b.clashes.length ? ' clash' : ''}${cancelled ? ' cancelled' : ''}`,
      dataset: { hearingId: b.hearing_id, clash: String(b.clashes.length > 0), status: b.status } },
      h('span', { class: 'cal-time', text: `${time(b.start)}–${time(b.end)}` }),
      h('strong', { class: 'cal-case', text: b.case_number }),
      h('span', { class: 'cal-title', text: b.title }),
      h('span', { class: 'cal-room', text: b.courtroom || t('calendar.online') }),
      h('span', { class: 'cal-people', text: b.people.map((p) => p.name).join('、') }),
      cancelled ? h('span', { class: 'cal-flag', t: 'calendar.cancelled' }) : stateBadge(b.state),
      b.clashes.length ? h('span', { class: 'cal-clash', dataset: { testid: 'clash' }, text: `${t('calendar.clash')}${clashText(b)}` }) : null);
    el.addEventListener('click', () => openService(b));
    return el;
  }

  function render() {
    const list = days();
    title.textContent = list.length === 1 ? dayTitle(list[0]) : `${dayTitle(list[0])} – ${dayTitle(list[6])}`;
    zoneNote.textContent = t('calendar.zone', { zone });
    for (const b of viewButtons) b.setAttribute('aria-pressed', String(b.dataset.view === state.view));
    grid.dataset.view = state.view;
    const bookings = state.data?.bookings || [];
    grid.replaceChildren(...list.map((day) => {
      const mine = bookings.filter((b) => ymd(new Date(b.start), zone) === day);
      return h('section', { class: 'cal-day panel', dataset: { day } },
        h('h2', { text: dayTitle(day) }),
        mine.length ? h('div', { class: 'cal-list' }, ...mine.map(card)) : h('p', { class: 'hint', t: 'calendar.none' }));
    }));
  }

  async function load() {
    const list = days();
    const from = new Date(Date.parse(`${list[0]}T00:00:00Z`) - DAY_MS).toISOString();
    const to = new Date(Date.parse(`${list[list.length - 1]}T00:00:00Z`) + 2 * DAY_MS).toISOString();
    try {
      const resp = await api(token, `/api/schedule?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&cancelled=1`);
      state.data = await resp.json();
    } catch (err) {
      toast(`error.${err.code}`);
    }
    render();
  }

  async function receipt(hearingId, delivery, button) {
    button.disabled = true;
    try {
      const resp = await api(token, `/api/hearings/${encodeURIComponent(hearingId)}/service/${encodeURIComponent(delivery.id)}/receipt`);
      const url = URL.createObjectURL(await resp.blob());
      const a = h('a', { href: url, download: `receipt-${delivery.id}.pdf` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (err) {
      toast(`error.${err.code}`);
    } finally {
      button.disabled = false;
    }
  }

  async function openService(b) {
    state.open = b;
    detail.hidden = false;
    clear(detail).append(h('h2', { text: `${b.case_number} · ${b.title}` }), h('p', { class: 'hint', t: 'calendar.loading' }));
    let docs = [];
    try {
      docs = (await (await api(token, `/api/hearings/${encodeURIComponent(b.hearing_id)}/service`)).json()).documents;
    } catch (err) {
      toast(`error.${err.code}`);
      return;
    }
    const rows = [];
    for (const { document: doc, deliveries } of docs) {
      for (const d of deliveries) {
        const button = h('button', { type: 'button', class: 'secondary small', dataset: { action: 'receipt' }, t: 'calendar.receipt' });
        button.addEventListener('click', () => receipt(b.hearing_id, d, button));
        const at = d.confirmed_at || d.opened_at || d.delivered_at || d.sent_at || d.failed_at || d.queued_at;
        rows.push(h('tr', { dataset: { deliveryId: d.id, status: d.status } },
          h('td', { text: doc.title }), h('td', { text: d.recipient }),
          h('td', { t: `calendar.channel.${d.channel}` }), h('td', { text: d.address || '' }),
          h('td', { class: `cal-status ${d.status}`, t: `calendar.status.${d.status}` }),
          h('td', { text: at ? `${ymd(new Date(at), zone)} ${time(at)}` : '' }),
          h('td', {}, button)));
      }
    }
    const head = h('tr', {}, ...['document', 'recipient', 'channel', 'address', 'status', 'at', 'receipt']
      .map((k) => h('th', { t: `calendar.col.${k}` })));
    clear(detail).append(
      h('h2', { text: `${b.case_number} · ${b.title}` }),
      h('h3', { t: 'calendar.service' }),
      rows.length ? h('table', { class: 'cal-service', dataset: { testid: 'cal-service' } }, h('thead', {}, head), h('tbody', {}, ...rows))
        : h('p', { class: 'hint', t: 'calendar.noService' }));
  }

  viewButtons.forEach((b) => b.addEventListener('click', () => { state.view = b.dataset.view; load(); }));
  prev.addEventListener('click', () => { state.anchor = addDays(state.anchor, state.view === 'week' ? -7 : -1); load(); });
  next.addEventListener('click', () => { state.anchor = addDays(state.anchor, state.view === 'week' ? 7 : 1); load(); });
  today.addEventListener('click', () => { state.anchor = ymd(new Date(), zone); load(); });
  onLangChange(() => { render(); if (state.open) openService(state.open); });
  setT(title, 'calendar.loading');
  await load();
}
