import { useQueryClient } from "@tanstack/react-query";
import { Alert, Badge, Button, Container, Copy, StatusBadge, Table, Text, usePrompt } from "@medusajs/ui";
import { adminOrderKeys, useAdminCustomQuery, useMedusa } from "medusa-react";
import { ReactNode, useState } from "react";
// Types only (erased by the bundler): the shape GET /admin/klarna/orders/:order_id answers.
import type { OrderPanel, PanelFinding, PanelRefund, RefundCheck } from "../../medusa/order-panel-contract";

/**
 * The Klarna panel on Medusa's order page (zone order.details.after), for orders paid with Klarna.
 * It reads GET /admin/klarna/orders/:order_id and offers the panel's actions, each confirmed first
 * and each answering in the panel itself: a toast is gone after a few seconds, while an admin may
 * need Klarna's message, code and correlation id for a support ticket.
 */

type Notify = { success(title: string, message: string): void; error(title: string, message: string): void };
type Props = {
  order: { id: string; currency_code: string; payments?: Array<{ provider_id: string }> };
  notify: Notify;
};

type Result = { variant: "success" | "error" | "info"; title: string; message: string };
/** Answers of the panel's action routes (the order they also return is not read here). */
type AdoptAnswer = { klarna: { klarna_refund_id: string; amount: number; message: string } };
type ExtendAnswer = { message: string; expires_at: string };

const KlarnaOrderPanelWidget = ({ order, notify }: Props) => {
  if (!order?.payments?.some((p) => p.provider_id === "klarna")) return null;
  return <KlarnaOrderPanel order={order} notify={notify} />;
};

