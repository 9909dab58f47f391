export * from "./klarna/client";
export * from "./klarna/errors";
export * from "./klarna/order-lines";
export type * from "./klarna/types";
export { ORDER_LINE_TYPES } from "./klarna/types";
export { createEmulator, DEFAULT_SETTINGS as EMULATOR_DEFAULT_SETTINGS } from "./emulator";
export type { EmulatorSettings, KlarnaEmulator, JournalEntry, FaultSpec } from "./emulator";
export * from "./klarna/refund-plan";
