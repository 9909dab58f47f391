import { validate as isUuid } from "uuid";
import type { RunningEmulator } from "./emulator";

/** Asserts Klarna's error body `{ error_code, error_messages, correlation_id }` and, when given, the message. */
export function expectKlarnaError(res: { status: number; data: any }, status: number, code: string, message?: string | RegExp): void {
  expect({ status: res.status, error_code: res.data?.error_code }).toEqual({ status, error_code: code });
  expect(Array.isArray(res.data.error_messages)).toBe(true);
  expect(isUuid(res.data.correlation_id)).toBe(true);
  if (message) {
    const text = res.data.error_messages.join(" ");
    if (typeof message === "string") expect(text).toBe(message);
    else expect(text).toMatch(message);
  }
}

/** A Payments checkout through the emulator: session, the shopper's authorisation, the order. */
export async function checkout(
  k: RunningEmulator,
  session: Record<string, unknown>,
  opts: { authorize?: Record<string, unknown>; order?: Record<string, unknown> } = {},
): Promise<{ session_id: string; authorization_token: string; placed: { status: number; data: any } }> {
  const created = await k.call("POST", "/payments/v1/sessions", session);
  if (created.status !== 200) throw new Error(`session refused: ${JSON.stringify(created.data)}`);
  const session_id = created.data.session_id as string;
  const auth = await k.control("POST", `/sessions/${session_id}/authorize`, opts.authorize ?? {});
  const placed = await k.call("POST", `/payments/v1/authorizations/${auth.authorization_token}/order`, opts.order ?? session);
  return { session_id, authorization_token: auth.authorization_token, placed };
}

export const DAY_S = 24 * 3600;
