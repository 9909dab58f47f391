import type KlarnaPaymentProcessor from "../services/klarna";
import { PROCESSOR_KEY } from "./identifiers";

/**
 * The plugin's processor in Medusa's container, for subscribers and jobs; undefined where the plugin
 * is not registered (a store that loads the package without configuring it).
 */
export function klarnaProcessor(container: { resolve(name: string): unknown }): KlarnaPaymentProcessor | undefined {
  try {
    return container.resolve(PROCESSOR_KEY) as KlarnaPaymentProcessor;
  } catch {
    return undefined;
  }
}
