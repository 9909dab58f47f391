import axios, { AxiosInstance, AxiosRequestConfig, AxiosResponse, Method } from "axios";
import axiosRetry, { exponentialDelay, isNetworkError, retryAfter } from "axios-retry";
import * as fs from "fs";
import * as path from "path";
import { v4 as uuidv4, validate as uuidValidate } from "uuid";
import { KlarnaApiError, toKlarnaApiError } from "./errors";
import type {
  Capture,
  CaptureRequest,
  Order,
  PlacedOrder,
  PlaceOrderRequest,
  Refund,
  RefundRequest,
  Session,
  SessionRead,
  SessionRequest,
} from "./types";

export type KlarnaRegion = "eu" | "na" | "oc";
export type KlarnaEnvironment = "playground" | "live";

/** Klarna's API hosts (docs.klarna.com, "API URLs"). The one place that knows them. */
export const KLARNA_BASE_URLS: Record<KlarnaRegion, Record<KlarnaEnvironment, string>> = {
  eu: { live: "https://api.klarna.com/", playground: "https://api.playground.klarna.com/" },
  na: { live: "https://api-na.klarna.com/", playground: "https://api-na.playground.klarna.com/" },
  oc: { live: "https://api-oc.klarna.com/", playground: "https://api-oc.playground.klarna.com/" },
};

export interface KlarnaRetryOptions {
  /** Retries after the first attempt (default 2). */
  retries?: number;
  /** Base of the exponential backoff in ms (default 300: 600 ms, 1.2 s, ...). */
  baseDelayMs?: number;
  /** A 429 asking to wait longer than this is not retried (default 10 000 ms). */
  maxRetryAfterMs?: number;
}

export interface KlarnaLogger {
  info?(message: string): void;
  warn?(message: string): void;
  error?(message: string): void;
}

export interface KlarnaClientOptions {
  /** The API credential's UID (HTTP Basic username). */
  username: string;
  /** The API key (HTTP Basic password). Never logged, never part of an error. */
  password: string;
  region?: KlarnaRegion;
  environment?: KlarnaEnvironment;
  /** Overrides region/environment: the emulator, a proxy. */
  baseUrl?: string;
  /** Per-attempt timeout in ms (default 10 000). */
  timeoutMs?: number;
  retry?: KlarnaRetryOptions;
  logger?: KlarnaLogger;
  /** Extra text appended to the User-Agent (e.g. "medusa/1.20.10"). */
  userAgentSuffix?: string;
}

export interface IdempotentCallOptions {
  /** Klarna-Idempotency-Key; a fresh UUID v4 when omitted. Reused on every retry of the call. */
  idempotencyKey?: string;
}

export interface Created {
  /** The key the call was sent with (the caller's, or the one generated). */
  idempotencyKey: string;
  location?: string;
}

export interface RefundCreated extends Created {
  refundId: string;
}

export interface CaptureCreated extends Created {
  captureId: string;
}

export interface PlacedOrderResult extends PlacedOrder {
  idempotencyKey: string;
}

export function resolveBaseUrl(opts: Pick<KlarnaClientOptions, "region" | "environment" | "baseUrl">): string {
  if (opts.baseUrl) {
    let url: URL;
    try {
      url = new URL(opts.baseUrl);
    } catch {
      throw new TypeError(`Klarna baseUrl is not a valid URL.`);
    }
    if (url.username || url.password) {
      throw new TypeError("Klarna baseUrl must not contain credentials; use the username and password options.");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`Klarna baseUrl must be http(s), got ${url.protocol}`);
    }
    return url.toString().replace(/\/?$/, "/");
  }
  const region = opts.region ?? "eu";
  const environment = opts.environment ?? "playground";
  const byRegion = KLARNA_BASE_URLS[region];
  if (!byRegion || !byRegion[environment]) {
    throw new TypeError(`Unknown Klarna region/environment: ${region}/${environment}`);
  }
  return byRegion[environment];
}