const KlarnaOrderPanel = ({ order, notify }: Props) => {
  const { client } = useMedusa();
  const queryClient = useQueryClient();
  const prompt = usePrompt();
  // `seq` keys the answer's Alert: a dismissed Alert stays dismissed, the next answer is a new one.
  const [result, setResult] = useState<(Result & { seq: number }) | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const { data, isLoading, error, refetch } = useAdminCustomQuery<Record<string, never>, OrderPanel>(`/klarna/orders/${order.id}`, [
    "klarna-order-panel",
    order.id,
  ]);

  const money = (amount: number | null | undefined) => formatMoney(amount, data?.currency_code ?? order.currency_code);

  /** Confirm, run, show the answer in the panel, refresh the panel and Medusa's order. */
  const act = async (key: string, confirm: { title: string; description: string; confirmText: string }, run: () => Promise<Result>) => {
    const yes = await prompt({ ...confirm, cancelText: "Cancel", variant: "confirmation" });
    if (!yes) return;
    setBusy(key);
    let outcome: Result;
    try {
      outcome = await run();
    } catch (e) {
      outcome = { variant: "error", title: `${confirm.confirmText} failed`, message: messageOf(e) };
    }
    setResult((last) => ({ ...outcome, seq: (last?.seq ?? 0) + 1 }));
    if (outcome.variant === "error") notify.error("Klarna", outcome.title);
    else notify.success("Klarna", outcome.title);
    await Promise.all([refetch(), queryClient.invalidateQueries(adminOrderKeys.detail(order.id))]);
    setBusy(null);
  };

  const waiveFee = (returnId: string, amount: number) =>
    act(
      `waive:${returnId}`,
      {
        title: "Give the return fee back?",
        description: `Klarna withheld ${money(amount)} as the return fee of return ${returnId}. This refunds it to the customer through Klarna and records the refund in Medusa.`,
        confirmText: "Give fee back",
      },
      async () => {
        const res: any = await client.admin.custom.post(`/klarna/returns/${returnId}/waive-return-fee`);
        return {
          variant: "success",
          title: "Return fee given back",
          message: `${money(res.klarna.fee)} of return ${returnId} refunded through Klarna (Klarna refund ${res.klarna.klarna_refund_id}).`,
        };
      },
    );

  const checkRefund = (refund: PanelRefund) =>
    act(
      `check:${refund.id}`,
      {
        title: "Check this refund with Klarna?",
        description: `Reads the Klarna order once and looks for the refund of ${refund.label} (${money(refund.amount)}). If Klarna made it, the plugin records it as succeeded and never sends it again.`,
        confirmText: "Check with Klarna",
      },
      async () => {
        const res = (await client.admin.custom.post(`/klarna/refunds/${refund.id}/check`)) as unknown as RefundCheck;
        return {
          variant: res.found ? "success" : "info",
          title: res.found ? "Klarna has this refund" : "Klarna has no such refund",
          message: res.message,
        };
      },
    );

  const recordRefund = (adopt: { klarna_refund_id: string; amount: number }) =>
    act(
      `adopt:${adopt.klarna_refund_id}`,
      {
        title: "Record this refund in Medusa?",
        description: `Klarna has refunded ${money(adopt.amount)} (Klarna refund ${adopt.klarna_refund_id}), and Medusa has no refund for it. This adds a refund of ${money(adopt.amount)} to the order in Medusa. Nothing is sent to Klarna: the customer is not refunded again.`,
        confirmText: "Record refund",
      },
      async () => {
        const res = (await client.admin.custom.post(`/klarna/orders/${order.id}/adopt-refund`, {
          klarna_refund_id: adopt.klarna_refund_id,
        })) as unknown as AdoptAnswer;
        return { variant: "success", title: "Refund recorded in Medusa", message: res.klarna.message };
      },
    );

  const extendAuthorization = () =>
    act(
      "extend",
      {
        title: "Extend the authorisation?",
        description: `Asks Klarna for more time to capture the ${money(data?.klarna.remaining_authorized_amount)} still authorised${data?.klarna.expires_at ? ` (now until ${formatDate(data.klarna.expires_at)})` : ""}. Klarna sets the new date: its authorisation period counted from today, at most 180 days after the purchase.`,
        confirmText: "Extend authorisation",
      },
      async () => {
        const res = (await client.admin.custom.post(`/klarna/orders/${order.id}/extend-authorization`)) as unknown as ExtendAnswer;
        return {
          variant: "success",
          title: "Authorisation extended",
          message: res.expires_at ? `${res.message} Captures are possible until ${formatDate(res.expires_at)}.` : res.message,
        };
      },
    );

  const retryCapture = () =>
    act(
      "capture",
      {
        title: "Retry the capture?",
        description: `Captures the remaining authorisation of ${money(data?.klarna.remaining_authorized_amount)} at Klarna (Medusa's own capture, POST /admin/orders/${order.id}/capture).`,
        confirmText: "Retry capture",
      },
      async () => {
        await client.admin.orders.capturePayment(order.id);
        return { variant: "success", title: "Payment captured", message: "Klarna captured the payment; Medusa marked it captured." };
      },
    );

  if (isLoading) {
    return (
      <Container data-testid="klarna-panel">
        <h2 className="inter-xlarge-semibold text-grey-90">Klarna</h2>
        <Text size="small" className="text-ui-fg-subtle mt-2">
          Loading the Klarna order…
        </Text>
      </Container>
    );
  }
  if (error || !data) {
    return (
      <Container data-testid="klarna-panel">
        <h2 className="inter-xlarge-semibold text-grey-90">Klarna</h2>
        <Alert variant="error" className="mt-4">
          The Klarna panel could not be loaded: {messageOf(error)}
        </Alert>
      </Container>
    );
  }

  const k = data.klarna;
  const waivable = new Map(data.actions.waive_return_fee.map((w) => [w.return_id, w.amount]));
  const checkable = new Set(data.actions.check_refunds);
  const adoptable = new Map(data.actions.adopt_refunds.map((a) => [a.klarna_refund_id, a]));
  const findingOf = (r: PanelRefund) =>
    r.klarna_refund_id ? data.agreement.findings.find((f) => f.klarna_refund_id === r.klarna_refund_id) : undefined;
  const canCapture = data.actions.retry_capture || data.actions.extend_authorization;

  return (
    <Container className="flex flex-col gap-y-6 px-8 py-8" data-testid="klarna-panel">
      <div className="flex items-start justify-between gap-x-4">
        <div className="flex flex-col gap-y-1">
          <h2 className="inter-xlarge-semibold text-grey-90">Klarna</h2>
          <Text size="small" className="text-ui-fg-subtle">
            Payment, captures and refunds as Klarna and the plugin's ledger have them
          </Text>
        </div>
        <div className="flex items-center gap-x-2">
          {k.status && <StatusBadge color={statusColor(k.status)}>{k.status}</StatusBadge>}
          <Button variant="secondary" size="small" onClick={() => refetch()} data-testid="klarna-refresh">
            Refresh
          </Button>
        </div>
      </div>

      {result && (
        <Alert key={result.seq} variant={result.variant} dismissible data-testid="klarna-action-result">
          <span className="font-medium">{result.title}.</span> <span className="select-text">{result.message}</span>
        </Alert>
      )}
      {k.error && (
        <Alert variant="warning" data-testid="klarna-unreachable">
          Klarna could not be reached; showing what the store knows. <span className="select-text">{k.error.message}</span>
        </Alert>
      )}

      <Section title="Klarna order">
        <div className="grid grid-cols-2 gap-x-8 gap-y-3">
          <div className="col-span-2">
            <Field label="Klarna order id">
              <Ref value={k.order_id} testId="klarna-order-id" />
            </Field>
          </div>
          <Field label="Klarna reference">
            <Ref value={k.klarna_reference} />
          </Field>
          <Field label="Status">{k.status ?? "—"}</Field>
          <Field label="Fraud status">
            {k.fraud_status ? (
              <Badge size="2xsmall" color={k.fraud_status === "ACCEPTED" ? "green" : k.fraud_status === "PENDING" ? "orange" : "red"}>
                {k.fraud_status}
              </Badge>
            ) : (
              "—"
            )}
          </Field>
          <Field label="Market">{[k.purchase_country, k.purchase_currency].filter(Boolean).join(" · ") || "—"}</Field>
          <div className="col-span-2">
            <Field label="Authorisation expires">
              <Expiry expiresAt={k.expires_at} expiry={k.expiry} />
            </Field>
          </div>
        </div>
        <div className="border-ui-border-base mt-4 grid grid-cols-4 gap-x-4 rounded-lg border px-4 py-3">
          <Amount label="Authorised" value={money(k.order_amount)} />
          <Amount label="Captured" value={money(k.captured_amount)} />
          <Amount label="Refunded" value={money(k.refunded_amount)} />
          <Amount label="Remaining" value={money(k.remaining_authorized_amount)} />
        </div>
        {canCapture && (
          <div className="mt-4 flex items-center justify-between gap-x-4">
            <Text size="small" className="text-ui-fg-subtle">
              {data.actions.retry_capture ? "Medusa has not captured this payment; " : ""}Klarna holds {money(k.remaining_authorized_amount)}{" "}
              authorised
              {k.expires_at ? ` until ${formatDate(k.expires_at)}` : ""}.
            </Text>
            <div className="flex shrink-0 items-center gap-x-2">
              {data.actions.extend_authorization && (
                <Action busy={busy === "extend"} onClick={extendAuthorization} testId="klarna-extend-authorization">
                  Extend authorisation
                </Action>
              )}
              {data.actions.retry_capture && (
                <Action busy={busy === "capture"} onClick={retryCapture} testId="klarna-retry-capture">
                  Retry capture
                </Action>
              )}
            </div>
          </div>
        )}
      </Section>

      <Section title="Captures">
        {data.captures.length === 0 ? (
          <Text size="small" className="text-ui-fg-subtle">
            Nothing captured yet.
          </Text>
        ) : (
          <Table>
            <Table.Header>
              <Table.Row>
                <Table.HeaderCell>Capture id</Table.HeaderCell>
                <Table.HeaderCell>Captured</Table.HeaderCell>
                <Table.HeaderCell className="text-right">Amount</Table.HeaderCell>
              </Table.Row>
            </Table.Header>
            <Table.Body>
              {data.captures.map((c) => (
                <Table.Row key={c.capture_id} data-testid="klarna-capture">
                  <Table.Cell>
                    <Ref value={c.capture_id} />
                  </Table.Cell>
                  <Table.Cell>{c.captured_at ? formatDate(c.captured_at) : "—"}</Table.Cell>
                  <Table.Cell className="text-right">{money(c.amount)}</Table.Cell>
                </Table.Row>
              ))}
            </Table.Body>
          </Table>
        )}
      </Section>

      <Section title="Refunds">
        {data.refunds.length === 0 ? (
          <Text size="small" className="text-ui-fg-subtle">
            No refund through Klarna yet.
          </Text>
        ) : (
          <div className="flex flex-col gap-y-4">
            {data.refunds.map((r) => (
              <RefundCard
                key={r.id}
                refund={r}
                money={money}
                waivable={r.purpose === "return" && r.resource_id ? waivable.get(r.resource_id) : undefined}
                checkable={checkable.has(r.id)}
                finding={findingOf(r)}
                busy={busy}
                onWaive={() => r.resource_id && waiveFee(r.resource_id, waivable.get(r.resource_id) ?? 0)}
                onCheck={() => checkRefund(r)}
              />
            ))}
          </div>
        )}
      </Section>

      <Section title="Klarna and Medusa">
        <Agreement agreement={data.agreement} money={money} adoptable={adoptable} busy={busy} onRecord={recordRefund} />
      </Section>
    </Container>
  );
};

