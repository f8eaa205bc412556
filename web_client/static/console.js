// The judge's console (and the clerk's, without judicial actions): video, participant list
// with live states and actions, hearing controls, timer and the courtroom-display layout; and
// for those who keep the record, the hearing's transcript in a second tab.
import { api } from './api.js';
import { h, clear, setT, setAttrT } from './dom.js';
import { icon, setIcon } from './icons.js';
import { getLocalMedia, stopLocalMedia, levelMeter } from './devices.js';
import { Session } from './session.js';
import { captionBar } from './captions.js';
import { transcriptPanel, runRecord } from './transcript.js';
import { identityBadges, identityCleared } from './identity.js';
import { caucusPanel, agreementPanel } from './mediation.js';
import { consultationList } from './consultation.js';
import { noticePanel } from './notices.js';
import { registrationPanel } from './registration.js';
import { evidencePanel, exhibitViewer } from './evidence.js';
import { TileGrid, watchMedia } from './tiles.js';
import {
  mayDo, staysInRoom, isWitness, roleKey, ROLE_ORDER, STAFF_ROLES,
} from './roles.js';
import {
  languageSwitcher, stateBadge, elapsed, connectionBanner, messageScreen, confirmButton, toast,
} from './ui.js';

const LIVE = new Set(['joining', 'waiting', 'in_hearing', 'in_consultation']);
const TAB_KEY = 'hearing.consoleTab';

