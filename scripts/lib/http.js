// @ts-check
// The harness's HTTP client for Medusa's store and admin APIs and the emulator's control API (JSON
// in, JSON out, over Node's fetch).
"use strict";

/**
 * @typedef {object} HttpResponse
 * @property {number} status
 * @property {any} data          the parsed JSON body (the text when it is not JSON)
 * @property {Headers} headers
 */

/**
 * @typedef {object} HttpClient
 * @property {(path: string, headers?: Record<string, string>) => Promise<HttpResponse>} get
 * @property {(path: string, body?: unknown, headers?: Record<string, string>) => Promise<HttpResponse>} post
 * @property {(path: string, headers?: Record<string, string>) => Promise<HttpResponse>} delete
 * @property {(method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<HttpResponse>} send
 *   any status resolves (get, post and delete reject on a status of 400 or more)
 */

/**
 * @param {string} baseUrl
 * @param {{ token?: string, headers?: Record<string, string> }} [options]  token: an admin's bearer token; headers: sent with every request
 * @returns {HttpClient}
 */
function client(baseUrl, { token, headers: always = {} } = {}) {
  /** @type {HttpClient["send"]} */
  async function send(method, p, body, extraHeaders = {}) {
    /** @type {Record<string, string>} */
    const headers = { "content-type": "application/json", ...always, ...extraHeaders };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(baseUrl + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let data;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch (_) {
      data = text;
    }
    return { status: res.status, data, headers: res.headers };
  }
  /** @type {HttpClient["send"]} */
  async function request(method, p, body, extraHeaders) {
    const res = await send(method, p, body, extraHeaders);
    if (res.status >= 400) {
      const text = typeof res.data === "string" ? res.data : JSON.stringify(res.data);
      throw Object.assign(new Error(`${method} ${p} -> ${res.status}: ${String(text).slice(0, 500)}`), { status: res.status, body: res.data });
    }
    return res;
  }
  return {
    get: (p, h) => request("GET", p, undefined, h),
    post: (p, b, h) => request("POST", p, b === undefined ? {} : b, h),
    delete: (p, h) => request("DELETE", p, undefined, h),
    send,
  };
}

module.exports = { client };
