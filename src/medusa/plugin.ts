import { KlarnaClient } from "../klarna/client";
import { AuthorizationTime } from "./authorization-time";
import { Checkout } from "./checkout";
import { RefundExecutor } from "./exactly-once";
import { RefundLedger } from "./ledger";
import type { KlarnaPluginOptions } from "./options";
import { OrderLeases } from "./order-lease";
import { OrderChanges } from "./order-changes";
import { OrderManagement } from "./order-management";
import { PaymentRecords } from "./payment-records";
import { PendingOrders } from "./pending-orders";
import { PluginDatabase } from "./plugin-db";
import { Reconciler } from "./reconciler";
import { RefundIntents } from "./refund-intents";
import { ShippingInfoSender } from "./shipping";
import { StoreQueries } from "./store-queries";

/** How long after a refund with an unknown outcome the reconciler looks at its Klarna order again. */
const RECONCILE_AFTER_UNKNOWN_MS = 30_000;

/**
 * The plugin's parts, wired once per processor: the one Klarna client, the plugin's own database
 * pool, Medusa's rows as queries, the ledger, the refund intents and executor, capture and cancel,
 * checkout, the reconciler, and the rest of an order's life: the authorisation's time, shipping
 * info, order changes before capture, and pending orders Klarna decides later. The processor, the
 * admin and store routes, the subscribers and the jobs all reach them through the processor (`pp_klarna`).
 */
export class KlarnaPlugin {
  readonly db: PluginDatabase;
  readonly queries: StoreQueries;
  readonly ledger: RefundLedger;
  readonly leases: OrderLeases;
  readonly intents: RefundIntents;
  readonly refunds: RefundExecutor;
  readonly orders: OrderManagement;
  readonly checkout: Checkout;
  readonly reconciler: Reconciler;
  readonly payments: PaymentRecords;
  readonly authorizationTime: AuthorizationTime;
  readonly shipping: ShippingInfoSender;
  readonly orderChanges: OrderChanges;
  readonly pendingOrders: PendingOrders;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly client: KlarnaClient,
    readonly options: KlarnaPluginOptions,
    database: { url: string; extra?: Record<string, unknown>; schema?: string },
    taxInclusivePricing: () => boolean,
    private readonly log: (message: string) => void,
    /** Medusa's container (the processor's cradle): its manager and services, resolved when used. */
    medusa: Record<string, any> = {},
  ) {
    this.db = PluginDatabase.for(database.url, database.extra ?? {}, database.schema);
    this.queries = new StoreQueries(this.db);
    this.ledger = new RefundLedger(this.db);
    this.leases = new OrderLeases(this.db, log);
    this.intents = new RefundIntents(this.queries, this.ledger, options, taxInclusivePricing);
    this.reconciler = new Reconciler({
      db: this.db,
      client,
      queries: this.queries,
      ledger: this.ledger,
      intents: this.intents,
      leases: this.leases,
      log,
    });
    this.refunds = new RefundExecutor({
      ledger: this.ledger,
      leases: this.leases,
      intents: this.intents,
      queries: this.queries,
      client,
      options,
      log,
      onUnknownOutcome: (klarnaOrderId) => this.reconcileLater(klarnaOrderId),
    });
    this.shipping = new ShippingInfoSender(client, this.queries);
    this.orders = new OrderManagement(client, this.queries, this.shipping);
    this.checkout = new Checkout(client, options, log);
    this.payments = new PaymentRecords(medusa);
    this.authorizationTime = new AuthorizationTime({ client, db: this.db, queries: this.queries, payments: this.payments, log });
    this.orderChanges = new OrderChanges({ client, queries: this.queries, payments: this.payments, medusa, log });
    this.pendingOrders = new PendingOrders({ client, queries: this.queries, leases: this.leases, payments: this.payments, medusa, log });
  }

  /** Settles a return's refund attempt against Klarna's order before the return is cancelled. */
  settleBeforeReturnCancel(returnId: string): Promise<void> {
    return this.refunds.settleBeforeReturnCancel(returnId);
  }

  /** After an unknown outcome: the reconciler looks at the Klarna order again once Klarna had time to finish. */
  private reconcileLater(klarnaOrderId: string): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.reconciler
        .reconcileOrder(klarnaOrderId)
        .catch((err) => this.log(`klarna: reconciliation of ${klarnaOrderId} failed: ${err instanceof Error ? err.message : err}`));
    }, RECONCILE_AFTER_UNKNOWN_MS);
    timer.unref();
    this.timers.add(timer);
  }
}
