import axios, { AxiosRequestConfig } from "axios";
import { createEmulator, KlarnaEmulator } from "../../src/emulator";
import type { EmulatorSettings } from "../../src/emulator";
import { KlarnaClient, KlarnaClientOptions } from "../../src/klarna/client";
import type { OrderLine, RefundRequest } from "../../src/klarna/types";

export const USERNAME = "merchant-uid";
export const PASSWORD = "s3cr3t-api-key-DO-NOT-LEAK";

export interface RunningEmulator {
  emulator: KlarnaEmulator;
  url: string;
  /** Raw HTTP to the emulator (every status resolves), authenticated unless told otherwise. */
  call(
    method: string,
    path: string,
    body?: unknown,
    config?: AxiosRequestConfig,
  ): Promise<{ status: number; headers: Record<string, string>; data: any }>;
  control(method: string, path: string, body?: unknown): Promise<any>;
  client(opts?: Partial<KlarnaClientOptions>): KlarnaClient;
  createOrder(
    input: Partial<{ purchase_country: string; purchase_currency: string; order_lines: OrderLine[]; captured: boolean | number[] }>,
  ): Promise<string>;
  stop(): Promise<void>;
}

export async function startEmulator(settings: Partial<EmulatorSettings> = {}): Promise<RunningEmulator> {
  const emulator = createEmulator({ username: USERNAME, password: PASSWORD, ...settings });
  const url = await emulator.listen(0);
  const http = axios.create({ baseURL: url, validateStatus: () => true });
  const running: RunningEmulator = {
    emulator,
    url,
    async call(method, path, body, config = {}) {
      const res = await http.request({
        method,
        url: path,
        data: body,
        auth: { username: USERNAME, password: PASSWORD },
        ...config,
      });
      return { status: res.status, headers: res.headers as Record<string, string>, data: res.data };
    },
    async control(method, path, body) {
      const res = await http.request({ method, url: "/_emulator" + path, data: body });
      if (res.status >= 300) throw new Error(`control ${method} ${path}: ${res.status} ${JSON.stringify(res.data)}`);
      return res.data;
    },
    client(opts = {}) {
      return new KlarnaClient({
        username: USERNAME,
        password: PASSWORD,
        baseUrl: url,
        timeoutMs: 1000,
        retry: { retries: 2, baseDelayMs: 10 },
        ...opts,
      });
    },
    async createOrder(input) {
      const res = await running.control("POST", "/orders", {
        purchase_country: "DE",
        purchase_currency: "EUR",
        order_lines: [tshirt()],
        captured: true,
        ...input,
      });
      return res.order_id;
    },
    stop: () => emulator.close(),
  };
  return running;
}

export function tshirt(overrides: Partial<OrderLine> = {}): OrderLine {
  return { name: "T-Shirt", type: "physical", reference: "TS-1", quantity: 1, unit_price: 10000, total_amount: 10000, ...overrides };
}

/** A Payments session (and place-order body): one T-shirt bought in Germany, €100.00 incl. 19 % VAT. */
export function germanSession() {
  return {
    purchase_country: "DE",
    purchase_currency: "EUR",
    locale: "de-DE",
    order_amount: 10000,
    order_tax_amount: 1597,
    order_lines: [tshirt({ tax_rate: 1900, total_tax_amount: 1597 })],
  };
}

/** Klarna's own sample (seeds/klarna-refund-with-return-fees.txt). */
export const SEED_REFUND: RefundRequest = {
  refunded_amount: 9500,
  reference: "1786c73b-a2be-4d42-a9f7-ff1c4bca5ccc",
  description: "Description of the refund shown to the customer",
  order_lines: [
    { name: "T-Shirt", type: "physical", quantity: 1, unit_price: 10000, total_amount: 10000 },
    { name: "Return fee", type: "return_fee", quantity: 1, unit_price: -500, total_amount: -500 },
  ],
};
