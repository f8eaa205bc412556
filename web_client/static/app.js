// Entry point of /join: read the token from the URL fragment, ask the server whose it is and
// show that role's view: participant journey, judge/clerk console or courtroom display.
import { api } from './api.js';
import { h, clear } from './dom.js';
import { getLang, setLang, LANGUAGES, missingKeys } from './i18n.js';
import { movePage, takeCarried } from './move.js';
import { messageScreen } from './ui.js';
import { CONSOLE_ROLES, DISPLAY_ROLES, mayDo } from './roles.js';
import { runParticipant } from './participant.js';
import { runConsole } from './console.js';
import { runDisplay } from './display.js';
import { runRecord } from './transcript.js';
import { runBoard } from './board.js';
import { runCalendar } from './calendar.js';

// Read-only handle for diagnostics (and the browser tests): the live session, the view and
// the transcript panel (staff).
const app = { session: null, view: null, ended: null, info: null, transcript: null, missingKeys };
globalThis.hearingApp = app;

const TOKEN_KEY = 'hearing.joinToken';

/** The join token from #token=... (then removed from the address bar) or this tab's storage. */
function readToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const lang = params.get('lang');
  if (lang && LANGUAGES.some(([code]) => code === lang)) setLang(lang);
  let token = params.get('token');
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    takeCarried(params);
    // Keep the token out of screenshots, screen shares and the history list.
    history.replaceState(null, '', location.pathname + location.search);
  } else {
    token = sessionStorage.getItem(TOKEN_KEY);
  }
  return token;
}

async function whoAmI(token) {
  try {
    return { info: await (await api(token, '/api/me')).json() };
  } catch (err) {
    return { error: err.code || 'error' };
  }
}

function viewFor(role) {
  if (CONSOLE_ROLES.has(role)) return 'console';
  if (DISPLAY_ROLES.has(role)) return 'display';
  return 'participant';
}

async function main() {
  const root = document.getElementById('app');
  document.documentElement.lang = getLang();
  if (location.pathname === '/board') {
    // The clerk's board: a staff token, not a participant's join token.
    app.view = 'board';
    document.body.dataset.view = 'board';
    await runBoard(root, app);
    return;
  }
  if (location.pathname === '/calendar') {
    // The clerk's calendar of hearings, with the staff token like the board.
    app.view = 'calendar';
    document.body.dataset.view = 'board';
    await runCalendar(root);
    return;
  }
  const token = readToken();
  if (!token) {
    messageScreen(root, { titleKey: 'error.title', bodyKey: 'error.noToken', kind: 'error' });
    return;
  }
  const retry = h('button', { type: 'button', class: 'primary', t: 'error.retry', on: { click: () => location.reload() } });
  const { info, error } = await whoAmI(token);
  if (error) {
    messageScreen(root, { titleKey: 'error.title', bodyKey: `error.${error}`, kind: 'error', actions: error === 'network' ? [retry] : [] });
    return;
  }
  // Several nodes: the hearing is served by another one; open this page there (the token
  // rides along in the fragment, which no server sees).
  if (info.node_url && movePage(info.node_url, token, getLang())) return;
  app.info = info;
  if (['closed', 'adjourned'].includes(info.hearing.state)) {
    // Nobody joins a closed hearing; the staff who keep the record still read its transcript.
    if (mayDo(info, 'read_transcript')) runRecord(root, { token, info, app });
    else messageScreen(root, { titleKey: 'ended.closedTitle', bodyKey: 'ended.closedBody' });
    return;
  }
  app.view = viewFor(info.me.role);
  document.body.dataset.view = app.view;
  const ctx = { token, info, app };
  clear(root);
  if (app.view === 'console') await runConsole(root, ctx);
  else if (app.view === 'display') await runDisplay(root, ctx);
  else await runParticipant(root, ctx);
}

main().catch((err) => {
  console.error(err);
  messageScreen(document.getElementById('app'), { titleKey: 'error.title', bodyKey: 'error.internal', kind: 'error' });
});
