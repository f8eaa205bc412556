// The undertaking a witness or expert gives when the judge calls them in (证人保证书): the text
// in their language, read aloud, then confirmed; the server records the moment (take_oath).
import { h, setT } from './dom.js';
import { toast } from './ui.js';

const SWORN_ROLES = new Set(['witness', 'expert']);

/** The undertaking sheet over the hearing room, shown until the witness has given it. */
export function oathSheet(session) {
  const texts = h('div', { class: 'oath-texts' });
  const confirm = h('button', { type: 'button', class: 'primary', dataset: { action: 'take-oath' }, t: 'oath.confirm' });
  const el = h('div', { class: 'sheet oath-sheet', hidden: true, role: 'dialog', 'aria-modal': 'true',
    'aria-labelledby': 'oath-lead', dataset: { testid: 'oath' } },
  h('p', { class: 'oath-lead', id: 'oath-lead', t: 'oath.lead' }), texts,
  h('p', { class: 'hint', t: 'oath.hint' }), confirm);
  let shownFor = null;

  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    try {
      await session.call('take_oath', {});
      toast('oath.given');
    } catch (err) {
      toast(`error.${err.code}`);
    } finally {
      confirm.disabled = false;
    }
  });

  return {
    el,
    update() {
      const me = session.me;
      const oath = session.oath || [];
      const due = Boolean(me && SWORN_ROLES.has(me.role) && me.state === 'in_hearing'
        && !me.sworn_at && oath.length);
      el.hidden = !due;
      if (due && shownFor !== me.id) {
        shownFor = me.id;
        texts.replaceChildren(...oath.map((o) => h('section', { class: 'oath-text', lang: o.language },
          h('h2', { text: o.title }), h('p', { text: o.text }))));
      }
      if (!due) shownFor = null;
      setT(confirm, 'oath.confirm');
    },
  };
}
