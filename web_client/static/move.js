// Moving this page to another server node (several nodes: a hearing is served by one).
// The join token rides along in the URL's fragment, which no server sees, with what this tab
// already settled (the steps before the hearing done, the media choice, the language), which
// another origin's sessionStorage would not know: a moved party is not asked again.

const CARRIED = [['done', 'hearing.preJoinDone'], ['media', 'hearing.mediaChoice']];

/** Open this same page on the server at ``url`` (an origin). False if that is here. */
export function movePage(url, token, lang) {
  let target;
  try {
    target = new URL(location.pathname + location.search, url);
  } catch (err) {
    console.warn('cannot move to', url, err);
    return false;
  }
  if (target.origin === location.origin) return false;
  const params = new URLSearchParams({ token });
  if (lang) params.set('lang', lang);
  for (const [name, key] of CARRIED) {
    const value = sessionStorage.getItem(key);
    if (value) params.set(name, value);
  }
  target.hash = params.toString();
  location.replace(target.href);
  return true;
}

/** Keep what a move carried (called where the token is read from the fragment). */
export function takeCarried(params) {
  for (const [name, key] of CARRIED) {
    const value = params.get(name);
    if (value) sessionStorage.setItem(key, value);
  }
}
