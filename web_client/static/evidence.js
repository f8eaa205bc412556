// Evidence (举证、质证, docs/evidence.md): the exhibit bundle, uploads that survive a broken
// line, and the viewer that shows on every screen in the hearing room what the presenter shows.
import { h, setT, clear } from './dom.js';
import { api, ApiFailure } from './api.js';
import { getLang, onLangChange, t } from './i18n.js';
import { toast } from './ui.js';

const CHUNK = 1024 * 1024;
const MAX_RETRIES = 8;
const SIDES = ['plaintiff', 'defendant', 'applicant', 'respondent', 'third_party', 'court'];
const ASPECTS = ['authenticity', 'legality', 'relevance'];
const PAGEABLE = new Set(['application/pdf', 'image/jpeg', 'image/png']);

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

export const labelOf = (ex) => (getLang() === 'en' ? ex.label_en : ex.label);

/**
 * Upload a file as an exhibit in 1 MB pieces. A broken connection is not the end: the server
 * is asked how much arrived and the rest follows, with growing pauses, up to MAX_RETRIES
 * failures in a row. Refusals (a wrong type, too large) end it at once with their code.
 */
export async function uploadExhibit(token, file, { title, purpose = '', side, supersedes, onProgress = () => {} }) {
  const created = await (await api(token, '/api/me/evidence/uploads', {
    method: 'POST', json: { size: file.size, filename: file.name },
  })).json();
  const url = `/api/me/evidence/uploads/${created.upload_id}`;
  const where = async () => (await (await api(token, url)).json()).offset;
  let offset = 0;
  let failures = 0;
  while (offset < file.size) {
    try {
      const resp = await fetch(url, {
        method: 'PATCH',
        headers: {
          Authorization: `Bearer ${token}`,
          'Upload-Offset': String(offset),
          'Content-Type': 'application/offset+octet-stream',
        },
        body: file.slice(offset, offset + CHUNK),
      });
      const body = await resp.json().catch(() => ({}));
      if (!resp.ok) {
        if (body.code === 'offset_mismatch') { offset = await where(); continue; }
        throw new ApiFailure(body.code || 'error', body.message || '', resp.status);
      }
      offset = body.offset;
      failures = 0;
      onProgress(offset / file.size);
    } catch (err) {
      const refused = err instanceof ApiFailure && err.status >= 400 && err.status < 500;
      if (refused || ++failures > MAX_RETRIES) throw err;
      await sleep(Math.min(15000, 500 * 2 ** failures));
      try { offset = await where(); } catch { /* still offline: try again */ }
    }
  }
  const json = { title, purpose };
  if (side) json.side = side;
  if (supersedes) json.supersedes = supersedes;
  return (await api(token, `${url}/complete`, { method: 'POST', json })).json();
}

/** A page of an exhibit as an object URL (the page pictures need the join token). */
class PageCache {
  constructor(token) { this.token = token; this.urls = new Map(); }
  async get(exhibitId, page, width) {
    const key = `${exhibitId}:${page}:${width}`;
    if (!this.urls.has(key)) {
      this.urls.set(key, (async () => {
        const resp = await api(this.token, `/api/me/evidence/${exhibitId}/pages/${page}?width=${width}`);
        return URL.createObjectURL(await resp.blob());
      })());
    }
    try {
      return await this.urls.get(key);
    } catch (err) {
      this.urls.delete(key);
      throw err;
    }
  }
}

/**
 * The viewer over the stage: what the presenter shows, at their page, zoom and pointer. Anyone
 * may page back and forth on their own ("look back"), then return to the presenter; the
 * presenter's own page turns, zoom and pointer go to everyone.
 */
