// Your own picture in the hearing room: small, in a corner of the stage, moved by dragging it
// (it settles in the nearest corner, so it never ends half over the judge) and hidden with a
// tap; a button on the stage brings it back. The choice is remembered in this browser.
import { h, setAttrT } from './dom.js';
import { icon } from './icons.js';

const STORAGE_KEY = 'hearing.selfView';
const CORNERS = ['br', 'bl', 'tr', 'tl'];

function remembered() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || '{}');
    return { hidden: saved.hidden === true, corner: CORNERS.includes(saved.corner) ? saved.corner : 'br' };
  } catch {
    return { hidden: false, corner: 'br' };
  }
}

/**
 * The controls of the self-view on `stage` (the positioned element it floats in).
 * Returns {show, attach(tileRoot)}: `show` goes into the stage; `attach` is called with the
 * local tile whenever it may have been (re)created and does its work once per tile.
 */
export function selfViewControls(stage) {
  const state = remembered();
  const show = h('button', { type: 'button', class: 'selfview-show', dataset: { action: 'show-self' }, hidden: true },
    icon('camera'), h('span', { t: 'room.showSelf' }));
  let tile = null;
  const save = () => {
    try { localStorage.setItem(STORAGE_KEY, JSON.stringify(state)); } catch { /* not kept */ }
  };
  const apply = () => {
    if (!tile) return;
    tile.hidden = state.hidden;
    tile.dataset.corner = state.corner;
    show.hidden = !state.hidden;
  };
  show.addEventListener('click', () => { state.hidden = false; save(); apply(); });

  function attach(root) {
    if (!root || root === tile) return;
    tile = root;
    const hide = h('button', { type: 'button', class: 'selfview-hide', dataset: { action: 'hide-self' } }, icon('close'));
    setAttrT(hide, 'aria-label', 'room.hideSelf');
    setAttrT(hide, 'title', 'room.hideSelf');
    hide.addEventListener('click', () => { state.hidden = true; save(); apply(); });
    tile.append(hide);
    draggable(tile, (corner) => { state.corner = corner; save(); apply(); });
    apply();
  }
  return { show, attach };
}

/** Drag `el` with a finger or the mouse; on release `onDrop(corner)` with the nearest corner of
 * its offset parent. */
function draggable(el, onDrop) {
  let start = null;
  el.style.touchAction = 'none';
  el.addEventListener('pointerdown', (ev) => {
    if (ev.target.closest('button')) return;
    start = { x: ev.clientX, y: ev.clientY, id: ev.pointerId };
    el.setPointerCapture(ev.pointerId);
    el.classList.add('dragging');
  });
  el.addEventListener('pointermove', (ev) => {
    if (!start || ev.pointerId !== start.id) return;
    el.style.translate = `${ev.clientX - start.x}px ${ev.clientY - start.y}px`;
  });
  const end = (ev) => {
    if (!start || ev.pointerId !== start.id) return;
    start = null;
    el.classList.remove('dragging');
    const box = el.getBoundingClientRect();
    const area = (el.offsetParent || el.parentElement).getBoundingClientRect();
    el.style.translate = '';
    const right = box.left + box.width / 2 > area.left + area.width / 2;
    const bottom = box.top + box.height / 2 > area.top + area.height / 2;
    onDrop(`${bottom ? 'b' : 't'}${right ? 'r' : 'l'}`);
  };
  el.addEventListener('pointerup', end);
  el.addEventListener('pointercancel', end);
}