/** A panel action's button: small, secondary, busy while its request runs. */
const Action = ({
  busy,
  onClick,
  testId,
  data,
  children,
}: {
  busy: boolean;
  onClick: () => void;
  testId: string;
  data?: Record<string, string>;
  children: ReactNode;
}) => (
  <Button size="small" variant="secondary" className="whitespace-nowrap" isLoading={busy} onClick={onClick} data-testid={testId} {...data}>
    {children}
  </Button>
);

const Section = ({ title, children }: { title: string; children: ReactNode }) => (
  <div className="border-ui-border-base flex flex-col gap-y-3 border-t pt-5">
    <Text size="small" weight="plus" className="text-ui-fg-base">
      {title}
    </Text>
    {children}
  </div>
);

const Field = ({ label, children }: { label: string; children: ReactNode }) => (
  <div className="flex min-w-0 flex-col gap-y-0.5">
    <Text size="xsmall" className="text-ui-fg-subtle">
      {label}
    </Text>
    <div className="txt-compact-small text-ui-fg-base min-w-0">{children}</div>
  </div>
);

const Amount = ({ label, value }: { label: string; value: string }) => (
  <div className="flex flex-col gap-y-0.5">
    <Text size="xsmall" className="text-ui-fg-subtle">
      {label}
    </Text>
    <Text size="small" weight="plus">
      {value}
    </Text>
  </div>
);

