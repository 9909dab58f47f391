import type { AxiosError } from "axios";

/** Error codes of our own for failures that have no Klarna answer. */
export const NETWORK_ERROR = "NETWORK_ERROR";
export const TIMEOUT = "TIMEOUT";
export const UNAUTHORIZED = "UNAUTHORIZED";
export const INVALID_RESPONSE = "INVALID_RESPONSE";

export interface KlarnaApiErrorFields {
  /** HTTP status Klarna answered with; undefined when no answer arrived. */
  status?: number;
  error_code: string;
  error_messages: string[];
  correlation_id?: string;
  method?: string;
  /** Path of the call, without host or credentials. */
  path?: string;
  /** How many HTTP attempts were made before giving up. */
  attempts?: number;
  /** Seconds Klarna asked us to wait (429 Retry-After). */
  retry_after_s?: number;
}

/**
 * Every failure of a Klarna call: a Klarna error answer, a 401, a timeout or a network failure.
 * It carries only what is safe to show and store: never the request's headers or the credentials
 * (axios errors carry `config.auth`, so the axios error is deliberately not kept as `cause`).
 */
export class KlarnaApiError extends Error implements KlarnaApiErrorFields {
  readonly status?: number;
  readonly error_code: string;
  readonly error_messages: string[];
  readonly correlation_id?: string;
  readonly method?: string;
  readonly path?: string;
  readonly attempts?: number;
  readonly retry_after_s?: number;

  constructor(fields: KlarnaApiErrorFields) {
    super(describe(fields));
    this.name = "KlarnaApiError";
    this.status = fields.status;
    this.error_code = fields.error_code;
    this.error_messages = fields.error_messages;
    this.correlation_id = fields.correlation_id;
    this.method = fields.method;
    this.path = fields.path;
    this.attempts = fields.attempts;
    this.retry_after_s = fields.retry_after_s;
  }

  /** True when Klarna may not have seen or finished the request: the outcome is unknown. */
  get outcomeUnknown(): boolean {
    return this.status === undefined || this.status >= 500 || this.status === 429 || this.actedWithoutId;
  }

  /** Klarna answered 2xx but without the id header the call needs (Refund-Id, Capture-Id): it acted. */
  get actedWithoutId(): boolean {
    return this.status !== undefined && this.status >= 200 && this.status < 300;
  }

  /** An earlier attempt of the same call had an unknown outcome (it was retried). */
  get afterUnknownAttempt(): boolean {
    return (this.attempts ?? 1) > 1;
  }

  toJSON(): KlarnaApiErrorFields & { name: string; message: string } {
    return {
      name: this.name,
      message: this.message,
      status: this.status,
      error_code: this.error_code,
      error_messages: this.error_messages,
      correlation_id: this.correlation_id,
      method: this.method,
      path: this.path,
      attempts: this.attempts,
      retry_after_s: this.retry_after_s,
    };
  }
}

function describe(f: KlarnaApiErrorFields): string {
  const what = f.error_messages.length ? f.error_messages.join(" ") : "No message.";
  const where = f.method && f.path ? ` on ${f.method} ${f.path}` : "";
  const status = f.status !== undefined ? `HTTP ${f.status}, ` : "";
  const correlation = f.correlation_id ? `, correlation ${f.correlation_id}` : "";
  return `Klarna: ${what} (${status}${f.error_code}${correlation})${where}`;
}

interface RequestInfo {
  method: string;
  path: string;
  attempts: number;
}

/** Turns whatever an HTTP call threw into a KlarnaApiError. */
export function toKlarnaApiError(err: unknown, info: RequestInfo): KlarnaApiError {
  if (err instanceof KlarnaApiError) return err;
  const ax = err as AxiosError;
  const base = { method: info.method, path: info.path, attempts: info.attempts };
  if (ax && ax.isAxiosError && ax.response) {
    const { status, data, headers } = ax.response;
    const retryAfter = Number(headers?.["retry-after"]);
    const retry_after_s = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined;
    const body = parseBody(data);
    if (body && typeof body.error_code === "string") {
      return new KlarnaApiError({
        ...base,
        status,
        error_code: body.error_code,
        error_messages: Array.isArray(body.error_messages) ? body.error_messages.map(String) : [],
        correlation_id: typeof body.correlation_id === "string" ? body.correlation_id : undefined,
        retry_after_s,
      });
    }
    if (status === 401) {
      return new KlarnaApiError({
        ...base,
        status,
        error_code: UNAUTHORIZED,
        error_messages: [
          "Klarna rejected the API credentials. Check the plugin's username and password and that they belong to this region and environment (playground or live).",
        ],
      });
    }
    return new KlarnaApiError({
      ...base,
      status,
      error_code: status === 429 ? "TOO_MANY_REQUESTS" : status >= 500 ? "TEMPORARILY_UNAVAILABLE" : "HTTP_" + status,
      error_messages: [`Klarna answered HTTP ${status} without an error body.`],
      retry_after_s,
    });
  }
  const code = ax?.code ?? "";
  if (code === "ECONNABORTED" || code === "ETIMEDOUT" || code === "ERR_CANCELED") {
    return new KlarnaApiError({
      ...base,
      error_code: TIMEOUT,
      error_messages: ["Klarna did not answer in time."],
    });
  }
  if (ax && ax.isAxiosError) {
    return new KlarnaApiError({
      ...base,
      error_code: NETWORK_ERROR,
      error_messages: [`Klarna could not be reached (${code || "network error"}).`],
    });
  }
  return new KlarnaApiError({
    ...base,
    error_code: INVALID_RESPONSE,
    error_messages: [err instanceof Error ? err.message : String(err)],
  });
}

function parseBody(data: unknown): Partial<{ error_code: unknown; error_messages: unknown; correlation_id: unknown }> | undefined {
  if (data && typeof data === "object") return data as Record<string, unknown>;
  if (typeof data === "string" && data.trim().startsWith("{")) {
    try {
      return JSON.parse(data);
    } catch {
      return undefined;
    }
  }
  return undefined;
}
