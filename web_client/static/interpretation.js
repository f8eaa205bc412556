// The interpreter channel: a listener who chooses an interpreter's language hears that
// interpreter at full volume and the floor quieter (or not at all). The choice is the
// listener's own, kept in this browser; every track still arrives (the court hears the
// interpretation too) and the recording keeps each voice on its own track.
import { h } from './dom.js';
import { getLang, onLangChange } from './i18n.js';

const FLOOR_QUIETER = 0.2;
const SIGN = /^(csl|sgn)(-|$)/i;

function languageName(tag) {
  try {
    return new Intl.DisplayNames([getLang()], { type: 'language' }).of(tag) || tag;
  } catch {
    return tag;
  }
}

/** The spoken languages interpreters of this hearing interpret into (sign languages are seen). */
function channels(session) {
  const out = new Set();
  for (const p of session.participants.values()) {
    if (p.role === 'interpreter' && p.language && !SIGN.test(p.language) && p.id !== session.me?.id) out.add(p.language);
  }
  return [...out].sort();
}

/** The listening control and the mix it applies to ``grid``. */
export function listeningControl(session, grid) {
  const select = h('select', { class: 'listen-select', dataset: { action: 'listen' } });
  const label = h('label', { class: 'listen', hidden: true }, h('span', { class: 'listen-label', t: 'listen.label' }), select);
  const key = () => `hearing.listen.${session.hearing?.id || ''}`;
  let choice = 'floor';
  let loadedFor = null;  // the hearing whose kept choice was read (known once joined)
  const load = () => {
    const id = session.hearing?.id;
    if (!id || loadedFor === id) return;
    loadedFor = id;
    try { choice = localStorage.getItem(key()) || 'floor'; } catch { /* not kept */ }
  };

  function volumeOf(pid) {
    if (choice === 'floor') return 1;
    const [lang, mode] = choice.split('|');
    const p = session.participants.get(pid);
    if (p?.role === 'interpreter' && p.language === lang) return 1;
    return mode === 'alone' ? 0 : FLOOR_QUIETER;
  }
  function render() {
    load();
    const langs = channels(session);
    label.hidden = langs.length === 0;
    // An interpreter not (yet) here: the floor, but the kept choice returns with them.
    const shown = langs.includes(choice.split('|')[0]) ? choice : 'floor';
    const floor = h('option', { value: 'floor', t: 'listen.floor' });
    const options = [floor];
    for (const lang of langs) {
      const name = languageName(lang);
      options.push(h('option', { value: `${lang}|louder`, t: 'listen.louder', tp: { lang: name } }));
      options.push(h('option', { value: `${lang}|alone`, t: 'listen.alone', tp: { lang: name } }));
    }
    select.replaceChildren(...options);
    select.value = shown;
    grid.setVolumes(shown === choice ? volumeOf : () => 1);
  }
  select.addEventListener('change', () => {
    choice = select.value;
    try { localStorage.setItem(key(), choice); } catch { /* not kept */ }
    grid.setVolumes(volumeOf);
  });
  session.addEventListener('participants', render);
  session.addEventListener('joined', render);
  onLangChange(render);
  render();
  return { el: label, render };
}


