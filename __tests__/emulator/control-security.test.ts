import axios from "axios";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import { createEmulator, isLoopback, KlarnaEmulator } from "../../src/emulator";

/**
 * Issue 8: the control endpoints (`/_emulator/*`) can create, decide and reset anything and have no
 * auth of their own. Off loopback they are refused unless remote control is allowed with a token;
 * with a token every control request needs `Authorization: Bearer <token>`.
 */
const TOKEN = "0123456789abcdef-control-token";
const get = (url: string, headers: Record<string, string> = {}) => axios.get(url, { headers, validateStatus: () => true });

/** A non-loopback IPv4 address of this machine, if it has one. */
const lanAddress = Object.values(os.networkInterfaces())
  .flat()
  .find((i) => i && i.family === "IPv4" && !i.internal)?.address;
const withLan = lanAddress ? it : it.skip;

let running: KlarnaEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.map((e) => e.close()));
  running = [];
});
function track(e: KlarnaEmulator): KlarnaEmulator {
  running.push(e);
  return e;
}

it("knows loopback addresses", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "::ffff:127.0.0.1"]) expect([h, isLoopback(h)]).toEqual([h, true]);
  for (const h of ["0.0.0.0", "::", "192.0.2.2", "example.com", "", undefined]) expect([h, isLoopback(h)]).toEqual([h, false]);
});

it("on loopback nothing changes: control endpoints answer without a token", async () => {
  const e = track(createEmulator());
  const url = await e.listen(0);
  expect((await get(`${url}/_emulator/health`)).data).toEqual({ ok: true });
});

it("listen() refuses a non-loopback host without allowRemoteControl and a token, saying why", async () => {
  await expect(track(createEmulator()).listen(0, "0.0.0.0")).rejects.toThrow(
    /^refusing to listen on 0\.0\.0\.0: the control endpoints \(\/_emulator\/\*\) would be open to the network/,
  );
  await expect(track(createEmulator({}, { allowRemoteControl: true })).listen(0, "0.0.0.0")).rejects.toThrow(/--control-token/);
  await expect(track(createEmulator({}, { controlToken: TOKEN })).listen(0, "0.0.0.0")).rejects.toThrow(/--allow-remote-control/);
  expect(() => createEmulator({}, { allowRemoteControl: true, controlToken: "short" })).toThrow(/at least 16 characters/);
});

it("with a token, every control request needs 'Authorization: Bearer <token>' (401 otherwise); the Klarna API keeps its own auth", async () => {
  const e = track(createEmulator({ username: "u", password: "p" }, { controlToken: TOKEN }));
  const url = await e.listen(0);
  const none = await get(`${url}/_emulator/settings`);
  expect(none.status).toBe(401);
  expect(none.headers["www-authenticate"]).toMatch(/^Bearer/);
  expect((await get(`${url}/_emulator/settings`, { Authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
  expect((await get(`${url}/_emulator/settings`, { Authorization: `Basic ${Buffer.from("u:p").toString("base64")}` })).status).toBe(401);
  expect((await get(`${url}/_emulator/settings`, { Authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  const api = await axios.get(`${url}/ordermanagement/v1/orders/x`, { auth: { username: "u", password: "p" }, validateStatus: () => true });
  expect(api.status).toBe(404);
});

withLan("allowRemoteControl + token: listens off loopback, control needs the token there too", async () => {
  const e = track(createEmulator({}, { allowRemoteControl: true, controlToken: TOKEN }));
  const url = await e.listen(0, lanAddress!);
  expect(url).toBe(`http://${lanAddress}:${new URL(url).port}`);
  expect((await get(`${url}/_emulator/health`)).status).toBe(401);
  expect((await get(`${url}/_emulator/health`, { Authorization: `Bearer ${TOKEN}` })).data).toEqual({ ok: true });
});

withLan("the app mounted in a server of one's own: a control request arriving off loopback is refused (403) without the options", async () => {
  const e = track(createEmulator());
  const server = http.createServer(e.app);
  await new Promise<void>((r) => server.listen(0, lanAddress!, () => r()));
  const port = (server.address() as AddressInfo).port;
  try {
    const res = await get(`http://${lanAddress}:${port}/_emulator/health`);
    expect(res.status).toBe(403);
    expect(res.data.error).toMatch(/loopback only/);
    expect((await get(`http://${lanAddress}:${port}/_emulator/health`, { Authorization: `Bearer ${TOKEN}` })).status).toBe(403);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
