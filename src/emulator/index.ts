export { createEmulator, isLoopback, KLARNA_ROUTES, type EmulatorOptions, type KlarnaEmulator } from "./server";
export { DEFAULT_SETTINGS, type EmulatorSettings } from "./settings";
export type { Answer, FaultSpec, JournalEntry } from "./state";
export type { NotificationRecord, NotificationTry } from "./notifications";
