// The identity step of the participant's journey (docs/domain.md "Identity") and the identity
// badges of the console. The server decides everything: which steps this person must pass,
// whether an attempt passed, lockouts and cooldowns. The client only shows that, and checks the
// ID number's check digit as the person types, to catch a typo before it costs an attempt.
import { api } from './api.js';
import { h, clear, setT } from './dom.js';
import { icon } from './icons.js';
import { fmtClock, t } from './i18n.js';
import { toast } from './ui.js';
import { getLocalMedia } from './devices.js';
import { Session } from './session.js';

const CLEARED = new Set(['not_required', 'passed', 'verified', 'waived']);
const POLL_MS = 3000;

/** True when the server says this person may go on past the identity step. */
export function identityCleared(identity) {
  return !identity || CLEARED.has(identity.outcome);
}

// -- GB 11643-1999, as a typing aid (the server checks again and decides) ---------------------

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = '10X98765432';
const PROVINCES = new Set(['11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34',
  '35', '36', '37', '41', '42', '43', '44', '45', '46', '50', '51', '52', '53', '54', '61', '62',
  '63', '64', '65', '71', '81', '82']);

/**
 * What to tell someone typing a resident ID number: 'empty', 'typing' (fewer than 18),
 * 'ok', or the problem the server would name: 'length', 'characters', 'region',
 * 'birth_date', 'check_digit'.
 */
export function residentIdHint(raw) {
  const text = raw.replace(/\s+/g, '').toUpperCase();
  if (!text) return 'empty';
  if (!/^[0-9]{0,17}[0-9X]?$/.test(text)) return 'characters';
  if (text.length >= 2 && !PROVINCES.has(text.slice(0, 2))) return 'region';
  if (text.length < 18) return 'typing';
  if (text.length > 18) return 'length';
  const y = Number(text.slice(6, 10)); const m = Number(text.slice(10, 12)); const d = Number(text.slice(12, 14));
  const born = new Date(Date.UTC(y, m - 1, d));
  if (born.getUTCFullYear() !== y || born.getUTCMonth() !== m - 1 || born.getUTCDate() !== d
      || y < 1890 || born > new Date()) return 'birth_date';
  let sum = 0;
  for (let i = 0; i < 17; i += 1) sum += Number(text[i]) * WEIGHTS[i];
  return CHECK[sum % 11] === text[17] ? 'ok' : 'check_digit';
}

// -- the participant's identity step ------------------------------------------------------------

/**
 * Run the identity step in `shell` until the server says this person is cleared.
 * ctx.info.identity holds the server's view from /api/me; it is kept up to date here.
 */
