// Live captions: what each speaker in the hearing room says, as the server recognises it.
// Interim text is replaced as it firms up; the last final lines stay on screen.
import { h, clear, setT } from './dom.js';
import { t } from './i18n.js';
import { icon } from './icons.js';

const KEEP_LINES = 2;
const STORAGE_KEY = 'hearing.captions';

/**
 * A caption bar fed by the session's `caption` events.
 * `toggle`: also returns a button that shows and hides it (remembered in this browser).
 */
export function captionBar(session, { toggle = true, alwaysOn = false } = {}) {
  const lines = h('div', { class: 'caption-lines', 'aria-live': 'polite' });
  const bar = h('div', { class: 'captions', dataset: { testid: 'captions' } }, lines);
  const finals = [];
  let interim = null;

  const render = () => {
    const shown = interim ? [...finals.slice(-(KEEP_LINES - 1)), interim] : finals.slice(-KEEP_LINES);
    clear(lines).append(...shown.map((c) => h('p', { class: c.final ? 'caption final' : 'caption interim', dataset: { late: c.late ? 'true' : 'false' } },
      h('span', { class: 'caption-speaker' }, `${c.name}: `),
      h('span', { class: 'caption-text' }, c.text))));
  };
  session.addEventListener('caption', (ev) => {
    const c = ev.detail;
    if (!c || typeof c.text !== 'string' || !c.text.trim()) return;
    if (c.final) {
      finals.push(c);
      if (finals.length > 20) finals.shift();
      if (interim && interim.participant_id === c.participant_id) interim = null;
    } else {
      interim = c;
    }
    render();
  });

  let on = alwaysOn || localStorage.getItem(STORAGE_KEY) !== 'off';
  const button = toggle && !alwaysOn
    ? h('button', { type: 'button', class: 'ctl caption-toggle', dataset: { action: 'captions' } },
      // An icon, not "CC": the letters mean nothing to many of the people who need captions.
      icon('captions'), h('span', { class: 'ctl-label caption-toggle-label' }))
    : null;
  const apply = () => {
    bar.hidden = !on;
    if (button) {
      button.setAttribute('aria-pressed', String(on));
      // setT: the label follows a change of language like every other text
      setT(button.querySelector('.caption-toggle-label'), on ? 'captions.hide' : 'captions.show');
    }
  };
  if (button) {
    button.addEventListener('click', () => {
      on = !on;
      localStorage.setItem(STORAGE_KEY, on ? 'on' : 'off');
      apply();
    });
  }
  apply();
  return { bar, button };
}
