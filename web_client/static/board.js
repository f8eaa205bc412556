// The clerk's board (/board#token=<staff token>): today's hearings with who is connected,
// missing or waiting, their identity checks and network health; the alerts to act on, each
// with an acknowledge button; a jump into any hearing's console; the electronic service to
// follow up by phone, each with "served by phone" and a note. Refreshed every few seconds.
import { api } from './api.js';
import { h, clear, setT } from './dom.js';
import { fmtClock, fmtDateTime, onLangChange, t } from './i18n.js';
import { languageSwitcher, messageScreen, stateBadge, toast } from './ui.js';
import { roleKey } from './roles.js';

const STAFF_KEY = 'hearing.staffToken';
const REFRESH_MS = 3000;

/** The staff token from the page's fragment (kept for the tab's session), or the one kept. */
export function readStaffToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  let token = params.get('token');
  if (token) {
    sessionStorage.setItem(STAFF_KEY, token);
    history.replaceState(null, '', location.pathname + location.search);
  } else {
    token = sessionStorage.getItem(STAFF_KEY);
  }
  return token;
}

/** Run the board in ``root``; ``app`` is the page's diagnostics handle. */
export async function runBoard(root, app) {
  const token = readStaffToken();
  if (!token) {
    messageScreen(root, { titleKey: 'error.title', bodyKey: 'board.noToken', kind: 'error' });
    return;
  }
  const updated = h('span', { class: 'board-updated' });
  const alerts = h('ul', { class: 'board-alerts', dataset: { testid: 'board-alerts' } });
  const noAlerts = h('p', { class: 'hint', t: 'board.noAlerts' });
  const hearings = h('div', { class: 'board-hearings', dataset: { testid: 'board-hearings' } });
  const followUp = h('ul', { class: 'board-alerts', dataset: { testid: 'board-follow-up' } });
  const noFollowUp = h('p', { class: 'hint', t: 'board.noFollowUp' });
  const date = h('span', { class: 'board-date' });
  clear(root).append(h('div', { class: 'screen board' },
    h('header', { class: 'console-bar board-bar' },
      h('div', {}, h('strong', { t: 'board.title' }), ' ', date),
      h('a', { class: 'board-link', href: '/calendar', dataset: { testid: 'to-calendar' }, t: 'calendar.title' }),
      updated, languageSwitcher()),
    h('main', { class: 'board-main' },
      h('section', { class: 'panel board-alert-panel' }, h('h2', { t: 'board.alerts' }), noAlerts, alerts),
      h('section', { class: 'panel board-alert-panel' }, h('h2', { t: 'board.followUp' }), noFollowUp, followUp),
      hearings)));
  let last = null;
  let pending = [];

  async function servedByPhone(d, button) {
    const note = window.prompt(t('board.phoneNote'));
    if (!note || !note.trim()) return;
    button.disabled = true;
    try {
      await api(token, `/api/hearings/${encodeURIComponent(d.hearing_id)}/documents/${encodeURIComponent(d.document_id)}/manual-service`,
        { method: 'POST', json: { recipient: d.recipient, channel: 'phone', note: note.trim() } });
      await refresh();
    } catch (err) {
      toast(`error.${err.code}`);
      button.disabled = false;
    }
  }

  function renderFollowUp(names) {
    noFollowUp.hidden = pending.length > 0;
    followUp.replaceChildren(...pending.map((d) => {
      const done = h('button', { type: 'button', class: 'secondary small', dataset: { action: 'served-by-phone' }, t: 'board.servedByPhone' });
      done.addEventListener('click', () => servedByPhone(d, done));
      return h('li', { class: `board-alert ${d.status === 'failed' ? 'critical' : 'warning'}`, dataset: { deliveryId: d.id, status: d.status } },
        h('time', { text: fmtDateTime(d.queued_at) }),
        h('span', { class: 'board-alert-kind', t: `board.delivery.${d.status}` }),
        h('span', { class: 'board-alert-case', text: d.case_number || names.get(d.hearing_id) || '' }),
        h('span', { class: 'board-alert-text', text: `${d.recipient} · ${d.address}${d.failure ? ` · ${d.failure}` : ''}` }),
        h('span', { class: 'board-alert-kind', t: `board.channel.${d.channel}` }), done);
    }));
  }

  async function acknowledge(alert, button) {
    button.disabled = true;
    try {
      await api(token, `/api/board/alerts/${encodeURIComponent(alert.id)}/ack`, { method: 'POST' });
      await refresh();
    } catch (err) {
      toast(`error.${err.code}`);
      button.disabled = false;
    }
  }

  async function openConsole(hearing, button) {
    button.disabled = true;
    // A fresh link for the hearing's clerk: the console opens as that clerk, in a new tab.
    const tab = window.open('about:blank', '_blank');
    try {
      const resp = await api(token, `/api/participants/${encodeURIComponent(hearing.clerk_id)}/links`, { method: 'POST', json: {} });
      const link = await resp.json();
      if (tab) tab.location.href = `/join#token=${encodeURIComponent(link.token)}`;
    } catch (err) {
      if (tab) tab.close();
      toast(`error.${err.code}`);
    } finally {
      button.disabled = false;
    }
  }

  function renderAlerts(data) {
    const names = new Map(data.hearings.map((x) => [x.id, x.case_number]));
    noAlerts.hidden = data.alerts.length > 0;
    alerts.replaceChildren(...data.alerts.map((a) => {
      const ack = h('button', { type: 'button', class: 'secondary small', dataset: { action: 'ack' }, t: 'board.acknowledge' });
      ack.addEventListener('click', () => acknowledge(a, ack));
      return h('li', { class: `board-alert ${a.severity}`, dataset: { alertId: a.id, kind: a.kind } },
        h('time', { text: fmtClock(new Date(a.at)) }),
        h('span', { class: 'board-alert-kind', t: `board.alert.${a.kind}` }),
        h('span', { class: 'board-alert-case', text: names.get(a.hearing_id) || '' }),
        h('span', { class: 'board-alert-text', text: a.message }), ack);
    }));
  }

  function person(p) {
    const flags = [];
    if (p.identity === 'pending') flags.push(h('span', { class: 'chip-flag id', t: 'board.identityPending' }));
    if (p.network) flags.push(h('span', { class: `chip-flag net ${p.network}`, dataset: { network: p.network }, t: `quality.${p.network}` }));
    return h('li', { class: 'board-person', dataset: { participantId: p.id, state: p.state, connected: String(p.connected), missing: String(p.missing) } },
      h('span', { class: 'pname', text: p.display_name }),
      h('span', { class: 'prole', t: roleKey(p) }),
      h('span', { class: 'pstate', dataset: { state: p.state }, t: `state.${p.state}` }), ...flags);
  }

  function renderHearings(data) {
    hearings.replaceChildren(...data.hearings.map((x) => {
      const go = h('button', { type: 'button', class: 'primary small', dataset: { action: 'open-console' }, t: 'board.openConsole', disabled: !x.clerk_id });
      if (!x.clerk_id) go.title = '';
      go.addEventListener('click', () => openConsole(x, go));
      const c = x.counts;
      return h('section', { class: 'panel board-hearing', dataset: { hearingId: x.id, state: x.state } },
        h('div', { class: 'board-hearing-head' },
          h('div', {}, h('h3', { text: x.case_number }), h('p', { class: 'hint', text: `${x.title} · ${fmtDateTime(x.scheduled_start)}` })),
          stateBadge(x.state), go),
        h('p', { class: 'board-counts', t: 'board.counts', tp: c }),
        h('ul', { class: 'board-people' }, x.participants.filter((p) => p.role !== 'courtroom_display').map(person)));
    }));
    if (!data.hearings.length) hearings.append(h('p', { class: 'hint', t: 'board.noHearings' }));
  }

  function render() {
    if (!last) return;
    date.textContent = last.date;
    setT(updated, 'board.updated', { time: fmtClock(new Date()) });
    renderAlerts(last);
    renderHearings(last);
    renderFollowUp(new Map(last.hearings.map((x) => [x.id, x.case_number])));
  }

  async function refresh() {
    try {
      last = await (await api(token, '/api/board')).json();
      pending = (await (await api(token, '/api/service/follow-up')).json()).deliveries;
      app.board = last;
      render();
    } catch (err) {
      if (err.status === 401) {
        messageScreen(root, { titleKey: 'error.title', bodyKey: 'board.noToken', kind: 'error' });
        clearInterval(timer);
        return;
      }
      setT(updated, 'board.stale');
    }
  }
  onLangChange(render);
  const timer = setInterval(refresh, REFRESH_MS);
  await refresh();
}
