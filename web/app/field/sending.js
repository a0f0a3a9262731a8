// The outbox at work: a tap stores the command with its id, `flush` sends what waits, in order,
// when the connection can take it; an ack removes it (a duplicate ack too), a refusal moves it to
// the refused list, anything else leaves it waiting for the next chance, with the same id.
import { t } from '/shared/i18n.js';
import { outbox, newCommandId } from './store.js';
import { REFUSAL_CODES, $, app, spaceNow, connReady, withTimeout, errFields, errText, describe, toast } from './common.js';
import { renderAll, renderQueue } from './views.js';
import { checkinMsg, saveReport } from './forms.js';

export async function reloadQueue() {
  try { app.queue = await outbox.all(); } catch (err) { console.warn('outbox unreadable', err); }
  renderQueue();
}

// A tap: the command gets its id now, is stored, then sent when the connection can take it.
export async function enqueue(command, id = newCommandId()) {
  const item = { id, command, created: Date.now(), state: 'waiting' };
  await outbox.add(item);
  await reloadQueue();
  renderAll();
  if (!connReady()) toast(t('toast.queued'));
  flush();
  return id;
}

let retryTimer = null;
export async function flush() {
  if (app.flushing) { app.flushAgain = true; return; }
  app.flushing = true;
  try {
    do {
      app.flushAgain = false;
      const items = (await outbox.all()).filter((i) => i.state === 'waiting');
      for (const item of items) {
        if (!connReady()) return;
        const conn = app.conn;
        app.sending.add(item.id);
        renderQueue();
        try {
          const ack = await withTimeout(conn.command(item.command, item.id), 30000);
          await outbox.remove(item.id);
          onAcked(item, ack || {});
        } catch (err) {
          if (err && REFUSAL_CODES.has(err.code)) {
            const refused = { ...item, state: 'refused', refused_at: Date.now(), error: errFields(err) };
            await outbox.put(refused);
            onRefused(item, err);
          } else {
            // Not refused: keep it (same id) for the next chance.
            if (connReady() && !retryTimer) retryTimer = setTimeout(() => { retryTimer = null; flush(); }, 5000);
            return;
          }
        } finally {
          app.sending.delete(item.id);
          await reloadQueue();
        }
      }
    } while (app.flushAgain);
  } finally {
    app.flushing = false;
    renderAll();
  }
}

function onAcked(item, ack) {
  const c = item.command;
  if (ack.seqs && ack.seqs.length) {
    app.acked = app.acked || [];
    app.acked.push({ command: c, seq: Math.max(...ack.seqs), at: Date.now() });
  }
  if (app.report && app.report.cmdId === item.id) {
    app.report.created = ack.created || app.report.created || null;
    app.report.state = 'acked';
    saveReport();
  }
  if (c.type === 'check_in_patrol_point' && app.patrol) app.patrol.checkedIn(c.section_id, c.point_id, c.time_ms || spaceNow());
  if (c.type !== 'report_hazard') toast(t('toast.acked', { what: describe(c) }));
  if (c.type === 'check_in' || c.type === 'check_out') checkinMsg(t('toast.acked', { what: describe(c) }), 'ok');
}

export function onRefused(item, err) {
  if (app.report && app.report.cmdId === item.id) {
    app.report.state = 'refused';
    app.report.error = errFields(err);
    saveReport();
  }
  toast(t('toast.refused', { what: `${describe(item.command)} — ${errText(err)}` }), 'bad');
  if (item.command.type === 'check_in' || item.command.type === 'check_out') checkinMsg(errText(err), 'bad');
}

export async function discard(id) {
  await outbox.remove(id);
  await reloadQueue();
  renderAll();
}

export async function retry(id) {
  const item = await outbox.get(id);
  if (!item) return;
  // A refused command was not recorded by the server: the same id may be sent again.
  await outbox.put({ id: item.id, command: item.command, created: item.created, state: 'waiting' });
  await reloadQueue();
  flush();
}