/** An id shown in full, selectable, with a copy button. */
const Ref = ({ value, testId }: { value: string | null | undefined; testId?: string }) =>
  value ? (
    <span className="inline-flex max-w-full items-center gap-x-1">
      <code className="txt-compact-xsmall text-ui-fg-base select-all break-all font-mono" data-testid={testId}>
        {value}
      </code>
      <Copy content={value} className="text-ui-fg-muted shrink-0" />
    </span>
  ) : (
    <span className="text-ui-fg-muted">—</span>
  );

const Expiry = ({ expiresAt, expiry }: { expiresAt: string | null; expiry: OrderPanel["klarna"]["expiry"] }) => {
  if (!expiresAt) return <>—</>;
  if (!expiry) {
    return <span className="text-ui-fg-subtle">{formatDate(expiresAt)} (nothing left to capture)</span>;
  }
  const color = expiry.state === "past" ? "red" : expiry.state === "near" ? "orange" : "green";
  const text = expiry.state === "past" ? "expired" : `${expiry.days_left} day${expiry.days_left === 1 ? "" : "s"} left`;
  return (
    <span className="inline-flex items-center gap-x-2" data-testid="klarna-expiry" data-state={expiry.state}>
      {formatDate(expiresAt)}
      <Badge size="2xsmall" color={color}>
        {text}
      </Badge>
    </span>
  );
};