let cachedVersion: string | undefined;
/** The plugin's version, read from its package.json (two levels up from src/klarna or dist/klarna). */
export function pluginVersion(): string {
  if (!cachedVersion) {
    try {
      cachedVersion = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")).version;
    } catch {
      cachedVersion = "0.0.0";
    }
  }
  return cachedVersion as string;
}

/** axios-retry keeps its per-request state (retryCount) under this config key. */
function attemptsOf(config: unknown): number {
  const state = (config as Record<string, { retryCount?: number } | undefined> | undefined)?.["axios-retry"];
  return (state?.retryCount ?? 0) + 1;
}

/**
 * The one HTTP client for Klarna's Payments and Order Management APIs.
 *
 * Retries follow Klarna's advice (docs "Idempotency"): only network failures, timeouts, 429 and 5xx,
 * bounded, with backoff and `Retry-After`, and always with the same `Klarna-Idempotency-Key`, so a
 * retried POST is registered once. Other 4xx are final and never retried.
 */
export class KlarnaClient {
  readonly baseUrl: string;
  private readonly http: AxiosInstance;
  private readonly logger?: KlarnaLogger;

  constructor(options: KlarnaClientOptions) {
    if (!options.username || !options.password) {
      throw new TypeError("Klarna username and password are required.");
    }
    this.baseUrl = resolveBaseUrl(options);
    if (!options.baseUrl && options.environment === "live" && !this.baseUrl.startsWith("https://")) {
      throw new TypeError("Klarna live URLs must use https.");
    }
    this.logger = options.logger;
    const retry = options.retry ?? {};
    const retries = retry.retries ?? 2;
    const baseDelayMs = retry.baseDelayMs ?? 300;
    const maxRetryAfterMs = retry.maxRetryAfterMs ?? 10_000;

    this.http = axios.create({
      baseURL: this.baseUrl,
      timeout: options.timeoutMs ?? 10_000,
      auth: { username: options.username, password: options.password },
      headers: {
        "User-Agent": `medusa-plugin-klarna/${pluginVersion()} node/${process.versions.node}${
          options.userAgentSuffix ? " " + options.userAgentSuffix : ""
        }`,
        Accept: "application/json",
      },
      // Let every status through to our own handling below; axios-retry still sees thrown errors.
      validateStatus: (s) => s >= 200 && s < 300,
      maxRedirects: 0,
    });

    axiosRetry(this.http, {
      retries,
      shouldResetTimeout: true,
      retryCondition: (error) => {
        if (isNetworkError(error) || error.code === "ECONNABORTED" || error.code === "ETIMEDOUT") return true;
        const status = error.response?.status;
        if (status === 429) return retryAfter(error) <= maxRetryAfterMs;
        return status !== undefined && status >= 500;
      },
      retryDelay: (count, error) => exponentialDelay(count, error, baseDelayMs),
      onRetry: (count, error, config) => {
        const why = error.response ? `HTTP ${error.response.status}` : (error.code ?? "network error");
        this.logger?.warn?.(
          `klarna: retrying ${String(config.method).toUpperCase()} ${config.url} (attempt ${count + 1}, after ${why}); same idempotency key`,
        );
      },
    });
  }

  // ---- Klarna Payments -------------------------------------------------------------------------

  async createSession(body: SessionRequest, opts: IdempotentCallOptions = {}): Promise<Session> {
    return (await this.send<Session>("POST", "payments/v1/sessions", body, opts)).response.data;
  }

  async updateSession(sessionId: string, body: Partial<SessionRequest>, opts: IdempotentCallOptions = {}): Promise<void> {
    await this.send("POST", `payments/v1/sessions/${seg(sessionId)}`, body, opts);
  }

  async readSession(sessionId: string): Promise<SessionRead> {
    return (await this.send<SessionRead>("GET", `payments/v1/sessions/${seg(sessionId)}`)).response.data;
  }

