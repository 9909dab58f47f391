// @ts-check
// A script's command-line flags: the ones it knows, or it names them and exits 2.
"use strict";

/**
 * @param {string} command   the script's name in the message ("demo")
 * @param {string[]} known   its flags, e.g. ["--json", "--keep"]
 * @returns {Set<string>}    the flags given
 */
function flags(command, known) {
  const given = new Set(process.argv.slice(2));
  for (const a of given) {
    if (!known.includes(a)) {
      console.error(`${command}: unknown option ${a} (use ${known.join(", ")})`);
      process.exit(2);
    }
  }
  return given;
}

module.exports = { flags };
