// Starts the klarna-emulator bin in a child process (its state does not weigh on the caller's heap)
// and resolves to { url, control(method, path, body), stop() }.
"use strict"

const path = require("path")
const { spawn } = require("child_process")

function startEmulatorProcess({ username, password, settings } = {}) {
  // --stop-with-stdin: the emulator goes when this process goes, however it ends.
  const args = [path.join(__dirname, "..", "bin", "klarna-emulator.js"), "--port", "0", "--stop-with-stdin"]
  if (username) args.push("--username", username)
  if (password) args.push("--password", password)
  if (settings) args.push("--settings", JSON.stringify(settings))
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"] })
    let out = ""
    const onData = (d) => {
      out += d
      const m = out.match(/listening on (http:\/\/\S+)/)
      if (!m) return
      child.stdout.off("data", onData)
      const url = m[1]
      resolve({
        url,
        pid: child.pid,
        async control(method, p, body) {
          const res = await fetch(`${url}/_emulator${p}`, {
            method,
            headers: { "content-type": "application/json" },
            body: body === undefined ? undefined : JSON.stringify(body),
          })
          const text = await res.text()
          if (res.status >= 300) throw new Error(`emulator ${method} ${p}: ${res.status} ${text}`)
          return text ? JSON.parse(text) : undefined
        },
        stop: () =>
          new Promise((res) => {
            if (child.exitCode !== null) return res()
            child.once("exit", () => res())
            child.kill("SIGTERM")
          }),
      })
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", (d) => (out += d))
    child.once("exit", (code) => reject(new Error(`emulator exited ${code}: ${out}`)))
  })
}

module.exports = { startEmulatorProcess }
