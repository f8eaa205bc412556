// The participant's journey (docs/domain.md "Before the hearing"): device self-test -> identity
// check -> hearing rules and declaration -> waiting room -> hearing room.
import { api } from './api.js';
import { h, clear, setT, setAttrT } from './dom.js';
import { fmtTime, t, getLang } from './i18n.js';
import { icon, setIcon } from './icons.js';
import { getLocalMedia, stopLocalMedia, levelMeter, playTestTone, networkCheck } from './devices.js';
import { Session } from './session.js';
import { captionBar } from './captions.js';
import { TileGrid, watchMedia } from './tiles.js';
import { mayDo } from './roles.js';
import { identityStep, identityCleared } from './identity.js';
import {
  languageSwitcher, hearingSummary, stateBadge, elapsed, connectionBanner, messageScreen,
  confirmButton, toast,
} from './ui.js';
import { caucusBanner, agreementPanel } from './mediation.js';
import { consultationControls } from './consultation.js';
import { oathSheet } from './oath.js';
import { noticeInbox } from './notices.js';
import { evidencePanel, exhibitViewer } from './evidence.js';
import { listeningControl } from './interpretation.js';
import { selfViewControls } from './selfview.js';
import { blockedCard } from './blocked.js';
import { helpBlock } from './help.js';

/**
 * The steps before the hearing, in order. A step whose `skip(ctx)` is true is passed over and
 * left out of the step indicator.
 */
export const FLOW = [
  { id: 'selftest', titleKey: 'step.selftest', run: selfTestStep },
  // Identity check (docs/domain.md "Identity"): shown while the server says it is pending for
  // this person. The server holds anyone not cleared out of the waiting room regardless.
  { id: 'identity', titleKey: 'step.identity', run: identityStep, skip: (ctx) => identityCleared(ctx.info.identity) },
  { id: 'rules', titleKey: 'step.rules', run: rulesStep },
  { id: 'hearing', titleKey: 'step.waiting', run: hearingStep },
];

// Set once the steps before the waiting room are done, so a reload (or a dropped phone
// browser) goes straight back to the hearing instead of repeating the checks.
const DONE_KEY = 'hearing.preJoinDone';
// How the party chose to take part after the camera or microphone failed: 'audio' (the
// microphone alone) or 'none' (watch and listen); a reload asks for no more than that.
const MEDIA_KEY = 'hearing.mediaChoice';

export async function runParticipant(root, ctx) {
  let steps = FLOW.filter((s) => !(typeof s.skip === 'function' ? s.skip(ctx) : s.skip));
  if (sessionStorage.getItem(DONE_KEY) === ctx.info.me.id) {
    // The identity step stays if the server still says it is pending (it is filtered out
    // above once cleared): a reload never gets anyone past it.
    steps = steps.filter((s) => s.id === 'hearing' || s.id === 'identity');
    const choice = sessionStorage.getItem(MEDIA_KEY);
    if (mayDo(ctx.info, 'publish_video') && choice !== 'none') {
      try {
        ctx.localStream = await getLocalMedia({ audioOnly: choice === 'audio' });
      } catch (err) {
        console.warn('camera/microphone unavailable', err);
      }
    }
  }
  for (const step of steps) {
    if (step.id === 'hearing') sessionStorage.setItem(DONE_KEY, ctx.info.me.id);
    const shell = flowShell(root, steps, step);
    await step.run(shell, ctx);
  }
}

