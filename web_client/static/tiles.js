// Video tiles: one per participant received, plus your own preview. Each tile is labelled
// with name and role, shows a connection-quality indicator and is highlighted while that
// person speaks.
import { h, setT, setAttrT } from './dom.js';
import { roleKey } from './roles.js';
import { icon } from './icons.js';

const QUALITY = ['good', 'poor', 'bad'];

export function qualityIndicator() {
  const el = h('span', { class: 'quality', role: 'img', dataset: { quality: 'unknown' } },
    h('i'), h('i'), h('i'));
  setAttrT(el, 'aria-label', 'quality.unknown');
  setAttrT(el, 'title', 'quality.unknown');
  return el;
}

export function setQuality(el, grade) {
  const g = QUALITY.includes(grade) ? grade : 'unknown';
  if (el.dataset.quality === g) return;
  el.dataset.quality = g;
  setAttrT(el, 'aria-label', `quality.${g}`);
  setAttrT(el, 'title', `quality.${g}`);
}

function initials(name) {
  const s = (name || '').trim();
  if (!s) return '?';
  // CJK names: the family name; Latin names: first letters of two words.
  if (/[\u3400-\u9fff]/.test(s[0])) return s[0];
  return s.split(/\s+/).slice(0, 2).map((w) => w[0].toUpperCase()).join('');
}

export class TileGrid {
  /**
   * container: element to fill. lookup(pid) -> participant record (name, role, side...).
   * onSoundBlocked(): called when the browser refuses to play sound without a tap.
   */
  constructor(container, { lookup, onSoundBlocked = () => {}, showMicState = true }) {
    this.el = container;
    this.el.classList.add('tiles');
    this.lookup = lookup;
    this.onSoundBlocked = onSoundBlocked;
    this.showMicState = showMicState;
    this.tiles = new Map();  // pid -> {root, video, stream, label parts}
    this.local = null;
    this.speaking = null;
    this.soundBlocked = false;
    this.volumeOf = () => 1;  // pid -> 0..1: the listener's interpretation mix
    this._count();
  }

  /** How loud each remote participant plays (the interpreter channel's mix); re-applied as
   * tiles come and go. */
  setVolumes(volumeOf) {
    this.volumeOf = volumeOf;
    for (const [pid, tile] of this.tiles) this._volume(pid, tile);
  }

  _volume(pid, tile) {
    const v = Math.max(0, Math.min(1, Number(this.volumeOf(pid))));
    tile.video.volume = Number.isFinite(v) ? v : 1;
    tile.root.dataset.volume = tile.video.volume.toFixed(2);
  }

  _makeTile(pid, { local = false } = {}) {
    const video = h('video', { autoplay: true, playsInline: true, muted: local });
    video.muted = local;  // the attribute alone is not enough for autoplay rules
    const name = h('span', { class: 'tile-name' });
    const role = h('span', { class: 'tile-role' });
    const quality = qualityIndicator();
    const mic = h('span', { class: 'tile-icon tile-mic', hidden: true, role: 'img' }, icon('micOff'));
    const hand = h('span', { class: 'tile-icon tile-hand', hidden: true, role: 'img' }, icon('hand'));
    setAttrT(mic, 'aria-label', 'tile.muted');
    const avatar = h('div', { class: 'tile-avatar', 'aria-hidden': 'true' });
    // The frame takes the video's shape inside the grid cell, so the label sits on the picture.
    const frame = h('div', { class: 'tile-frame' }, video, avatar,
      h('figcaption', { class: 'tile-label' }, quality, name, role, mic, hand));
    const root = h('figure', { class: local ? 'tile tile-local' : 'tile', dataset: { participantId: pid } }, frame);
    const tile = { root, frame, video, name, role, quality, mic, hand, avatar, stream: null, local };
    video.addEventListener('resize', () => this._videoState(tile));
    video.addEventListener('loadeddata', () => this._videoState(tile));
    return tile;
  }

  _videoState(tile) {
    if (tile.video.videoWidth && tile.video.videoHeight) {
      tile.frame.style.setProperty('--ar', String(tile.video.videoWidth / tile.video.videoHeight));
    }
    tile.root.classList.toggle('has-video', tile.video.videoWidth > 0
      && Boolean(tile.stream?.getVideoTracks().some((t) => t.readyState === 'live' && t.enabled)));
  }

  _attach(tile, stream) {
    if (tile.stream === stream) return;
    tile.stream = stream;
    tile.video.srcObject = stream;
    tile.root.classList.toggle('audio-only', stream.getVideoTracks().length === 0);
    this._play(tile);
  }

  _play(tile) {
    const p = tile.video.play();
    if (!p) return;
    p.catch((err) => {
      if (err?.name !== 'NotAllowedError' || tile.local) return;
      // No sound without a user gesture: play muted for now and ask for a tap.
      tile.video.muted = true;
      tile.video.play().catch(() => {});
      if (!this.soundBlocked) {
        this.soundBlocked = true;
        this.onSoundBlocked();
      }
    });
  }

