// Consultation rooms in the browser: a party or counsel asks the others of their party for a
// private consultation, the one asked accepts or declines, the two talk in private, lock the
// room, and come back; the judge sees that a consultation is under way and can call them back.
// The server decides who may consult whom; these views send the person's choices.
import { h, clear, setT } from './dom.js';
import { toast } from './ui.js';
import { mayDo } from './roles.js';

function mmss(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** The people of my party I may ask: my counsel and interpreters, or the party I represent. */
function myParty(session) {
  const me = session.me;
  if (!me) return [];
  const party = me.role === 'party' ? me.id : me.role === 'counsel' ? me.represents : null;
  if (!party) return [];
  return [...session.participants.values()].filter((p) => p.id !== me.id && (
    p.id === party
    || (p.role === 'counsel' && p.represents === party)
    || (p.role === 'interpreter' && p.interprets_for === party)));
}

/**
 * A participant's consultation controls: the button that asks, the prompt that answers, and
 * the bar shown while in a consultation room. ``controlButton`` makes a control-bar button.
 */
export function consultationControls(session, ctx, controlButton) {
  const may = mayDo(ctx.info, 'request_consultation');
  const ask = controlButton('consult', 'users', 'consult.ask');
  ask.btn.hidden = !may;
  const name = (pid) => session.participants.get(pid)?.display_name || '';

  // Whom to ask: a small sheet with one button per person of my party.
  const choices = h('div', { class: 'row consult-choices' });
  const picker = h('div', { class: 'consult-picker', hidden: true, role: 'dialog', dataset: { testid: 'consult-picker' } },
    h('p', { t: 'consult.pick' }), choices,
    h('button', { type: 'button', class: 'ghost small', t: 'consult.cancel', on: { click: () => { picker.hidden = true; } } }));
  // Filled when opened and again whenever the participants change while it is open: someone
  // of my party who arrives just after I open it must appear (a snapshot taken at the tap
  // left "nobody to ask" on screen until it was closed and opened again).
  let shown = '';
  function fillChoices() {
    const people = myParty(session);
    const key = people.map((p) => `${p.id}:${p.display_name}`).join('|');
    if (key === shown && choices.childElementCount) return; // unchanged: keep the buttons
    shown = key;
    clear(choices).append(...people.map((p) => h('button', {
      type: 'button', class: 'primary', text: p.display_name, dataset: { action: 'consult-with', participantId: p.id },
      on: {
        click: async (ev) => {
          const button = ev.currentTarget;
          button.disabled = true;
          try {
            await session.call('request_consultation', { participant_ids: [p.id] });
            toast('consult.asked', { name: p.display_name });
            picker.hidden = true;
          } catch (err) {
            toast(`error.${err.code}`);
          } finally {
            button.disabled = false;
          }
        },
      },
    })));
    if (!people.length) choices.append(h('p', { class: 'hint', t: 'consult.nobody' }));
  }
  ask.btn.addEventListener('click', () => {
    if (picker.hidden) fillChoices();
    picker.hidden = !picker.hidden;
  });
  session.addEventListener('participants', () => { if (!picker.hidden) fillChoices(); });

  // Being asked: accept or decline.
  const promptText = h('p');
  const prompt = h('div', { class: 'consult-prompt', hidden: true, role: 'alertdialog', dataset: { testid: 'consult-prompt' } },
    promptText, h('div', { class: 'row' }));
  let pending = null;
  async function answer(accept, button) {
    if (!pending) return;
    button.disabled = true;
    try {
      await session.call('answer_consultation', { request_id: pending.id, accept });
    } catch (err) {
      toast(`error.${err.code}`);
    } finally {
      button.disabled = false;
      prompt.hidden = true;
      pending = null;
    }
  }
  const acceptBtn = h('button', { type: 'button', class: 'primary', t: 'consult.accept', dataset: { action: 'consult-accept' } });
  const declineBtn = h('button', { type: 'button', class: 'ghost', t: 'consult.decline', dataset: { action: 'consult-decline' } });
  acceptBtn.addEventListener('click', () => answer(true, acceptBtn));
  declineBtn.addEventListener('click', () => answer(false, declineBtn));
  prompt.lastElementChild.append(acceptBtn, declineBtn);
  session.addEventListener('consultation', (ev) => {
    const d = ev.detail;
    const me = session.me;
    if (!me) return;
    if (d.status === 'requested' && d.request.invitees.includes(me.id)) {
      pending = d.request;
      setT(promptText, 'consult.askedBy', { name: name(d.request.requester) });
      prompt.hidden = false;
    } else if (d.status === 'declined' && d.request.requester === me.id) {
      toast('consult.declined', { name: name(d.by) }, 6000);
    } else if (pending && d.request.id === pending.id && d.status !== 'requested') {
      prompt.hidden = true;
      pending = null;
    }
  });

  // In a consultation room: who is here, lock, and back to the hearing.
  const barText = h('span');
  const lock = h('button', { type: 'button', class: 'ghost small', dataset: { action: 'consult-lock' } });
  const back = h('button', { type: 'button', class: 'secondary small', t: 'consult.back', dataset: { action: 'consult-leave' } });
  const bar = h('div', { class: 'consult-bar', hidden: true, role: 'status', dataset: { testid: 'consult-bar' } }, barText, lock, back);
  const room = () => session.rooms.find((r) => r.type === 'consultation' && r.members.includes(session.me?.id));
  lock.addEventListener('click', async () => {
    const r = room();
    if (!r) return;
    try {
      await session.call('lock_consultation', { room_id: r.id, locked: !r.locked });
    } catch (err) {
      toast(`error.${err.code}`);
    }
  });
  back.addEventListener('click', async () => {
    try {
      await session.call('leave_private', {});
    } catch (err) {
      toast(`error.${err.code}`);
    }
  });
  function renderBar() {
    const r = room();
    bar.hidden = !r;
    if (!r) return;
    const others = r.members.filter((pid) => pid !== session.me?.id).map(name).join('、');
    setT(barText, 'consult.inRoom', { names: others || '—', time: mmss((Date.now() - Date.parse(r.opened_at)) / 1000) });
    setT(lock, r.locked ? 'consult.unlock' : 'consult.lock');
    lock.setAttribute('aria-pressed', String(Boolean(r.locked)));
  }
  session.addEventListener('rooms', renderBar);
  session.addEventListener('me', renderBar);
  const tick = setInterval(renderBar, 1000);
  return { button: ask.btn, el: h('div', { class: 'consult' }, picker, prompt, bar), stop: () => clearInterval(tick) };
}

/** The judge's view of consultations under way (who and how long, never what) and the call back. */
export function consultationList(session, ctx) {
  const list = h('ul', { class: 'consult-list', dataset: { testid: 'consult-list' } });
  const name = (pid) => session.participants.get(pid)?.display_name || pid;
  // Requests not answered yet: during a pause the presiding judge may let one go ahead.
  const pending = new Map();
  session.addEventListener('consultation', (ev) => {
    const { status, request } = ev.detail;
    if (status === 'requested') pending.set(request.id, request); else pending.delete(request.id);
    render();
  });
  async function allow(request, button) {
    button.disabled = true;
    try {
      await session.call('allow_consultation', { request_id: request.id });
      pending.delete(request.id);
      render();
    } catch (err) {
      toast(`error.${err.code}`);
      button.disabled = false;
    }
  }
  // Who is consulting and for how long: the time is updated in place every second, the
  // buttons never (a list rebuilt every second loses a tap that lands during the rebuild).
  let timers = [];
  const underWayText = (r) => ({ names: r.members.map(name).join('、'), time: mmss((Date.now() - Date.parse(r.opened_at)) / 1000) });
  function underWay(r) {
    const span = h('span', { t: 'consult.underWay', tp: underWayText(r) });
    timers.push(() => setT(span, 'consult.underWay', underWayText(r)));
    return span;
  }
  function render() {
    const rooms = session.rooms.filter((r) => r.type === 'consultation');
    const paused = session.hearing?.state === 'paused';
    const asks = [...pending.values()].map((q) => h('li', { class: 'consult-pending', dataset: { requestId: q.id } },
      h('span', { t: 'consult.pending', tp: { from: name(q.requester), to: q.invitees.map(name).join('、') } }),
      mayDo(ctx.info, 'admit') && paused ? h('button', {
        type: 'button', class: 'secondary small', t: 'consult.allow', dataset: { action: 'allow-consultation' },
        on: { click: (ev) => allow(q, ev.currentTarget) },
      }) : null));
    timers = [];
    clear(list).append(...asks, ...rooms.map((r) => h('li', { dataset: { roomId: r.id } },
      underWay(r),
      mayDo(ctx.info, 'admit') ? h('button', {
        type: 'button', class: 'secondary small', t: 'consult.callBack', dataset: { action: 'end-consultation' },
        on: {
          click: async (ev) => {
            const button = ev.currentTarget;
            button.disabled = true;
            try {
              await session.call('end_consultation', { room_id: r.id });
            } catch (err) {
              toast(`error.${err.code}`);
              button.disabled = false;
            }
          },
        },
      }) : null)));
    list.hidden = rooms.length === 0 && asks.length === 0;
  }
  session.addEventListener('rooms', render);
  session.addEventListener('hearing', render);
  const tick = setInterval(() => { if (!list.hidden) for (const update of timers) update(); }, 1000);
  render();
  return { el: list, stop: () => clearInterval(tick) };
}
