import axios from "axios";
import { ChildProcess, spawn } from "child_process";
import * as path from "path";

/** The `klarna-emulator` bin as a developer starts it (from the build: `npm test` builds first). */
const BIN = path.resolve(__dirname, "../../bin/klarna-emulator.js");

function start(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
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
      const denied = await axios.get(`${url}/ordermanagement/v1/orders/x`, { validateStatus: () => true, auth: { username: "shop", password: "no" } });
      expect(denied.status).toBe(401);
      const allowed = await axios.get(`${url}/ordermanagement/v1/orders/x`, { validateStatus: () => true, auth: { username: "shop", password: "pw" } });
      expect(allowed.status).toBe(404);
    } finally {
      await stop(child);
    }
  });

  it("refuses a bad port with a clear message", async () => {
    await expect(start(["--port", "70000"])).rejects.toThrow(/--port must be 0-65535/);
  });
});