export function exhibitViewer(session, { mayStop = false } = {}) {
  const cache = new PageCache(session.token);
  const label = h('span', { class: 'exhibit-label' });
  const title = h('span', { class: 'exhibit-title' });
  const who = h('span', { class: 'exhibit-presenter' });
  const pageNo = h('span', { class: 'exhibit-page-no', 'aria-live': 'polite' });
  const img = h('img', { class: 'exhibit-img', alt: '' });
  const pointer = h('span', { class: 'exhibit-pointer', hidden: true });
  const media = h('div', { class: 'exhibit-media', hidden: true });
  const screenVideo = h('video', { class: 'exhibit-screen', autoplay: true, muted: true, playsInline: true,
    hidden: true, dataset: { testid: 'exhibit-screen' } });
  const canvas = h('div', { class: 'exhibit-canvas' }, img, pointer);
  const btn = (action, key) => h('button', { type: 'button', class: 'ghost small', dataset: { action }, t: key });
  const prev = btn('exhibit-prev', 'evidence.prev');
  const next = btn('exhibit-next', 'evidence.next');
  const zoomIn = btn('exhibit-zoom-in', 'evidence.zoomIn');
  const zoomOut = btn('exhibit-zoom-out', 'evidence.zoomOut');
  const follow = btn('exhibit-follow', 'evidence.follow');
  const stop = btn('exhibit-stop', 'evidence.stop');
  const el = h('section', { class: 'exhibit-view', hidden: true, dataset: { testid: 'exhibit-view' },
    'aria-label': 'exhibit' },
  h('header', { class: 'exhibit-bar' }, label, title, who),
  h('div', { class: 'exhibit-frame' }, canvas, media, screenVideo),
  h('nav', { class: 'exhibit-controls' }, prev, pageNo, next, zoomOut, zoomIn, follow, stop));

  let showing = null;
  let localPage = null; // set while looking back on one's own
  let shownKey = '';

  const amPresenter = () => showing && session.me && showing.presenter_id === session.me.id;
  const pages = () => showing?.exhibit.pages || 1;
  const page = () => localPage ?? showing?.page ?? 1;

  async function render() {
    el.hidden = !showing;
    if (!showing) { shownKey = ''; delete el.dataset.page; return; }
    const ex = showing.exhibit;
    if (!ex) { renderScreen(); return; }
    screenVideo.hidden = true;
    label.textContent = labelOf(ex);
    title.textContent = ex.title;
    setT(who, 'evidence.presentedBy', { name: showing.presenter_name });
    setT(pageNo, 'evidence.pageOf', { page: page(), pages: pages() });
    const presenting = amPresenter();
    prev.disabled = page() <= 1;
    next.disabled = page() >= pages();
    zoomIn.hidden = zoomOut.hidden = !presenting;
    follow.hidden = presenting || localPage === null;
    stop.hidden = !(presenting || mayStop);
    el.dataset.presenting = String(presenting);
    const pageable = PAGEABLE.has(ex.media_type);
    canvas.hidden = !pageable;
    media.hidden = pageable;
    if (!pageable) { renderMedia(ex); return; }
    const zoom = localPage === null ? showing.zoom : 1;
    const [cx, cy] = showing.center || [0.5, 0.5];
    img.style.transformOrigin = `${cx * 100}% ${cy * 100}%`;
    img.style.transform = `scale(${zoom})`;
    const p = localPage === null ? showing.pointer : null;
    pointer.hidden = !p;
    if (p) { pointer.style.left = `${p[0] * 100}%`; pointer.style.top = `${p[1] * 100}%`; }
    const key = `${ex.id}:${page()}`;
    if (key === shownKey) return;
    const width = Math.min(2400, Math.round((el.clientWidth || 800) * (window.devicePixelRatio || 1)));
    try {
      const url = await cache.get(ex.id, page(), Math.max(400, width));
      if (`${showing?.exhibit.id}:${page()}` !== key) return; // moved on meanwhile
      img.src = url;
      await img.decode().catch(() => {});
      shownKey = key;
      // What the screen shows now (the tests and the page-turn benchmark read these).
      el.dataset.exhibitId = ex.id;
      el.dataset.page = String(page());
      el.dataset.seq = String(showing.seq);
      // The pages on either side, ahead of the presenter's next turn.
      for (const n of [page() + 1, page() - 1]) {
        if (n >= 1 && n <= pages()) cache.get(ex.id, n, Math.max(400, width)).catch(() => {});
      }
    } catch (err) {
      toast(`error.${err.code || 'error'}`);
    }
  }

  // A shared screen: the presenter's screen stream, received like any track (not a tile).
  function renderScreen() {
    setT(label, 'evidence.screen');
    title.textContent = '';
    setT(who, 'evidence.presentedBy', { name: showing.presenter_name });
    pageNo.textContent = '';
    for (const b of [prev, next, zoomIn, zoomOut, follow]) b.hidden = true;
    stop.hidden = !(amPresenter() || mayStop);
    canvas.hidden = true;
    media.hidden = true;
    screenVideo.hidden = false;
    const stream = amPresenter() && session.screenTrack
      ? new MediaStream([session.screenTrack])
      : session.screens.get(showing.screen.stream_id);
    if (stream && screenVideo.srcObject?.id !== stream.id) {
      screenVideo.srcObject = stream;
      screenVideo.play().catch(() => {});
    }
    el.dataset.screen = stream ? 'receiving' : 'waiting';
  }
  session.addEventListener('screens', () => { if (showing?.screen) renderScreen(); });

  let mediaFor = null;
  function renderMedia(ex) {
    if (mediaFor === ex.id) return syncMedia();
    mediaFor = ex.id;
    clear(media);
    const tag = ex.media_type.startsWith('audio') ? 'audio' : 'video';
    const player = h(tag, { controls: true, playsInline: true, class: 'exhibit-player', dataset: { testid: 'exhibit-player' } });
    media.append(player);
    // A short-lived link the player streams from (with ranges: seeking never fetches it all).
    api(session.token, `/api/me/evidence/${ex.id}/ticket`, { method: 'POST' })
      .then((r) => r.json())
      .then(({ url }) => { player.src = url; player.addEventListener('loadedmetadata', syncMedia, { once: true }); })
      .catch((err) => toast(`error.${err.code || 'error'}`));
    if (amPresenter()) {
      const report = () => session.call('presentation_move', { playing: !player.paused, position_s: player.currentTime })
        .catch(() => {});
      player.addEventListener('play', report);
      player.addEventListener('pause', report);
      player.addEventListener('seeked', report);
    }
    return undefined;
  }
  function syncMedia() {
    const player = media.firstChild;
    if (!player || !showing || amPresenter()) return;
    // Where the presenter's playback is now: their position plus the time since.
    const behind = showing.playing ? (Date.now() - showing.at_ms) / 1000 : 0;
    const target = showing.position_s + Math.max(0, behind);
    if (Math.abs(player.currentTime - target) > 1) player.currentTime = target;
    if (showing.playing && player.paused) player.play().catch(() => {});
    if (!showing.playing && !player.paused) player.pause();
  }

  async function move(change) {
    try { await session.call('presentation_move', change); } catch (err) { toast(`error.${err.code}`); }
  }
  function turn(delta) {
    const target = Math.min(pages(), Math.max(1, page() + delta));
    if (amPresenter()) move({ page: target });
    else { localPage = target === showing.page ? null : target; render(); }
  }
  prev.addEventListener('click', () => turn(-1));
  next.addEventListener('click', () => turn(1));
  zoomIn.addEventListener('click', () => move({ zoom: Math.min(4, (showing?.zoom || 1) + 0.5) }));
  zoomOut.addEventListener('click', () => move({ zoom: Math.max(1, (showing?.zoom || 1) - 0.5) }));
  follow.addEventListener('click', () => { localPage = null; render(); });
  stop.addEventListener('click', async () => {
    try { await session.call('stop_presenting', {}); } catch (err) { toast(`error.${err.code}`); }
  });
  // The presenter points by tapping the page: everyone sees the ring there.
  canvas.addEventListener('click', (ev) => {
    if (!amPresenter()) return;
    const box = img.getBoundingClientRect();
    const x = (ev.clientX - box.left) / box.width;
    const y = (ev.clientY - box.top) / box.height;
    if (x >= 0 && x <= 1 && y >= 0 && y <= 1) move({ pointer: [x, y] });
  });

  function update(state) {
    const incoming = state?.showing || null;
    const same = incoming && showing && incoming.exhibit?.id === showing.exhibit?.id;
    if (same && incoming.seq < showing.seq) return;
    if (!same) { localPage = null; mediaFor = null; }
    // My shared screen is no longer shown (stopped by me or the court): stop sending it.
    if (showing?.screen && showing.presenter_id === session.me?.id && !incoming?.screen) session.stopScreen();
    showing = incoming;
    if (!showing) screenVideo.srcObject = null;
    render();
  }
  session.addEventListener('presentation', (ev) => update(ev.detail));
  session.addEventListener('joined', () => update(session.presentation));
  onLangChange(() => render());
  update(session.presentation);
  return { el, get showing() { return showing; } };
}

