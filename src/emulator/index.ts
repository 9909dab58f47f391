export { createEmulator, KLARNA_ROUTES, type KlarnaEmulator } from "./server";
export { DEFAULT_SETTINGS, type EmulatorSettings } from "./settings";
export type { Answer, FaultSpec, JournalEntry } from "./state";
export type { NotificationRecord, NotificationTry } from "./notifications";