const PURPOSE: Record<PanelRefund["purpose"], string> = {
  return: "Return",
  claim: "Claim",
  swap: "Exchange",
  manual: "Manual refund",
  fee_waiver: "Fee refund",
  adoption: "Recorded",
};

/**
 * Whether Medusa's books hold a refund, in the admin's words: Klarna's money moved (or not) and
 * Medusa recorded it (or not), and why not.
 */
function medusaRecord(
  r: PanelRefund,
  finding: PanelFinding | undefined,
): { state: "recorded" | "not_recorded" | "nothing" | "pending"; title: string; detail?: string } {
  if (r.status === "failed") return { state: "nothing", title: "Nothing to record in Medusa", detail: "Klarna refused it, no money moved." };
  if (r.status !== "succeeded")
    return { state: "not_recorded", title: "Not recorded in Medusa", detail: "Klarna has not confirmed this refund yet; check it with Klarna." };
  switch (r.medusa_state) {
    case "recorded":
      return { state: "recorded", title: "Recorded in Medusa" };
    case "adopted":
      return { state: "recorded", title: "Recorded in Medusa", detail: "by a later entry for the same Klarna refund (nothing was refunded twice)." };
    case "not_recorded":
      return {
        state: "not_recorded",
        title: "Not recorded in Medusa",
        detail: `Klarna made this refund, but the request that asked for it ended without Medusa recording it.${finding ? " See “Klarna and Medusa” below." : ""}`,
      };
    default:
      return finding
        ? {
            state: "not_recorded",
            title: "Not recorded in Medusa",
            detail: "Klarna made this refund and Medusa has no refund for it. See “Klarna and Medusa” below.",
          }
        : {
            state: "pending",
            title: "Medusa's record not confirmed yet",
            detail: "the request that made it may still be running; refresh in a moment.",
          };
  }
}

const MEDUSA_COLOR = { recorded: "green", not_recorded: "orange", nothing: "grey", pending: "grey" } as const;

const MedusaRecord = ({ refund, finding }: { refund: PanelRefund; finding?: PanelFinding }) => {
  const m = medusaRecord(refund, finding);
  return (
    <div className="flex flex-wrap items-center gap-x-2 gap-y-1" data-testid="klarna-refund-medusa" data-state={m.state}>
      <StatusBadge color={MEDUSA_COLOR[m.state]} className="shrink-0 whitespace-nowrap">
        {m.title}
      </StatusBadge>
      {m.detail && (
        <Text size="xsmall" className="text-ui-fg-subtle">
          {m.detail}
        </Text>
      )}
    </div>
  );
};

