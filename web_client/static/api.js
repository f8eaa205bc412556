// Calls to the server's HTTP API with the join token (the page's one way to do so).
export class ApiFailure extends Error {
  constructor(code, message = '', status = 0) {
    super(`${code}: ${message}`);
    this.code = code;
    this.status = status;
  }
}

/** A call to our API with the join token; throws ApiFailure with the server's error code. */
export async function api(token, path, { method = 'GET', json } = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, cache: 'no-store', body: json === undefined ? undefined : JSON.stringify(json),
    });
  } catch (err) {
    throw new ApiFailure('network', String(err?.message || err));
  }
  if (!resp.ok) {
    const body = await resp.json().catch(() => ({}));
    throw new ApiFailure(body.code || 'error', body.message || '', resp.status);
  }
  return resp;
}
