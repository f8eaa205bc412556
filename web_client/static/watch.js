// Public livestream pages (no login): /watch lists today's public hearings, /watch/<id> plays
// one with hls.js (Chromium, Firefox, Android) or natively (Safari on iOS and macOS).
// Status (live / paused, viewers) is polled from /api/public/hearings/<id>.

import { LANGUAGES, getLang, onLangChange, setLang, t } from './i18n.js';
import { clear, h, setT } from './dom.js';

const POLL_MS = 5000;
const app = document.getElementById('app');
const hearingId = decodeURIComponent(location.pathname.split('/')[2] || '');

function topBar() {
  const lang = h('span', { class: 'lang' });
  for (const [code, label] of LANGUAGES) {
    const b = h('button', { type: 'button', 'aria-pressed': String(code === getLang()) }, label);
    b.addEventListener('click', () => setLang(code));
    lang.append(b);
  }
  onLangChange(() => {
    for (const b of lang.querySelectorAll('button')) {
      b.setAttribute('aria-pressed', String(b.textContent === LANGUAGES.find(([c]) => c === getLang())[1]));
    }
  });
  const home = h('a', { href: '/watch' });
  setT(home, 'watch.title');
  return h('header', { class: 'watch-top' }, home, lang);
}

function badge(state) {
  const el = h('span', { class: `badge ${state === 'live' ? 'live' : state === 'paused' ? 'paused' : ''}` });
  el.dataset.state = state;
  setT(el, `watch.state.${state}`);
  return el;
}

async function getJson(url) {
  const resp = await fetch(url, { cache: 'no-store' });
  if (!resp.ok) throw Object.assign(new Error(`HTTP ${resp.status}`), { status: resp.status });
  return resp.json();
}

async function showList() {
  const main = h('main', { class: 'watch-main' });
  const heading = h('h1');
  setT(heading, 'watch.today');
  const list = h('ul', { class: 'watch-list', id: 'hearings' });
  const empty = h('p', { class: 'hint', hidden: true });
  setT(empty, 'watch.none');
  main.append(heading, list, empty);
  clear(app);
  app.append(topBar(), main);
  async function refresh() {
    try {
      const { hearings } = await getJson('/api/public/hearings');
      clear(list);
      for (const hr of hearings) {
        const link = h('a', { href: `/watch/${encodeURIComponent(hr.id)}` },
          h('div', { class: 'court' }, hr.court),
          h('div', { class: 'case-number' }, hr.case_number),
          h('strong', {}, hr.title), ' ', badge(hr.livestream === 'not_live' ? 'scheduled' : hr.livestream));
        list.append(h('li', {}, link));
      }
      empty.hidden = hearings.length > 0;
    } catch (err) {
      console.warn('listing failed', err);
    }
  }
  await refresh();
  setInterval(refresh, POLL_MS * 2);
}

function attach(video, src) {
  // hls.js wherever Media Source Extensions exist; Safari plays HLS by itself.
  if (window.Hls && window.Hls.isSupported()) {
    // Captions (a WebVTT rendition in the master playlist) stay off until the viewer asks.
    const hls = new window.Hls({
      liveSyncDurationCount: 3, enableWorker: true, subtitleDisplay: false,
    });
    hls.on(window.Hls.Events.ERROR, (_, data) => {
      if (data.fatal) {
        console.warn('hls fatal error', data.type, data.details);
        if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR) hls.startLoad();
        else if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
      }
    });
    hls.loadSource(src);
    hls.attachMedia(video);
    return hls;
  }
  if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = src;
    return null;
  }
  return undefined;
}

async function showWatch() {
  const main = h('main', { class: 'watch-main' });
  const video = h('video', { id: 'player', controls: '', playsinline: '', muted: true, autoplay: true });
  video.muted = true; // autoplay is allowed muted; the viewer unmutes
  const message = h('div', { class: 'watch-message', id: 'message' });
  const box = h('div', { class: 'watch-video' }, video, message);
  const status = h('div', { class: 'watch-status' });
  // Captions: the live transcript, delayed like the picture; off by default.
  const ccButton = h('button', { type: 'button', class: 'secondary small', id: 'captions',
    'aria-pressed': 'false', t: 'watch.captionsOn' });
  let captionsOn = false;
  function applyCaptions() {
    ccButton.setAttribute('aria-pressed', String(captionsOn));
    setT(ccButton, captionsOn ? 'watch.captionsOff' : 'watch.captionsOn');
    if (player) {
      player.subtitleTrack = captionsOn ? 0 : -1;
      player.subtitleDisplay = captionsOn;
    } else {
      for (const track of video.textTracks) track.mode = captionsOn ? 'showing' : 'hidden';
    }
  }
  ccButton.addEventListener('click', () => { captionsOn = !captionsOn; applyCaptions(); });
  const viewers = h('span', { class: 'hint', id: 'viewers' });
  const title = h('h1', { id: 'title' });
  const meta = h('p', { class: 'hint', id: 'meta' });
  main.append(box, status, title, meta);
  clear(app);
  app.append(topBar(), main);
  let player = null;
  let statusBadge = null;
  let attached = false;
  let last = null;

  async function refresh() {
    let info;
    try {
      info = await getJson(`/api/public/hearings/${encodeURIComponent(hearingId)}`);
    } catch (err) {
      if (err.status === 404) {
        setT(message, 'watch.notFound');
        message.hidden = false;
        return;
      }
      throw err;
    }
    last = info;
    title.textContent = info.title;
    meta.textContent = `${info.court} · ${info.case_number}`;
    const replaying = info.livestream === 'not_live' && info.replay;
    // The captions button stays where it is (first in the row, never rebuilt): a row rebuilt
    // on every poll moves it under the viewer's finger.
    const shown = badge(replaying ? 'replay' : info.livestream);
    if (!statusBadge) status.append(ccButton, shown, viewers);
    else statusBadge.replaceWith(shown);
    statusBadge = shown;
    setT(viewers, 'watch.viewers', { n: info.viewers });
    if (replaying) { // the judge allowed a replay of what was published
      message.hidden = true;
      if (!attached) {
        player = attach(video, `/live/${encodeURIComponent(hearingId)}/replay.m3u8`);
        attached = player !== undefined;
      }
      return;
    }
    if (info.livestream === 'not_live') {
      setT(message, 'watch.notLive');
      message.hidden = false;
      return;
    }
    message.hidden = true;
    if (!attached) {
      const src = `/live/${encodeURIComponent(hearingId)}/master.m3u8`;
      try {
        const probe = await fetch(src, { cache: 'no-store' });
        if (!probe.ok) { // started, but still inside the broadcast delay
          setT(message, 'watch.starting');
          message.hidden = false;
          return;
        }
      } catch { return; }
      player = attach(video, src);
      if (player === undefined) {
        setT(message, 'watch.unsupported');
        message.hidden = false;
        return;
      }
      attached = true;
      if (player) player.on(window.Hls.Events.SUBTITLE_TRACKS_UPDATED, applyCaptions);
      video.play().catch(() => { /* the viewer presses play */ });
    }
  }
  onLangChange(() => { if (last) refresh().catch(() => {}); });
  await refresh().catch((err) => console.warn(err));
  setInterval(() => refresh().catch((err) => console.warn(err)), POLL_MS);
  window.watchPage = { video, get player() { return player; } };
}

document.documentElement.lang = getLang();
(hearingId ? showWatch() : showList()).catch((err) => {
  console.error(err);
  app.textContent = t('watch.error');
});