/** Page frame of a pre-hearing step: top bar, step indicator, body, sticky action bar. */
function flowShell(root, steps, current) {
  clear(root);
  const body = h('div', { class: 'step-body' });
  const actions = h('div', { class: 'step-actions' });
  const index = steps.indexOf(current);
  const nav = h('ol', { class: 'steps', tattr: { 'aria-label': 'step.progress' } },
    steps.map((s, i) => h('li', {
      class: i < index ? 'done' : i === index ? 'current' : '',
      'aria-current': i === index ? 'step' : undefined,
    }, h('span', { class: 'step-num', text: String(i + 1) }), h('span', { class: 'step-name', t: s.titleKey }))));
  const page = h('div', { class: 'screen flow', dataset: { step: current.id } },
    h('header', { class: 'topbar' }, h('span', { class: 'brand', t: 'app.name' }), languageSwitcher({ largeText: true })),
    nav, h('main', { class: 'step-main' }, body), actions);
  root.append(page);
  return { root, page, body, actions, nav };
}

// -- 1. device self-test -------------------------------------------------------------------

/** Bring what the party still has to do into view (above the sticky action bar) and mark it. */
function goTo(card, focus = card) {
  card.scrollIntoView({ behavior: 'smooth', block: 'center' });
  card.classList.remove('attention');
  void card.offsetWidth;  // restart the animation when asked twice
  card.classList.add('attention');
  if (focus !== card) focus.focus({ preventScroll: true });
}

function check(key, iconName) {
  const status = h('p', { class: 'check-status', dataset: { result: 'pending' } });
  const card = h('section', { class: 'card check' },
    h('h2', {}, icon(iconName), h('span', { t: key })), status);
  return { card, status };
}

function setResult(status, result, key, params) {
  status.dataset.result = result;
  setT(status, key, params);
}

function mediaErrorKey(err) {
  switch (err?.name) {
    case 'NotAllowedError': case 'SecurityError': return 'selftest.blocked';
    case 'NotFoundError': case 'OverconstrainedError': return 'selftest.noDevice';
    case 'NotReadableError': case 'AbortError': return 'selftest.busy';
    default: return 'selftest.mediaError';
  }
}

