import { parseArgs } from "util";
import { createEmulator } from "./server";
import { DEFAULT_SETTINGS, settingsPatchSchema } from "./settings";

const HELP = `klarna-emulator: a local emulator of Klarna's Payments and Order Management APIs.

Usage: klarna-emulator [--port 4010] [--host 127.0.0.1] [--username U] [--password P]
                       [--settings '{"om_line_arithmetic":"lenient"}']

  --port        port to listen on (default 4010; 0 = any free port)
  --host        address to bind (default 127.0.0.1)
  --username    accepted API username (default "${DEFAULT_SETTINGS.username}")
  --password    accepted API password (default "${DEFAULT_SETTINGS.password}")
  --settings    JSON object of emulator settings (see README, "Emulator settings")
  --stop-with-stdin   stop when standard input closes (for a parent process that may die)

Control endpoints live under /_emulator/ (see README).`;

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string", default: "4010" },
      host: { type: "string", default: "127.0.0.1" },
      username: { type: "string" },
      password: { type: "string" },
      settings: { type: "string" },
      "stop-with-stdin": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0-65535, got ${values.port}`);
  const extra = values.settings ? settingsPatchSchema.parse(JSON.parse(values.settings)) : {};
  const emulator = createEmulator({
    ...extra,
    ...(values.username ? { username: values.username } : {}),
    ...(values.password ? { password: values.password } : {}),
  });
  const url = await emulator.listen(port, values.host);
  console.log(`Klarna emulator listening on ${url} (username "${emulator.state.settings.username}")`);
  const stop = () => {
    emulator.close().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  if (values["stop-with-stdin"]) {
    process.stdin.on("end", stop);
    process.stdin.on("close", stop);
    process.stdin.resume();
  }
}