  /** Places the Klarna order for an authorization token (Payments "Create an order"). */
  async placeOrder(authorizationToken: string, body: PlaceOrderRequest, opts: IdempotentCallOptions = {}): Promise<PlacedOrderResult> {
    const { response, idempotencyKey } = await this.send<PlacedOrder>(
      "POST",
      `payments/v1/authorizations/${seg(authorizationToken)}/order`,
      body,
      opts,
    );
    return { ...response.data, idempotencyKey };
  }

  async cancelAuthorization(authorizationToken: string): Promise<void> {
    await this.send("DELETE", `payments/v1/authorizations/${seg(authorizationToken)}`);
  }

  // ---- Order Management -------------------------------------------------------------------------

  async getOrder(orderId: string): Promise<Order> {
    return (await this.send<Order>("GET", `ordermanagement/v1/orders/${seg(orderId)}`)).response.data;
  }

  async acknowledgeOrder(orderId: string, opts: IdempotentCallOptions = {}): Promise<void> {
    await this.send("POST", `ordermanagement/v1/orders/${seg(orderId)}/acknowledge`, undefined, opts);
  }

  async updateMerchantReferences(
    orderId: string,
    refs: { merchant_reference1?: string; merchant_reference2?: string },
    opts: IdempotentCallOptions = {},
  ): Promise<void> {
    await this.send("PATCH", `ordermanagement/v1/orders/${seg(orderId)}/merchant-references`, refs, opts);
  }

  async captureOrder(orderId: string, body: CaptureRequest, opts: IdempotentCallOptions = {}): Promise<CaptureCreated> {
    const { response, idempotencyKey } = await this.send("POST", `ordermanagement/v1/orders/${seg(orderId)}/captures`, body, opts);
    const captureId = header(response, "capture-id");
    if (!captureId) throw this.missingHeader("POST", `ordermanagement/v1/orders/${orderId}/captures`, "Capture-Id");
    return { captureId, location: header(response, "location"), idempotencyKey };
  }

  async getCapture(orderId: string, captureId: string): Promise<Capture> {
    return (await this.send<Capture>("GET", `ordermanagement/v1/orders/${seg(orderId)}/captures/${seg(captureId)}`)).response.data;
  }

  async listCaptures(orderId: string): Promise<Capture[]> {
    return (await this.send<Capture[]>("GET", `ordermanagement/v1/orders/${seg(orderId)}/captures`)).response.data;
  }

  async refundOrder(orderId: string, body: RefundRequest, opts: IdempotentCallOptions = {}): Promise<RefundCreated> {
    const { response, idempotencyKey } = await this.send("POST", `ordermanagement/v1/orders/${seg(orderId)}/refunds`, body, opts);
    const refundId = header(response, "refund-id");
    if (!refundId) throw this.missingHeader("POST", `ordermanagement/v1/orders/${orderId}/refunds`, "Refund-Id");
    return { refundId, location: header(response, "location"), idempotencyKey };
  }

  async getRefund(orderId: string, refundId: string): Promise<Refund> {
    return (await this.send<Refund>("GET", `ordermanagement/v1/orders/${seg(orderId)}/refunds/${seg(refundId)}`)).response.data;
  }

  async cancelOrder(orderId: string, opts: IdempotentCallOptions = {}): Promise<void> {
    await this.send("POST", `ordermanagement/v1/orders/${seg(orderId)}/cancel`, undefined, opts);
  }

  async releaseRemainingAuthorization(orderId: string, opts: IdempotentCallOptions = {}): Promise<void> {
    await this.send("POST", `ordermanagement/v1/orders/${seg(orderId)}/release-remaining-authorization`, undefined, opts);
  }

  // ---- the rest of an order's life (order-management.yml) ---------------------------------------

  /**
   * Moves the order's `expires_at` (no body; 204): Klarna adds the account's expiry days to the day of
   * the call, at most 180 days after the purchase. 403 NOT_ALLOWED on expired, cancelled or fully
   * captured orders.
   */
  async extendAuthorizationTime(orderId: string, opts: IdempotentCallOptions = {}): Promise<void> {
    await this.send("POST", `ordermanagement/v1/orders/${seg(orderId)}/extend-authorization-time`, undefined, opts);
  }

