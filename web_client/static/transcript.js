// The hearing's stored transcript (笔录) for court staff: every segment with its hearing-clock
// and local time, speaker and text; corrections beside the original; failed recognitions and
// lost audio shown as such (they are the record that something is missing). The clerk
// corrects, whoever presides marks the transcript final, and everyone who may read it
// downloads it (PDF, WebVTT, SRT, JSON).
//
// HTTP API, with the join token as Bearer: GET /api/me/transcript/{json,pdf,vtt,srt},
// POST /api/me/transcript/corrections, POST /api/me/transcript/finalise. The server enforces
// every rule; this view only leaves out the controls a role could not use.
import { api } from './api.js';
import { h, append, clear, setT, setAttrT } from './dom.js';
import { CATALOGUE, fmtClock, fmtDateTime, fmtDuration, onLangChange } from './i18n.js';
import { icon } from './icons.js';
import { roleKey, mayDo } from './roles.js';
import { languageSwitcher, stateBadge, confirmButton, toast } from './ui.js';

const POLL_MS = 4000; // while speech may still be added
const POLL_CLOSED_MS = 15000; // closed and recognised: only corrections or the final mark
const CAPTION_DEBOUNCE_MS = 700;
const TERMINAL = new Set(['closed', 'adjourned']);
const MAX_TEXT = 4000; // the correction route's schema
const MAX_REASON = 500;
export const FORMATS = [['pdf', 'PDF'], ['vtt', 'WebVTT'], ['srt', 'SRT'], ['json', 'JSON']];

/**
 * The file name of a Content-Disposition header: RFC 6266 `filename*=UTF-8''...`, or a quoted
 * `filename="..."` whose bytes are UTF-8 (fetch hands header bytes over as Latin-1 characters).
 */
export function dispositionFilename(header) {
  if (!header) return null;
  const star = /filename\*\s*=\s*[^']*'[^']*'([^;\s]+)/i.exec(header);
  if (star) {
    try { return decodeURIComponent(star[1]); } catch { /* use the plain form */ }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]+))/i.exec(header);
  if (!plain) return null;
  const raw = plain[1] !== undefined ? plain[1].replace(/\\(.)/g, '$1') : plain[2].trim();
  if ([...raw].some((c) => c.charCodeAt(0) > 0xff)) return raw;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(raw, (c) => c.charCodeAt(0)));
  } catch {
    return raw;
  }
}

