// Notices from the court (issue 14): a participant sees each at once over whatever view they
// are in and acknowledges it; the console sends them and sees who has read each.
import { h, setT } from './dom.js';
import { getLang, onLangChange, fmtClock } from './i18n.js';
import { toast } from './ui.js';

/** A notice's words in the reader's language (a template's), else as the court wrote them. */
export function noticeText(notice) {
  return (notice.texts && notice.texts[getLang()]) || notice.text;
}

/**
 * The participant's inbox: unread notices shown one at a time, oldest first. Showing one tells
 * the server it was delivered; "OK" that it was read.
 */
export function noticeInbox(session) {
  const text = h('p', { class: 'notice-text' });
  const when = h('p', { class: 'hint notice-when' });
  const ok = h('button', { type: 'button', class: 'primary', dataset: { action: 'notice-ok' }, t: 'notices.ok' });
  const el = h('div', { class: 'notice-card', hidden: true, role: 'alertdialog', 'aria-live': 'assertive',
    'aria-labelledby': 'notice-title', dataset: { testid: 'notice' } },
  h('h2', { id: 'notice-title', t: 'notices.fromCourt' }), text, when, ok);
  const queue = [];
  const seen = new Set();
  let current = null;

  const receipt = (notice, status) => session.call('notice_receipt', { notice_id: notice.id, status })
    .catch((err) => { if (status === 'read') toast(`error.${err.code}`); });

  function showNext() {
    current = queue.shift() || null;
    el.hidden = !current;
    if (!current) return;
    el.dataset.noticeId = current.id;
    text.textContent = noticeText(current);
    when.textContent = fmtClock(new Date(current.created_at));
    if (!current.receipts?.[0]?.delivered_at) receipt(current, 'delivered');
  }
  function add(notice) {
    if (seen.has(notice.id) || notice.receipts?.[0]?.read_at) return;
    seen.add(notice.id);
    queue.push(notice);
    if (!current) showNext();
  }
  ok.addEventListener('click', async () => {
    const notice = current;
    if (!notice) return;
    ok.disabled = true;
    await receipt(notice, 'read');
    ok.disabled = false;
    showNext();
  });
  onLangChange(() => { if (current) text.textContent = noticeText(current); });
  session.addEventListener('notice', (ev) => add(ev.detail));
  session.addEventListener('joined', () => (session.notices || []).forEach(add));
  (session.notices || []).forEach(add);
  return { el };
}

const AUDIENCES = ['everyone', 'waiting_room', 'side:plaintiff', 'side:defendant', 'participant'];
const TEMPLATES = ['starting_soon', 'show_id', 'stay_in_view', 'quiet_place', 'recess'];

/** The console's notices: send one, and see each recipient's receipt. */
export function noticePanel(session) {
  const audience = h('select', { id: 'notice-audience', dataset: { field: 'audience' } },
    AUDIENCES.map((a) => h('option', { value: a, t: `notices.to.${a.replace(':', '_')}` })));
  const person = h('select', { id: 'notice-person', dataset: { field: 'person' }, hidden: true });
  const template = h('select', { id: 'notice-template', dataset: { field: 'template' } },
    h('option', { value: '', t: 'notices.ownWords' }),
    TEMPLATES.map((k) => h('option', { value: k, t: `notices.template.${k}` })));
  const own = h('textarea', { id: 'notice-text', rows: '2', maxlength: '500', dataset: { field: 'text' } });
  const send = h('button', { type: 'submit', class: 'primary small', dataset: { action: 'send-notice' }, t: 'notices.send' });
  const error = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'notice-form' },
    h('label', { class: 'field', for: 'notice-audience' }, h('span', { t: 'notices.audience' }), audience, person),
    h('label', { class: 'field', for: 'notice-template' }, h('span', { t: 'notices.message' }), template, own),
    error, send);
  const list = h('ol', { class: 'notice-list', dataset: { testid: 'notice-list' } });
  const el = h('section', { class: 'panel notice-panel', dataset: { testid: 'notice-panel' } },
    h('h2', { t: 'notices.title' }), form, list);
  const notices = new Map();

  const syncForm = () => {
    person.hidden = audience.value !== 'participant';
    own.hidden = template.value !== '';
    const people = [...session.participants.values()]
      .filter((p) => p.id !== session.me?.id && p.role !== 'courtroom_display');
    const chosen = person.value;
    person.replaceChildren(...people.map((p) => h('option', { value: p.id, text: p.display_name })));
    if (chosen) person.value = chosen;
  };
  audience.addEventListener('change', syncForm);
  template.addEventListener('change', syncForm);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const [kind, side] = audience.value.split(':');
    const payload = { audience: kind };
    if (kind === 'side') payload.target = side;
    if (kind === 'participant') payload.target = person.value;
    if (template.value) payload.template = template.value; else payload.text = own.value;
    send.disabled = true;
    error.hidden = true;
    try {
      const reply = await session.call('send_notice', payload);
      upsert(reply.notice);
      own.value = '';
    } catch (err) {
      error.hidden = false;
      setT(error, `error.${err.code}`);
    } finally {
      send.disabled = false;
    }
  });

  const name = (pid) => session.participants.get(pid)?.display_name || pid.slice(0, 6);
  function render(notice) {
    const receipts = notice.receipts || [];
    const read = receipts.filter((r) => r.read_at).length;
    const item = h('li', { class: 'notice-item', dataset: { noticeId: notice.id } },
      h('div', { class: 'notice-head' },
        h('time', { text: fmtClock(new Date(notice.created_at)) }),
        h('span', { class: 'notice-to', t: `notices.to.${notice.audience === 'side' ? `side_${notice.target}` : notice.audience}` }),
        h('span', { class: 'notice-count', dataset: { read: String(read), total: String(receipts.length) },
          t: 'notices.readCount', tp: { read, total: receipts.length } })),
      h('p', { class: 'notice-body', text: noticeText(notice) }),
      h('ul', { class: 'receipts' }, receipts.map((r) => h('li', {
        class: 'receipt', dataset: { participantId: r.participant_id, status: r.read_at ? 'read' : r.delivered_at ? 'delivered' : 'sent' },
      }, h('span', { text: name(r.participant_id) }),
      h('span', { class: 'receipt-status', t: r.read_at ? 'notices.read' : r.delivered_at ? 'notices.delivered' : 'notices.sent' })))));
    return item;
  }
  function upsert(notice) {
    const el = render(notice);
    const old = notices.get(notice.id);
    if (old) old.replaceWith(el); else list.prepend(el);
    notices.set(notice.id, el);
  }
  session.addEventListener('noticeupdated', (ev) => upsert(ev.detail));
  session.addEventListener('participants', syncForm);
  session.addEventListener('joined', () => (session.notices || []).forEach(upsert));
  (session.notices || []).forEach(upsert);
  syncForm();
  return { el };
}
