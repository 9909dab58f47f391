import { v4 as uuidv4 } from "uuid";
import { RunningEmulator, startEmulator } from "../support/emulator";

/**
 * What a `Klarna-Idempotency-Key` is scoped to. order-management.yml says, for every POST/PATCH, "Input
 * values of the operation are disregarded when evaluating the idempotency of the operation, only the
 * key matters", and not whether the same key on another operation is the same request: the setting
 * `idempotency_key_scope` decides ("merchant" by default: the key alone, as the spec's words read).
 */
let k: RunningEmulator;
beforeAll(async () => {
  k = await startEmulator();
});
afterAll(() => k.stop());
beforeEach(() => k.control("POST", "/reset"));

const refund = (orderId: string, key: string) =>
  k.call("POST", `/ordermanagement/v1/orders/${orderId}/refunds`, { refunded_amount: 1000 }, { headers: { "Klarna-Idempotency-Key": key } });
const refunded = async (orderId: string) => (await k.call("GET", `/ordermanagement/v1/orders/${orderId}`)).data.refunded_amount;

it("merchant (default): the same key on another order's refund replays the first answer, and refunds nothing more", async () => {
  expect((await k.control("GET", "/settings")).idempotency_key_scope).toBe("merchant");
  const [a, b] = [await k.createOrder({}), await k.createOrder({})];
  const key = uuidv4();
  const first = await refund(a, key);
  const second = await refund(b, key);
  expect(second.status).toBe(201);
  expect(second.headers["refund-id"]).toBe(first.headers["refund-id"]);
  expect(second.headers.location).toContain(a);
  expect([await refunded(a), await refunded(b)]).toEqual([1000, 0]);
});

it("operation: the key is remembered per method and path; the same call with it is still replayed", async () => {
  await k.control("PATCH", "/settings", { idempotency_key_scope: "operation" });
  const [a, b] = [await k.createOrder({}), await k.createOrder({})];
  const key = uuidv4();
  const first = await refund(a, key);
  const other = await refund(b, key);
  expect(other.status).toBe(201);
  expect(other.headers["refund-id"]).not.toBe(first.headers["refund-id"]);
  expect((await refund(a, key)).headers["refund-id"]).toBe(first.headers["refund-id"]);
  expect([await refunded(a), await refunded(b)]).toEqual([1000, 1000]);
});
