// @ts-check
// One linter for src/, scripts/ and __tests__/ (npm run lint; npm test runs it first).
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "docs/**", "store/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // Medusa 1.x hands the plugin untyped services and rows (the awilix cradle): `any` is the honest type there.
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" },
      ],
      "no-empty": ["error", { allowEmptyCatch: true }],
    },
  },
  {
    // Plain CommonJS scripts (type-checked with // @ts-check and JSDoc).
    files: ["scripts/**/*.js", "bin/**/*.js", "*.js"],
    languageOptions: { sourceType: "commonjs" },
    // `const crypto = require("crypto")` names the module the way Node's own docs do.
    rules: { "@typescript-eslint/no-require-imports": "off", "no-redeclare": ["error", { builtinGlobals: false }] },
  },
  {
    files: ["__tests__/**/*.ts"],
    languageOptions: { globals: { ...globals.jest } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    files: ["src/admin/**/*.tsx"],
    languageOptions: { globals: { ...globals.browser } },
  },
);
