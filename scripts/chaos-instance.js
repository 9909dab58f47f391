// One Medusa app instance for the chaos run, in a process of its own (Medusa 1.x holds its database
// connection at module level: one app per process). Prints one JSON line { url, seed? } when ready;
// SIGTERM stops it. With CHAOS_SEED=1 it also seeds the store.
"use strict"
process.env.MEDUSA_DISABLE_TELEMETRY = "true"
process.noDeprecation = true

const path = require("path")
const h = require("./harness")

async function main() {
  const directory = path.join(__dirname, "..", "store")
  const medusa = await h.bootMedusa({ directory, databaseUrl: process.env.DATABASE_URL })
  const seed = process.env.CHAOS_SEED === "1"
    ? await h.seedStore({ container: medusa.container, url: medusa.url, paymentProviders: ["klarna", "manual"] })
    : undefined
  process.stdout.write(`READY ${JSON.stringify({ url: medusa.url, seed })}\n`)
  const stop = async () => {
    await medusa.close().catch(() => {})
    process.exit(0)
  }
  process.on("SIGTERM", stop)
  process.on("SIGINT", stop)
  // Gone with the chaos run, however that ends.
  process.stdin.on("end", stop)
  process.stdin.on("close", stop)
  process.stdin.resume()
}

main().catch((err) => {
  process.stderr.write(`chaos instance failed: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
