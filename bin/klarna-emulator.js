#!/usr/bin/env node
"use strict";
require("../dist/emulator/cli")
  .main()
  .catch((err) => {
    console.error(`klarna-emulator: ${err && err.message ? err.message : err}`);
    process.exit(1);
  });