const RefundCard = ({
  refund: r,
  money,
  waivable,
  checkable,
  finding,
  busy,
  onWaive,
  onCheck,
}: {
  refund: PanelRefund;
  money: (n: number) => string;
  waivable?: number;
  checkable: boolean;
  finding?: PanelFinding;
  busy: string | null;
  onWaive: () => void;
  onCheck: () => void;
}) => (
  <div
    className="border-ui-border-base flex flex-col gap-y-3 rounded-lg border p-4"
    data-testid="klarna-refund"
    data-refund-id={r.id}
    data-status={r.status}
  >
    <div className="flex items-start justify-between gap-x-4">
      <div className="flex min-w-0 flex-col gap-y-1">
        <div className="flex items-start gap-x-2">
          <Badge size="2xsmall" color="grey" className="shrink-0 whitespace-nowrap">
            {PURPOSE[r.purpose]}
          </Badge>
          <Text size="small" weight="plus" className="break-words">
            {/* An adoption's label repeats the Klarna refund id shown below. */}
            {r.purpose === "adoption" ? "Refund Klarna had already made" : r.label}
          </Text>
        </div>
        <Text size="xsmall" className="text-ui-fg-subtle">
          {formatDate(r.created_at)} ·{" "}
          {r.purpose === "adoption"
            ? "read from Klarna's order, nothing sent to Klarna"
            : `${r.attempts} attempt${r.attempts === 1 ? "" : "s"} · source ${r.source}`}
        </Text>
      </div>
      <div className="flex shrink-0 items-center gap-x-3">
        <Text size="small" weight="plus">
          {money(r.amount)}
        </Text>
        <StatusBadge color={refundColor(r.status)} data-testid="klarna-refund-status">
          {r.status}
        </StatusBadge>
      </div>
    </div>

    <MedusaRecord refund={r} finding={finding} />

    <div className="flex flex-col gap-y-2">
      <Field label="Klarna refund id">
        <Ref value={r.klarna_refund_id} />
      </Field>
      {r.purpose !== "adoption" && (
        <Field label="Idempotency key">
          <Ref value={r.idempotency_key} testId="klarna-idempotency-key" />
        </Field>
      )}
    </div>

    {r.lines.length > 0 && (
      <Table>
        <Table.Header>
          <Table.Row>
            <Table.HeaderCell>Line sent to Klarna</Table.HeaderCell>
            <Table.HeaderCell>Type</Table.HeaderCell>
            <Table.HeaderCell className="text-right">Qty</Table.HeaderCell>
            <Table.HeaderCell className="text-right">Total</Table.HeaderCell>
          </Table.Row>
        </Table.Header>
        <Table.Body>
          {r.lines.map((l, i) => (
            <Table.Row
              key={i}
              data-testid="klarna-refund-line"
              data-return-fee={l.is_return_fee ? "true" : "false"}
              className={l.is_return_fee ? "bg-ui-tag-orange-bg" : undefined}
            >
              <Table.Cell>
                <span className="inline-flex items-center gap-x-2">
                  {l.name}
                  {l.is_return_fee && (
                    <Badge size="2xsmall" color="orange">
                      Return fee
                    </Badge>
                  )}
                </span>
              </Table.Cell>
              <Table.Cell>
                <code className="txt-compact-xsmall font-mono">{l.type ?? "—"}</code>
              </Table.Cell>
              <Table.Cell className="text-right">{l.quantity}</Table.Cell>
              <Table.Cell className="text-right">{money(l.total_amount)}</Table.Cell>
            </Table.Row>
          ))}
        </Table.Body>
      </Table>
    )}

    {r.error && (
      <div className="bg-ui-bg-subtle border-ui-tag-red-border flex flex-col gap-y-2 rounded-lg border px-4 py-3" data-testid="klarna-refund-error">
        <Text size="small" weight="plus" className="text-ui-tag-red-text">
          Klarna's answer
        </Text>
        <Text size="small" className="text-ui-fg-base select-text" data-testid="klarna-refund-error-message">
          {r.error.message}
        </Text>
        <div className="grid grid-cols-3 gap-x-4">
          <Field label="Code">
            <Ref value={r.error.code} testId="klarna-refund-error-code" />
          </Field>
          <Field label="Correlation id">
            <Ref value={r.error.correlation_id} testId="klarna-refund-error-correlation" />
          </Field>
          <Field label="HTTP status">{r.error.http_status ?? "—"}</Field>
        </div>
      </div>
    )}

    {(waivable !== undefined || checkable) && (
      <div className="flex items-center justify-end gap-x-2">
        {checkable && (
          <Action busy={busy === `check:${r.id}`} onClick={onCheck} testId="klarna-check-refund">
            Check with Klarna
          </Action>
        )}
        {waivable !== undefined && (
          <Action busy={busy === `waive:${r.resource_id}`} onClick={onWaive} testId="klarna-waive-fee">
            Give {money(waivable)} fee back
          </Action>
        )}
      </div>
    )}
  </div>
);