  /**
   * Sets a new `order_amount` and `order_lines` before capture (`Update authorization`; 204). Never
   * below the captured amount; an increase runs Klarna's risk check and may be refused (403 NOT_ALLOWED).
   */
  async updateAuthorization(orderId: string, body: import("./types").UpdateAuthorizationRequest, opts: IdempotentCallOptions = {}): Promise<void> {
    await this.send("PATCH", `ordermanagement/v1/orders/${seg(orderId)}/authorization`, body, opts);
  }

  /** Appends shipping information (carrier, tracking) to a capture (`UpdateShippingInfo`; 204). */
  async addShippingInfo(
    orderId: string,
    captureId: string,
    body: import("./types").ShippingInfoRequest,
    opts: IdempotentCallOptions = {},
  ): Promise<void> {
    await this.send("POST", `ordermanagement/v1/orders/${seg(orderId)}/captures/${seg(captureId)}/shipping-info`, body, opts);
  }

  /** Changes the order's shipping address (`UpdateConsumer`; 204). The billing address cannot change. */
  async updateCustomerDetails(orderId: string, body: import("./types").CustomerDetailsRequest, opts: IdempotentCallOptions = {}): Promise<void> {
    await this.send("PATCH", `ordermanagement/v1/orders/${seg(orderId)}/customer-details`, body, opts);
  }

  /** Has Klarna send a capture's customer communication again (no body; 204). */
  async triggerSendOut(orderId: string, captureId: string, opts: IdempotentCallOptions = {}): Promise<void> {
    await this.send("POST", `ordermanagement/v1/orders/${seg(orderId)}/captures/${seg(captureId)}/trigger-send-out`, undefined, opts);
  }

  // ---- transport ---------------------------------------------------------------------------------

  private async send<T = unknown>(
    method: Method,
    url: string,
    body?: unknown,
    opts: IdempotentCallOptions = {},
  ): Promise<{ response: AxiosResponse<T>; idempotencyKey: string }> {
    const writes = method !== "GET" && method !== "DELETE";
    let idempotencyKey = "";
    const headers: Record<string, string> = {};
    if (writes) {
      idempotencyKey = opts.idempotencyKey ?? uuidv4();
      if (!uuidValidate(idempotencyKey)) {
        throw new TypeError("Klarna-Idempotency-Key must be a UUID.");
      }
      headers["Klarna-Idempotency-Key"] = idempotencyKey;
      headers["Content-Type"] = "application/json";
    }
    const config: AxiosRequestConfig = {
      method,
      url,
      headers,
      data: writes ? (body === undefined ? {} : body) : undefined,
    };
    const started = Date.now();
    const label = `${String(method).toUpperCase()} /${url}`;
    try {
      const response = await this.http.request<T>(config);
      const attempts = attemptsOf(response.config);
      this.logger?.info?.(`klarna: ${label} -> ${response.status} in ${Date.now() - started} ms (attempts ${attempts})`);
      return { response, idempotencyKey };
    } catch (err) {
      const attempts = attemptsOf((err as { config?: unknown }).config ?? config);
      const error = toKlarnaApiError(err, { method: String(method).toUpperCase(), path: "/" + url, attempts });
      this.logger?.warn?.(`klarna: ${label} failed in ${Date.now() - started} ms: ${error.message}`);
      throw error;
    }
  }

  private missingHeader(method: string, url: string, name: string): KlarnaApiError {
    return new KlarnaApiError({
      method,
      path: "/" + url,
      status: 201,
      error_code: "INVALID_RESPONSE",
      error_messages: [`Klarna answered 201 without a ${name} header.`],
    });
  }
}

function seg(value: string): string {
  if (typeof value !== "string" || value.length === 0) throw new TypeError("Klarna id must be a non-empty string.");
  return encodeURIComponent(value);
}

function header(response: AxiosResponse, name: string): string | undefined {
  const v = response.headers?.[name];
  return v === undefined || v === null ? undefined : String(v);
}
