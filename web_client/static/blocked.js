// When the camera or microphone cannot be opened in the self-test: what to do in this browser
// (Android Chrome, iOS Safari, WeChat's in-app browser, others), a retry that asks the browser
// again, and the ways forward without them: the microphone alone (audio only), or neither
// (watch and listen; the clerk is told). Never a dead end.
import { h, clear, setT } from './dom.js';
import { icon } from './icons.js';

/** Which instructions fit this browser: 'wechat', 'ios', 'android' or 'other'. */
export function browserKind(ua = navigator.userAgent, touchMac = navigator.maxTouchPoints > 1) {
  if (/MicroMessenger/i.test(ua)) return 'wechat';
  if (/iPhone|iPad|iPod/i.test(ua) || (/Macintosh/i.test(ua) && touchMac)) return 'ios';
  if (/Android/i.test(ua)) return 'android';
  return 'other';
}

const STEPS = { wechat: 3, ios: 3, android: 3, other: 2 };

/**
 * The card shown over the device checks when they fail. `reason`: the status key of the
 * failure (selftest.blocked, selftest.busy, ...). Handlers: onRetry(), onAudioOnly(),
 * onListenOnly(); each returns a promise. Returns {el, show(reason), hide(), offerListenOnly()}.
 */
export function blockedCard({ onRetry, onAudioOnly, onListenOnly }) {
  const kind = browserKind();
  const title = h('h2', {}, icon('alert'), h('span', { t: 'blocked.title' }));
  const lead = h('p', { class: 'blocked-lead' });
  const steps = h('ol', { class: 'blocked-steps', dataset: { browser: kind } });
  const retry = h('button', { type: 'button', class: 'primary', dataset: { action: 'retry-media' }, t: 'blocked.retry' });
  const audioOnly = h('button', { type: 'button', class: 'secondary', dataset: { action: 'audio-only' }, t: 'blocked.audioOnly' });
  const listenOnly = h('button', { type: 'button', class: 'secondary', dataset: { action: 'listen-only' }, t: 'blocked.listenOnly', hidden: true });
  const note = h('p', { class: 'blocked-note', role: 'status', hidden: true });
  const extra = h('div', { class: 'blocked-extra' });
  const el = h('section', { class: 'card blocked', dataset: { testid: 'media-blocked' }, hidden: true },
    title, lead, steps, h('div', { class: 'blocked-actions' }, retry, audioOnly, listenOnly), note, extra);

  const busy = async (btn, fn) => {
    for (const b of [retry, audioOnly, listenOnly]) b.disabled = true;
    try { await fn(); } finally { for (const b of [retry, audioOnly, listenOnly]) b.disabled = false; }
  };
  retry.addEventListener('click', () => busy(retry, onRetry));
  audioOnly.addEventListener('click', () => busy(audioOnly, onAudioOnly));
  listenOnly.addEventListener('click', () => busy(listenOnly, onListenOnly));

  let shown = 'selftest.blocked';
  return {
    el,
    /** The help request's reason for what failed. */
    reason: () => (shown === 'selftest.blocked' ? 'media_blocked' : 'no_device'),
    /** Where the page puts more ways out (the clerk's help). */
    extra,
    show(reason) {
      shown = reason;
      el.hidden = false;
      setT(lead, reason);
      clear(steps);
      // Browser instructions only when the browser (or the person) said no; a missing or busy
      // device needs the other hints, which the lead gives.
      if (reason === 'selftest.blocked') {
        for (let i = 1; i <= STEPS[kind]; i += 1) steps.append(h('li', { t: `blocked.${kind}.${i}` }));
      }
      steps.hidden = reason !== 'selftest.blocked';
    },
    hide() { el.hidden = true; },
    /** The microphone was refused too: offer to go on without either. */
    offerListenOnly() {
      listenOnly.hidden = false;
      note.hidden = false;
      setT(note, 'blocked.micAlsoBlocked');
    },
    /** Say which way forward was taken. */
    done(key) {
      note.hidden = false;
      setT(note, key);
      audioOnly.hidden = true;
      listenOnly.hidden = true;
    },
  };
}
