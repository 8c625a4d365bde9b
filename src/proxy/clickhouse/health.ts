// ClickHouse's health probe: GET /ping answers 200 "Ok." on every version.
import type { Pool } from 'undici';
import type { Probe } from '../../health/check.js';

export function pingProbe(pool: Pool, path: string): Probe {
  return async (signal) => {
    const res = await pool.request({ path, method: 'GET', signal, headersTimeout: 0, bodyTimeout: 0 });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`GET ${path} answered HTTP ${res.statusCode}: ${text.slice(0, 200).trim()}`);
  };
}