function safeFilename(name) {
  const cleaned = (name || '').replace(/[\\/:*?"<>|\u0000-\u001f]/g, '_').trim();
  return cleaned && !/^\.+$/.test(cleaned) ? cleaned : null;
}

/** Catalogue key for an error code: the transcript's own wording, else the general one. */
export function transcriptErrorKey(code) {
  if (CATALOGUE.en[`transcript.error.${code}`] !== undefined) return `transcript.error.${code}`;
  if (CATALOGUE.en[`error.${code}`] !== undefined) return `error.${code}`;
  return 'transcript.error.other';
}

/**
 * The transcript panel.
 * token: the join token; info: /api/me (what I may do); hearing(): the hearing now (its
 * state decides whether it may be finalised); people(): participants (Map or array), for
 * names of who corrected or finalised and parties' sides.
 * Returns {el, show, hide, refresh, onCaption, hearingChanged, stop}.
 */
export function transcriptPanel({ token, info, hearing, people }) {
  const mayCorrect = mayDo(info, 'correct_transcript');
  const mayFinalise = mayDo(info, 'finalise_transcript');
  let doc = null;
  let active = false;
  let stopped = false;
  let timer = null;
  let captionTimer = null;
  let inflight = null;
  let again = false;
  let langGen = 0;
  let loadedAt = null;
  let finaliseBusy = false;
  const rows = new Map(); // seq -> {el, view, sig, form}

  // -- elements -------------------------------------------------------------------------
  const badges = h('div', { class: 'tbadges' });
  const summary = h('span', { class: 'tsummary' });
  const updated = h('span', { class: 'tupdated' });
  const notices = h('div', { class: 'tnotices' });
  const msg = h('p', { class: 'tmsg', role: 'alert', hidden: true });
  const list = h('ol', { class: 'tlist', dataset: { testid: 'transcript-list' } });
  const empty = h('p', { class: 'tempty hint', t: 'transcript.loading' });

  const downloads = h('div', { class: 'tdownloads', role: 'group', tattr: { 'aria-label': 'transcript.downloads' } },
    h('span', { class: 'tools-label' }, icon('download'), h('span', { t: 'transcript.downloads' })));
  for (const [fmt, label] of FORMATS) {
    const btn = h('button', { type: 'button', class: 'secondary small', dataset: { download: fmt }, text: label });
    setAttrT(btn, 'title', 'transcript.downloadAs', { format: label });
    btn.addEventListener('click', () => download(fmt, btn));
    downloads.append(btn);
  }

  let finaliseBtn = null;
  const finaliseHint = h('p', { class: 'hint tfinalise-hint' });
  const finaliseBox = h('div', { class: 'tfinalise' });
  if (mayFinalise) {
    finaliseBtn = confirmButton({
      key: 'transcript.finalise', confirmKey: 'transcript.finaliseConfirm', cls: 'primary small',
      dataset: { action: 'finalise' }, onConfirm: () => finalise(),
    });
    finaliseBox.append(finaliseBtn, finaliseHint);
  }

  const el = h('section', { class: 'panel transcript-panel', dataset: { testid: 'transcript' } },
    h('div', { class: 'tpanel-head' },
      h('h2', {}, icon('doc'), h('span', { t: 'transcript.title' })), badges),
    h('p', { class: 'tmeta' }, summary, updated),
    notices,
    h('div', { class: 'ttools' }, downloads, mayFinalise ? finaliseBox : null),
    msg, empty, list);

  // -- helpers --------------------------------------------------------------------------
  const personMap = () => {
    const all = people();
    return all instanceof Map ? all : new Map((all || []).map((p) => [p.id, p]));
  };
  const nameOf = (actorId) => personMap().get(actorId)?.display_name || actorId;
  const isTerminal = () => TERMINAL.has(hearing()?.state);
  const isFinal = () => Boolean(doc?.final);

  function showMsg(key, params, kind = 'error') {
    msg.hidden = false;
    msg.dataset.kind = kind;
    setT(msg, key, params);
  }
  function hideMsg() { msg.hidden = true; }

  // -- rendering ------------------------------------------------------------------------
  function render() {
    if (!doc) return;
    const segs = doc.segments || [];
    clear(badges);
    clear(notices);
    if (doc.final) {
      badges.append(h('span', { class: 'tbadge', dataset: { kind: 'final' } }, icon('check'), h('span', { t: 'transcript.finalBadge' })));
      const f = doc.finalised || {};
      notices.append(h('p', {
        class: 'tnotice', dataset: { kind: 'final' }, t: 'transcript.finalBy',
        tp: { name: nameOf(f.actor), time: () => (f.at ? fmtDateTime(f.at) : '–') },
      }));
    } else if (!doc.complete) {
      badges.append(h('span', { class: 'tbadge', dataset: { kind: 'pending' } }, h('span', { t: 'transcript.pendingBadge' })));
      notices.append(h('p', { class: 'tnotice', dataset: { kind: 'pending' }, t: 'transcript.pending' }));
    }
    if (doc.chain && doc.chain.intact === false) {
      badges.append(h('span', { class: 'tbadge', dataset: { kind: 'damaged' } }, icon('alert'), h('span', { t: 'transcript.damagedBadge' })));
      notices.append(h('p', { class: 'tnotice', dataset: { kind: 'damaged' }, t: 'transcript.damaged' }));
    }
    el.dataset.final = String(Boolean(doc.final));
    el.dataset.complete = String(Boolean(doc.complete));

    const corrected = segs.filter((s) => s.corrections?.length).length;
    const lost = segs.filter((s) => s.status === 'failed' || s.status === 'gap').length;
    setT(summary, lost ? 'transcript.summaryLost' : 'transcript.summary', { segments: segs.length, corrected, lost });
    setT(updated, 'transcript.updated', { time: () => (loadedAt ? fmtClock(loadedAt) : '–') });
    empty.hidden = segs.length > 0;
    if (!segs.length) setT(empty, 'transcript.empty');
    renderFinalise();

    const follow = active && rows.size > 0 && atBottom();
    const before = rows.size;
    const seen = new Set();
    segs.forEach((seg, i) => {
      seen.add(seg.seq);
      const row = renderRow(seg);
      if (list.children[i] !== row.el) list.insertBefore(row.el, list.children[i] || null);
    });
    for (const [seq, row] of rows) {
      if (!seen.has(seq)) { row.el.remove(); rows.delete(seq); }
    }
    if (follow && rows.size > before) list.lastElementChild?.scrollIntoView({ block: 'nearest' });
  }

  function renderFinalise() {
    if (!finaliseBtn) return;
    finaliseBox.hidden = isFinal();
    const closed = isTerminal();
    finaliseBtn.disabled = !closed || finaliseBusy;
    if (!closed) setT(finaliseHint, 'transcript.finaliseAfterClose');
    else if (doc && !doc.complete) setT(finaliseHint, 'transcript.pending');
    else setT(finaliseHint, 'transcript.finaliseReady');
  }

  function renderRow(seg) {
    const editable = mayCorrect && !isFinal();
    const sig = JSON.stringify([seg.text, seg.original_text, seg.status, seg.late, seg.detail,
      seg.corrections?.length, seg.name, editable, langGen]);
    let row = rows.get(seg.seq);
    if (!row) {
      row = { el: h('li', { class: 'tseg' }), view: null, sig: null, form: null };
      rows.set(seg.seq, row);
    }
    Object.assign(row.el.dataset, {
      seq: String(seg.seq), status: seg.status, corrected: String(Boolean(seg.corrections?.length)),
      editable: String(editable && !row.form),
    });
    if (row.sig === sig) return row;
    row.sig = sig;
    const view = segmentView(seg, editable && !row.form, () => openEditor(seg));
    if (row.view) row.view.replaceWith(view); else row.el.prepend(view);
    row.view = view;
    row.seg = seg;
    return row;
  }

  function segmentView(seg, editable, onEdit) {
    const lostNote = (s) => {
      if (s.status === 'failed') return h('span', { t: 'transcript.failedText' });
      if (s.status === 'gap') {
        return s.detail
          ? h('span', { t: 'transcript.gapText', tp: { detail: s.detail } })
          : h('span', { t: 'transcript.gapTextPlain' });
      }
      return null;
    };
    const fixes = seg.corrections || [];
    const who = personMap().get(seg.participant_id) || { role: seg.role };
    const wall = new Date(seg.start_at);
    const clock = h('time', { class: 'tseg-clock', text: fmtDuration((seg.start || 0) * 1000) });
    setAttrT(clock, 'title', 'transcript.clock');
    const wallEl = h('time', { class: 'tseg-wall', datetime: seg.start_at, text: Number.isNaN(wall.getTime()) ? '–' : fmtClock(wall) });
    if (!Number.isNaN(wall.getTime())) wallEl.title = fmtDateTime(seg.start_at);
    const tags = h('span', { class: 'ttags' });
    if (fixes.length) tags.append(h('span', { class: 'ttag', dataset: { tag: 'corrected' }, t: 'transcript.tagCorrected' }));
    if (seg.status === 'failed') tags.append(h('span', { class: 'ttag', dataset: { tag: 'failed' }, t: 'transcript.tagFailed' }));
    if (seg.status === 'gap') tags.append(h('span', { class: 'ttag', dataset: { tag: 'gap' }, t: 'transcript.tagGap' }));
    if (seg.late) tags.append(h('span', { class: 'ttag', dataset: { tag: 'late' }, t: 'transcript.tagLate' }));

    const meta = h('div', { class: 'tseg-meta' },
      h('span', { class: 'tseg-times' }, clock, wallEl),
      h('span', { class: 'tseg-who' },
        h('span', { class: 'tseg-name', text: seg.name }),
        h('span', { class: 'tseg-role', t: roleKey({ role: who.role || seg.role, side: who.side }) })),
      tags);

    const body = h('div', { class: 'tseg-body' });
    if (fixes.length) {
      const last = fixes[fixes.length - 1];
      body.append(h('p', { class: 'tseg-text', text: seg.text }));
      const original = seg.status === 'ok' ? h('del', { text: seg.original_text }) : h('del', {}, lostNote(seg));
      body.append(h('p', { class: 'tseg-original' }, h('span', { class: 'tseg-original-label', t: 'transcript.original' }), original));
      const by = h('p', { class: 'tseg-by' },
        h('span', { t: 'transcript.correctedBy', tp: { name: nameOf(last.actor), time: () => fmtDateTime(last.at) } }),
        fixes.length > 1 ? h('span', { t: 'transcript.correctedTimes', tp: { n: fixes.length } }) : null);
      body.append(by);
      if (last.reason) body.append(h('p', { class: 'tseg-reason', t: 'transcript.reason', tp: { reason: last.reason } }));
    } else if (seg.status === 'ok') {
      body.append(h('p', { class: 'tseg-text', text: seg.text }));
    } else {
      body.append(h('p', { class: 'tseg-text tseg-note' }, lostNote(seg)));
    }
    if (editable) {
      meta.append(h('button', {
        type: 'button', class: 'ghost small tseg-edit-btn', dataset: { action: 'edit-segment' },
        on: { click: onEdit },
      }, icon('edit'), h('span', { t: 'transcript.edit' })));
    }
    return h('div', { class: 'tseg-view' }, meta, body);
  }

  // -- correcting (clerk) ---------------------------------------------------------------
  function openEditor(seg) {
    const row = rows.get(seg.seq);
    if (!row || row.form) return;
    const text = h('textarea', { name: 'text', rows: 3, maxlength: MAX_TEXT, required: true, dataset: { field: 'text' } });
    text.value = seg.text;
    const reason = h('input', { type: 'text', name: 'reason', maxlength: MAX_REASON, dataset: { field: 'reason' }, autocomplete: 'off' });
    setAttrT(reason, 'placeholder', 'transcript.editReasonHint');
    const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const save = h('button', { type: 'submit', class: 'primary small', dataset: { action: 'save-correction' }, t: 'transcript.save' });
    const cancel = h('button', { type: 'button', class: 'ghost small', dataset: { action: 'cancel-correction' }, t: 'transcript.cancel' });
    const uid = `tseg-${seg.seq}`;
    text.id = `${uid}-text`;
    reason.id = `${uid}-reason`;
    const form = h('form', { class: 'tseg-edit', novalidate: true },
      h('label', { class: 'tfield', for: text.id }, h('span', { t: 'transcript.editText' })), text,
      h('label', { class: 'tfield', for: reason.id }, h('span', { t: 'transcript.editReason' })), reason,
      error,
      h('div', { class: 'row' }, save, cancel));
    const close = () => {
      form.remove();
      row.form = null;
      row.sig = null; // show the edit button again
      render();
    };
    cancel.addEventListener('click', close);
    text.addEventListener('input', () => { error.hidden = true; });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const value = text.value.trim();
      if (!value) {
        error.hidden = false;
        setT(error, 'transcript.error.emptyText');
        text.focus();
        return;
      }
      save.disabled = true;
      cancel.disabled = true;
      setT(save, 'transcript.saving');
      try {
        await api(token, '/api/me/transcript/corrections', {
          method: 'POST', json: { seq: seg.seq, text: value, reason: reason.value.trim() },
        });
        toast('transcript.saved');
        close();
        await refresh();
      } catch (err) {
        error.hidden = false;
        setT(error, transcriptErrorKey(err.code));
        save.disabled = false;
        cancel.disabled = false;
        setT(save, 'transcript.save');
        // The transcript may have changed under us (e.g. just made final): show it as it is.
        refresh();
      }
    });
    row.form = form;
    row.el.append(form);
    row.sig = null;
    render();
    text.focus();
  }

  // -- finalising (judge, presiding mediator) ---------------------------------------------
  async function finalise() {
    finaliseBusy = true;
    renderFinalise();
    hideMsg();
    try {
      await api(token, '/api/me/transcript/finalise', { method: 'POST' });
      showMsg('transcript.finalised', {}, 'ok');
    } catch (err) {
      showMsg(transcriptErrorKey(err.code));
    } finally {
      finaliseBusy = false;
      await refresh();
    }
  }

  // -- downloads ------------------------------------------------------------------------
  async function download(fmt, btn) {
    btn.disabled = true;
    btn.setAttribute('aria-busy', 'true');
    try {
      const resp = await api(token, `/api/me/transcript/${fmt}`);
      const blob = await resp.blob();
      const name = safeFilename(dispositionFilename(resp.headers.get('Content-Disposition'))) || `transcript.${fmt}`;
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (err) {
      showMsg(transcriptErrorKey(err.code));
    } finally {
      btn.disabled = false;
      btn.removeAttribute('aria-busy');
    }
  }

  // -- loading and refreshing -----------------------------------------------------------
  function atBottom() {
    let p = list.parentElement;
    while (p && p !== document.body) {
      const oy = getComputedStyle(p).overflowY;
      if ((oy === 'auto' || oy === 'scroll') && p.scrollHeight > p.clientHeight) break;
      p = p.parentElement;
    }
    const s = !p || p === document.body ? document.scrollingElement : p;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 48;
  }

  async function load() {
    try {
      const resp = await api(token, '/api/me/transcript/json');
      doc = await resp.json();
      loadedAt = new Date();
      if (msg.dataset.source === 'load') { hideMsg(); delete msg.dataset.source; }
      render();
      return true;
    } catch (err) {
      showMsg(err.code === 'network' ? 'transcript.loadFailed' : transcriptErrorKey(err.code));
      msg.dataset.source = 'load';
      if (!doc) setT(empty, 'transcript.loadFailed');
      // Refused outright (no right to read, link withdrawn): asking again will not help.
      return !(err.status === 401 || err.status === 403);
    }
  }

  async function refresh() {
    if (stopped) return;
    if (inflight) { again = true; await inflight; return; }
    let keepPolling = true;
    inflight = load().then((ok) => { keepPolling = ok; });
    try { await inflight; } finally { inflight = null; }
    if (again) { again = false; await refresh(); return; }
    if (keepPolling) schedule(); else clearTimeout(timer);
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (stopped || !active || isFinal()) return;
    const ms = isTerminal() && doc?.complete ? POLL_CLOSED_MS : POLL_MS;
    timer = setTimeout(refresh, ms);
  }

  const offLang = onLangChange(() => { langGen += 1; render(); });

  return {
    el,
    show() { if (active) return; active = true; refresh(); },
    hide() { active = false; clearTimeout(timer); },
    refresh,
    /** A final caption was stored: fetch the transcript soon (several come in a burst). */
    onCaption(c) {
      if (!active || !c?.final) return;
      clearTimeout(captionTimer);
      captionTimer = setTimeout(refresh, CAPTION_DEBOUNCE_MS);
    },
    hearingChanged() { renderFinalise(); schedule(); },
    stop() {
      stopped = true;
      active = false;
      clearTimeout(timer);
      clearTimeout(captionTimer);
      offLang();
    },
  };
}

/**
 * The record of a closed or adjourned hearing for the staff who may read it: no live
 * connection, just the hearing's details and its transcript.
 */
export function runRecord(root, ctx) {
  const { info, token } = ctx;
  const hearing = info.hearing;
  const role = info.me.role;
  document.body.dataset.view = 'record';
  if (ctx.app) ctx.app.view = 'record';
  const panel = transcriptPanel({
    token, info, hearing: () => hearing, people: () => info.participants || [],
  });
  if (ctx.app) ctx.app.transcript = panel;
  const when = (key, iso) => (iso ? [h('dt', { t: key }), h('dd', { text: fmtDateTime(iso) })] : []);
  const times = h('dl', { class: 'record-times' },
    when('record.started', hearing.actual_start), when('record.ended', hearing.actual_end));
  const header = h('header', { class: 'console-bar' },
    h('div', { class: 'console-id' }, h('span', { class: 'brand', t: 'app.name' }), h('span', { class: 'court', text: hearing.court })),
    h('div', { class: 'console-case' },
      h('span', { class: 'case-number', text: hearing.case_number }),
      h('span', { class: 'title', text: hearing.title })),
    h('div', { class: 'console-state' }, stateBadge(hearing.state)),
    h('span', { class: 'me-role', t: `console.as.${role}` }),
    languageSwitcher());
  const adjourned = hearing.state === 'adjourned';
  const intro = h('section', { class: 'panel record-intro' },
    h('h1', { t: adjourned ? 'record.title.adjourned' : 'record.title.closed' }),
    h('p', { class: 'state-line', t: adjourned ? 'record.lead.adjourned' : 'record.lead.closed' }),
    times.childElementCount ? times : null);
  clear(root).append(h('div', { class: 'screen record', dataset: { role } },
    header, h('main', { class: 'record-main' }, intro, panel.el)));
  panel.show();
  onLangChange(() => {
    // Dates in the language now chosen.
    append(clear(times), when('record.started', hearing.actual_start), when('record.ended', hearing.actual_end));
  });
  return panel;
}