export async function runConsole(root, ctx) {
  let localStream = null;
  try {
    localStream = await getLocalMedia();
  } catch (err) {
    console.warn('no camera/microphone for the console', err);
  }
  const session = new Session({ token: ctx.token, localStream });
  ctx.app.session = session;
  const lookup = (pid) => session.participants.get(pid);
  const role = ctx.info.me.role;
  const may = (action) => mayDo(ctx.info, action);
  const judicial = () => may('close_hearing');

  // -- header ---------------------------------------------------------------------------
  const court = h('span', { class: 'court' });
  const caseNo = h('span', { class: 'case-number' });
  const title = h('span', { class: 'title' });
  const headBadge = h('span');
  const headTimer = h('span', { class: 'timer' });
  const header = h('header', { class: 'console-bar' },
    h('div', { class: 'console-id' }, h('span', { class: 'brand', t: 'app.name' }), court),
    h('div', { class: 'console-case' }, caseNo, title),
    h('div', { class: 'console-state' }, headBadge, headTimer),
    h('span', { class: 'me-role', t: `console.as.${role}` }),
    languageSwitcher());

  // -- video ----------------------------------------------------------------------------
  const stage = h('div', { class: 'stage' });
  const sound = h('button', { type: 'button', class: 'sound-unlock', hidden: true, t: 'room.enableSound' });
  const grid = new TileGrid(stage, { lookup, onSoundBlocked: () => { sound.hidden = false; } });
  sound.addEventListener('click', () => { grid.enableSound(); sound.hidden = true; });
  const micLabel = h('span', { class: 'ctl-label', t: 'room.mute' });
  const mic = h('button', { type: 'button', class: 'ctl', dataset: { action: 'mic' } }, icon('mic'), micLabel);
  const camLabel = h('span', { class: 'ctl-label', t: 'room.cameraOff' });
  const cam = h('button', { type: 'button', class: 'ctl', dataset: { action: 'camera' } }, icon('camera'), camLabel);
  const leave = confirmButton({
    key: 'room.leave', confirmKey: 'room.leaveConfirm', cls: 'ctl danger',
    dataset: { action: 'leave' }, onConfirm: () => session.leave(), iconName: 'leave',
  });
  const captions = captionBar(session);
  // What is presented covers the stage here too; the court may stop it.
  const viewer = exhibitViewer(session, { mayStop: may('present_evidence') });
  const videoCol = h('section', { class: 'console-video' },
    h('div', { class: 'stage-wrap' }, stage, sound, viewer.el, captions.bar),
    h('nav', { class: 'controls', tattr: { 'aria-label': 'room.controls' } }, mic, cam, captions.button, leave));

  // -- hearing panel --------------------------------------------------------------------
  const bigTimer = h('p', { class: 'big-timer', text: '—' });
  const stateLine = h('p', { class: 'state-line' });
  const actionRow = h('div', { class: 'row hearing-actions' });
  const layoutSet = h('fieldset', { class: 'layouts' }, h('legend', { t: 'console.layout' }));
  const layoutInputs = new Map();
  for (const layout of ctx.info.layouts || []) {
    const input = h('input', { type: 'radio', name: 'layout', value: layout, dataset: { layout } });
    layoutInputs.set(layout, input);
    layoutSet.append(h('label', { class: 'choice' }, input, h('span', { t: `layout.${layout}` })));
    input.addEventListener('change', async () => {
      if (!input.checked) return;
      try {
        await session.call('set_layout', { layout });
      } catch (err) {
        toast(`error.${err.code}`);
        renderHearing();
      }
    });
  }
  const clerkNote = h('p', { class: 'hint', t: 'console.clerkNote', hidden: judicial() });
  // The record and the server: whether the hearing is being recorded, recording failures,
  // and load shedding, each said at once to the judge and clerk.
  const recLine = h('p', { class: 'rec-state', hidden: true });
  const alertBox = h('div', { class: 'console-alerts', role: 'alert', 'aria-live': 'assertive' });
  const loadLine = h('p', { class: 'load-alert', hidden: true });
  // Consultations under way: who and for how long, never what (the judge may call them back).
  const consultations = consultationList(session, ctx);
  // The public livestream (庭审公开): only for public hearings and for whoever may control it;
  // the delay and the cut are explained in docs/livestream.md.
  const liveLine = h('p', { class: 'live-state', dataset: { testid: 'livestream-state' } });
  const liveButtons = h('div', { class: 'row livestream-actions' });
  const liveBox = h('div', { class: 'livestream', hidden: true }, liveLine, liveButtons);
  const hearingPanel = h('section', { class: 'panel hearing-panel' },
    h('h2', { t: 'console.hearing' }),
    h('div', { class: 'timer-box' }, h('span', { class: 'timer-label', t: 'console.elapsed' }), bigTimer),
    stateLine, recLine, liveBox, loadLine, alertBox, consultations.el, actionRow, layoutSet, clerkNote);

  const LIVE_ACTIONS = { not_live: ['start'], live: ['cut', 'stop'], cut: ['resume', 'stop'] };
  function renderLivestream(status) {
    const hearing = session.hearing;
    liveBox.hidden = !may('control_livestream') || !hearing || hearing.visibility !== 'public';
    if (liveBox.hidden) return;
    const state = status?.state || 'not_live';
    liveLine.dataset.state = state;
    setT(liveLine, `live.${state}`, { viewers: status?.viewers ?? 0, delay: status?.delay_seconds ?? '' });
    clear(liveButtons);
    for (const action of LIVE_ACTIONS[state] || []) {
      const b = h('button', { type: 'button', class: { start: 'primary', cut: 'ghost danger' }[action] || 'secondary',
        dataset: { action: `livestream-${action}` }, t: action === 'cut' ? 'live.cutAction' : `live.${action}` });
      b.addEventListener('click', async () => {
        b.disabled = true;
        try {
          const reply = await session.call('livestream', { action });
          renderLivestream(reply.livestream);
        } catch (err) {
          toast(`error.${err.code}`);
          b.disabled = false;
        }
      });
      liveButtons.append(b);
    }
    // The replay of what was published, once the stream has stopped: the judge decides.
    const replayAction = status?.replay ? 'withdraw_replay' : 'allow_replay';
    const r = h('button', { type: 'button', class: 'ghost small', dataset: { action: `livestream-${replayAction}` },
      t: `live.${replayAction}` });
    r.addEventListener('click', async () => {
      r.disabled = true;
      try {
        renderLivestream((await session.call('livestream', { action: replayAction })).livestream);
      } catch (err) {
        toast(`error.${err.code}`);
        r.disabled = false;
      }
    });
    liveButtons.append(r);
  }

  function renderRecording(status) {
    recLine.hidden = !status;
    if (!status) return;
    recLine.dataset.state = status.state;
    setT(recLine, `rec.${status.state}`);
  }

  function showRecordingAlert(alert) {
    const info = alert.severity === 'info';
    const item = h('p', { class: `console-alert ${info ? 'info' : 'error'}`,
      t: info ? 'rec.alertRecovered' : 'rec.alertFailed', tp: { message: alert.message } });
    alertBox.append(item);
    while (alertBox.children.length > 3) alertBox.firstElementChild.remove();
    if (info) setTimeout(() => item.remove(), 15000);
  }

  function renderLoad(load) {
    loadLine.hidden = !load.overloaded;
    if (load.overloaded) {
      loadLine.dataset.level = String(load.level);
      setT(loadLine, `load.level${Math.min(3, load.level)}`, { reason: load.reason });
    } else if (load.reason) {
      toast('load.recovered', {}, 6000);
    }
  }

  // -- participants panel -----------------------------------------------------------------
  const counts = h('p', { class: 'counts' });
  // Raised hands in the order they went up (the server stamps each): the judge takes them in turn.
  const handList = h('ol', { class: 'hand-list' });
  const handQueue = h('section', { class: 'hand-queue', hidden: true, dataset: { testid: 'hand-queue' } },
    h('h3', {}, icon('hand'), h('span', { t: 'console.handQueue' })), handList);
  const list = h('ul', { class: 'plist' });
  const rows = new Map();
  // Messages the outbox sender wrote to the people on this hearing (one-time codes), for
  // whoever verifies identity to read out to someone whose phone does not get them.
  const outboxList = h('ul', { class: 'outbox-list' });
  const outbox = h('details', { class: 'outbox', hidden: true, dataset: { testid: 'outbox' } },
    h('summary', { t: 'console.outbox' }), outboxList);
  const peoplePanel = h('section', { class: 'panel people-panel' },
    h('h2', {}, icon('users'), h('span', { t: 'console.participants' })), counts, handQueue, list, outbox);

  // The reason the clerk (verifying) or the judge (waiving) must give.
  const reasonInput = h('textarea', { id: 'identity-reason', rows: '3', maxlength: '500', required: true });
  const reasonTitle = h('h2');
  const reasonError = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const reasonOk = h('button', { type: 'submit', class: 'primary', dataset: { action: 'confirm-identity' } });
  const reasonCancel = h('button', { type: 'button', class: 'ghost', t: 'identity.cancel', dataset: { action: 'cancel-identity' } });
  const reasonDialog = h('dialog', { class: 'reason-dialog', dataset: { testid: 'identity-dialog' } },
    h('form', { method: 'dialog' }, reasonTitle, h('p', { class: 'hint', t: 'identity.reasonHint' }),
      h('label', { class: 'field', for: 'identity-reason' }, h('span', { t: 'identity.reason' }), reasonInput),
      reasonError, h('div', { class: 'row' }, reasonOk, reasonCancel)));
  let reasonFor = null;
  function askReason(p, kind) {
    reasonFor = { id: p.id, kind };
    setT(reasonTitle, kind === 'verify' ? 'identity.verifyTitle' : 'identity.waiveTitle', { name: p.display_name });
    setT(reasonOk, kind === 'verify' ? 'identity.verify' : 'identity.waive');
    reasonInput.value = '';
    reasonError.hidden = true;
    reasonDialog.showModal();
    reasonInput.focus();
  }
  reasonCancel.addEventListener('click', () => reasonDialog.close());
  reasonDialog.querySelector('form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!reasonFor) return;
    const reason = reasonInput.value.trim();
    if (!reason) {
      reasonError.hidden = false;
      setT(reasonError, 'error.reason_required');
      return;
    }
    reasonOk.disabled = true;
    try {
      await session.call(reasonFor.kind === 'verify' ? 'verify_identity' : 'waive_identity',
        { participant_id: reasonFor.id, reason });
      reasonDialog.close();
    } catch (err) {
      reasonError.hidden = false;
      setT(reasonError, `error.${err.code}`);
    } finally {
      reasonOk.disabled = false;
    }
  });

  // -- transcript tab (clerk, presiding judge or mediator) ------------------------------------
  const transcript = may('read_transcript') ? transcriptPanel({
    token: ctx.token, info: ctx.info,
    hearing: () => session.hearing || ctx.info.hearing,
    people: () => (session.participants.size ? session.participants : ctx.info.participants),
  }) : null;
  ctx.app.transcript = transcript;
  // -- mediation tab (the mediator): caucus rooms and the agreement --------------------------
  const caucus = may('open_caucus') ? caucusPanel(session) : null;
  const agreement = may('draft_agreement') ? agreementPanel(session, ctx, { drafting: true }) : null;
  const notices = may('send_notice') ? noticePanel(session) : null;
  const registration = may('register_identity') ? registrationPanel(session, ctx) : null;
  const views = new Map([['hearing', h('div', { class: 'side-view', id: 'side-hearing' },
    hearingPanel, peoplePanel, registration?.el, notices?.el)]]);
  const tabs = new Map();
  const hearingTabCount = h('span', { class: 'tab-count', hidden: true });
  let tabBar = null;
  if (caucus || agreement) {
    views.set('mediation', h('div', { class: 'side-view', id: 'side-mediation', hidden: true }, caucus?.el, agreement?.el));
  }
  const evidence = may('view_evidence') ? evidencePanel(session, { court: true, may }) : null;
  if (evidence) {
    views.set('evidence', h('div', { class: 'side-view', id: 'side-evidence', hidden: true }, evidence.el));
  }
  if (transcript) {
    views.set('transcript', h('div', { class: 'side-view', id: 'side-transcript', hidden: true }, transcript.el));
  }
  if (views.size > 1) {
    const tab = (id, key, iconName, extra) => {
      const btn = h('button', {
        type: 'button', role: 'tab', class: 'side-tab', id: `tab-${id}`,
        'aria-controls': `side-${id}`, 'aria-selected': 'false', dataset: { tab: id },
        on: { click: () => selectTab(id) },
      }, icon(iconName), h('span', { t: key }), extra);
      views.get(id).setAttribute('role', 'tabpanel');
      views.get(id).setAttribute('aria-labelledby', `tab-${id}`);
      tabs.set(id, btn);
      return btn;
    };
    tabBar = h('div', { class: 'side-tabs', role: 'tablist', tattr: { 'aria-label': 'console.views' } },
      tab('hearing', 'console.tabHearing', 'users', hearingTabCount),
      views.has('mediation') ? tab('mediation', 'console.tabMediation', 'hand') : null,
      evidence ? tab('evidence', 'console.tabEvidence', 'doc') : null,
      transcript ? tab('transcript', 'console.tabTranscript', 'doc') : null);
    // Arrow keys move between the tabs (WAI-ARIA tabs pattern); only the chosen one is in
    // the Tab order.
    tabBar.addEventListener('keydown', (ev) => {
      if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight') return;
      const ids = [...tabs.keys()];
      const at = ids.findIndex((id) => tabs.get(id).getAttribute('aria-selected') === 'true');
      const next = ids[(at + (ev.key === 'ArrowRight' ? 1 : ids.length - 1)) % ids.length];
      selectTab(next);
      tabs.get(next).focus();
      ev.preventDefault();
    });
  }
  function selectTab(id) {
    for (const [name, view] of views) view.hidden = name !== id;
    for (const [name, btn] of tabs) {
      btn.setAttribute('aria-selected', String(name === id));
      btn.tabIndex = name === id ? 0 : -1;
    }
    if (transcript) {
      if (id === 'transcript') transcript.show(); else transcript.hide();
    }
    try { sessionStorage.setItem(TAB_KEY, id); } catch { /* not remembered */ }
  }

  const page = h('div', { class: 'screen console', dataset: { role } },
    header, connectionBanner(session), reasonDialog,
    h('div', { class: 'console-main' }, videoCol,
      h('aside', { class: 'console-side' }, tabBar, ...views.values())));
  clear(root).append(page);
  if (tabBar) {
    const remembered = sessionStorage.getItem(TAB_KEY);
    selectTab(views.has(remembered) ? remembered : 'hearing');
  }

  // -- behaviour --------------------------------------------------------------------------
  async function act(event, data, button) {
    if (button) button.disabled = true;
    try {
      await session.call(event, data);
    } catch (err) {
      toast(`error.${err.code}`);
    } finally {
      if (button) button.disabled = false;
    }
  }

  function hearingActionButtons(state) {
    const out = [];
    const add = (action, key, cls = 'secondary') => out.push(h('button', {
      type: 'button', class: cls, t: key, dataset: { hearingAction: action },
      on: { click: (ev) => act('hearing_action', { action }, ev.currentTarget) },
    }));
    if (state === 'open' && may('start_hearing')) add('start', 'action.start', 'primary');
    if (state === 'in_session' && may('pause_hearing')) add('pause', 'action.pause');
    if ((state === 'paused' || state === 'suspended') && may('resume_hearing')) add('resume', 'action.resume', 'primary');
    // Whoever may pause pauses; the clerk, who may not, suspends for a technical problem.
    if (state === 'in_session' && may('suspend_hearing') && !may('pause_hearing')) add('suspend', 'action.suspend');
    if (may('close_hearing') && ['open', 'in_session', 'paused', 'suspended'].includes(state)) {
      out.push(confirmButton({
        key: 'action.close', confirmKey: 'action.closeConfirm', cls: 'ghost danger',
        dataset: { hearingAction: 'close' },
        onConfirm: () => act('hearing_action', { action: 'close' }),
      }));
    }
    return out;
  }

  let shownState = null;
  function renderHearing() {
    const hearing = session.hearing;
    if (!hearing) return;
    court.textContent = hearing.court;
    caseNo.textContent = hearing.case_number;
    title.textContent = hearing.title;
    clear(headBadge).append(stateBadge(hearing.state));
    setT(stateLine, `hstate.long.${hearing.state}`);
    if (shownState !== hearing.state) {
      shownState = hearing.state;
      clear(actionRow).append(...hearingActionButtons(hearing.state));
    }
    for (const [layout, input] of layoutInputs) {
      input.checked = hearing.layout === layout;
      input.disabled = !may('set_layout');
    }
    clerkNote.hidden = judicial();
    tickTimer();
  }

  function tickTimer() {
    const t = elapsed(session.hearing);
    bigTimer.textContent = t || '—';
    headTimer.textContent = t || '';
  }

  function liveState(p) {
    if (p.state === 'disconnected') return 'disconnected';
    return p.state || 'not_joined';
  }

  function identityActions(p) {
    const out = [];
    const id = session.identity.get(p.id);
    if (!id || identityCleared(id)) return out;
    if (may('verify_identity')) {
      out.push(h('button', {
        type: 'button', class: 'secondary small', t: 'identity.verify', dataset: { action: 'verify-identity' },
        on: { click: () => askReason(p, 'verify') },
      }));
    }
    if (may('waive_identity')) {
      out.push(h('button', {
        type: 'button', class: 'ghost small', t: 'identity.waive', dataset: { action: 'waive-identity' },
        on: { click: () => askReason(p, 'waive') },
      }));
    }
    return out;
  }

  function rowActions(p) {
    const out = [];
    const me = session.me;
    if (!me || p.id === me.id) return out;
    out.push(...identityActions(p));
    if (!judicial()) return out;
    const state = p.state;
    const btn = (key, action, data, event, cls = 'secondary small') => h('button', {
      type: 'button', class: cls, t: key, dataset: { action },
      on: { click: (ev) => act(event, data, ev.currentTarget) },
    });
    if (state === 'waiting') {
      out.push(btn(isWitness(p.role) ? 'action.callIn' : 'action.admit', 'admit', { participant_id: p.id }, 'admit', 'primary small'));
    }
    // Court staff (the clerk) sit in the courtroom by office: not admitted, returned or removed.
    const movable = !staysInRoom(p.role) && !STAFF_ROLES.has(p.role);
    if ((state === 'in_hearing' || state === 'in_consultation') && movable) {
      out.push(btn(isWitness(p.role) ? 'action.dismiss' : 'action.toWaiting', 'return', { participant_id: p.id }, 'return_to_waiting'));
    }
    // A witness whose testimony is over leaves; their link still works should they be recalled.
    if (isWitness(p.role) && (state === 'in_hearing' || state === 'waiting') && may('call_witness')) {
      out.push(btn('action.dismissOut', 'dismiss-out', { participant_id: p.id, to: 'out' }, 'dismiss_witness'));
    }
    const speaks = p.role !== 'courtroom_display' && p.role !== 'observer';
    if (speaks && state === 'in_hearing' && p.room === 'hearing' && may('grant_floor')) {
      out.push(btn('action.grantFloor', 'grant-floor', { participant_id: p.id }, 'grant_floor',
        p.hand_raised ? 'primary small' : 'secondary small'));
      if (p.hand_raised) out.push(btn('action.lowerHand', 'lower-hand', { participant_id: p.id }, 'lower_hand'));
    }
    if (speaks && state === 'in_hearing' && may('set_layout')) {
      const pinned = session.hearing?.spotlight === p.id;
      out.push(btn(pinned ? 'action.unpin' : 'action.pin', pinned ? 'unpin' : 'pin',
        { participant_id: pinned ? null : p.id }, 'spotlight'));
    }
    if (speaks && LIVE.has(state)) {
      if (!p.audio_muted) {
        out.push(btn('action.mute', 'mute', { participant_id: p.id, muted: true }, 'mute'));
        out.push(btn('action.muteLock', 'mute-lock', { participant_id: p.id, muted: true, lock: true }, 'mute'));
      } else if (!p.mute_locked) {
        out.push(btn('action.unmute', 'unmute', { participant_id: p.id, muted: false }, 'mute'));
        out.push(btn('action.lock', 'mute-lock', { participant_id: p.id, muted: true, lock: true }, 'mute'));
      } else {
        out.push(btn('action.unlock', 'unlock', { participant_id: p.id, muted: true, lock: false }, 'mute'));
        out.push(btn('action.unmute', 'unmute', { participant_id: p.id, muted: false }, 'mute'));
      }
    }
    if (movable && state !== 'left' && !p.removed) {
      out.push(confirmButton({
        key: 'action.remove', confirmKey: 'action.removeConfirm', cls: 'ghost danger small',
        dataset: { action: 'remove' },
        onConfirm: () => act('remove', { participant_id: p.id }),
      }));
    }
    return out;
  }

  function renderRow(p) {
    const me = session.me;
    const state = liveState(p);
    const id = session.identity.get(p.id);
    const sig = JSON.stringify([p.display_name, p.role, p.side, state, p.audio_muted, p.mute_locked,
      p.hand_raised, p.connected, p.room, p.sworn_at, session.hearing?.spotlight === p.id, me?.id === p.id, judicial(),
      id && [id.outcome, id.passed, id.pending, id.locked, id.registered, id.help_requested_at]]);
    let row = rows.get(p.id);
    if (row && row.sig === sig) return row.el;
    const flags = h('span', { class: 'flags' });
    if (p.hand_raised) {
      flags.append(h('span', { class: 'flag hand', dataset: { flag: 'hand' } }, icon('hand'), h('span', { t: 'state.handRaised' })));
    }
    // The undertaking is given in a court hearing; a mediation calls witnesses in without one.
    const swears = session.hearing?.kind !== 'mediation';
    if (swears && (p.role === 'witness' || p.role === 'expert') && (p.sworn_at || state === 'in_hearing')) {
      flags.append(h('span', { class: `flag ${p.sworn_at ? 'sworn' : 'unsworn'}`,
        dataset: { flag: p.sworn_at ? 'sworn' : 'unsworn' }, t: p.sworn_at ? 'state.sworn' : 'state.unsworn' }));
    }
    if (session.hearing?.spotlight === p.id) {
      flags.append(h('span', { class: 'flag pinned', dataset: { flag: 'pinned' }, t: 'state.pinned' }));
    }
    if (p.audio_muted) {
      const f = h('span', { class: 'flag muted', dataset: { flag: p.mute_locked ? 'locked' : 'muted' } },
        icon(p.mute_locked ? 'lock' : 'micOff'));
      setAttrT(f, 'title', p.mute_locked ? 'state.muteLocked' : 'state.muted');
      setAttrT(f, 'aria-label', p.mute_locked ? 'state.muteLocked' : 'state.muted');
      flags.append(f);
    }
    const stateEl = h('span', { class: 'pstate', dataset: { state } });
    setT(stateEl, `state.${state}`);
    const nameEl = h('span', { class: 'pname', text: p.display_name });
    const el = h('li', { class: 'prow', dataset: { participantId: p.id, state, hand: String(Boolean(p.hand_raised)) } },
      h('div', { class: 'prow-main' },
        h('span', { class: 'pwho' }, nameEl,
          me?.id === p.id ? h('span', { class: 'you', t: 'console.you' }) : null,
          h('span', { class: 'prole', t: roleKey(p) })),
        stateEl, flags),
      identityBadges(id),
      h('div', { class: 'prow-actions' }, rowActions(p)));
    if (row) row.el.replaceWith(el);
    rows.set(p.id, { el, sig });
    return el;
  }

  function renderHandQueue(queue) {
    handQueue.hidden = queue.length === 0;
    handList.replaceChildren(...queue.map((p) => {
      const at = p.hand_raised_at ? new Date(p.hand_raised_at) : null;
      const item = h('li', { class: 'hand-item', dataset: { participantId: p.id } },
        h('span', { class: 'pname', text: p.display_name }),
        h('span', { class: 'prole', t: roleKey(p) }),
        at ? h('time', { class: 'hand-at', datetime: p.hand_raised_at,
          text: at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }) }) : null);
      if (may('grant_floor') && p.state === 'in_hearing') {
        item.append(h('span', { class: 'hand-actions' },
          h('button', { type: 'button', class: 'primary small', t: 'action.grantFloor', dataset: { action: 'grant-floor' },
            on: { click: (ev) => act('grant_floor', { participant_id: p.id }, ev.currentTarget) } }),
          h('button', { type: 'button', class: 'ghost small', t: 'action.lowerHand', dataset: { action: 'lower-hand' },
            on: { click: (ev) => act('lower_hand', { participant_id: p.id }, ev.currentTarget) } })));
      }
      return item;
    }));
  }

  function renderPeople() {
    const people = [...session.participants.values()].sort((a, b) =>
      (ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role)) || a.display_name.localeCompare(b.display_name));
    const order = people.map((p) => renderRow(p));
    for (const [id, row] of rows) {
      if (!session.participants.has(id)) { row.el.remove(); rows.delete(id); }
    }
    order.forEach((el, i) => { if (list.children[i] !== el) list.insertBefore(el, list.children[i] || null); });
    const watching = (p) => p.role === 'observer' || p.role === 'courtroom_display';
    const n = (s) => people.filter((p) => p.state === s && !watching(p)).length;
    const observers = people.filter((p) => p.role === 'observer' && p.state === 'in_hearing').length;
    const queue = people.filter((p) => p.hand_raised)
      .sort((a, b) => (a.hand_raised_at || '').localeCompare(b.hand_raised_at || ''));
    const hands = queue.length;
    setT(counts, 'console.counts', { inHearing: n('in_hearing'), waiting: n('waiting'), hands, observers });
    renderHandQueue(queue);
    // Seen from the transcript tab: someone waits or has a hand up.
    const attention = n('waiting') + hands;
    hearingTabCount.hidden = attention === 0;
    hearingTabCount.textContent = String(attention);
  }

  function renderSelf() {
    const me = session.me || {};
    const muted = Boolean(me.audio_muted);
    mic.disabled = !localStream?.getAudioTracks().length || Boolean(me.mute_locked);
    mic.classList.toggle('off', muted);
    mic.setAttribute('aria-pressed', String(muted));
    setIcon(mic, muted ? 'micOff' : 'mic');
    setT(micLabel, muted ? 'room.unmute' : 'room.mute');
    const video = localStream?.getVideoTracks()[0];
    const camOn = Boolean(video && video.enabled);
    cam.disabled = !video;
    cam.classList.toggle('off', !camOn);
    cam.setAttribute('aria-pressed', String(!camOn));
    setIcon(cam, camOn ? 'camera' : 'cameraOff');
    setT(camLabel, camOn ? 'room.cameraOff' : 'room.cameraOn');
    if (me.id && localStream) grid.setLocal(me.id, localStream);
  }

  mic.addEventListener('click', () => {
    const me = session.me;
    if (me) act('mute', { participant_id: me.id, muted: !me.audio_muted }, mic);
  });
  cam.addEventListener('click', () => {
    const video = localStream?.getVideoTracks()[0];
    if (video) video.enabled = !video.enabled;
    renderSelf();
  });

  session.addEventListener('hearing', () => { renderHearing(); renderPeople(); transcript?.hearingChanged(); });
  session.addEventListener('caption', (ev) => transcript?.onCaption(ev.detail));
  session.addEventListener('recording', (ev) => renderRecording(ev.detail));
  session.addEventListener('livestream', (ev) => renderLivestream(ev.detail));
  session.addEventListener('hearing', () => renderLivestream(session.livestream));
  session.addEventListener('recordingalert', (ev) => showRecordingAlert(ev.detail));
  session.addEventListener('serverload', (ev) => renderLoad(ev.detail));
  session.addEventListener('participants', () => { renderPeople(); grid.refreshLabels(); });
  session.addEventListener('me', () => { renderSelf(); renderPeople(); });
  session.addEventListener('streams', (ev) => grid.setStreams(ev.detail));
  session.addEventListener('identity', () => { renderPeople(); loadOutbox(); });
  // Someone stuck asks for help (their self-test, an end screen): it stays in the alert box
  // until newer alerts push it out, and a toast makes sure it is seen.
  session.addEventListener('helprequest', (ev) => {
    const a = ev.detail;
    alertBox.append(h('p', { class: 'console-alert error', dataset: { testid: 'help-alert' },
      t: `help.alert.${a.reason}`, tp: { name: a.display_name } }));
    while (alertBox.children.length > 3) alertBox.firstElementChild.remove();
    toast(`help.alert.${a.reason}`, { name: a.display_name }, 10000);
  });
  session.addEventListener('identityalert', (ev) => {
    const a = ev.detail;
    toast(`identity.alert.${a.kind}`, { name: a.display_name }, 10000);
  });
  let outboxTimer = null;
  let outboxGone = !may('verify_identity');
  function loadOutbox() {
    if (outboxGone) return;
    clearTimeout(outboxTimer);
    outboxTimer = setTimeout(async () => {
      try {
        const { messages } = await (await api(ctx.token, '/api/me/outbox')).json();
        clear(outboxList);
        for (const m of messages) {
          const who = session.participants.get(m.participant_id);
          outboxList.append(h('li', { dataset: { participantId: m.participant_id } },
            h('time', { text: new Date(m.at).toLocaleTimeString() }),
            h('span', { class: 'pname', text: who ? who.display_name : m.recipient }),
            h('span', { class: 'outbox-text', text: m.text })));
        }
        outbox.hidden = messages.length === 0;
      } catch (err) {
        // No outbox (another sender is configured) or no right to read it: nothing to show.
        if (err.code === 'no_outbox' || err.code === 'forbidden') outboxGone = true;
      }
    }, 300);
  }
  let myLevel = 0;
  const stopLevel = localStream ? levelMeter(localStream, (l) => { myLevel = l; }) : () => {};
  const stopWatch = watchMedia(session, grid, { localLevel: () => myLevel });
  const timer = setInterval(tickTimer, 1000);
  session.addEventListener('ended', (ev) => {
    clearInterval(timer);
    caucus?.stop();
    consultations.stop();
    stopWatch();
    stopLevel();
    stopLocalMedia();
    transcript?.stop();
    const reason = ev.detail.reason;
    if (reason === 'hearing_closed' && transcript) {
      // The hearing is over: the console becomes the record (transcript, final mark, downloads).
      showRecord();
      return;
    }
    const again = h('button', { type: 'button', class: 'primary', t: 'ended.rejoin', on: { click: () => location.reload() } });
    if (reason === 'left') messageScreen(root, { titleKey: 'ended.leftTitle', bodyKey: 'ended.consoleLeft', actions: [again] });
    else if (reason === 'hearing_closed') messageScreen(root, { titleKey: 'ended.closedTitle', bodyKey: 'ended.closedBody' });
    else messageScreen(root, { titleKey: 'error.title', bodyKey: `error.${reason}`, kind: 'error' });
  });
  async function showRecord() {
    // Ask again: the hearing's end time, and its state if the close came as a join refusal.
    let info = { ...ctx.info, hearing: session.hearing || ctx.info.hearing, participants: [...session.participants.values()] };
    try {
      info = await (await api(ctx.token, '/api/me')).json();
    } catch { /* what the session knew will do */ }
    runRecord(root, { token: ctx.token, app: ctx.app, info });
  }

  if (!localStream) toast('console.noDevices', {}, 8000);
  await session.start().catch(() => {});
}
