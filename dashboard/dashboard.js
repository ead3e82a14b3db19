// The dashboard's script: plain browser JavaScript, no build step, no dependency. It reads the
// same HTTP API as any client (GET /api/batches, GET /api/batches/{id}, POST .../redrive) and
// builds the page with textContent only, so nothing the API returns is ever parsed as HTML.
'use strict';

(() => {
  const STATUSES = ['Queued', 'Processing', 'Invited', 'Accepted', 'Expired', 'Removed', 'Left', 'Failed', 'DeadLettered'];
  const LABELS = {
    Queued: 'Queued',
    Processing: 'Processing',
    Invited: 'Invited',
    Accepted: 'Accepted',
    Expired: 'Expired',
    Removed: 'Guest deleted',
    Left: 'Left',
    Failed: 'Failed',
    DeadLettered: 'Dead-lettered',
    Duplicate: 'In another batch',
  };
  const KEY_STORAGE = 'entra-invite-function-key';
  // Counts are a few point reads whatever a batch's size: cheap enough to poll every second while it runs.
  const RUNNING_POLL_MS = 1_000;
  const IDLE_POLL_MS = 5_000;
  const PEOPLE_PAGE = 50;
  const RATE_WINDOW_MS = 10_000;

  const $ = (id) => document.getElementById(id);
  let key = sessionStorage.getItem(KEY_STORAGE) ?? '';
  let poll;
  let batch;

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (name === 'class') node.className = value;
      else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  /** A line for the reader: what an action did, or what went wrong (cleared by the next successful read). */
  function notice(message, { problem = true } = {}) {
    $('notice').textContent = message;
    $('notice').dataset.problem = problem ? 'yes' : 'no';
  }

  function clearProblem() {
    if ($('notice').dataset.problem === 'yes') notice('');
  }

  async function api(path, init = {}) {
    const response = await fetch(path, { ...init, headers: { ...(key ? { 'x-functions-key': key } : {}), ...init.headers } });
    const type = response.headers.get('content-type') ?? '';
    const body = type.includes('json') ? await response.json() : await response.text();
    if (response.status === 401) throw new Error('The API asks for a function key: enter one above.');
    if (!response.ok && !(response.status === 400 && body.items)) throw new Error(body.detail ?? `The API answered ${response.status}.`);
    return body;
  }

  const peopleIn = (summary) => summary.duplicates + STATUSES.reduce((sum, status) => sum + summary.counts[status], 0);
  const inFlight = (summary) => summary.counts.Queued + summary.counts.Processing;
  const finished = (summary) =>
    STATUSES.filter((status) => !['Queued', 'Processing'].includes(status)).reduce((sum, status) => sum + summary.counts[status], 0);

  function describeCounts(summary) {
    const parts = [...STATUSES.map((status) => [status, summary.counts[status]]), ['Duplicate', summary.duplicates]];
    return parts.filter(([, count]) => count > 0).map(([status, count]) => `${count} ${LABELS[status]}`);
  }

  function progressBar(summary) {
    const total = peopleIn(summary);
    const described = describeCounts(summary);
    const bar = el('div', { class: 'bar', role: 'img', 'aria-label': `Progress: ${described.join(', ') || 'no people'}` });
    for (const status of [...STATUSES, 'Duplicate']) {
      const count = status === 'Duplicate' ? summary.duplicates : summary.counts[status];
      if (count === 0) continue;
      const part = el('span', { class: `s-${status}`, title: `${count} ${LABELS[status]}` });
      part.style.width = `${((100 * count) / total).toFixed(2)}%`;
      bar.append(part);
    }
    return bar;
  }

  const sourceOf = (summary) =>
    !summary.source
      ? ''
      : summary.source.kind === 'roster'
        ? `roster ${summary.source.roster}`
        : summary.source.kind === 'cli'
          ? 'CLI'
          : 'API';
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');

  function schedule(work, ms) {
    clearTimeout(poll);
    poll = setTimeout(work, ms);
  }

  // ----- recent batches -----

  async function showBatches() {
    batch = undefined;
    $('batch-view').hidden = true;
    $('batches-view').hidden = false;
    document.title = 'Invitations — entra-invite-pipeline';
    await refreshBatches();
  }

  async function refreshBatches() {
    try {
      const { batches } = await api('/api/batches?pageSize=50');
      const list = $('batches');
      list.replaceChildren(
        ...batches.map((summary) => {
          const total = peopleIn(summary);
          return el(
            'li',
            {},
            el(
              'div',
              { class: 'line' },
              el('a', { href: `#/batches/${encodeURIComponent(summary.batchId)}` }, summary.batchId),
              el('span', { class: 'muted' }, [sourceOf(summary), when(summary.createdAt)].filter(Boolean).join(' · ')),
            ),
            progressBar(summary),
            el('p', { class: 'muted' }, `${total} people: ${describeCounts(summary).join(', ') || 'none yet'}`),
          );
        }),
      );
      if (batches.length === 0) list.append(el('li', {}, 'No batch yet: submit invitations to POST /api/invitations, or drop a roster.'));
      clearProblem();
    } catch (error) {
      notice(error.message);
    }
    if (!batch) schedule(refreshBatches, IDLE_POLL_MS);
  }

  // ----- one batch -----

  async function showBatch(batchId) {
    batch = { id: batchId, samples: [], after: undefined, attention: '' };
    $('batches-view').hidden = true;
    $('batch-view').hidden = false;
    $('batch-heading').textContent = `Batch ${batchId}`;
    $('status').value = '';
    document.title = `Batch ${batchId} — entra-invite-pipeline`;
    $('batch-heading').setAttribute('tabindex', '-1');
    $('batch-heading').focus();
    await refreshBatch();
  }

  async function refreshBatch() {
    const current = batch;
    if (!current) return;
    let report;
    try {
      const status = $('status').value;
      report = await api(`/api/batches/${encodeURIComponent(current.id)}?pageSize=${PEOPLE_PAGE}${status ? `&status=${status}` : ''}`);
      if (current !== batch) return;
      renderSummary(report);
      // A page the reader extended with "More people" stays as it is; the first page follows the batch.
      if (!current.extended) renderPeople(report, false);
      clearProblem();
    } catch (error) {
      notice(error.message);
    }
    if (current === batch) schedule(refreshBatch, report && inFlight(report) > 0 ? RUNNING_POLL_MS : IDLE_POLL_MS);
  }

  function renderSummary(report) {
    $('batch-source').textContent = [sourceOf(report), when(report.createdAt) && `created ${when(report.createdAt)}`]
      .filter(Boolean)
      .join(' · ');
    $('batch-bar').replaceChildren(progressBar(report));
    $('batch-counts').replaceChildren(
      ...[...STATUSES, 'Duplicate'].map((status) => {
        const term = el('dt', {}, LABELS[status]);
        term.style.setProperty('--swatch', `var(--${status.toLowerCase()})`);
        return el('div', {}, term, el('dd', {}, String(status === 'Duplicate' ? report.duplicates : report.counts[status])));
      }),
    );
    const now = Date.now();
    batch.samples.push({ at: now, finished: finished(report) });
    batch.samples = batch.samples.filter((sample) => now - sample.at <= 10 * 60_000);
    const left = inFlight(report);
    $('batch-progress').textContent =
      left === 0 ? `Done: all ${peopleIn(report)} people have a final status.` : `${left} still to go${timeLeft(left)}.`;
    $('redrive-all').disabled = report.counts.Failed + report.counts.DeadLettered === 0;
    drawThroughput();
    const attention = `${report.counts.Failed}/${report.counts.DeadLettered}`;
    if (attention !== batch.attention) {
      batch.attention = attention;
      void loadAttention(report);
    }
  }

  /** The failed and dead-lettered people with Graph's reason: read again only when their numbers change. */
  async function loadAttention(report) {
    const current = batch;
    const wanted = ['Failed', 'DeadLettered'].filter((status) => report.counts[status] > 0);
    const pages = await Promise.all(
      wanted.map((status) => api(`/api/batches/${encodeURIComponent(current.id)}?status=${status}&pageSize=20`)),
    ).catch((error) => notice(error.message));
    if (current !== batch || !pages) return;
    const items = pages.flatMap((page) => page.items);
    $('attention-section').hidden = items.length === 0;
    $('attention').replaceChildren(
      ...items.map((item) =>
        el(
          'li',
          {},
          el('strong', {}, item.email),
          ` — ${LABELS[item.status]}: ${item.error ? `${item.error.code}: ${item.error.message}` : 'no reason recorded'} `,
          el('button', { type: 'button', onclick: () => redrive([item.id], item.email) }, 'Submit again'),
        ),
      ),
    );
  }

  /** Time left at the rate of the last ten seconds. */
  function timeLeft(left) {
    const recent = batch.samples.filter((sample) => Date.now() - sample.at <= RATE_WINDOW_MS);
    if (recent.length < 2) return '';
    const first = recent[0];
    const last = recent[recent.length - 1];
    const rate = (last.finished - first.finished) / ((last.at - first.at) / 1000);
    if (rate <= 0) return '';
    const seconds = Math.ceil(left / rate);
    return seconds < 90 ? `, about ${seconds} s left` : `, about ${Math.ceil(seconds / 60)} min left`;
  }

  function drawThroughput() {
    const svg = $('throughput');
    const ns = 'http://www.w3.org/2000/svg';
    const node = (tag, attributes) => {
      const shape = document.createElementNS(ns, tag);
      for (const [name, value] of Object.entries(attributes)) shape.setAttribute(name, String(value));
      return shape;
    };
    const { samples } = batch;
    const rates = samples.slice(1).map((sample, i) => ({
      at: sample.at,
      // Never below zero: people submitted again leave the finished count for a while.
      rate: Math.max(0, sample.finished - samples[i].finished) / Math.max(0.001, (sample.at - samples[i].at) / 1000),
    }));
    const width = 600;
    const height = 160;
    const pad = 30;
    const children = [node('line', { x1: pad, y1: height - pad, x2: width - 5, y2: height - pad, stroke: '#9ca3af' })];
    if (rates.length > 1) {
      const maxRate = Math.max(1, ...rates.map((point) => point.rate));
      const start = rates[0].at;
      const span = Math.max(1, rates[rates.length - 1].at - start);
      const points = rates.map(
        (point) =>
          `${(pad + ((point.at - start) / span) * (width - pad - 5)).toFixed(1)},${(height - pad - (point.rate / maxRate) * (height - 2 * pad)).toFixed(1)}`,
      );
      children.push(node('polyline', { points: points.join(' '), fill: 'none', stroke: '#2563eb', 'stroke-width': 2 }));
      const top = node('text', { x: 2, y: pad, 'font-size': 11, fill: '#374151' });
      top.textContent = `${maxRate.toFixed(1)}/s`;
      const axis = node('text', { x: width - 40, y: height - 8, 'font-size': 11, fill: '#374151' });
      axis.textContent = 'now';
      children.push(top, axis);
      $('throughput-caption').textContent =
        `Invitations finished per second over the last ${Math.round(span / 1000)} s (peak ${maxRate.toFixed(1)}/s).`;
    }
    svg.replaceChildren(...children);
  }

  function renderPeople(report, append) {
    const body = $('people').tBodies[0];
    const rows = report.items.map((item) => {
      // Our own email's outcome when it needs an operator: Unknown (look in the Sent Items first) or Failed.
      const emailNote = ['Unknown', 'Failed'].includes(item.emailStatus) ? `Email ${item.emailStatus}: ${item.emailError ?? ''}` : '';
      const reason = [item.error ? `${item.error.code}: ${item.error.message}` : '', emailNote].filter(Boolean).join(' · ');
      const action =
        item.status === 'Failed' || item.status === 'DeadLettered'
          ? el('button', { type: 'button', onclick: () => redrive([item.id], item.email) }, 'Submit again')
          : '';
      return el(
        'tr',
        {},
        el('td', {}, item.email),
        el('td', {}, item.duplicate ? `${LABELS[item.status]} (${LABELS.Duplicate.toLowerCase()})` : LABELS[item.status]),
        el('td', { class: 'reason' }, reason),
        el('td', {}, when(item.updatedAt)),
        el('td', {}, action),
      );
    });
    if (append) body.append(...rows);
    else body.replaceChildren(...rows);
    batch.after = report.continuationToken;
    const status = $('status').value;
    $('people-caption').textContent = `${body.rows.length} of ${report.total} ${status ? LABELS[status].toLowerCase() : 'people'}`;
    $('more-people').hidden = !report.continuationToken;
  }

  async function morePeople() {
    if (!batch?.after) return;
    batch.extended = true;
    const status = $('status').value;
    const query = `pageSize=${PEOPLE_PAGE}&continuationToken=${encodeURIComponent(batch.after)}${status ? `&status=${status}` : ''}`;
    try {
      renderPeople(await api(`/api/batches/${encodeURIComponent(batch.id)}?${query}`), true);
    } catch (error) {
      notice(error.message);
    }
  }

  async function redrive(ids, who) {
    try {
      const answer = await api(`/api/batches/${encodeURIComponent(batch.id)}/redrive`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ids ? { ids } : {}),
      });
      const queued = answer.items.filter((item) => !item.duplicate).length;
      notice(
        who && queued === 1
          ? `${who} submitted again.`
          : `${queued} people submitted again${answer.remaining ? `; ${answer.remaining} more to submit` : ''}.`,
        { problem: false },
      );
      batch.extended = false;
      await refreshBatch();
    } catch (error) {
      notice(error.message);
    }
  }

  /** The results CSV through fetch (with the key in a header, never in a URL), saved as a file. */
  async function download(event) {
    event.preventDefault();
    try {
      const csv = await api(`/api/batches/${encodeURIComponent(batch.id)}?format=csv`, { headers: { accept: 'text/csv' } });
      const link = el('a', { href: URL.createObjectURL(new Blob([csv], { type: 'text/csv' })), download: `${batch.id}-results.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
    } catch (error) {
      notice(error.message);
    }
  }

  /**
   * The banner while sending is paused (an operator's pause, or the tenant's refusal): from
   * GET /api/health, which answers 503 then, with the reason in words.
   */
  async function refreshSending() {
    try {
      const response = await fetch('/api/health', { headers: key ? { 'x-functions-key': key } : {} });
      const sending = response.headers.get('content-type')?.includes('json') ? (await response.json()).sending : undefined;
      $('sending').textContent =
        sending?.state === 'paused'
          ? `Sending is paused (${sending.kind === 'tenant' ? 'by the tenant' : `by ${sending.by ?? 'an operator'}`}) since ${new Date(sending.since).toLocaleString()}: ${sending.reason.replace(/[.\s]*$/, '.')} ${sending.waiting} message(s) wait.`
          : '';
    } catch {
      // Health unreachable: the batch views say so already.
    }
    setTimeout(refreshSending, IDLE_POLL_MS);
  }

  // ----- a plan before submitting (POST /api/invitations?dryRun=true) -----

  let planned;

  /** The chosen file as the intake takes it: the portal's CSV, or JSON. */
  async function chosenFile() {
    const file = $('plan-file').files[0];
    if (!file) throw new Error('Choose a file to plan.');
    const type = /\.csv$/i.test(file.name) ? 'text/csv' : 'application/json';
    return { name: file.name, type, text: await file.text() };
  }

  async function plan(event) {
    event.preventDefault();
    try {
      planned = await chosenFile();
      const answer = await api('/api/invitations?dryRun=true', {
        method: 'POST',
        headers: { 'content-type': planned.type },
        body: planned.text,
      });
      const { summary, tenant, entries } = answer;
      const counts = Object.entries(summary.counts).filter(([, count]) => count > 0);
      $('plan-summary').textContent =
        `${planned.name}: ${summary.rows} row(s): ${counts.map(([outcome, count]) => `${count} ${outcome}`).join(', ') || 'none'}. ` +
        `The real run: ${summary.graphWrites} Graph write(s), ${summary.emails} email(s), about ${summary.minutes} minute(s). Nothing was written.`;
      const unchecked = entries.find((entry) => entry.directoryNotChecked);
      $('plan-tenant').replaceChildren(
        el('li', {}, `Guest invitations: ${tenant.guestInvites.detail}`),
        el('li', {}, `Directory quota: ${tenant.directoryQuota.detail}`),
        ...(unchecked ? [el('li', {}, `Existing guests and members: ${unchecked.directoryNotChecked}`)] : []),
      );
      $('plan-rows')
        .querySelector('tbody')
        .replaceChildren(
          ...entries.map((entry) =>
            el(
              'tr',
              { class: `o-${entry.outcome}` },
              el('td', {}, String(entry.row)),
              el('td', {}, entry.email),
              el('td', {}, entry.outcome),
              el('td', {}, entry.reasons ? entry.reasons.map((reason) => `${reason.path}: ${reason.message}`).join('; ') : entry.realRun),
            ),
          ),
        );
      $('plan').hidden = false;
      clearProblem();
    } catch (error) {
      notice(error.message);
    }
  }

  /** The planned file, submitted for real: its batch opens. */
  async function submitPlanned() {
    try {
      const answer = await api('/api/invitations', { method: 'POST', headers: { 'content-type': planned.type }, body: planned.text });
      notice(`${answer.items.filter((item) => !item.duplicate).length} people queued, ${answer.rejected.length} rows rejected.`, {
        problem: false,
      });
      $('plan').hidden = true;
      location.hash = `#/batches/${encodeURIComponent(answer.batchId)}`;
    } catch (error) {
      notice(error.message);
    }
  }

  // ----- wiring -----

  function route() {
    clearTimeout(poll);
    const match = /^#\/batches\/([A-Za-z0-9_-]{1,64})$/.exec(location.hash);
    if (match) void showBatch(match[1]);
    else void showBatches();
  }

  $('key').value = key;
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    key = $('key').value.trim();
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
    route();
  });
  $('status').addEventListener('change', () => {
    batch.extended = false;
    clearTimeout(poll);
    void refreshBatch();
  });
  $('filter').addEventListener('submit', (event) => event.preventDefault());
  $('more-people').addEventListener('click', morePeople);
  $('redrive-all').addEventListener('click', () => redrive(undefined));
  $('download').addEventListener('click', download);
  $('plan-form').addEventListener('submit', plan);
  $('plan-submit').addEventListener('click', submitPlanned);
  window.addEventListener('hashchange', route);
  route();
  void refreshSending();
})();