export async function identityStep(shell, ctx) {
  const { body, actions } = shell;
  const call = async (path, json) => (await api(ctx.token, path, { method: 'POST', json })).json();
  let identity = ctx.info.identity;
  let skew = 0;  // server clock minus ours, for the countdowns
  const setIdentity = (next) => {
    identity = next;
    ctx.info.identity = next;
    if (next?.now) skew = Date.parse(next.now) - Date.now();
  };
  setIdentity(identity);
  const serverNow = () => Date.now() + skew;

  const title = h('h1', { t: 'identity.title' });
  const lead = h('p', { class: 'lead', t: 'identity.lead' });
  const main = h('div', { class: 'identity-main' });
  const help = h('button', { type: 'button', class: 'ghost', dataset: { action: 'ask-clerk' } },
    icon('users'), h('span', { t: 'identity.askClerk' }));
  const helpNote = h('p', { class: 'hint', hidden: true, t: 'identity.clerkTold' });
  body.append(title, lead, main);
  actions.append(helpNote, help);

  help.addEventListener('click', async () => {
    help.disabled = true;
    try {
      setIdentity((await call('/api/me/identity/help', {})).identity);
      helpNote.hidden = false;
      toast('identity.clerkTold');
    } catch (err) {
      toast(`error.${err.code}`);
    } finally {
      setTimeout(() => { help.disabled = false; }, 5000);
    }
  });

  let timers = [];
  const stopTimers = () => { timers.forEach((t) => clearInterval(t)); timers = []; };
  let done;
  const finished = new Promise((resolve) => { done = resolve; });

  async function refresh() {
    try {
      setIdentity(await (await api(ctx.token, '/api/me/identity')).json());
    } catch (err) {
      console.warn('identity status', err);
    }
    render();
  }

  function render() {
    stopTimers();
    clear(main);
    if (identityCleared(identity)) {
      done();
      return;
    }
    main.append(progress(identity));
    const pending = identity.pending || [];
    const next = pending[0];
    const locked = identity.locked || {};
    const camera = next === 'face' || next === 'liveness';
    if (!identity.registered && !(camera && identity.reference_photo)) {
      main.append(notice('warn', 'identity.notRegistered'));
      poll();
    } else if (camera && !identity.reference_photo && (identity.checkable || []).includes(next)) {
      main.append(notice('warn', 'error.no_reference_photo'));
      poll();
    } else if (next && locked[next]) {
      main.append(lockedCard(locked[next]));
      poll();
    } else if (next === 'id_number') {
      main.append(idForm());
    } else if (next === 'code') {
      main.append(codeForm());
    } else if ((next === 'face' || next === 'liveness') && (identity.checkable || []).includes(next)) {
      main.append(faceForm());
    } else {
      // A step this server cannot check: only the clerk can verify (or the judge waive) it.
      main.append(notice('info', 'identity.clerkWillVerify'));
      poll();
    }
  }

  function poll() {
    timers.push(setInterval(refresh, POLL_MS));
  }

  function notice(kind, key, params) {
    return h('section', { class: 'card identity-notice', dataset: { kind } },
      icon(kind === 'warn' ? 'alert' : 'clock'), h('p', { t: key, tp: params }));
  }

  function lockedCard(until) {
    const line = h('p');
    const card = h('section', { class: 'card identity-notice', dataset: { kind: 'error', testid: 'identity-locked' } },
      icon('lock'), line);
    const tick = () => {
      const left = Math.max(0, Math.ceil((Date.parse(until) - serverNow()) / 60000));
      setT(line, 'identity.locked', { minutes: left, at: () => fmtClock(new Date(Date.parse(until) - skew)) });
      if (left <= 0) refresh();
    };
    tick();
    timers.push(setInterval(tick, 15000));
    return card;
  }

  function errorLine() {
    return h('p', { class: 'field-error', role: 'alert', hidden: true });
  }

  function showError(el, code, params) {
    el.hidden = false;
    setT(el, `error.${code}`, params);
  }

  // -- ID step ----------------------------------------------------------------------------
  function idForm() {
    const resident = identity.id_type === 'resident_id';
    const name = h('input', {
      type: 'text', id: 'legal-name', name: 'legal-name', autocomplete: 'name', maxlength: '100',
      required: true, dataset: { field: 'legal-name' },
    });
    const number = h('input', {
      type: 'text', id: 'id-number', name: 'id-number', autocomplete: 'off', maxlength: '40',
      // inputmode text, not numeric: a resident ID may end in X.
      spellcheck: 'false', autocapitalize: 'characters', required: true, inputmode: 'text',
      dataset: { field: 'id-number' },
    });
    const hint = h('p', { class: 'field-hint', id: 'id-number-hint', 'aria-live': 'polite', dataset: { hint: 'empty' } });
    number.setAttribute('aria-describedby', 'id-number-hint');
    const err = errorLine();
    const submit = h('button', { type: 'submit', class: 'primary', dataset: { action: 'check-id' }, t: 'identity.checkId' });
    const tries = identity.tries_left?.id_number;
    const updateHint = () => {
      const state = resident ? residentIdHint(number.value) : (number.value.trim() ? 'typing' : 'empty');
      hint.dataset.hint = state;
      hint.classList.remove('attention');
      setT(hint, resident ? `identity.hint.${state}` : 'identity.hint.other');
      number.setAttribute('aria-invalid', String(!['ok', 'typing', 'empty'].includes(state)));
    };
    number.addEventListener('input', updateHint);
    updateHint();
    const form = h('form', { class: 'card identity-form', novalidate: true, dataset: { testid: 'identity-id' } },
      h('h2', {}, icon('doc'), h('span', { t: 'identity.idTitle' })),
      h('p', { class: 'hint', t: `identity.idType.${identity.id_type}` }),
      h('label', { class: 'field', for: 'legal-name' }, h('span', { t: 'identity.legalName' }), name),
      h('label', { class: 'field', for: 'id-number' }, h('span', { t: 'identity.idNumber' }), number),
      hint, err,
      tries !== undefined && tries < 5 ? h('p', { class: 'hint', t: 'identity.triesLeft', tp: { n: tries } }) : null,
      submit,
      h('p', { class: 'hint privacy', t: 'identity.idPrivacy' }));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.hidden = true;
      if (!name.value.trim() || !number.value.trim()) {
        showError(err, 'identity_incomplete');
        return;
      }
      const state = resident ? residentIdHint(number.value) : 'ok';
      if (state !== 'ok') {
        // The server would refuse it too: say why now, without costing an attempt. The hint
        // under the field already names a problem it found; a number too short it does not.
        if (state === 'typing') showError(err, 'id_length');
        hint.classList.remove('attention');
        void hint.offsetWidth;  // restart the animation
        hint.classList.add('attention');
        number.focus();
        return;
      }
      submit.disabled = true;
      try {
        const reply = await call('/api/me/identity/id-number', { legal_name: name.value, id_number: number.value });
        setIdentity(reply.identity);
        if (reply.result.outcome === 'failed') {
          render();
          const again = main.querySelector('.field-error');
          if (again && !identity.locked?.id_number) showError(again, 'id_mismatch', { n: identity.tries_left?.id_number ?? 0 });
          return;
        }
        render();
      } catch (e) {
        submit.disabled = false;
        showError(err, e.code);
        if (e.code === 'identity_locked') refresh();
      }
    });
    setTimeout(() => name.focus(), 0);
    return form;
  }

  // -- code step --------------------------------------------------------------------------
  function codeForm() {
    const code = identity.code && !identity.code.used && !identity.code.spent ? identity.code : null;
    const to = h('p', { class: 'hint', t: 'identity.codeTo', tp: { phone: identity.phone_hint || '' } });
    const send = h('button', { type: 'button', class: code ? 'secondary' : 'primary', dataset: { action: 'send-code' } });
    const input = h('input', {
      type: 'text', id: 'otp', name: 'otp', inputmode: 'numeric', autocomplete: 'one-time-code',
      pattern: '[0-9]{6}', maxlength: '6', dataset: { field: 'code' },
    });
    const err = errorLine();
    const submit = h('button', { type: 'submit', class: 'primary', dataset: { action: 'check-code' }, t: 'identity.checkCode' });
    const expiry = h('p', { class: 'hint' });
    const entry = h('div', { class: 'code-entry', hidden: !code },
      h('label', { class: 'field', for: 'otp' }, h('span', { t: 'identity.codeLabel' }), input),
      expiry, err, submit);
    const form = h('form', { class: 'card identity-form', novalidate: true, dataset: { testid: 'identity-code' } },
      h('h2', {}, icon('lock'), h('span', { t: 'identity.codeTitle' })), to, entry, send);

    const tick = () => {
      const resendAt = identity.code?.resend_at ? Date.parse(identity.code.resend_at) : 0;
      const wait = Math.ceil((resendAt - serverNow()) / 1000);
      if (!code) {
        setT(send, 'identity.sendCode');
        send.disabled = wait > 0;
      } else if (wait > 0) {
        setT(send, 'identity.resendIn', { s: wait });
        send.disabled = true;
      } else {
        setT(send, 'identity.resend');
        send.disabled = false;
      }
      if (code) {
        const left = Math.ceil((Date.parse(code.expires_at) - serverNow()) / 1000);
        if (left > 0) setT(expiry, 'identity.codeExpires', { m: Math.floor(left / 60), s: String(left % 60).padStart(2, '0') });
        else setT(expiry, 'identity.codeExpired');
      }
    };
    tick();
    timers.push(setInterval(tick, 1000));

    send.addEventListener('click', async () => {
      send.disabled = true;
      err.hidden = true;
      setT(send, 'identity.sending');
      try {
        setIdentity((await call('/api/me/identity/code/send', {})).identity);
        render();
        toast('identity.codeSent', { phone: identity.phone_hint || '' });
      } catch (e) {
        entry.hidden = false;
        showError(err, e.code);
        if (e.code === 'send_failed') err.dataset.detail = e.message;
        tick();
      }
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.hidden = true;
      const value = input.value.trim();
      if (!/^[0-9]{6}$/.test(value)) {
        showError(err, 'invalid_code');
        return;
      }
      submit.disabled = true;
      try {
        const reply = await call('/api/me/identity/code', { code: value });
        setIdentity(reply.identity);
        if (reply.result.outcome === 'failed') {
          submit.disabled = false;
          input.value = '';
          if (identity.locked?.code) { render(); return; }
          showError(err, 'wrong_code', { n: identity.code?.tries_left ?? 0 });
          input.focus();
          return;
        }
        render();
      } catch (e) {
        submit.disabled = false;
        showError(err, e.code);
        if (['code_expired', 'code_spent', 'code_used', 'identity_locked'].includes(e.code)) refresh();
      }
    });
    if (code) setTimeout(() => input.focus(), 0);
    return form;
  }

  // -- face match and liveness (docs/identity.md) -----------------------------------------
  // The camera is published to the server (as in the hearing; while identifying it reaches
  // nobody) and judged there from the live picture: the page only shows the preview, the
  // server's prompts and the progress ring. Nothing is uploaded from here.
  function faceForm() {
    const limit = 20;
    const preview = h('video', { class: 'face-preview', autoplay: true, muted: true, playsinline: true });
    preview.muted = true;
    const ring = progressRing();
    const prompt = h('p', { class: 'face-prompt', 'aria-live': 'assertive', dataset: { testid: 'face-prompt' }, t: 'identity.faceLookHere' });
    const counter = h('p', { class: 'hint face-counter', 'aria-live': 'polite' });
    const err = errorLine();
    const start = h('button', { type: 'button', class: 'primary', dataset: { action: 'start-face' }, t: 'identity.faceStart' });
    const last = identity.face;
    const failed = last && !(identity.passed || []).includes('liveness') ? lastFailure(last) : null;
    const card = h('section', { class: 'card identity-form face-check', dataset: { testid: 'identity-face' } },
      h('h2', {}, icon('camera'), h('span', { t: 'identity.faceTitle' })),
      h('p', { class: 'hint', t: 'identity.faceLead', tp: { s: limit } }),
      h('div', { class: 'face-stage' }, preview, ring.el),
      prompt, counter, failed, err, start,
      h('p', { class: 'hint privacy', t: 'identity.facePrivacy' }));

    const shown = ctx.localStream?.getVideoTracks().filter((tr) => tr.readyState === 'live') || [];
    if (shown.length) preview.srcObject = new MediaStream(shown);
    let session = null;
    const stopSession = () => {
      if (session) { session._end('left'); session = null; }
    };
    start.addEventListener('click', async () => {
      start.disabled = true;
      err.hidden = true;
      setT(start, 'identity.faceStarting');
      try {
        const stream = ctx.localStream || await getLocalMedia();
        const videoOnly = new MediaStream(stream.getVideoTracks());
        if (!videoOnly.getVideoTracks().length) throw Object.assign(new Error('no camera'), { code: 'no_camera' });
        preview.srcObject = videoOnly;
        stopSession();
        session = new Session({ token: ctx.token, localStream: videoOnly });
        await session.start();
        // The server has the camera once the publish is negotiated: ask until it does.
        let reply = null;
        for (let i = 0; i < 40 && !reply; i += 1) {
          try {
            reply = await call('/api/me/identity/face/start', {});
          } catch (e) {
            if (e.code !== 'no_camera' || i === 39) throw e;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
        setIdentity(reply.identity);
        start.hidden = true;
        runCheck(reply.check);
      } catch (e) {
        stopSession();
        start.disabled = false;
        start.hidden = false;
        setT(start, 'identity.faceRetry');
        showError(err, e.code || 'no_camera');
      }
    });

    function runCheck(check) {
      const challenges = check.challenges;
      const deadline = Date.now() + check.time_limit_s * 1000;
      let completed = 0;
      const show = () => {
        const current = challenges[completed];
        if (current) setT(prompt, `identity.prompt.${current}`);
        else setT(prompt, 'identity.faceChecking');
        prompt.dataset.challenge = current || '';
        const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
        setT(counter, current ? 'identity.faceStepOf' : 'identity.faceSecondsLeft',
          current ? { i: completed + 1, n: challenges.length } : { s: left });
        ring.set(completed / challenges.length, left / check.time_limit_s);
      };
      show();
      timers.push(setInterval(show, 250));
      session.socket.on('identity_progress', (d) => {
        if (typeof d.completed === 'number') { completed = d.completed; show(); }
      });
      const finish = (next) => {
        if (!next.face || next.face_check_running) return;
        stopSession();
        setIdentity(next);
        if ((next.passed || []).includes('liveness') || identityCleared(next)) toast('identity.facePassed');
        render();
      };
      session.socket.on('identity_updated', (d) => {
        if (d.participant_id === ctx.info.me.id) finish(d);
      });
      // In case an event is missed (a reconnect): the server's word, every few seconds.
      timers.push(setInterval(async () => {
        try { finish(await (await api(ctx.token, '/api/me/identity')).json()); } catch { /* next time */ }
      }, POLL_MS));
    }

    function lastFailure(face) {
      const reason = face.decision !== 'same' ? face.decision : face.reason;
      const tries = Math.min(identity.tries_left?.face ?? 5, identity.tries_left?.liveness ?? 5);
      return h('p', { class: 'field-error', role: 'alert', dataset: { testid: 'face-failed' },
        t: 'identity.faceFailed', tp: { reason: () => t(`identity.faceReason.${reason}`), n: tries } });
    }
    return card;
  }

  render();
  await finished;
  stopTimers();
}

/** A ring around the camera view: challenges done (the arc) and time left (its colour). */
function progressRing() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 100 100');
  svg.setAttribute('class', 'face-ring');
  svg.setAttribute('aria-hidden', 'true');
  const track = document.createElementNS(ns, 'circle');
  const arc = document.createElementNS(ns, 'circle');
  for (const c of [track, arc]) {
    c.setAttribute('cx', '50'); c.setAttribute('cy', '50'); c.setAttribute('r', '46');
    c.setAttribute('fill', 'none'); c.setAttribute('stroke-width', '4');
  }
  track.setAttribute('class', 'face-ring-track');
  arc.setAttribute('class', 'face-ring-arc');
  const length = 2 * Math.PI * 46;
  arc.setAttribute('stroke-dasharray', String(length));
  arc.setAttribute('stroke-dashoffset', String(length));
  svg.append(track, arc);
  return {
    el: svg,
    set(done, timeLeft) {
      arc.setAttribute('stroke-dashoffset', String(length * (1 - Math.min(1, done))));
      svg.dataset.late = String(timeLeft < 0.25);
    },
  };
}

