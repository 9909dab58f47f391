import axios from "axios";
import { ChildProcess, spawn } from "child_process";
import * as path from "path";

/** The `klarna-emulator` bin as a developer starts it (from the build: `npm test` builds first). */
const BIN = path.resolve(__dirname, "../../bin/klarna-emulator.js");
const TOKEN = "cli-test-control-token-0123456789";

function start(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
    let out = "";
    const timer = setTimeout(() => reject(new Error("emulator did not start: " + out)), 10000);
    child.stdout!.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.stderr!.on("data", (d) => (out += d));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited ${code}: ${out}`));
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners("exit");
    child.on("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

describe("klarna-emulator bin", () => {
  it("prints its URL, binds to 127.0.0.1, takes --username/--password and --settings", async () => {
    const { child, url } = await start(["--port", "0", "--username", "shop", "--password", "pw", "--settings", '{"om_line_arithmetic":"lenient"}']);
    try {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await axios.get(`${url}/_emulator/health`)).data).toEqual({ ok: true });
      expect((await axios.get(`${url}/_emulator/settings`)).data).toMatchObject({ username: "shop", om_line_arithmetic: "lenient" });
      const denied = await axios.get(`${url}/ordermanagement/v1/orders/x`, {
        validateStatus: () => true,
        auth: { username: "shop", password: "no" },
      });
      expect(denied.status).toBe(401);
      const allowed = await axios.get(`${url}/ordermanagement/v1/orders/x`, {
        validateStatus: () => true,
        auth: { username: "shop", password: "pw" },
      });
      expect(allowed.status).toBe(404);
    } finally {
      await stop(child);
    }
  });

  it("refuses a bad port with a clear message", async () => {
    await expect(start(["--port", "70000"])).rejects.toThrow(/--port must be 0-65535/);
  });

  // Issue 8: the control endpoints have no auth of their own.
  it("refuses --host 0.0.0.0 without --allow-remote-control and --control-token, in one line saying why", async () => {
    const refusal = (args: string[]) =>
      start(["--port", "0", "--host", "0.0.0.0", ...args]).then(
        () => "started",
        (e: Error) => e.message,
      );
    for (const args of [[], ["--allow-remote-control"], ["--control-token", TOKEN]]) {
      const message = await refusal(args);
      expect(message).toMatch(
        /^emulator exited 1: klarna-emulator: refusing to listen on 0\.0\.0\.0: the control endpoints \(\/_emulator\/\*\) would be open to the network; .*--allow-remote-control.*--control-token/,
      );
      expect(message.trim().split("\n")).toHaveLength(1);
    }
    expect(await refusal(["--allow-remote-control", "--control-token", "short"])).toMatch(/--control-token must be at least 16 characters/);
  });

  it("with --allow-remote-control and --control-token it starts; control requests need 'Authorization: Bearer <token>'", async () => {
    const { child, url } = await start(["--port", "0", "--host", "0.0.0.0", "--allow-remote-control", "--control-token", TOKEN]);
    try {
      const local = url.replace("0.0.0.0", "127.0.0.1");
      expect((await axios.get(`${local}/_emulator/health`, { validateStatus: () => true })).status).toBe(401);
      expect((await axios.get(`${local}/_emulator/health`, { headers: { Authorization: `Bearer ${TOKEN}` } })).data).toEqual({ ok: true });
    } finally {
      await stop(child);
    }
  });

  it("takes the token from KLARNA_EMULATOR_CONTROL_TOKEN (kept out of the process list)", async () => {
    const { child, url } = await start(["--port", "0"], { ...process.env, KLARNA_EMULATOR_CONTROL_TOKEN: TOKEN });
    try {
      expect((await axios.get(`${url}/_emulator/health`, { validateStatus: () => true })).status).toBe(401);
      expect((await axios.get(`${url}/_emulator/health`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    } finally {
      await stop(child);
    }
  });
});
