// The courtroom display: the screen on the courtroom wall. Full screen, no controls: every
// participant of the hearing room tiled large with name and role, the case number and a clock.
// It joins as role courtroom_display and only receives.
import { h, clear, setT } from './dom.js';
import { fmtClock, fmtDate } from './i18n.js';
import { Session } from './session.js';
import { captionBar } from './captions.js';
import { TileGrid, watchMedia } from './tiles.js';
import { stateBadge, elapsed, connectionBanner, messageScreen } from './ui.js';

export async function runDisplay(root, ctx) {
  const session = new Session({ token: ctx.token, localStream: null });
  ctx.app.session = session;
  const lookup = (pid) => session.participants.get(pid);

  const court = h('p', { class: 'd-court' });
  const caseNo = h('p', { class: 'd-case case-number' });
  const title = h('p', { class: 'd-title' });
  const badge = h('span');
  const timer = h('span', { class: 'd-timer' });
  const clock = h('time', { class: 'd-clock' });
  const date = h('span', { class: 'd-date' });
  const stage = h('div', { class: 'stage' });
  const idle = h('div', { class: 'd-idle' }, h('p', { t: 'display.idle' }));
  const soundHint = h('p', { class: 'd-sound', hidden: true, t: 'display.tapForSound' });
  // The server-composed view of the hearing room (labels, case number and clock are in its
  // pixels); when the server sends it, it replaces the tiles.
  const compositeVideo = h('video', { class: 'd-composite', autoplay: true, playsinline: true, hidden: true });
  const playComposite = () => compositeVideo.play().catch(() => {
    compositeVideo.muted = true;
    soundHint.hidden = false;
    compositeVideo.play().catch(() => {});
  });
  const grid = new TileGrid(stage, { lookup, showMicState: true, onSoundBlocked: () => { soundHint.hidden = false; } });
  document.addEventListener('pointerdown', () => {
    grid.enableSound();
    compositeVideo.muted = false;
    soundHint.hidden = true;
  });

  const page = h('div', { class: 'screen display' },
    h('header', { class: 'd-bar' },
      h('div', { class: 'd-left' }, court, caseNo, title),
      h('div', { class: 'd-right' }, h('div', { class: 'd-status' }, badge, timer), h('div', { class: 'd-time' }, clock, date))),
    connectionBanner(session),
    h('main', { class: 'd-stage' }, stage, compositeVideo, idle, soundHint, captionBar(session, { alwaysOn: true }).bar));
  clear(root).append(page);
  // Never let the screen saver or a cursor sit on the courtroom screen.
  document.documentElement.classList.add('kiosk');
  if ('wakeLock' in navigator) navigator.wakeLock.request('screen').catch(() => {});

  // The layout the judge chose: judge_focus (the judge large), speaker_follow (whoever
  // speaks large), grid (all equal).
  let lastSpeaker = null;
  const applyLayout = () => {
    const layout = session.hearing?.layout || 'grid';
    let focus = null;
    const judge = [...grid.tiles.keys()].find((pid) => ['judge', 'mediator'].includes(lookup(pid)?.role));
    if (layout === 'judge_focus') focus = judge || null;
    else if (layout === 'speaker_follow') {
      if (grid.speaking && grid.tiles.has(grid.speaking)) lastSpeaker = grid.speaking;
      focus = lastSpeaker && grid.tiles.has(lastSpeaker) ? lastSpeaker : judge || null;
    }
    grid.setFocus(focus);
  };
  const renderHearing = () => {
    const hearing = session.hearing || ctx.info.hearing;
    court.textContent = hearing.court;
    caseNo.textContent = hearing.case_number;
    title.textContent = hearing.title;
    clear(badge).append(stateBadge(hearing.state));
    stage.dataset.layout = hearing.layout || 'grid';
    applyLayout();
    tick();
  };
  const tick = () => {
    const now = new Date();
    clock.textContent = fmtClock(now);
    date.textContent = fmtDate(now);
    timer.textContent = elapsed(session.hearing) || '';
  };
  renderHearing();
  const timerId = setInterval(tick, 1000);

  // judge_focus: the presiding judge's tile first and large.
  const order = (streams) => {
    const entries = [...streams];
    const rank = (pid) => (['judge', 'mediator'].includes(lookup(pid)?.role) ? 0 : 1);
    entries.sort((a, b) => rank(a[0]) - rank(b[0]));
    return new Map(entries);
  };
  session.addEventListener('hearing', renderHearing);
  session.addEventListener('participants', () => grid.refreshLabels());
  session.addEventListener('streams', (ev) => {
    const composite = [...ev.detail].find(([pid]) => pid.startsWith('composite-'));
    if (composite) {
      grid.setStreams(new Map());
      if (compositeVideo.srcObject !== composite[1]) {
        compositeVideo.srcObject = composite[1];
        playComposite();
      }
    } else {
      compositeVideo.srcObject = null;
      grid.setStreams(order(ev.detail));
    }
    compositeVideo.hidden = !composite;
    stage.hidden = Boolean(composite);
    page.dataset.mode = composite ? 'composite' : 'tiles';
    idle.hidden = ev.detail.size > 0;
    applyLayout();
  });
  const stopWatch = watchMedia(session, grid, { onStats: applyLayout });
  session.addEventListener('ended', (ev) => {
    clearInterval(timerId);
    stopWatch();
    messageScreen(root, { titleKey: 'display.endedTitle', bodyKey: `error.${ev.detail.reason}`, kind: 'info' });
  });
  setT(idle.firstChild, 'display.idle');
  await session.start().catch(() => {});
}