  /** After a tap: turn the sound of every remote tile on. */
  enableSound() {
    this.soundBlocked = false;
    for (const tile of this.tiles.values()) {
      tile.video.muted = false;
      tile.video.play().catch(() => {});
    }
  }

  /** streams: Map participant id -> MediaStream (the remote participants to show). */
  setStreams(streams) {
    for (const [pid, tile] of this.tiles) {
      if (!streams.has(pid)) {
        tile.video.srcObject = null;
        tile.root.remove();
        this.tiles.delete(pid);
      }
    }
    for (const [pid, stream] of streams) {
      let tile = this.tiles.get(pid);
      if (!tile) {
        tile = this._makeTile(pid);
        this.tiles.set(pid, tile);
        if (this.local) this.el.insertBefore(tile.root, this.local.root);
        else this.el.append(tile.root);
      }
      this._attach(tile, stream);
      this._label(pid, tile);
      this._volume(pid, tile);
    }
    this._count();
  }

  /** Your own preview (mirrored, never plays sound). */
  setLocal(pid, stream) {
    if (!this.local) {
      this.local = this._makeTile(pid, { local: true });
      this.el.append(this.local.root);
    }
    this._attach(this.local, stream);
    this._label(pid, this.local);
    this._count();
  }

  _count() {
    const n = this.tiles.size;
    this.el.dataset.count = String(n);
    this.el.style.setProperty('--others', String(Math.max(1, n - 1)));
    this.el.classList.toggle('empty', n === 0);
  }

  /** Show one tile large (courtroom display layouts); null: all tiles equal. */
  setFocus(pid) {
    const focus = pid && this.tiles.has(pid) && this.tiles.size > 1 ? pid : null;
    this.el.dataset.focus = focus ? 'on' : 'off';
    for (const [id, tile] of this.tiles) tile.root.classList.toggle('focus', id === focus);
  }

  _label(pid, tile) {
    const p = this.lookup(pid) || {};
    if (tile.local) setT(tile.name, 'tile.you');
    else tile.name.textContent = p.display_name || '…';
    setT(tile.role, roleKey(p));
    // The layout gives the presiding judge the largest tile (style.css).
    tile.root.dataset.role = p.role || '';
    tile.avatar.textContent = initials(p.display_name);
    tile.mic.hidden = !(this.showMicState && p.audio_muted);
    tile.hand.hidden = !p.hand_raised;
    setAttrT(tile.hand, 'aria-label', 'tile.handRaised');
    this._videoState(tile);
  }

  /** Participant records changed: refresh every label. */
  refreshLabels() {
    for (const [pid, tile] of this.tiles) this._label(pid, tile);
    if (this.local) this._label(this.local.root.dataset.participantId, this.local);
  }

  setSpeaking(pid) {
    if (this.speaking === pid) return;
    this.speaking = pid;
    for (const [id, tile] of this.tiles) tile.root.classList.toggle('speaking', id === pid);
    if (this.local) this.local.root.classList.toggle('speaking', this.local.root.dataset.participantId === pid);
    this.el.dataset.speaker = pid || '';
  }

  setQuality(pid, grade) {
    const tile = this.tiles.get(pid) || (this.local?.root.dataset.participantId === pid ? this.local : null);
    if (tile) setQuality(tile.quality, grade);
  }

  tile(pid) {
    return this.tiles.get(pid) || null;
  }
}

/**
 * Poll the session's receive statistics: active speaker (loudest above a threshold, held
 * briefly) and per-tile quality. Local speech comes from `localLevel()` (0..1). Returns stop().
 */
export function watchMedia(session, grid, { localLevel = () => 0, onStats = () => {} } = {}) {
  let lastSpeaker = null;
  let lastSpokeAt = 0;
  const timer = setInterval(async () => {
    const stats = session.subscriber ? await session.subscriber.stats() : new Map();
    let loudest = null;
    let level = 0.02;  // below this nobody is speaking (Chrome audioLevel is 0..1, linear)
    for (const [pid, s] of stats) {
      grid.setQuality(pid, s.quality);
      const l = s.audio?.audioLevel ?? 0;
      if (l > level && !session.participants.get(pid)?.audio_muted) { level = l; loudest = pid; }
    }
    const mine = localLevel();
    if (mine > 0.12 && mine / 6 > level && session.me && !session.me.audio_muted) loudest = session.me.id;
    const now = performance.now();
    if (loudest) { lastSpeaker = loudest; lastSpokeAt = now; }
    grid.setSpeaking(now - lastSpokeAt < 1500 ? lastSpeaker : null);
    if (session.me) {
      const own = await session.publishStats();
      session.reportNetwork(own);
      grid.setQuality(session.me.id, own?.quality || (session.publishPc?.connectionState === 'connected' ? 'good' : null));
    }
    onStats(stats);
  }, 500);
  return () => clearInterval(timer);
}
