import { parseArgs } from "util";
import { createEmulator, isLoopback, MIN_CONTROL_TOKEN_LENGTH, remoteControlRefusal } from "./server";
import { DEFAULT_SETTINGS, settingsPatchSchema } from "./settings";

const HELP = `klarna-emulator: a local emulator of Klarna's Payments and Order Management APIs.

Usage: klarna-emulator [--port 4010] [--host 127.0.0.1] [--username U] [--password P]
                       [--settings '{"om_line_arithmetic":"lenient"}']
                       [--allow-remote-control --control-token T]

  --port        port to listen on (default 4010; 0 = any free port)
  --host        address to bind (default 127.0.0.1). Any non-loopback address (0.0.0.0, a LAN IP)
                needs --allow-remote-control and --control-token: the control endpoints
                (/_emulator/*) can rewrite every order.
  --allow-remote-control   serve the control endpoints to other machines (with --control-token)
  --control-token          a secret of ${MIN_CONTROL_TOKEN_LENGTH}+ characters every control request must send as
                           "Authorization: Bearer <token>" (or set KLARNA_EMULATOR_CONTROL_TOKEN,
                           which keeps it out of the process list)
  --username    accepted API username (default "${DEFAULT_SETTINGS.username}")
  --password    accepted API password (default "${DEFAULT_SETTINGS.password}")
  --settings    JSON object of emulator settings (README, "The Klarna emulator", the Settings table)
  --stop-with-stdin   stop when standard input closes (for a parent process that may die)
  --help, -h    print this help

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
      "allow-remote-control": { type: "boolean" },
      "control-token": { type: "string" },
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
  const host = values.host as string;
  const controlToken = values["control-token"] ?? (process.env.KLARNA_EMULATOR_CONTROL_TOKEN || undefined);
  const allowRemoteControl = values["allow-remote-control"] === true;
  if (!isLoopback(host) && !(allowRemoteControl && controlToken)) throw new Error(remoteControlRefusal(host));
  if (allowRemoteControl && !controlToken) throw new Error("--allow-remote-control needs --control-token <token>");
  if (controlToken !== undefined && controlToken.length < MIN_CONTROL_TOKEN_LENGTH) {
    throw new Error(`--control-token must be at least ${MIN_CONTROL_TOKEN_LENGTH} characters`);
  }
  const extra = values.settings ? settingsPatchSchema.parse(JSON.parse(values.settings)) : {};
  const emulator = createEmulator(
    {
      ...extra,
      ...(values.username ? { username: values.username } : {}),
      ...(values.password ? { password: values.password } : {}),
    },
    { allowRemoteControl, controlToken },
  );
  const url = await emulator.listen(port, host);
  console.log(
    `Klarna emulator listening on ${url} (username "${emulator.state.settings.username}")${
      controlToken ? "; control endpoints need the control token" : ""
    }`,
  );
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
