// The /admin page's script, served as /admin/dashboard.js (kept apart from the HTML so the page
// can forbid inline scripts). Plain browser JavaScript: no build step, no dependencies.
// Text from the server is always inserted with textContent, never as HTML.

export const DASHBOARD_SCRIPT = `'use strict';
(() => {
  const POLL_MS = 2000;
  const HISTORY = 60;
  const $ = (id) => document.getElementById(id);
  const history = { attempts: [], conflicts: [], latency: [], rate: [], depth: [], oldest: [], dead: [] };
  let token = sessionStorage.getItem('carebook.token') || '';
  let timer = null;

  const sum = (object) => Object.values(object || {}).reduce((a, b) => a + b, 0);
  const perProvider = (object) => {
    const entries = Object.entries(object || {});
    return entries.length ? entries.map(([k, v]) => k + ' ' + v).join(' · ') : '0';
  };

  function setStatus(text, error) {
    $('status').textContent = text;
    $('status').className = error ? 'error' : '';
  }

  async function api(path, options) {
    const response = await fetch(path, {
      ...options,
      headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json', ...(options && options.headers) },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error((body.code || response.status) + (body.detail ? ': ' + body.detail : ''));
    return body;
  }

  function spark(id, series) {
    const points = series.slice(-HISTORY);
    const max = Math.max(1, ...points);
    const step = points.length > 1 ? 100 / (points.length - 1) : 100;
    $(id).querySelector('polyline').setAttribute('points', points.map((v, i) => (i * step).toFixed(1) + ',' + (34 - (v / max) * 32).toFixed(1)).join(' '));
  }

  function push(name, value) {
    history[name].push(value);
    if (history[name].length > HISTORY) history[name].shift();
  }

  function render(stats) {
    const attempts = sum(stats.booking.attempts);
    $('booking-attempts').textContent = String(attempts);
    $('booking-conflicts').textContent = String(stats.booking.conflicts);
    const latency = stats.booking.latencyMs;
    $('booking-latency').textContent = (latency.p50 ?? '–') + ' / ' + (latency.p99 ?? '–');
    $('holds').textContent = stats.booking.activeHolds + ' / ' + stats.booking.holdsExpired;
    $('slots-needing-review').textContent = String(stats.booking.slotsNeedingReview);
    $('webhook-rate').textContent = perProvider(stats.webhooks.handledLastMinute);
    $('queue-depth').textContent = perProvider(stats.webhooks.queueDepth);
    $('oldest-pending').textContent = perProvider(stats.webhooks.oldestPendingSeconds);
    const dead = sum(stats.webhooks.deadLetters);
    $('dead-letters').textContent = String(dead);
    $('dead-letters').className = 'value' + (dead > 0 ? ' bad' : '');
    push('attempts', attempts);
    push('conflicts', stats.booking.conflicts);
    push('latency', latency.p99 || 0);
    push('rate', sum(stats.webhooks.handledLastMinute));
    push('depth', sum(stats.webhooks.queueDepth));
    push('oldest', Math.max(0, ...Object.values(stats.webhooks.oldestPendingSeconds)));
    push('dead', dead);
    spark('spark-attempts', history.attempts);
    spark('spark-conflicts', history.conflicts);
    spark('spark-latency', history.latency);
    spark('spark-rate', history.rate);
    spark('spark-depth', history.depth);
    spark('spark-oldest', history.oldest);
    spark('spark-dead', history.dead);
    renderQueues(stats.queues);
    const warnings = $('queue-warnings');
    warnings.replaceChildren();
    for (const warning of stats.warnings) {
      const item = document.createElement('li');
      item.className = 'error';
      item.textContent = warning;
      warnings.appendChild(item);
    }
  }

  function renderQueues(queues) {
    const body = $('queue-rows');
    body.replaceChildren();
    for (const queue of queues) {
      const row = body.insertRow();
      row.dataset.kind = queue.kind;
      cell(row, queue.kind);
      cell(row, String(queue.pending));
      cell(row, String(queue.failed));
      cell(row, String(queue.in_flight));
      cell(row, String(queue.interrupted), queue.interrupted > 0 ? 'error' : '');
      cell(row, String(queue.needs_reconcile), queue.needs_reconcile > 0 ? 'error' : '');
      cell(row, String(queue.dead_letter), queue.dead_letter > 0 ? 'error' : '');
      cell(row, queue.oldest_waiting_seconds === null ? '–' : String(queue.oldest_waiting_seconds));
      cell(row, queue.settled_last_minute + ' / ' + queue.failed_last_minute);
    }
  }

  function cell(row, text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  async function loadDeadLetters() {
    const query = new URLSearchParams({ status: 'dead_letter', limit: '100' });
    if ($('filter-provider').value) query.set('provider', $('filter-provider').value);
    if ($('filter-type').value.trim()) query.set('event_type', $('filter-type').value.trim());
    const { events } = await api('/admin/webhook-events?' + query);
    const body = $('dead-letter-rows');
    body.replaceChildren();
    if (events.length === 0) {
      const row = body.insertRow();
      cell(row, 'No dead letters.', 'empty').colSpan = 7;
      return;
    }
    for (const event of events) {
      const row = body.insertRow();
      row.dataset.eventId = event.id;
      cell(row, event.provider);
      cell(row, event.event_type);
      cell(row, event.event_id);
      cell(row, String(event.attempts));
      cell(row, event.last_error || '', 'error');
      cell(row, new Date(event.received_at).toLocaleString());
      const button = document.createElement('button');
      button.textContent = 'Replay';
      button.className = 'secondary';
      button.dataset.testid = 'replay';
      button.addEventListener('click', () => replay(event));
      cell(row, '').appendChild(button);
    }
  }

  async function replay(event) {
    const reason = window.prompt('Why replay ' + event.event_type + ' ' + event.event_id + '? (kept in the audit trail)');
    if (!reason || reason.trim().length < 3) return;
    try {
      const result = await api('/admin/webhook-events/replay', { method: 'POST', body: JSON.stringify({ ids: [event.id], reason: reason.trim() }) });
      setStatus(result.replayed === 1 ? 'Replayed ' + event.event_id : 'Not replayed: ' + (result.skipped[0]?.reason || 'no longer a dead letter'), result.replayed !== 1);
      await loadDeadLetters();
    } catch (error) {
      setStatus('Replay failed: ' + error.message, true);
    }
  }

  async function loadOutboxDeadLetters() {
    const { rows } = await api('/admin/outbox?' + new URLSearchParams({ status: 'failed', limit: '100' }));
    const body = $('outbox-dead-rows');
    body.replaceChildren();
    if (rows.length === 0) {
      const row = body.insertRow();
      cell(row, 'No outbox dead letters.', 'empty').colSpan = 7;
      return;
    }
    for (const entry of rows) {
      const row = body.insertRow();
      row.dataset.outboxId = entry.id;
      cell(row, entry.kind);
      cell(row, entry.purpose);
      cell(row, entry.appointment_id);
      cell(row, String(entry.attempts));
      cell(row, entry.last_error || '', 'error');
      cell(row, new Date(entry.created_at).toLocaleString());
      const button = document.createElement('button');
      button.textContent = 'Replay';
      button.className = 'secondary';
      button.dataset.testid = 'outbox-replay';
      button.addEventListener('click', () => replayOutbox(entry));
      cell(row, '').appendChild(button);
    }
  }

  async function replayOutbox(entry) {
    const reason = window.prompt('Why replay ' + entry.kind + ' (' + entry.purpose + ') of appointment ' + entry.appointment_id + '? (kept in the audit trail)');
    if (!reason || reason.trim().length < 3) return;
    try {
      const result = await api('/admin/outbox/replay', { method: 'POST', body: JSON.stringify({ ids: [entry.id], reason: reason.trim() }) });
      setStatus(result.replayed.length === 1 ? 'Replayed ' + entry.kind + ' ' + entry.id : 'Not replayed: no longer a dead letter', result.replayed.length !== 1);
      await loadOutboxDeadLetters();
    } catch (error) {
      setStatus('Replay failed: ' + error.message, true);
    }
  }

  async function tick() {
    try {
      render(await api('/admin/stats'));
      setStatus('Live · ' + new Date().toLocaleTimeString());
    } catch (error) {
      setStatus('Cannot load stats: ' + error.message, true);
    }
  }

  async function connect() {
    token = $('token').value.trim();
    sessionStorage.setItem('carebook.token', token);
    clearInterval(timer);
    await tick();
    await loadDeadLetters().catch((error) => setStatus('Cannot load dead letters: ' + error.message, true));
    await loadOutboxDeadLetters().catch((error) => setStatus('Cannot load outbox dead letters: ' + error.message, true));
    timer = setInterval(() => {
      tick();
      loadDeadLetters().catch(() => {});
      loadOutboxDeadLetters().catch(() => {});
    }, POLL_MS);
  }

  $('connect').addEventListener('click', connect);
  $('refresh').addEventListener('click', () => {
    loadDeadLetters().catch((error) => setStatus(error.message, true));
    loadOutboxDeadLetters().catch((error) => setStatus(error.message, true));
  });
  $('token').value = token;
  if (token) connect();
})();
`;