async function selfTestStep(shell, ctx) {
  const { body, actions } = shell;
  const results = { camera: null, microphone: null, speaker: null, network: null };
  ctx.selfTest = results;
  body.append(hearingSummary(ctx.info.hearing, { compact: true }),
    h('h1', { t: 'selftest.title' }), h('p', { class: 'lead', t: 'selftest.lead' }));

  // Camera
  const cam = check('selftest.camera', 'camera');
  const preview = h('video', { class: 'preview mirror', autoplay: true, playsInline: true, muted: true });
  preview.muted = true;
  const retry = h('button', { type: 'button', class: 'secondary', hidden: true, t: 'selftest.retry' });
  cam.card.append(h('div', { class: 'preview-box' }, preview), retry);
  // Microphone
  const mic = check('selftest.microphone', 'mic');
  const meterFill = h('span', { class: 'meter-fill' });
  const meter = h('div', { class: 'meter', role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0' }, meterFill);
  setAttrT(meter, 'aria-label', 'selftest.micLevel');
  mic.card.append(meter);
  // Speaker
  const spk = check('selftest.speaker', 'speaker');
  const play = h('button', { type: 'button', class: 'secondary', dataset: { action: 'play-tone' }, t: 'selftest.playTone' });
  const heard = h('button', { type: 'button', class: 'secondary', dataset: { action: 'heard' }, t: 'selftest.heard', hidden: true });
  const notHeard = h('button', { type: 'button', class: 'ghost', dataset: { action: 'not-heard' }, t: 'selftest.notHeard', hidden: true });
  spk.card.append(h('div', { class: 'row' }, play, heard, notHeard));
  setResult(spk.status, 'pending', 'selftest.speakerPrompt');
  // Network
  const net = check('selftest.network', 'wifi');
  setResult(net.status, 'pending', 'selftest.networkChecking');

  // The way forward when the camera or microphone cannot be opened (blocked.js).
  const blocked = blockedCard({
    onRetry: () => startMedia(),
    onAudioOnly: () => startMedia({ audioOnly: true }),
    onListenOnly: async () => {
      ctx.listenOnly = true;
      sessionStorage.setItem(MEDIA_KEY, 'none');
      blocked.done('blocked.listenOnlyOk');
      update();
    },
  });
  blocked.extra.append(helpBlock(ctx, () => blocked.reason()));
  body.append(blocked.el, cam.card, mic.card, spk.card, net.card);
  const next = h('button', { type: 'button', class: 'primary', dataset: { action: 'continue' }, t: 'selftest.continue', disabled: true });
  // While the button is grey the hint names what is still to do and takes the party there
  // (the speaker check is below the fold on a phone).
  const hint = h('button', { type: 'button', class: 'hint hint-link', dataset: { action: 'show-missing' }, t: 'selftest.completeAll' });
  actions.append(hint, next);
  const cards = { camera: cam, microphone: mic, speaker: spk, network: net };
  const missing = () => Object.keys(cards).filter((k) => results[k] === null
    || (k === 'microphone' && results[k] === 'fail' && !ctx.listenOnly));
  hint.addEventListener('click', () => {
    const first = missing()[0];
    if (first) goTo(first === 'microphone' && !blocked.el.hidden ? blocked.el : cards[first].card);
  });

  // The results go to the clerk's board, which alerts the clerk to someone who cannot join
  // (a failed microphone, camera or speaker, a bad network): once all are known, and at once
  // for a failure. Each distinct report is sent once.
  let reported = null;
  const report = () => {
    const done = Object.values(results).every((r) => r !== null);
    const failed = Object.values(results).some((r) => r === 'fail' || r === 'bad');
    if (!done && !failed) return;
    const body = Object.fromEntries(Object.entries(results).filter(([, r]) => r !== null));
    const key = JSON.stringify(body);
    if (key === reported) return;
    reported = key;
    api(ctx.token, '/api/me/self-test', { method: 'POST', json: body }).catch(() => { reported = null; });
  };
  const update = () => {
    const mediaOk = results.microphone !== 'fail' || ctx.listenOnly === true;
    const done = results.camera !== null && results.speaker !== null && results.network !== null;
    next.disabled = !(mediaOk && done);
    hint.hidden = !next.disabled;
    const left = missing();
    if (left.length) {
      setT(hint, 'selftest.missing', {
        list: () => left.map((k) => t(`selftest.${k}`)).join(getLang() === 'en' ? ', ' : '、'),
      });
    }
    report();
  };

  let stopMeter = () => {};
  let heardVoice = false;
  async function startMedia({ audioOnly = false } = {}) {
    retry.hidden = true;
    if (!audioOnly) setResult(cam.status, 'pending', 'selftest.starting');
    setResult(mic.status, 'pending', 'selftest.starting');
    try {
      const stream = await getLocalMedia({ audioOnly });
      ctx.localStream = stream;
      ctx.listenOnly = false;
      if (audioOnly) {
        sessionStorage.setItem(MEDIA_KEY, 'audio');
        blocked.done('blocked.audioOnlyOk');
      } else {
        sessionStorage.removeItem(MEDIA_KEY);
        blocked.hide();
      }
      preview.srcObject = stream;
      preview.play().catch(() => {});
      if (stream.getVideoTracks().length) {
        results.camera = 'ok';
        setResult(cam.status, 'ok', 'selftest.cameraOk');
      } else {
        results.camera = 'fail';
        setResult(cam.status, 'warn', audioOnly ? 'blocked.audioOnlyOk' : 'selftest.noCamera');
      }
      results.microphone = 'ok';
      setResult(mic.status, 'pending', 'selftest.micSpeak');
      stopMeter = levelMeter(stream, (level) => {
        meterFill.style.width = `${Math.round(level * 100)}%`;
        meter.setAttribute('aria-valuenow', String(Math.round(level * 100)));
        if (!heardVoice && level > 0.15) {
          heardVoice = true;
          setResult(mic.status, 'ok', 'selftest.micOk');
        }
      });
    } catch (err) {
      console.warn('getUserMedia failed', err);
      results.microphone = 'fail';
      setResult(mic.status, 'fail', mediaErrorKey(err));
      if (audioOnly) {
        blocked.offerListenOnly();
      } else {
        results.camera = 'fail';
        setResult(cam.status, 'fail', mediaErrorKey(err));
        blocked.show(mediaErrorKey(err));
      }
      retry.hidden = false;
    }
    update();
  }
  retry.addEventListener('click', () => startMedia());

  play.addEventListener('click', async () => {
    play.disabled = true;
    setResult(spk.status, 'pending', 'selftest.playing');
    await playTestTone();
    play.disabled = false;
    setT(play, 'selftest.playAgain');
    heard.hidden = false;
    notHeard.hidden = false;
    setResult(spk.status, 'pending', 'selftest.didYouHear');
  });
  heard.addEventListener('click', () => {
    results.speaker = 'ok';
    setResult(spk.status, 'ok', 'selftest.speakerOk');
    heard.hidden = true; notHeard.hidden = true;
    update();
  });
  notHeard.addEventListener('click', () => {
    results.speaker = 'fail';
    setResult(spk.status, 'warn', 'selftest.speakerFail');
    update();
  });

  const runNetwork = async () => {
    const r = await networkCheck({
      onProgress: (f) => setResult(net.status, 'pending', 'selftest.networkChecking', { pct: Math.round(f * 100) }),
    });
    results.network = r.grade;
    setResult(net.status, r.grade === 'good' ? 'ok' : r.grade === 'poor' ? 'warn' : 'fail',
      `selftest.network.${r.grade}`,
      { loss: Math.round(r.loss * 100), rtt: r.medianRtt === null ? '–' : Math.round(r.medianRtt) });
    net.card.dataset.grade = r.grade;
    update();
  };

  if (!mayDo(ctx.info, 'publish_video')) {
    // Observers watch only: nothing of theirs is sent, so no camera or microphone to check.
    cam.card.hidden = true;
    mic.card.hidden = true;
    results.camera = 'skipped';
    results.microphone = 'skipped';
    await runNetwork();
  } else {
    await Promise.all([startMedia(), runNetwork()]);
  }
  await new Promise((resolve) => next.addEventListener('click', resolve, { once: true }));
  stopMeter();
  preview.srcObject = null;
}

// -- 3. rules and declaration --------------------------------------------------------------

async function rulesStep(shell, ctx) {
  const { body, actions } = shell;
  const rules = ['rules.formal', 'rules.place', 'rules.noRecording', 'rules.conduct', 'rules.record'];
  const box = h('input', { type: 'checkbox', id: 'declaration', dataset: { action: 'declare' } });
  body.append(
    h('h1', { t: 'rules.title' }),
    h('p', { class: 'lead', t: 'rules.lead' }),
    h('ol', { class: 'card rules' }, rules.map((k) => h('li', { t: k }))),
    h('label', { class: 'card declaration', for: 'declaration' }, box, h('span', { t: 'rules.declaration' })));
  const next = h('button', { type: 'button', class: 'primary', dataset: { action: 'enter-waiting' }, t: 'rules.continue', disabled: true });
  const hint = h('button', { type: 'button', class: 'hint hint-link', dataset: { action: 'show-missing' }, t: 'rules.needDeclaration' });
  hint.addEventListener('click', () => goTo(box.closest('.card'), box));
  actions.append(hint, next);
  box.addEventListener('change', () => { next.disabled = !box.checked; hint.hidden = box.checked; });
  await new Promise((resolve) => next.addEventListener('click', resolve, { once: true }));
  ctx.declaredAt = new Date().toISOString();
}

// -- 4. waiting room and hearing room ------------------------------------------------------

async function hearingStep(shell, ctx) {
  const root = shell.root;
  const session = new Session({ token: ctx.token, localStream: ctx.localStream || null });
  ctx.app.session = session;
  const lookup = (pid) => session.participants.get(pid) || ctx.info.participants.find((p) => p.id === pid);
  clear(root);
  const banner = connectionBanner(session);
  const waiting = waitingView(session, ctx);
  const room = roomView(session, ctx, lookup);
  // The consultation prompt and bar over either view: one may be asked while waiting.
  const inbox = noticeInbox(session);
  const page = h('div', { class: 'screen live' }, banner, waiting.el, room.el, room.consult.el, inbox.el);
  root.append(page);

  let lastState = null;
  const route = () => {
    const me = session.me;
    if (!me) return;
    const inRoom = me.state === 'in_hearing' || me.state === 'in_consultation';
    waiting.el.hidden = inRoom;
    room.el.hidden = !inRoom;
    page.dataset.view = inRoom ? 'hearing' : 'waiting';
    if (lastState && lastState !== me.state) {
      if (me.state === 'waiting' && (lastState === 'in_hearing' || lastState === 'in_consultation')) {
        waiting.notice('notice.returned');
      } else if (inRoom && lastState === 'waiting') {
        toast('notice.admitted');
      }
    }
    lastState = me.state;
    room.update();
    waiting.update();
  };
  session.addEventListener('me', route);
  session.addEventListener('hearing', () => { waiting.update(); room.update(); });
  session.addEventListener('participants', () => room.update());

  const ended = new Promise((resolve) => {
    session.addEventListener('ended', (ev) => {
      waiting.stop(); room.stop();
      resolve(ev.detail.reason);
    });
  });
  session.start().catch(() => {});
  const reason = await ended;
  showEnded(root, reason, ctx);
}

function showEnded(root, reason, ctx) {
  // The camera light goes off as soon as the hearing is over for this person.
  stopLocalMedia();
  ctx.localStream = null;
  const rejoin = h('button', { type: 'button', class: 'primary', t: 'ended.rejoin', on: { click: () => location.reload() } });
  if (reason === 'left') {
    messageScreen(root, { titleKey: 'ended.leftTitle', bodyKey: 'ended.leftBody', actions: [rejoin] });
  } else if (reason === 'dismissed') {
    messageScreen(root, { titleKey: 'ended.dismissedTitle', bodyKey: 'ended.dismissedBody', actions: [rejoin] });
  } else if (reason === 'removed') {
    // The link no longer works, so no request can be sent: the court's number is the way on.
    messageScreen(root, { titleKey: 'ended.removedTitle', bodyKey: 'ended.removedBody', kind: 'error',
      actions: [helpBlock(ctx, 'ended', { ask: false })] });
  } else if (reason === 'hearing_closed') {
    messageScreen(root, { titleKey: 'ended.closedTitle', bodyKey: 'ended.closedBody' });
  } else {
    // Opened on another device, or anything else: take the session back here (joining again
    // replaces the other connection) or ask the clerk.
    const again = h('button', { type: 'button', class: 'primary', dataset: { action: 'take-back' },
      t: reason === 'replaced' ? 'ended.takeBack' : 'error.retry', on: { click: () => location.reload() } });
    messageScreen(root, { titleKey: 'error.title', bodyKey: `error.${reason}`, kind: 'error',
      actions: [again, helpBlock(ctx, 'ended')] });
  }
  ctx.app.ended = reason;
}

function waitingView(session, ctx) {
  const summaryHost = h('div');
  const badge = h('span');
  const preview = h('video', { class: 'preview mirror', autoplay: true, playsInline: true, muted: true });
  preview.muted = true;
  const notices = h('ul', { class: 'notices' });
  const leave = confirmButton({
    key: 'room.leave', confirmKey: 'room.leaveConfirm', cls: 'ghost danger',
    dataset: { action: 'leave' }, onConfirm: () => session.leave(),
  });
  const status = h('p', { class: 'waiting-status', t: 'waiting.connecting' });
  const el = h('div', { class: 'waiting', dataset: { testid: 'waiting-room' } },
    h('header', { class: 'topbar' }, h('span', { class: 'brand', t: 'app.name' }), languageSwitcher({ largeText: true })),
    h('main', { class: 'step-main' },
      h('div', { class: 'step-body' },
        h('div', { class: 'card waiting-card' },
          h('div', { class: 'pulse', 'aria-hidden': 'true' }, icon('clock')),
          h('h1', { t: 'waiting.title' }), status, badge),
        summaryHost,
        h('section', { class: 'card' },
          h('h2', { t: 'waiting.notices' }), notices),
        h('section', { class: 'card self-view' },
          h('h2', { t: 'waiting.yourCamera' }),
          h('div', { class: 'preview-box small' }, preview),
          h('p', { class: 'hint', t: 'waiting.privacy' })),
        // Stuck or unsure while waiting (an elderly party, a broken camera): the clerk is told.
        h('section', { class: 'card', dataset: { testid: 'waiting-help' } }, helpBlock(ctx, 'other')),
        h('div', { class: 'actions' }, leave))));
  const notice = (key, params) => {
    const time = fmtTime(new Date());
    notices.prepend(h('li', {}, h('time', { text: time }), h('span', { t: key, tp: params })));
  };
  notice('notice.welcome');
  let shownHearing = null;
  let lastHearingState = null;
  return {
    el,
    notice,
    update() {
      const hearing = session.hearing;
      if (hearing && hearing !== shownHearing) {
        shownHearing = hearing;
        clear(summaryHost).append(hearingSummary(hearing));
        clear(badge).append(stateBadge(hearing.state));
        if (lastHearingState && lastHearingState !== hearing.state) notice(`notice.hearing.${hearing.state}`);
        lastHearingState = hearing.state;
      }
      if (session.me) {
        const key = { waiting: 'waiting.admitSoon', identifying: 'waiting.identifying' }[session.me.state];
        setT(status, key || 'waiting.connecting');
      }
      if (ctx.localStream && preview.srcObject !== ctx.localStream) {
        preview.srcObject = ctx.localStream;
        preview.play().catch(() => {});
      }
    },
    stop() { preview.srcObject = null; },
  };
}

function controlButton(action, iconName, key) {
  const label = h('span', { class: 'ctl-label', t: key });
  const btn = h('button', { type: 'button', class: 'ctl', dataset: { action } }, icon(iconName), label);
  return { btn, label };
}

function roomView(session, ctx, lookup) {
  const caseNo = h('span', { class: 'case-number' });
  const badge = h('span');
  const timer = h('span', { class: 'timer', 'aria-live': 'off' });
  const where = h('span', { class: 'where' });
  const stage = h('div', { class: 'stage' });
  const sound = h('button', { type: 'button', class: 'sound-unlock', hidden: true, t: 'room.enableSound' });
  const empty = h('p', { class: 'stage-empty', t: 'room.nobodyYet' });
  const grid = new TileGrid(stage, { lookup, onSoundBlocked: () => { sound.hidden = false; } });
  sound.addEventListener('click', () => { grid.enableSound(); sound.hidden = true; });
  const selfView = selfViewControls(stage);

  const mic = controlButton('mic', 'mic', 'room.mute');
  const cam = controlButton('camera', 'camera', 'room.cameraOff');
  const hand = controlButton('hand', 'hand', 'room.raiseHand');
  const leave = confirmButton({
    key: 'room.leave', confirmKey: 'room.leaveConfirm', cls: 'ctl danger',
    dataset: { action: 'leave' }, onConfirm: () => session.leave(), iconName: 'leave',
  });
  const lockNote = h('p', { class: 'lock-note', hidden: true }, icon('lock'), h('span', { t: 'room.lockedByJudge' }));
  const captions = captionBar(session);
  // Mediation: where the mediator is, and the agreement each party reads and signs here.
  const banner = caucusBanner(session);
  const consult = consultationControls(session, ctx, controlButton);
  const oath = oathSheet(session);
  const listen = listeningControl(session, grid);
  const signs = mayDo(ctx.info, 'sign');
  const agreement = signs ? agreementPanel(session, ctx, { drafting: false }) : null;
  const agreementBtn = controlButton('agreement', 'doc', 'room.agreement');
  agreementBtn.btn.hidden = true;
  const sheetClose = h('button', { type: 'button', class: 'ghost sheet-close', t: 'room.backToVideo', dataset: { action: 'close-agreement' } });
  const sheet = h('div', { class: 'sheet', hidden: true, role: 'dialog', 'aria-modal': 'false', dataset: { testid: 'agreement-sheet' } },
    sheetClose, agreement?.el);
  const openSheet = (open) => {
    sheet.hidden = !open;
    // The agreement takes the video's place (a phone has no room for both); the controls stay.
    el.classList.toggle('sheet-open', open);
    agreementBtn.btn.setAttribute('aria-pressed', String(open));
  };
  agreementBtn.btn.addEventListener('click', () => openSheet(sheet.hidden));
  sheetClose.addEventListener('click', () => openSheet(false));
  let shownAgreementState = null;
  session.addEventListener('agreement', () => {
    const a = agreement?.agreement;
    agreementBtn.btn.hidden = !(a && a.content);
    // A new proposal, or signing opening, is brought to the party's screen at once.
    if (a && a.state !== shownAgreementState && ['proposed', 'signing'].includes(a.state)) openSheet(true);
    shownAgreementState = a?.state || null;
  });

  // Evidence: what is presented covers the stage; the bundle opens in its own sheet.
  const viewer = exhibitViewer(session);
  const bundle = mayDo(ctx.info, 'view_evidence')
    ? evidencePanel(session, { may: (action) => mayDo(ctx.info, action) }) : null;
  const evidenceBtn = controlButton('evidence', 'doc', 'room.evidence');
  evidenceBtn.btn.hidden = !bundle;
  const evidenceClose = h('button', { type: 'button', class: 'ghost sheet-close', t: 'room.backToVideo', dataset: { action: 'close-evidence' } });
  const evidenceSheet = h('div', { class: 'sheet', hidden: true, role: 'dialog', 'aria-modal': 'false', dataset: { testid: 'evidence-sheet' } },
    evidenceClose, bundle?.el);
  const openEvidence = (open) => {
    evidenceSheet.hidden = !open;
    el.classList.toggle('sheet-open', open || !sheet.hidden);
    evidenceBtn.btn.setAttribute('aria-pressed', String(open));
  };
  evidenceBtn.btn.addEventListener('click', () => openEvidence(evidenceSheet.hidden));
  evidenceClose.addEventListener('click', () => openEvidence(false));
  // Something presented is brought to the screen at once.
  session.addEventListener('presentation', (ev) => { if (ev.detail?.showing) openEvidence(false); });

  const el = h('div', { class: 'room', hidden: true, dataset: { testid: 'hearing-room' } },
    h('header', { class: 'room-bar' },
      h('div', { class: 'room-info' }, caseNo, where),
      h('div', { class: 'room-state' }, badge, timer),
      listen.el,
      languageSwitcher({ largeText: true })),
    banner.el,
    h('main', { class: 'stage-wrap' }, stage, empty, sound, selfView.show, viewer.el, captions.bar),
    lockNote,
    sheet,
    evidenceSheet,
    oath.el,
    h('nav', { class: 'controls', tattr: { 'aria-label': 'room.controls' } }, mic.btn, cam.btn, hand.btn, consult.button, evidenceBtn.btn, agreementBtn.btn, captions.button, leave));

  mic.btn.addEventListener('click', async () => {
    const me = session.me;
    if (!me || me.mute_locked) return;
    mic.btn.disabled = true;
    try {
      await session.call('mute', { participant_id: me.id, muted: !me.audio_muted });
    } catch (err) {
      toast(`error.${err.code}`);
    } finally {
      renderControls();
    }
  });
  cam.btn.addEventListener('click', () => {
    const track = ctx.localStream?.getVideoTracks()[0];
    if (!track) return;
    track.enabled = !track.enabled;
    renderControls();
    grid.refreshLabels();
  });
  hand.btn.addEventListener('click', async () => {
    const me = session.me;
    if (!me) return;
    try {
      await session.call('raise_hand', { raised: !me.hand_raised });
    } catch (err) {
      toast(`error.${err.code}`);
    }
  });

  function renderControls() {
    const me = session.me || {};
    const muted = Boolean(me.audio_muted);
    const locked = Boolean(me.mute_locked);
    mic.btn.disabled = locked || !ctx.localStream?.getAudioTracks().length;
    mic.btn.setAttribute('aria-pressed', String(muted));
    mic.btn.classList.toggle('off', muted);
    mic.btn.classList.toggle('locked', locked);
    setIcon(mic.btn, locked ? 'lock' : muted ? 'micOff' : 'mic');
    setT(mic.label, locked ? 'room.locked' : muted ? 'room.unmute' : 'room.mute');
    lockNote.hidden = !locked;
    const video = ctx.localStream?.getVideoTracks()[0];
    const camOn = Boolean(video && video.enabled);
    cam.btn.disabled = !video;
    cam.btn.setAttribute('aria-pressed', String(!camOn));
    // Voice only (no camera, or the camera refused): say so rather than offer to start it.
    cam.btn.classList.toggle('off', Boolean(video) && !camOn);
    setIcon(cam.btn, camOn ? 'camera' : 'cameraOff');
    setT(cam.label, !video ? 'room.noCamera' : camOn ? 'room.cameraOff' : 'room.cameraOn');
    hand.btn.hidden = !mayDo(ctx.info, 'raise_hand');
    hand.btn.setAttribute('aria-pressed', String(Boolean(me.hand_raised)));
    hand.btn.classList.toggle('active', Boolean(me.hand_raised));
    setT(hand.label, me.hand_raised ? 'room.lowerHand' : 'room.raiseHand');
  }

  session.addEventListener('streams', (ev) => {
    grid.setStreams(ev.detail);
    empty.hidden = ev.detail.size > 0;
  });
  let wasLocked = false;
  let stopWatch = null;
  let stopLevel = () => {};
  let myLevel = 0;
  const tick = setInterval(() => {
    const t = elapsed(session.hearing);
    timer.textContent = t || '';
  }, 1000);

  return {
    el,
    consult,
    update() {
      const me = session.me;
      const hearing = session.hearing;
      if (hearing) {
        caseNo.textContent = hearing.case_number;
        clear(badge).append(stateBadge(hearing.state));
        timer.textContent = elapsed(hearing) || '';
      }
      if (me) {
        const mediation = hearing?.kind === 'mediation';
        setT(where, me.room === 'caucus' ? 'room.caucus'
          : me.state === 'in_consultation' ? 'room.consultation'
            : mediation ? 'room.jointSession' : 'room.hearingRoom');
        if (me.mute_locked && !wasLocked) toast('notice.mutedByJudge');
        wasLocked = Boolean(me.mute_locked);
        if (ctx.localStream) {
          grid.setLocal(me.id, ctx.localStream);
          selfView.attach(grid.local?.root);
        }
        if (!stopWatch && ctx.localStream) {
          stopLevel = levelMeter(ctx.localStream, (l) => { myLevel = l; });
        }
        if (!stopWatch) stopWatch = watchMedia(session, grid, { localLevel: () => myLevel });
      }
      grid.refreshLabels();
      renderControls();
      oath.update();
    },
    stop() {
      clearInterval(tick);
      banner.stop();
      consult.stop();
      if (stopWatch) stopWatch();
      stopLevel();
      grid.setStreams(new Map());
    },
  };
}
