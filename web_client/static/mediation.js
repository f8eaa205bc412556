// Mediation in the browser: the mediator's caucus controls, the banner the parties see while the
// mediator meets one side alone, and the agreement (drafted by the mediator; read, accepted or
// questioned, and signed by each party on their own phone). The server decides everything:
// these views show its state and send the person's choices.
import SignaturePad from '/vendor/signature_pad/signature_pad.min.js';
import { api } from './api.js';
import { h, clear, setT } from './dom.js';
import { toast, confirmButton } from './ui.js';
import { t } from './i18n.js';

const CODE_COOLDOWN_S = 60;

function mmss(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

function sinceOpened(room) {
  return room.opened_at ? (Date.now() - Date.parse(room.opened_at)) / 1000 : 0;
}

// -- caucus -----------------------------------------------------------------------------------

/** The mediator's caucus controls: one button per side present, and the open caucus rooms. */
export function caucusPanel(session) {
  const sides = h('div', { class: 'row caucus-sides' });
  const minutes = h('input', {
    type: 'number', min: '1', max: '240', inputmode: 'numeric', class: 'minutes',
    id: 'caucus-minutes', dataset: { testid: 'caucus-minutes' },
  });
  const list = h('ul', { class: 'caucus-rooms' });
  const back = h('button', {
    type: 'button', class: 'secondary', t: 'caucus.backToJoint', dataset: { action: 'back-to-joint' }, hidden: true,
    on: { click: () => call('enter_room', { room_id: 'hearing' }, back) },
  });
  const el = h('section', { class: 'panel caucus-panel', dataset: { testid: 'caucus-panel' } },
    h('h2', { t: 'caucus.title' }),
    h('p', { class: 'hint', t: 'caucus.hint' }),
    h('label', { class: 'field inline', for: 'caucus-minutes' }, h('span', { t: 'caucus.timer' }), minutes),
    sides, back, list);

  async function call(event, data, button) {
    if (button) button.disabled = true;
    try {
      return await session.call(event, data);
    } catch (err) {
      toast(`error.${err.code}`);
      return null;
    } finally {
      if (button) button.disabled = false;
    }
  }

  function presentSides() {
    const out = new Set();
    for (const p of session.participants.values()) {
      if (p.role === 'party' && p.side && p.connected !== false && p.state !== 'left') out.add(p.side);
    }
    return [...out].sort();
  }

  function name(pid) {
    return session.participants.get(pid)?.display_name || pid;
  }

  // The clocks of the open rooms are updated in place every second; the buttons are rebuilt
  // only when the rooms, the people or my place change (a panel rebuilt every second loses a
  // tap that lands during the rebuild).
  let timers = [];
  function clocks(room) {
    const elapsed = h('span', { class: 'elapsed', text: mmss(sinceOpened(room)) });
    timers.push(() => { elapsed.textContent = mmss(sinceOpened(room)); });
    if (!room.timer_ends_at) return [elapsed, null];
    const key = room.timer_expired ? 'caucus.timeUp' : 'caucus.left';
    const timeLeft = () => ({ time: mmss((Date.parse(room.timer_ends_at) - Date.now()) / 1000) });
    const left = h('span', { class: 'time-left', t: key, tp: timeLeft() });
    timers.push(() => setT(left, key, timeLeft()));
    return [elapsed, left];
  }

  function render() {
    const open = new Set(session.rooms.filter((r) => r.type === 'caucus').map((r) => r.side));
    clear(sides).append(...presentSides().map((side) => h('button', {
      type: 'button', class: 'primary', dataset: { action: 'open-caucus', side },
      disabled: open.has(side),
      t: 'caucus.open', tp: { side: () => t(`side.${side}`) },
      on: {
        click: (ev) => {
          const n = parseInt(minutes.value, 10);
          call('open_caucus', { side, timer_minutes: Number.isFinite(n) ? n : null }, ev.currentTarget);
        },
      },
    })));
    const me = session.me;
    back.hidden = !(me && me.room === 'caucus');
    timers = [];
    clear(list).append(...session.rooms.filter((r) => r.type === 'caucus').map((room) => {
      const here = room.members.includes(me?.id);
      return h('li', { class: `caucus-room${room.timer_expired ? ' expired' : ''}`, dataset: { roomId: room.id, side: room.side } },
        h('div', { class: 'caucus-head' },
          h('strong', { t: 'caucus.with', tp: { side: () => t(`side.${room.side}`) } }),
          ...clocks(room)),
        h('p', { class: 'members', text: room.members.filter((pid) => pid !== me?.id).map(name).join('、') }),
        h('div', { class: 'row' },
          here ? h('span', { class: 'here', t: 'caucus.youAreHere' }) : h('button', {
            type: 'button', class: 'secondary small', t: 'caucus.enter', dataset: { action: 'enter-caucus' },
            on: { click: (ev) => call('enter_room', { room_id: room.id }, ev.currentTarget) },
          }),
          h('button', {
            type: 'button', class: 'ghost small', t: 'caucus.close', dataset: { action: 'close-caucus' },
            on: { click: (ev) => call('close_caucus', { room_id: room.id }, ev.currentTarget) },
          })));
    }));
  }

  session.addEventListener('rooms', (ev) => {
    render();
    if (ev.detail.reason === 'timer_expired') toast('caucus.timerExpired', {}, 10000);
  });
  session.addEventListener('participants', render);
  session.addEventListener('me', render);
  const tick = setInterval(() => { for (const update of timers) update(); }, 1000);
  render();
  return { el, stop: () => clearInterval(tick) };
}

/** What a party or counsel sees about caucus rooms: in one, or the mediator with the other side. */
export function caucusBanner(session) {
  const text = h('span');
  const el = h('p', { class: 'caucus-banner', role: 'status', hidden: true, dataset: { testid: 'caucus-banner' } }, text);
  function render() {
    const me = session.me;
    const caucuses = session.rooms.filter((r) => r.type === 'caucus');
    if (!me || !caucuses.length) { el.hidden = true; return; }
    const mine = caucuses.find((r) => r.members.includes(me.id));
    if (mine) {
      el.hidden = false;
      el.dataset.kind = 'in-caucus';
      setT(text, mine.mediator_present ? 'caucus.youInCaucus' : 'caucus.youWaitInCaucus', { time: mmss(sinceOpened(mine)) });
      return;
    }
    const away = caucuses.find((r) => r.mediator_present);
    el.hidden = !away;
    if (away) {
      el.dataset.kind = 'other-side';
      setT(text, 'caucus.mediatorAway', { side: () => t(`side.${away.side}`), time: mmss(sinceOpened(away)) });
    }
  }
  session.addEventListener('rooms', render);
  session.addEventListener('me', render);
  const tick = setInterval(render, 1000);
  render();
  return { el, stop: () => clearInterval(tick) };
}

// -- the agreement --------------------------------------------------------------------------

function lines(text) {
  return text.split('\n').map((s) => s.trim()).filter(Boolean);
}

function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** The agreement's text as the parties read it (numbered terms, payment, costs, date). */
function agreementText(a) {
  const c = a.content;
  if (!c) return h('p', { class: 'hint', t: 'agreement.notYet' });
  const zh = c.language === 'zh-CN';
  const num = (i) => (zh ? `${i + 1}、` : `${i + 1}. `);
  return h('article', { class: 'agreement-text', lang: c.language, dataset: { testid: 'agreement-text' } },
    h('h3', { text: zh ? '调解协议书' : 'Mediation Agreement' }),
    h('p', { class: 'case-number', text: a.case?.case_number || '' }),
    h('ul', { class: 'agreement-parties' }, ...a.parties.map((p) => h('li', {},
      h('span', { t: `side.${p.side}` }), '：', p.name, p.masked_id ? `（${p.masked_id}）` : ''))),
    ...c.recitals.map((r) => h('p', { class: 'recital', text: r })),
    h('ol', { class: 'terms' }, ...c.terms.map((term, i) => h('li', { text: num(i) + term }))),
    c.payment ? h('p', { class: 'payment', t: 'agreement.paymentLine', tp: c.payment }) : null,
    c.costs ? h('p', { class: 'costs', text: c.costs }) : null,
    h('p', { class: 'date', t: 'agreement.dated', tp: { date: c.agreed_on } }),
    h('p', { class: 'hash', t: 'agreement.hash', tp: { hash: (a.content_hash || '').slice(0, 16) } }));
}

async function download(token, path = '/api/me/agreement/pdf') {
  try {
    const resp = await api(token, path);
    const blob = await resp.blob();
    const url = URL.createObjectURL(blob);
    const name = decodeURIComponent((resp.headers.get('Content-Disposition') || '').split("''")[1] || 'agreement.pdf');
    const a = h('a', { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (err) {
    toast(`error.${err.code}`);
  }
}

/**
 * The agreement panel. ``drafting``: the mediator's form and moves; else a party's reading,
 * accepting, questioning and signing (``canSign``: the server's allowed_actions say so).
 */
export function agreementPanel(session, ctx, { drafting }) {
  const token = ctx.token;
  const stateLine = h('p', { class: 'agreement-state', dataset: { testid: 'agreement-state' } });
  const body = h('div', { class: 'agreement-body' });
  const el = h('section', { class: 'panel agreement-panel', dataset: { testid: 'agreement-panel' } },
    h('h2', { t: 'agreement.title' }), stateLine, body);
  let agreement = null;
  let pad = null;
  let resized = null;
  let codeSentAt = 0;
  // A party's signing controls (drawing, code), kept while they still have to sign: another
  // party's signature arriving meanwhile must not wipe what they drew and typed.
  let signingParts = null;

  async function post(path, json, button) {
    if (button) button.disabled = true;
    try {
      const method = path === 'draft' ? 'PUT' : 'POST';
      const resp = await api(token, `/api/me/agreement/${path}`, { method, json: json ?? {} });
      show(await resp.json());
      return true;
    } catch (err) {
      toast(`error.${err.code}`, { message: err.message }, 6000);
      return false;
    } finally {
      if (button) button.disabled = false;
    }
  }

  function button(key, action, onClick, cls = 'secondary') {
    return h('button', { type: 'button', class: cls, t: key, dataset: { action }, on: { click: (ev) => onClick(ev.currentTarget) } });
  }

  // -- the mediator ---------------------------------------------------------------------
  function draftForm() {
    const c = agreement?.content;
    const lang = h('select', { id: 'ag-lang', dataset: { field: 'language' } },
      h('option', { value: 'zh-CN', text: '中文' }), h('option', { value: 'en', text: 'English' }));
    lang.value = c?.language || 'zh-CN';
    const area = (id, field, value, rows) => h('textarea', { id, rows: String(rows), dataset: { field } }, value);
    const recitals = area('ag-recitals', 'recitals', (c?.recitals || []).join('\n'), 2);
    const terms = area('ag-terms', 'terms', (c?.terms || []).join('\n'), 5);
    const input = (id, field, value, type = 'text') => {
      const el = h('input', { id, type, dataset: { field } });
      el.value = value || '';
      return el;
    };
    const amount = input('ag-amount', 'amount', c?.payment?.amount, 'text');
    amount.setAttribute('inputmode', 'decimal');
    const schedule = input('ag-schedule', 'schedule', c?.payment?.schedule);
    const method = input('ag-method', 'method', c?.payment?.method);
    const costs = input('ag-costs', 'costs', c?.costs);
    const date = input('ag-date', 'agreed_on', c?.agreed_on || today(), 'date');
    const field = (id, key, control, hint) => h('label', { class: 'field', for: id },
      h('span', { t: key }), control, hint ? h('small', { class: 'hint', t: hint }) : null);
    const save = button('agreement.saveDraft', 'save-draft', (b) => post('draft', {
      language: lang.value,
      recitals: lines(recitals.value),
      terms: lines(terms.value),
      payment: amount.value.trim()
        ? { amount: amount.value.trim(), schedule: schedule.value.trim(), method: method.value.trim() }
        : null,
      costs: costs.value.trim(),
      agreed_on: date.value,
    }, b), 'primary');
    return h('form', { class: 'agreement-form', on: { submit: (ev) => ev.preventDefault() } },
      field('ag-lang', 'agreement.language', lang),
      field('ag-recitals', 'agreement.recitals', recitals, 'agreement.onePerLine'),
      field('ag-terms', 'agreement.terms', terms, 'agreement.onePerLine'),
      h('fieldset', {}, h('legend', { t: 'agreement.payment' }),
        field('ag-amount', 'agreement.amount', amount), field('ag-schedule', 'agreement.schedule', schedule),
        field('ag-method', 'agreement.method', method)),
      field('ag-costs', 'agreement.costs', costs),
      field('ag-date', 'agreement.date', date),
      h('div', { class: 'row' }, save));
  }

  function mediatorMoves(a) {
    const out = [];
    const st = a?.state;
    if (st === 'draft' && a.version) out.push(button('agreement.propose', 'propose', (b) => post('propose', {}, b), 'primary'));
    if (st === 'proposed' || st === 'accepted') out.push(button('agreement.backToDraft', 'back-to-draft', (b) => post('back-to-draft', {}, b)));
    if (st === 'accepted') out.push(button('agreement.openSigning', 'open-signing', (b) => post('open-signing', {}, b), 'primary'));
    if (st === 'signed') out.push(button('agreement.seal', 'seal', (b) => post('seal', {}, b), 'primary'));
    if (st === 'sealed') out.push(button('agreement.confirmation', 'confirmation', (b) => post('confirmation', {}, b)));
    if (a && ['draft', 'proposed', 'accepted', 'signing', 'signed'].includes(st)) {
      const reason = h('input', { type: 'text', maxlength: '1000', class: 'reason', dataset: { field: 'no-agreement-reason' } });
      reason.setAttribute('placeholder', t('agreement.reasonPlaceholder'));
      out.push(h('span', { class: 'no-agreement' }, reason, confirmButton({
        key: 'agreement.noAgreement', confirmKey: 'agreement.noAgreementConfirm', cls: 'ghost danger',
        dataset: { action: 'no-agreement' },
        onConfirm: () => {
          if (!reason.value.trim()) { toast('error.reason_required'); return; }
          post('no-agreement', { reason: reason.value.trim() });
        },
      })));
    }
    return out;
  }

  // -- a party --------------------------------------------------------------------------
  function partyMoves(a) {
    const me = session.me || ctx.info.me;
    const mine = a.parties.some((p) => p.participant_id === me.id);
    if (!mine) return [h('p', { class: 'hint', t: 'agreement.counselNote' })];
    if (a.state === 'proposed') {
      if (a.accepted_by.includes(me.id)) return [h('p', { class: 'done', t: 'agreement.youAccepted' })];
      const comment = h('textarea', { rows: '3', maxlength: '2000', dataset: { field: 'comment' } });
      comment.setAttribute('placeholder', t('agreement.commentPlaceholder'));
      return [
        button('agreement.accept', 'accept', (b) => post('accept', { content_hash: a.content_hash }, b), 'primary big'),
        h('details', { class: 'changes' }, h('summary', { t: 'agreement.askChanges' }), comment,
          button('agreement.sendChanges', 'request-changes', (b) => {
            if (!comment.value.trim()) { toast('agreement.commentNeeded'); return; }
            post('request-changes', { comment: comment.value.trim() }, b);
          })),
      ];
    }
    if (stillToSign(a)) return (signingParts ??= signing());
    const signedByMe = a.signatures.some((s) => s.participant_id === me.id);
    if (signedByMe && (a.state === 'signing' || a.state === 'signed')) {
      return [h('p', { class: 'done', t: a.state === 'signed' ? 'agreement.allSigned' : 'agreement.youSigned' })];
    }
    if (a.state === 'accepted') return [h('p', { class: 'done', t: 'agreement.waitSigning' })];
    return [];
  }

  function stillToSign(a) {
    const me = session.me || ctx.info.me;
    return !drafting && a?.state === 'signing' && a.parties.some((p) => p.participant_id === me.id)
      && !a.signatures.some((s) => s.participant_id === me.id);
  }

  function signing() {
    const canvas = h('canvas', { class: 'signature-canvas', dataset: { testid: 'signature-canvas' } });
    const clearBtn = button('agreement.clearSignature', 'clear-signature', () => pad?.clear(), 'ghost small');
    const code = h('input', {
      type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6', class: 'code',
      id: 'ag-code', dataset: { field: 'code' },
    });
    const send = button('agreement.sendCode', 'send-sign-code', async (b) => {
      if (await post('sign-code', {}, b)) {
        codeSentAt = Date.now();
        toast('agreement.codeSent');
        cooldown();
      }
    });
    function cooldown() {
      const left = CODE_COOLDOWN_S - (Date.now() - codeSentAt) / 1000;
      if (left > 0) {
        send.disabled = true;
        setT(send, 'agreement.resendIn', { s: Math.ceil(left) });
        setTimeout(cooldown, 1000);
      } else {
        send.disabled = false;
        setT(send, codeSentAt ? 'agreement.resendCode' : 'agreement.sendCode');
      }
    }
    const sign = button('agreement.sign', 'sign', async (b) => {
      if (!pad || pad.isEmpty()) { toast('agreement.drawFirst'); return; }
      if (!/^\d{6}$/.test(code.value.trim())) { toast('error.invalid_code'); return; }
      await post('sign', { code: code.value.trim(), signature_png: exportSignature() }, b);
    }, 'primary big');
    // The canvas is sized to its box at device resolution whenever the box changes (the
    // sheet opened, the phone turned); what was drawn is kept.
    resized?.disconnect();
    resized = new ResizeObserver(() => {
      if (!canvas.offsetWidth) return;
      const ratio = Math.max(window.devicePixelRatio || 1, 1);
      const drawn = pad && !pad.isEmpty() ? pad.toData() : null;
      canvas.width = canvas.offsetWidth * ratio;
      canvas.height = canvas.offsetHeight * ratio;
      canvas.getContext('2d').scale(ratio, ratio);
      if (!pad) pad = new SignaturePad(canvas, { penColor: '#101828', minWidth: 1, maxWidth: 3 });
      pad.clear();
      if (drawn) pad.fromData(drawn);
    });
    resized.observe(canvas);
    if (codeSentAt) setTimeout(cooldown, 0);
    return [
      h('p', { class: 'hint', t: 'agreement.signHint' }),
      h('div', { class: 'signature-box' }, canvas, clearBtn),
      h('div', { class: 'row code-row' }, h('label', { for: 'ag-code', t: 'agreement.code' }), code, send),
      sign,
    ];
  }

  /** The drawing as a PNG at 1x, trimmed of nothing: small enough for any phone's upload. */
  function exportSignature() {
    const src = pad.canvas;
    const out = document.createElement('canvas');
    out.width = src.offsetWidth || src.width;
    out.height = src.offsetHeight || src.height;
    out.getContext('2d').drawImage(src, 0, 0, out.width, out.height);
    return out.toDataURL('image/png');
  }

  // -- both -----------------------------------------------------------------------------
  function status(a) {
    const out = [];
    if (!a) return out;
    const name = (pid) => a.parties.find((p) => p.participant_id === pid)?.name || pid;
    if (a.state === 'proposed' || a.state === 'accepted') {
      out.push(h('p', { class: 'accepted', t: 'agreement.acceptedBy', tp: { n: a.accepted_by.length, total: a.parties.length, names: a.accepted_by.map(name).join('、') || '—' } }));
    }
    if (drafting && a.change_requests.length) {
      const last = a.change_requests[a.change_requests.length - 1];
      out.push(h('blockquote', { class: 'change-request', dataset: { testid: 'change-request' } },
        h('strong', { t: 'agreement.changesFrom', tp: { name: last.name } }), h('p', { text: last.comment })));
    }
    if (a.signatures.length || a.state === 'signing') {
      out.push(h('ul', { class: 'signatures' }, ...a.parties.map((p) => {
        const s = a.signatures.find((x) => x.participant_id === p.participant_id);
        return h('li', { dataset: { signed: String(Boolean(s)) } }, p.name, ' ',
          h('span', { t: s ? 'agreement.signedAt' : 'agreement.notSigned', tp: s ? { time: new Date(s.at).toLocaleTimeString() } : {} }));
      })));
    }
    if (a.state === 'no_agreement') out.push(h('p', { class: 'reason', text: a.no_agreement_reason || '' }));
    if (a.pdf_revision && ['signing', 'signed', 'sealed', 'confirmation_requested'].includes(a.state)) {
      out.push(button(a.state === 'sealed' || a.state === 'confirmation_requested' ? 'agreement.downloadSealed' : 'agreement.download',
        'download-agreement', () => download(token), a.state === 'sealed' ? 'primary' : 'ghost'));
    }
    if (a.confirmation_sha256) {
      out.push(button('agreement.downloadConfirmation', 'download-confirmation',
        () => download(token, '/api/me/agreement/confirmation.pdf'), 'ghost'));
    }
    return out;
  }

  function show(a) {
    if (!a) return;
    // Answers and pushes travel on different connections: an older snapshot may come last.
    if (agreement && a.id === agreement.id && a.revision < agreement.revision) return;
    const before = agreement;
    agreement = a.state === null ? null : a;
    session.agreement = agreement;
    el.dataset.state = agreement?.state || 'none';
    setT(stateLine, `agreement.state.${agreement?.state || 'none'}`);
    // Redraw only when something a person sees changed: a half-drawn signature must survive
    // another party's acceptance arriving.
    const sig = JSON.stringify(agreement && [agreement.state, agreement.version, agreement.accepted_by,
      agreement.signatures.map((s) => s.participant_id), agreement.change_requests.length, agreement.pdf_revision]);
    if (before && sig === el.dataset.sig) return;
    el.dataset.sig = sig;
    if (!(signingParts && stillToSign(agreement))) {
      signingParts = null;
      pad = null;
      resized?.disconnect();
      resized = null;
    }
    const parts = [];
    if (drafting) {
      if (!agreement || agreement.state === 'draft') parts.push(draftForm());
      if (agreement && agreement.state !== 'draft') parts.push(agreementText(agreement));
      parts.push(...status(agreement), h('div', { class: 'row agreement-moves' }, ...mediatorMoves(agreement)));
    } else if (agreement && agreement.content) {
      parts.push(agreementText(agreement), ...status(agreement), ...partyMoves(agreement));
    } else {
      parts.push(h('p', { class: 'hint', t: agreement ? 'agreement.beingDrafted' : 'agreement.notYet' }));
    }
    clear(body).append(...parts);
  }

  session.addEventListener('agreement', (ev) => show(ev.detail));
  // Changes made while the connection was down are not pushed again: ask after each (re)join.
  session.addEventListener('status', (ev) => { if (ev.detail.status === 'connected') load(); });
  async function load() {
    try {
      show(await (await api(token, '/api/me/agreement')).json());
    } catch (err) {
      if (err.code !== 'not_a_mediation') toast(`error.${err.code}`);
    }
  }
  show({ state: null });
  load();
  return { el, load, get agreement() { return agreement; } };
}
