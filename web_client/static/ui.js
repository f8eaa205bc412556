// Pieces every view shares: language switcher, hearing summary, connection banner, screens.
import { h, clear, setT } from './dom.js';
import { icon } from './icons.js';
import { LANGUAGES, getLang, setLang, onLangChange, fmtDateTime, fmtDuration } from './i18n.js';

const LARGE_KEY = 'hearing.largeText';

/**
 * The large-text mode (适老模式): the whole page scaled up by a quarter (CSS zoom on the root,
 * so the layouts reflow as on a narrower phone), remembered in this browser. Returns the button
 * that switches it; creating one applies the remembered choice.
 */
export function largeTextToggle() {
  const read = () => { try { return localStorage.getItem(LARGE_KEY) === 'on'; } catch { return false; } };
  const apply = (on) => {
    if (on) document.documentElement.dataset.large = 'on';
    else delete document.documentElement.dataset.large;
  };
  apply(read());
  const btn = h('button', { type: 'button', class: 'lang-btn large-btn', dataset: { action: 'large-text' },
    tattr: { 'aria-label': 'large.label', title: 'large.label' }, t: 'large.short' });
  const show = () => btn.setAttribute('aria-pressed', String(read()));
  btn.addEventListener('click', () => {
    const on = !read();
    try { localStorage.setItem(LARGE_KEY, on ? 'on' : 'off'); } catch { /* this page only */ }
    apply(on);
    for (const b of document.querySelectorAll('[data-action="large-text"]')) b.setAttribute('aria-pressed', String(on));
  });
  show();
  return btn;
}

/** The language buttons; `largeText`: the large-text switch in front of them (the party's
 * screens). */
export function languageSwitcher({ largeText = false } = {}) {
  const group = h('div', { class: 'lang', role: 'group', tattr: { 'aria-label': 'lang.label' } });
  const large = largeText ? largeTextToggle() : null;
  const render = () => {
    clear(group);
    if (large) group.append(large);
    for (const [code, label] of LANGUAGES) {
      group.append(h('button', {
        type: 'button',
        class: 'lang-btn',
        lang: code,
        'aria-pressed': String(code === getLang()),
        title: code === 'en' ? 'English' : label,
        text: label,
        on: { click: () => setLang(code) },
      }));
    }
  };
  render();
  onLangChange(render);
  return group;
}

/** Court, title, case number and scheduled time of a hearing, as a definition list. */
export function hearingSummary(hearing, { compact = false } = {}) {
  const row = (key, value, cls) => [h('dt', { t: key }), h('dd', { class: cls || '', text: value })];
  const when = h('dd');
  setT(when, 'hearing.when', {
    start: () => fmtDateTime(hearing.scheduled_start),
    end: () => fmtDateTime(hearing.scheduled_end, { timeOnly: true }),
  });
  return h('section', { class: compact ? 'summary compact' : 'summary' },
    h('p', { class: 'summary-court', text: hearing.court }),
    h('h2', { class: 'summary-title', text: hearing.title }),
    h('dl', {},
      row('hearing.caseNumber', hearing.case_number, 'case-number'),
      h('dt', { t: 'hearing.scheduled' }), when));
}

export function stateBadge(state) {
  const el = h('span', { class: 'badge', dataset: { state } });
  setT(el, `hstate.${state}`);
  return el;
}

/** Elapsed hearing time (from actual_start), as text that the caller refreshes each second. */
export function elapsed(hearing) {
  if (!hearing?.actual_start) return null;
  const start = Date.parse(hearing.actual_start);
  const end = hearing.actual_end ? Date.parse(hearing.actual_end) : Date.now();
  return fmtDuration(end - start);
}

/** A banner that follows the session's connection status (with automatic retry). */
export function connectionBanner(session) {
  const text = h('span', { class: 'banner-text' });
  const el = h('div', { class: 'banner', role: 'status', 'aria-live': 'assertive', hidden: true }, text);
  session.addEventListener('status', (ev) => {
    const { status, attempt } = ev.detail;
    if (status === 'reconnecting') {
      el.hidden = false;
      el.dataset.kind = 'warn';
      setT(text, attempt ? 'conn.reconnectingAttempt' : 'conn.reconnecting', { attempt });
    } else if (status === 'not_open') {
      el.hidden = false;
      el.dataset.kind = 'info';
      setT(text, 'conn.notOpen');
    } else if (status === 'connected' && !el.hidden && el.dataset.kind === 'warn') {
      el.dataset.kind = 'ok';
      setT(text, 'conn.restored');
      setTimeout(() => { if (el.dataset.kind === 'ok') el.hidden = true; }, 3000);
    } else if (status === 'connected') {
      el.hidden = true;
    }
  });
  return el;
}

/** A full-page message (errors, the end of a hearing). */
export function messageScreen(root, { titleKey, bodyKey, params, kind = 'info', actions = [] }) {
  clear(root);
  root.append(h('main', { class: 'screen message', dataset: { kind } },
    h('div', { class: 'topbar plain' }, h('span', { class: 'brand', t: 'app.name' }), languageSwitcher({ largeText: true })),
    h('div', { class: 'message-body' },
      h('h1', { t: titleKey, tp: params }),
      bodyKey ? h('p', { t: bodyKey, tp: params }) : null,
      actions.length ? h('div', { class: 'actions' }, actions) : null)));
}

/** A button that needs a second press within 4 s (for irreversible actions). */
export function confirmButton({ key, confirmKey, cls = '', dataset = {}, onConfirm, iconName = null }) {
  const label = h('span', { class: cls.includes('ctl') ? 'ctl-label' : 'btn-label', t: key });
  const btn = h('button', { type: 'button', class: cls, dataset }, iconName ? icon(iconName) : null, label);
  let armed = null;
  const disarm = () => {
    clearTimeout(armed);
    armed = null;
    btn.classList.remove('armed');
    setT(label, key);
  };
  btn.addEventListener('click', () => {
    if (armed) {
      disarm();
      onConfirm();
      return;
    }
    btn.classList.add('armed');
    setT(label, confirmKey);
    armed = setTimeout(disarm, 4000);
  });
  return btn;
}

/** A transient message at the bottom of the screen. */
export function toast(key, params, ms = 4000) {
  let host = document.getElementById('toasts');
  if (!host) {
    host = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(host);
  }
  const el = h('div', { class: 'toast', t: key, tp: params });
  host.append(el);
  setTimeout(() => el.remove(), ms);
}

export function errorKey(code) {
  return `error.${code}`;
}
