/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__"],
  testMatch: ["**/*.test.ts"],
  transform: {
    "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }],
  },
  testTimeout: 60000,
  // A failing run must end, also when a test file leaves a handle open after a failed start (CI
  // would hang on it otherwise). The harness's child processes end with the worker that started
  // them (scripts/lib/child-process.js).
  forceExit: true,
};
