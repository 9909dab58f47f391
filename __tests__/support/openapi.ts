import Ajv, { ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import type { RunningEmulator } from "./emulator";

/**
 * Klarna's published OpenAPI specs, read from ../shared/klarna-openapi (not copied into the project),
 * compiled into JSON-schema validators for the request bodies the plugin sends.
 */
export const SPEC_DIR = path.resolve(__dirname, "../../../shared/klarna-openapi");

/**
 * Klarna's Order Management spec writes the order line `type` enum as ONE string of pipe-separated
 * values ("physical|discount|..."), which no real value can equal. Read as intended: each value is
 * allowed. This is the only change made to the spec.
 */
function fixPipeEnums(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(fixPipeEnums);
  if (node && typeof node === "object") {
    const obj = node as Record<string, unknown>;
    if (Array.isArray(obj.enum) && obj.enum.length === 1 && typeof obj.enum[0] === "string" && obj.enum[0].includes("|")) {
      obj.enum = (obj.enum[0] as string).split("|").map((s) => s.trim());
      delete obj.pattern;
    }
    Object.values(obj).forEach(fixPipeEnums);
  }
}

function load(file: string, id: string) {
  const at = path.join(SPEC_DIR, file);
  if (!fs.existsSync(at)) {
    throw new Error(
      `Klarna's OpenAPI spec ${at} is missing. The tests read Klarna's published specs from ../shared/klarna-openapi beside this checkout ` +
        `(order-management.yml and payments.yml); put them there, or run the tests from a checkout that has ../shared beside it.`,
    );
  }
  const spec = parse(fs.readFileSync(at, "utf8"));
  fixPipeEnums(spec);
  return { $id: id, components: spec.components };
}

let ajv: Ajv | undefined;
function instance(): Ajv {
  if (!ajv) {
    ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isSafeInteger(n) });
    ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31 });
    ajv.addSchema(load("order-management.yml", "om"));
    ajv.addSchema(load("payments.yml", "payments"));
  }
  return ajv;
}

/** A schema of Klarna's Order Management spec by name, as published (for values the tests list from it). */
export function omSchema(name: string): any {
  return (instance().getSchema("om")!.schema as any).components.schemas[name];
}

const cache = new Map<string, ValidateFunction>();
export function schemaValidator(ref: string): ValidateFunction {
  let v = cache.get(ref);
  if (!v) {
    v = instance().compile({ $ref: ref });
    cache.set(ref, v);
  }
  return v;
}

/** The request schema Klarna publishes for a method + path, or undefined for calls without a body. */
export function requestSchemaFor(method: string, path: string): string | undefined {
  if (method === "POST" && /^\/ordermanagement\/v1\/orders\/[^/]+\/refunds$/.test(path)) return "om#/components/schemas/RefundObject";
  if (method === "POST" && /^\/ordermanagement\/v1\/orders\/[^/]+\/captures$/.test(path)) return "om#/components/schemas/CaptureObject";
  // Schema names with a space are JSON pointers: the space is written %20.
  if (method === "PATCH" && /^\/ordermanagement\/v1\/orders\/[^/]+\/authorization$/.test(path))
    return "om#/components/schemas/Update%20authorization";
  if (method === "PATCH" && /^\/ordermanagement\/v1\/orders\/[^/]+\/merchant-references$/.test(path))
    return "om#/components/schemas/Update%20merchant%20references";
  if (method === "PATCH" && /^\/ordermanagement\/v1\/orders\/[^/]+\/customer-details$/.test(path)) return "om#/components/schemas/UpdateConsumer";
  if (method === "POST" && /^\/ordermanagement\/v1\/orders\/[^/]+\/captures\/[^/]+\/shipping-info$/.test(path))
    return "om#/components/schemas/UpdateShippingInfo";
  if (method === "POST" && /^\/ordermanagement\/v1\/orders\/[^/]+\/shipping-info$/.test(path)) return "om#/components/schemas/UpdateShippingInfo";
  if (method === "PATCH" && /^\/ordermanagement\/v1\/orders\/[^/]+\/captures\/[^/]+\/extend-due-date$/.test(path))
    return "om#/components/schemas/ExtendDueDateRequest";
  if (method === "POST" && path === "/payments/v1/sessions") return "payments#/components/schemas/session_create";
  if (method === "POST" && /^\/payments\/v1\/sessions\/[^/]+$/.test(path)) return "payments#/components/schemas/session";
  if (method === "POST" && /^\/payments\/v1\/authorizations\/[^/]+\/order$/.test(path)) return "payments#/components/schemas/create_order_request";
  return undefined;
}

/** Validates a request body against Klarna's spec; returns readable problems (empty when valid). */
export function specProblems(method: string, path: string, body: unknown): string[] {
  const ref = requestSchemaFor(method, path);
  if (!ref) return [];
  const validate = schemaValidator(ref);
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${method} ${path}: ${e.instancePath || "/"} ${e.message}`);
}

/** Every request the emulator received (its journal), checked against Klarna's published request schemas. */
export async function journalSpecProblems(k: RunningEmulator): Promise<string[]> {
  const { entries } = await k.control("GET", "/journal");
  return (entries as any[]).flatMap((e) => specProblems(e.method, e.path, e.body));
}
