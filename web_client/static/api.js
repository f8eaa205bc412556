// Calls to the server's HTTP API with the join token (the page's one way to do so).
export class ApiFailure extends Error {
  constructor(code, message = '', status = 0) {
    super(`${code}: ${message}`);
    this.code = code;
    this.status = status;
  }
}

/**
 * A call to our API with the join token; throws ApiFailure with the server's error code.
 * `json` is sent as JSON; `body` (a File or Blob, e.g. a photo) as it is, with `contentType`.
 */
export async function api(token, path, { method = 'GET', json, body, contentType } = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  else if (body !== undefined && contentType) headers['Content-Type'] = contentType;
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, cache: 'no-store', body: json === undefined ? body : JSON.stringify(json),
    });
  } catch (err) {
    throw new ApiFailure('network', String(err?.message || err));
  }
  if (!resp.ok) {
    const answer = await resp.json().catch(() => ({}));
    throw new ApiFailure(answer.code || 'error', answer.message || '', resp.status);
  }
  return resp;
}
