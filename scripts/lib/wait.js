// @ts-check
// Waiting on async work: until a condition holds (waitFor), or over many items, at most N at once (pool).
"use strict";

/**
 * Polls until fn() returns a truthy value (e.g. what a subscriber writes after the commit).
 * @template T
 * @param {() => Promise<T> | T} fn
 * @param {{ timeout?: number, interval?: number }} [options]
 * @returns {Promise<T>}
 */
async function waitFor(fn, { timeout = 8000, interval = 100 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`waitFor: timed out after ${timeout} ms`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/**
 * Runs fn over items with at most `limit` at once; results in input order.
 * @template T, R
 * @param {T[]} items
 * @param {number} limit
 * @param {(item: T, index: number) => Promise<R>} fn
 * @returns {Promise<R[]>}
 */
async function pool(items, limit, fn) {
  /** @type {R[]} */
  const out = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}

module.exports = { waitFor, pool };