/** The steps this person must pass, ticked off as they pass. */
function progress(identity) {
  const passed = new Set(identity.passed || []);
  return h('ol', { class: 'identity-steps', dataset: { testid: 'identity-steps' } },
    (identity.required || []).map((step) => h('li', { dataset: { step, passed: String(passed.has(step)) } },
      passed.has(step) ? icon('check') : h('span', { class: 'dot', 'aria-hidden': 'true' }),
      h('span', { t: `identity.step.${step}` }))));
}

// -- the console's badges -----------------------------------------------------------------------

/** Badges of one participant's identity check: ID ✓, code ✓, the pending steps, the outcome. */
export function identityBadges(identity) {
  if (!identity || identity.outcome === 'not_required') return null;
  const out = h('span', { class: 'id-badges', dataset: { outcome: identity.outcome } });
  const passed = new Set(identity.passed || []);
  if (identity.outcome === 'verified' || identity.outcome === 'waived') {
    const b = h('span', { class: `id-badge ${identity.outcome}`, dataset: { badge: identity.outcome } },
      icon(identity.outcome === 'verified' ? 'check' : 'alert'), h('span', { t: `identity.outcome.${identity.outcome}` }));
    b.title = identity.override?.reason || '';
    out.append(b);
  }
  for (const step of identity.required || []) {
    const ok = passed.has(step);
    const locked = Boolean(identity.locked?.[step]);
    const pending = (identity.pending || []).includes(step);
    if (!ok && !pending) continue;
    out.append(h('span', {
      class: `id-badge ${ok ? 'ok' : locked ? 'locked' : 'pending'}`,
      dataset: { badge: step, passed: String(ok) },
    }, ok ? icon('check') : locked ? icon('lock') : null,
    h('span', { t: `identity.badge.${step}` })));
  }
  const face = identity.face;
  if (face && face.distance !== null && face.distance !== undefined) {
    out.append(h('span', {
      class: `id-badge ${face.decision === 'same' ? 'ok' : 'locked'}`,
      dataset: { badge: 'face-distance', decision: face.decision },
      t: 'identity.badge.faceDistance', tp: { d: face.distance.toFixed(2) },
    }));
  }
  if (face && face.liveness === 'failed' && !passed.has('liveness')) {
    const b = h('span', { class: 'id-badge locked', dataset: { badge: 'liveness-failed', reason: face.reason },
      t: 'identity.badge.livenessFailed' });
    b.title = face.reason;
    out.append(b);
  }
  if (!identity.registered) out.append(h('span', { class: 'id-badge locked', t: 'identity.badge.unregistered' }));
  if (identity.help_requested_at && !CLEARED.has(identity.outcome)) {
    out.append(h('span', { class: 'id-badge help', dataset: { badge: 'help' } }, icon('hand'), h('span', { t: 'identity.badge.help' })));
  }
  return out;
}