const Agreement = ({
  agreement: a,
  money,
  adoptable,
  busy,
  onRecord,
}: {
  agreement: OrderPanel["agreement"];
  money: (n: number | null | undefined) => string;
  adoptable: Map<string, { klarna_refund_id: string; amount: number }>;
  busy: string | null;
  onRecord: (adopt: { klarna_refund_id: string; amount: number }) => void;
}) => (
  <div className="flex flex-col gap-y-3" data-testid="klarna-agreement" data-agrees={String(a.agrees)}>
    <div className="flex items-center gap-x-2">
      {a.agrees === true && <StatusBadge color="green">Klarna and Medusa agree</StatusBadge>}
      {a.agrees === false && <StatusBadge color="red">Klarna and Medusa differ</StatusBadge>}
      {a.agrees === null && <StatusBadge color="grey">Klarna's side unknown</StatusBadge>}
    </div>
    <Table>
      <Table.Header>
        <Table.Row>
          <Table.HeaderCell></Table.HeaderCell>
          <Table.HeaderCell className="text-right">Klarna</Table.HeaderCell>
          <Table.HeaderCell className="text-right">Medusa</Table.HeaderCell>
        </Table.Row>
      </Table.Header>
      <Table.Body>
        <Table.Row>
          <Table.Cell>Captured</Table.Cell>
          <Table.Cell className="text-right">{a.klarna ? money(a.klarna.captured) : "—"}</Table.Cell>
          <Table.Cell className="text-right">{money(a.medusa.captured)}</Table.Cell>
        </Table.Row>
        <Table.Row>
          <Table.Cell>Refunded</Table.Cell>
          <Table.Cell className="text-right">{a.klarna ? money(a.klarna.refunded) : "—"}</Table.Cell>
          <Table.Cell className="text-right">{money(a.medusa.refunded)}</Table.Cell>
        </Table.Row>
      </Table.Body>
    </Table>
    {a.findings.map((f, i) => {
      const adopt = f.klarna_refund_id ? adoptable.get(f.klarna_refund_id) : undefined;
      return (
        <Alert key={i} variant="warning" data-testid="klarna-finding" data-kind={f.kind}>
          <div className="flex flex-col gap-y-2">
            <span className="select-text">{f.message}</span>
            <span>
              <span className="font-medium">What to do:</span> <span data-testid="klarna-finding-action">{f.suggested_action}</span>
            </span>
            {adopt && (
              <div className="flex justify-end">
                <Action
                  busy={busy === `adopt:${adopt.klarna_refund_id}`}
                  onClick={() => onRecord(adopt)}
                  testId="klarna-record-refund"
                  data={{ "data-klarna-refund-id": adopt.klarna_refund_id }}
                >
                  Record refund
                </Action>
              </div>
            )}
          </div>
        </Alert>
      );
    })}
  </div>
);

function statusColor(status: string): "green" | "orange" | "red" | "grey" | "blue" {
  if (status === "CAPTURED") return "green";
  if (status === "AUTHORIZED" || status === "PART_CAPTURED") return "blue";
  if (status === "CANCELLED" || status === "EXPIRED") return "red";
  return "grey";
}

function refundColor(status: PanelRefund["status"]): "green" | "orange" | "red" | "grey" {
  return status === "succeeded" ? "green" : status === "failed" ? "red" : "orange";
}

/** Minor units in the order's currency, as the admin reads them: "€26.18". */
function formatMoney(amount: number | null | undefined, currency: string): string {
  if (amount === null || amount === undefined) return "—";
  const code = currency.toUpperCase();
  try {
    const format = new Intl.NumberFormat("en-US", { style: "currency", currency: code });
    const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
    return format.format(amount / 10 ** digits);
  } catch {
    return `${(amount / 100).toFixed(2)} ${code}`;
  }
}

function formatDate(iso: string): string {
  return new Date(iso).toLocaleString("en-GB", { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
}

/** What Medusa answered (its `message`), else the error's own message. */
function messageOf(e: unknown): string {
  const err = e as { response?: { data?: { message?: string } }; message?: string } | null;
  return err?.response?.data?.message ?? err?.message ?? String(e);
}

export const config = { zone: "order.details.after" };

export default KlarnaOrderPanelWidget;
