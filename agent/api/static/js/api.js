// The local API as the page uses it: read JSON, and act through the session routes (docs/openapi.yaml).

export async function getJSON(path) {
  const response = await fetch(path, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

// Never throws: `status` 0 means the agent did not answer. A refusal (409) carries the session as it stands.
export async function post(path, body = {}) {
  try {
    const response = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body) });
    const data = await response.json().catch(() => null);
    return { status: response.status, body: data };
  } catch {
    return { status: 0, body: null };
  }
}
