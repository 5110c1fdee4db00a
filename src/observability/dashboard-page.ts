// The /admin page: static HTML and CSS, no data in it (the provider filter lists the providers'
// names). The script (dashboard-script.ts) asks for a platform-admin token, then polls
// /admin/stats and /admin/webhook-events with it.
import { PROVIDER_NAMES } from '../webhooks/providers/index.js';

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Carebook — operations</title>
<style>
  :root { --ink: #1d2733; --muted: #5b6b7c; --line: #d9e0e7; --ok: #1f8a4c; --bad: #c0392b; --accent: #2563eb; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f5f7fa; }
  header { display: flex; gap: 12px; align-items: center; padding: 12px 20px; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0 12px 0 0; }
  header input { flex: 1; max-width: 520px; padding: 6px 8px; border: 1px solid var(--line); border-radius: 4px; }
  button { padding: 6px 12px; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 4px; cursor: pointer; }
  button.secondary { background: #fff; color: var(--accent); }
  #status { color: var(--muted); }
  #status.error { color: var(--bad); }
  main { padding: 16px 20px; }
  h2 { font-size: 15px; margin: 20px 0 8px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 12px; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
  .card .label { color: var(--muted); font-size: 12px; }
  .card .value { font-size: 26px; font-weight: 600; margin: 2px 0 4px; font-variant-numeric: tabular-nums; }
  .card .value.bad { color: var(--bad); }
  .card svg { width: 100%; height: 36px; display: block; }
  .card svg polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
  .filters { display: flex; gap: 8px; align-items: center; margin-bottom: 8px; }
  .filters select, .filters input { padding: 4px 6px; border: 1px solid var(--line); border-radius: 4px; }
  table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { font-size: 12px; color: var(--muted); font-weight: 600; }
  td.error { color: var(--bad); max-width: 420px; word-break: break-word; }
  .empty { color: var(--muted); padding: 12px; }
</style>
</head>
<body>
<header>
  <h1>Carebook operations</h1>
  <input id="token" type="password" autocomplete="off" placeholder="Paste a platform_admin bearer token" aria-label="Bearer token">
  <button id="connect">Connect</button>
  <span id="status">Not connected</span>
</header>
<main>
  <h2>Bookings</h2>
  <div class="grid">
    <div class="card"><div class="label">Booking attempts (total, this process)</div><div class="value" data-testid="booking-attempts" id="booking-attempts">–</div><svg id="spark-attempts" viewBox="0 0 100 36" preserveAspectRatio="none"><polyline points=""/></svg></div>
    <div class="card"><div class="label">Conflicts (409 slot_unavailable)</div><div class="value" data-testid="booking-conflicts" id="booking-conflicts">–</div><svg id="spark-conflicts" viewBox="0 0 100 36" preserveAspectRatio="none"><polyline points=""/></svg></div>
    <div class="card"><div class="label">Booking latency p50 / p99 (ms)</div><div class="value" data-testid="booking-latency" id="booking-latency">–</div><svg id="spark-latency" viewBox="0 0 100 36" preserveAspectRatio="none"><polyline points=""/></svg></div>
    <div class="card"><div class="label">Unpaid holds now / expired</div><div class="value" data-testid="holds" id="holds">–</div></div>
    <div class="card"><div class="label">Booked slots needing review (schedule changed)</div><div class="value" data-testid="slots-needing-review" id="slots-needing-review">–</div></div>
  </div>
  <h2>Webhooks</h2>
  <div class="grid">
    <div class="card"><div class="label">Handled in the last minute, by provider</div><div class="value" data-testid="webhook-rate" id="webhook-rate">–</div><svg id="spark-rate" viewBox="0 0 100 36" preserveAspectRatio="none"><polyline points=""/></svg></div>
    <div class="card"><div class="label">Queue depth</div><div class="value" data-testid="queue-depth" id="queue-depth">–</div><svg id="spark-depth" viewBox="0 0 100 36" preserveAspectRatio="none"><polyline points=""/></svg></div>
    <div class="card"><div class="label">Oldest pending (s)</div><div class="value" data-testid="oldest-pending" id="oldest-pending">–</div><svg id="spark-oldest" viewBox="0 0 100 36" preserveAspectRatio="none"><polyline points=""/></svg></div>
    <div class="card"><div class="label">Dead letters</div><div class="value" data-testid="dead-letters" id="dead-letters">–</div><svg id="spark-dead" viewBox="0 0 100 36" preserveAspectRatio="none"><polyline points=""/></svg></div>
  </div>
  <h2>Queues</h2>
  <ul id="queue-warnings" data-testid="queue-warnings"></ul>
  <table>
    <thead><tr><th>Kind</th><th>Pending</th><th>Failed (retrying)</th><th>In flight</th><th>Interrupted</th><th>Needs reconcile</th><th>Dead letters</th><th>Oldest waiting (s)</th><th>Settled / failed, last minute</th></tr></thead>
    <tbody id="queue-rows" data-testid="queue-rows"><tr><td class="empty" colspan="9">Connect to see the queues.</td></tr></tbody>
  </table>
  <h2>Dead letters</h2>
  <div class="filters">
    <select id="filter-provider" aria-label="Provider"><option value="">all providers</option>${PROVIDER_NAMES.map((name) => `<option>${name}</option>`).join('')}</select>
    <input id="filter-type" placeholder="event type" aria-label="Event type">
    <button class="secondary" id="refresh">Refresh</button>
  </div>
  <table>
    <thead><tr><th>Provider</th><th>Type</th><th>Event id</th><th>Attempts</th><th>Last error</th><th>Received</th><th></th></tr></thead>
    <tbody id="dead-letter-rows" data-testid="dead-letter-rows"><tr><td class="empty" colspan="7">Connect to see dead letters.</td></tr></tbody>
  </table>
  <h2>Outbox dead letters</h2>
  <p class="label">Effects at providers that will not be retried. Replay (audited, with your reason) delivers them again; their dedupe keys keep each effect to one. Rows needing reconcile are counted under Queues and looked up by the worker.</p>
  <table>
    <thead><tr><th>Kind</th><th>Purpose</th><th>Appointment</th><th>Attempts</th><th>Last error</th><th>Staged</th><th></th></tr></thead>
    <tbody id="outbox-dead-rows" data-testid="outbox-dead-rows"><tr><td class="empty" colspan="7">Connect to see outbox dead letters.</td></tr></tbody>
  </table>
</main>
<script src="/admin/dashboard.js"></script>
</body>
</html>
`;