/**
 * The bundle: every exhibit one may see, upload (with progress, resumed after a broken line),
 * and what one's role allows: present (the court, or a party given the floor to), release to
 * the other side and record opinions (the court), give or withdraw the floor to present.
 */
export function evidencePanel(session, { court = false, may = () => false } = {}) {
  const list = h('ol', { class: 'exhibit-list', dataset: { testid: 'exhibit-list' } });
  const empty = h('p', { class: 'hint', t: 'evidence.none' });
  const file = h('input', { type: 'file', id: 'exhibit-file', accept: '.pdf,.jpg,.jpeg,.png,.mp3,.mp4,.webm', dataset: { field: 'file' } });
  const titleIn = h('input', { type: 'text', id: 'exhibit-title', maxlength: '200', required: true, dataset: { field: 'title' } });
  const purposeIn = h('textarea', { id: 'exhibit-purpose', rows: '2', maxlength: '2000', dataset: { field: 'purpose' } });
  const sideIn = h('select', { id: 'exhibit-side', dataset: { field: 'side' }, hidden: !court },
    SIDES.map((s) => h('option', { value: s, t: `evidence.side.${s}` })));
  if (court) sideIn.value = 'court';
  const progress = h('progress', { max: '1', value: '0', hidden: true, dataset: { testid: 'upload-progress' } });
  const status = h('p', { class: 'hint upload-status', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary small', dataset: { action: 'upload-exhibit' }, t: 'evidence.upload' });
  const shareBtn = h('button', { type: 'button', class: 'secondary small', dataset: { action: 'share-screen' },
    t: 'evidence.shareScreen', hidden: true });
  const form = h('form', { class: 'exhibit-upload', hidden: !may('upload_evidence') },
    h('label', { class: 'field', for: 'exhibit-file' }, h('span', { t: 'evidence.file' }), file),
    h('label', { class: 'field', for: 'exhibit-title' }, h('span', { t: 'evidence.title' }), titleIn),
    h('label', { class: 'field', for: 'exhibit-purpose' }, h('span', { t: 'evidence.purpose' }), purposeIn),
    court ? h('label', { class: 'field', for: 'exhibit-side' }, h('span', { t: 'evidence.forSide' }), sideIn) : null,
    progress, status, submit);
  // The court gives a party or counsel in the hearing room the floor to present.
  const grantee = h('select', { id: 'present-grantee', dataset: { field: 'grantee' } });
  const grantBtn = h('button', { type: 'button', class: 'secondary small', dataset: { action: 'grant-presenting' }, t: 'evidence.grant' });
  const withdrawBtn = h('button', { type: 'button', class: 'ghost small', dataset: { action: 'withdraw-presenting' }, t: 'evidence.withdraw' });
  const grantLine = h('p', { class: 'hint', dataset: { testid: 'presenting-grant' } });
  const grantBox = h('div', { class: 'grant-box', hidden: !may('grant_presenting') },
    h('label', { class: 'field', for: 'present-grantee' }, h('span', { t: 'evidence.grantTo' }), grantee),
    h('div', { class: 'row' }, grantBtn, withdrawBtn), grantLine);
  const el = h('section', { class: 'panel evidence-panel', dataset: { testid: 'evidence-panel' } },
    h('h2', { t: 'evidence.bundle' }), grantBox, shareBtn, empty, list, form);

  let bundle = { exhibits: [], opinions: [] };
  let presentation = session.presentation || null;

  async function refresh() {
    try {
      bundle = await (await api(session.token, '/api/me/evidence')).json();
    } catch (err) {
      if (err.code !== 'network') toast(`error.${err.code}`);
      return;
    }
    renderList();
  }

  const mayPresentNow = () => may('present_evidence') && session.me?.state === 'in_hearing' && (
    court || presentation?.granted_to === session.me?.id);

  async function act(button, fn) {
    button.disabled = true;
    try {
      await fn();
    } catch (err) {
      // Our errors carry a code; a browser's (the screen picker cancelled) does not.
      toast(`error.${typeof err.code === 'string' ? err.code : 'error'}`);
    } finally {
      button.disabled = false;
    }
  }

  function opinionForm(ex) {
    const by = h('select', { dataset: { field: 'by-side' } },
      SIDES.filter((s) => s !== ex.side && s !== 'court').map((s) => h('option', { value: s, t: `evidence.side.${s}` })));
    const verdicts = ASPECTS.map((aspect) => h('label', { class: 'choice' }, h('span', { t: `evidence.${aspect}` }),
      h('select', { dataset: { field: aspect } },
        h('option', { value: '', t: 'evidence.notStated' }),
        h('option', { value: 'accepted', t: 'evidence.accepted' }),
        h('option', { value: 'disputed', t: 'evidence.disputed' }))));
    const words = h('textarea', { rows: '2', maxlength: '4000', dataset: { field: 'opinion-text' } });
    const save = h('button', { type: 'submit', class: 'secondary small', dataset: { action: 'record-opinion' }, t: 'evidence.recordOpinion' });
    const form = h('form', { class: 'opinion-form' }, h('label', { class: 'field' }, h('span', { t: 'evidence.bySide' }), by),
      ...verdicts, h('label', { class: 'field' }, h('span', { t: 'evidence.reasons' }), words), save);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const json = { by_side: by.value, text: words.value };
      for (const v of verdicts) {
        const select = v.querySelector('select');
        json[select.dataset.field] = select.value || null;
      }
      act(save, async () => {
        await api(session.token, `/api/me/evidence/${ex.id}/opinions`, { method: 'POST', json });
        toast('evidence.opinionSaved');
        await refresh();
      });
    });
    return form;
  }

  shareBtn.addEventListener('click', () => act(shareBtn, async () => {
    await session.shareScreen();
    await session.call('present_screen', {});
  }));
  session.addEventListener('screenended', () => {
    if (session.presentation?.showing?.presenter_id === session.me?.id) {
      session.call('stop_presenting', {}).catch(() => {});
    }
  });

  function renderList() {
    shareBtn.hidden = !(mayPresentNow() && navigator.mediaDevices?.getDisplayMedia);
    clear(list);
    const shown = bundle.exhibits.filter((e) => !e.superseded_by);
    empty.hidden = shown.length > 0;
    for (const ex of shown) {
      const opinions = bundle.opinions.filter((o) => o.exhibit_id === ex.id);
      const flags = h('span', { class: 'exhibit-flags' },
        ex.presented_at ? h('span', { class: 'flag', t: 'evidence.presented' }) : null,
        ex.released_at ? h('span', { class: 'flag', t: 'evidence.released' }) : null);
      const actions = h('div', { class: 'row exhibit-actions' });
      if (mayPresentNow()) {
        const b = h('button', { type: 'button', class: 'primary small', dataset: { action: 'present-exhibit' }, t: 'evidence.present' });
        b.addEventListener('click', () => act(b, () => session.call('present', { exhibit_id: ex.id })));
        actions.append(b);
      }
      if (court && may('release_evidence') && !ex.released_at && ex.side !== 'court') {
        const b = h('button', { type: 'button', class: 'ghost small', dataset: { action: 'release-exhibit' }, t: 'evidence.release' });
        b.addEventListener('click', () => act(b, async () => {
          await api(session.token, `/api/me/evidence/${ex.id}/release`, { method: 'POST' });
          await refresh();
        }));
        actions.append(b);
      }
      const item = h('li', { class: 'exhibit-item', dataset: { exhibitId: ex.id, label: ex.label } },
        h('div', { class: 'exhibit-head' }, h('strong', { text: labelOf(ex) }), h('span', { text: ` ${ex.title}` }), flags),
        ex.purpose ? h('p', { class: 'hint', text: ex.purpose }) : null,
        h('p', { class: 'hash', title: ex.sha256, text: `SHA-256 ${ex.sha256.slice(0, 16)}…` }),
        opinions.length ? h('ul', { class: 'opinions' }, opinions.map((o) => h('li', { text: opinionLine(o) }))) : null,
        actions,
        court && may('record_opinion') ? h('details', {}, h('summary', { t: 'evidence.opinion' }), opinionForm(ex)) : null);
      list.append(item);
    }
    renderGrant();
  }

  function opinionLine(o) {
    const parts = ASPECTS.filter((a) => o[a]).map((a) => `${t(`evidence.${a}`)}${t(`evidence.${o[a]}`)}`);
    return `${t(`evidence.side.${o.by_side}`)}: ${[parts.join(', '), o.text].filter(Boolean).join(' — ')}`;
  }

  function renderGrant() {
    if (grantBox.hidden) return;
    const current = grantee.value;
    clear(grantee);
    for (const p of session.participants.values()) {
      if (!['party', 'counsel'].includes(p.role) || p.state !== 'in_hearing') continue;
      grantee.append(h('option', { value: p.id, text: p.display_name }));
    }
    if (current) grantee.value = current;
    const holder = presentation?.granted_to ? session.participants.get(presentation.granted_to) : null;
    if (holder) setT(grantLine, 'evidence.grantedTo', { name: holder.display_name });
    else setT(grantLine, 'evidence.grantedNobody');
    withdrawBtn.disabled = !holder;
    grantBtn.disabled = !grantee.value;
  }
  grantBtn.addEventListener('click', () => act(grantBtn, () => session.call('grant_presenting', { participant_id: grantee.value })));
  withdrawBtn.addEventListener('click', () => act(withdrawBtn, () => session.call('grant_presenting', { participant_id: null })));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const chosen = file.files?.[0];
    if (!chosen) { setT(status, 'evidence.chooseFile'); return; }
    submit.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    setT(status, 'evidence.uploading', { pct: 0 });
    try {
      const ex = await uploadExhibit(session.token, chosen, {
        title: titleIn.value, purpose: purposeIn.value, side: court ? sideIn.value : undefined,
        onProgress: (share) => { progress.value = share; setT(status, 'evidence.uploading', { pct: Math.round(share * 100) }); },
      });
      setT(status, 'evidence.uploaded', { label: labelOf(ex) });
      form.reset();
      if (court) sideIn.value = 'court';
      await refresh();
    } catch (err) {
      setT(status, `error.${err.code || 'error'}`);
    } finally {
      submit.disabled = false;
      progress.hidden = true;
    }
  });

  session.addEventListener('evidenceupdated', () => refresh());
  session.addEventListener('presentation', (ev) => { presentation = ev.detail; renderList(); });
  session.addEventListener('participants', () => renderGrant());
  session.addEventListener('me', () => renderList());
  session.addEventListener('joined', () => { presentation = session.presentation; refresh(); });
  onLangChange(() => renderList());
  if (session.joined) refresh();
  return { el, refresh };
}
