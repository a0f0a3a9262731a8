// After-action review (回放): plays the log back from a moment at a speed, with pause, seek and
// stop (protocol §5 "Reviewing the log"). While a review runs, the map, the lists, the board and
// the sitrep show the review's state (`conn.reviewState`) at the review's clock, under a clear
// REVIEW / 回放 marker; stop returns to the live picture.

import { t } from '/shared/i18n.js';
import { app, LAYERS, clock } from './model.js';
import { errorText, toast, throttle } from './util.js';
import { tracks } from './tracks.js';
import { feedReviewEvent, clearReviewFeed, markFeedDirty } from './feed.js';
import { cancel as cancelEvac } from './evac.js';

const r = {
  active: false, // a review runs on the connection (or is being started)
  state: 'idle', // idle | starting | playing | paused | ended
  speed: 60,
  seq: null,
  timeMs: null,
  receivedAt: 0,
  startMs: null, // the log's first event time
  endMs: null, // the log's last event time (as last asked)
  dragging: false,
};

let els = {};

export function initReview() {
  els = {
    bar: document.getElementById('review-bar'),
    from: document.getElementById('review-from'),
    play: document.getElementById('review-play'),
    pause: document.getElementById('review-pause'),
    speed: document.getElementById('review-speed'),
    seek: document.getElementById('review-seek'),
    clock: document.getElementById('review-clock'),
    stop: document.getElementById('review-stop'),
    status: document.getElementById('review-status'),
    marker: document.getElementById('review-marker'),
  };
  app.reviewClock = reviewNow;
  app.reviewSeq = () => r.seq;
  app.reviewSpeed = () => (r.speed === 'max' ? 1000 : Number(r.speed) || 1);
  els.play.addEventListener('click', play);
  els.pause.addEventListener('click', pause);
  els.stop.addEventListener('click', stop);
  els.speed.addEventListener('change', () => {
    r.speed = speedValue();
    if (r.active && r.state !== 'starting') control('speed', r.speed);
  });
  els.seek.addEventListener('input', () => {
    r.dragging = true;
    els.clock.textContent = fmtClock(Number(els.seek.value));
  });
  els.seek.addEventListener('change', () => {
    r.dragging = false;
    const ms = Number(els.seek.value);
    if (r.active) control('seek', iso(ms));
    else start(ms);
  });
  app.conn.onReview(onReview);
  setInterval(tick, 250);
  render();
}

function speedValue() {
  const v = els.speed.value;
  return v === 'max' ? 'max' : Number(v);
}

function iso(ms) {
  return new Date(Math.round(ms)).toISOString();
}

function toLocalInput(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function fmtClock(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The log's time range, for the seek slider and the from-time input. */
export async function loadRange() {
  const conn = app.conn;
  if (!conn || !conn.seq) {
    els.seek.disabled = true;
    return;
  }
  try {
    const [a, b] = await Promise.all([
      conn.query({ type: 'patrol_gaps' }, 1),
      conn.query({ type: 'patrol_gaps' }, conn.seq),
    ]);
    r.startMs = a.at ? a.at.time_ms : null;
    r.endMs = b.at ? b.at.time_ms : null;
  } catch (e) {
    return;
  }
  if (r.startMs === null || r.endMs === null) return;
  els.seek.min = String(r.startMs);
  els.seek.max = String(Math.max(r.endMs, r.startMs + 1));
  els.seek.step = String(Math.max(1000, Math.round((r.endMs - r.startMs) / 2000)));
  els.seek.disabled = false;
  if (!r.active) els.seek.value = String(r.endMs);
  if (!els.from.value) els.from.value = toLocalInput(r.startMs);
  els.from.min = toLocalInput(r.startMs);
  els.from.max = toLocalInput(r.endMs);
  document.getElementById('review-range').textContent = t('review.range', { from: fmtClock(r.startMs), to: fmtClock(r.endMs) });
}

/** A live event's time: the log now reaches it, so the slider does too. */
export function noteLogTime(ms) {
  if (!els.seek || r.startMs === null || !Number.isFinite(ms) || ms <= (r.endMs ?? 0)) return;
  r.endMs = ms;
  if (noteLogTime.pending) return;
  noteLogTime.pending = setTimeout(() => {
    noteLogTime.pending = null;
    els.seek.max = String(Math.max(r.endMs, r.startMs + 1));
    if (!r.active) els.seek.value = els.seek.max;
    els.from.max = toLocalInput(r.endMs);
    document.getElementById('review-range').textContent = t('review.range', { from: fmtClock(r.startMs), to: fmtClock(r.endMs) });
  }, 1000);
}

function fromInputMs() {
  const v = els.from.value;
  if (!v) return r.startMs;
  const ms = new Date(v).getTime();
  if (!Number.isFinite(ms)) return r.startMs;
  return ms;
}

async function play() {
  if (r.active && r.state === 'paused') return control('resume');
  if (r.active && r.state === 'ended') return start(r.timeMs ?? fromInputMs());
  if (!r.active) return start(fromInputMs());
}

function pause() {
  // Also while the first snapshot is on its way: the server takes the pause after the review.
  if (r.active && (r.state === 'playing' || r.state === 'starting')) {
    control('pause');
    r.pauseAsked = true;
  }
}

function stop() {
  if (!r.active) return;
  if (r.state === 'ended') return leave();
  control('stop');
  // Leave at once: the live picture is there, whatever the server answers.
  leave();
}

async function start(fromMs) {
  if (r.startMs === null) await loadRange();
  if (r.startMs !== null && fromMs < r.startMs) fromMs = r.startMs;
  if (r.endMs !== null && fromMs > r.endMs) fromMs = r.endMs;
  cancelEvac();
  r.active = true;
  r.state = 'starting';
  r.pauseAsked = false;
  r.speed = speedValue();
  r.timeMs = fromMs;
  r.receivedAt = Date.now();
  enter();
  try {
    await app.conn.review({ from: iso(fromMs), speed: r.speed, layers: LAYERS });
  } catch (e) {
    toast(errorText(e), 'error');
    leave();
  }
  render();
}

async function control(action, arg) {
  try {
    await app.conn.reviewControl(action, arg);
  } catch (e) {
    if (e && e.code === 'no_review') {
      r.state = 'ended';
      render();
      return;
    }
    toast(errorText(e), 'error');
  }
}

function enter() {
  app.reviewing = true;
  document.body.classList.add('reviewing');
  clearReviewFeed();
  app.invalidate(['*', 'review']);
  render();
}

function leave() {
  r.active = false;
  r.state = 'idle';
  r.seq = null;
  app.reviewing = false;
  document.body.classList.remove('reviewing');
  if (app.conn && app.conn.state) tracks.seed(app.conn.state.layers.teams || new Map());
  markFeedDirty();
  app.invalidate(['*', 'review']);
  render();
  loadRange();
}

const rerender = throttle(() => app.invalidate(['*', 'review']), 250);

function onReview(msg) {
  if (!r.active) return;
  switch (msg.type) {
    case 'review_snapshot': {
      r.seq = msg.seq;
      r.timeMs = msg.time_ms;
      r.receivedAt = Date.now();
      if (r.state === 'starting' || r.state === 'ended') r.state = r.pauseAsked ? 'paused' : 'playing';
      const teams = msg.layers && msg.layers.teams;
      if (Array.isArray(teams)) {
        const m = new Map();
        for (const tm of teams) m.set(tm.id, tm);
        tracks.seed(m);
      } else if (app.conn.reviewState) {
        tracks.seed(app.conn.reviewState.layers.teams || new Map());
      }
      clearReviewFeed();
      app.invalidate(['*', 'review']);
      break;
    }
    case 'review_event':
      r.seq = msg.seq;
      r.timeMs = msg.time_ms;
      r.receivedAt = Date.now();
      if (msg.event && msg.event.type === 'team_moved' && msg.event.fix) tracks.add(msg.event.team_id, msg.event.fix.position);
      feedReviewEvent(msg.event, msg.seq, msg.time_ms);
      rerender();
      break;
    case 'review_state':
      r.pauseAsked = false;
      r.state = msg.state === 'paused' ? 'paused' : 'playing';
      if (msg.speed !== undefined) r.speed = msg.speed;
      if (msg.seq !== undefined) r.seq = msg.seq;
      if (msg.time_ms !== undefined) { r.timeMs = msg.time_ms; r.receivedAt = Date.now(); }
      break;
    case 'review_ended':
      if (msg.reason === 'failed') toast(t('review.failed'), 'error');
      if (msg.reason === 'end') {
        r.state = 'ended';
        if (msg.seq !== undefined) r.seq = msg.seq;
      } else if (msg.reason === 'stopped' || msg.reason === 'failed') {
        if (r.active) leave();
      }
      break;
    default:
      break;
  }
  render();
}

/** The review's clock now: it runs at the speed between the server's messages. */
function reviewNow() {
  if (r.timeMs === null) return clock.liveNow();
  if (r.state !== 'playing' || r.speed === 'max') return r.timeMs;
  const ms = r.timeMs + (Date.now() - r.receivedAt) * r.speed;
  // Never run past the events the server has yet to send by more than a few seconds of review.
  return Math.min(ms, r.timeMs + 5000 * r.speed);
}

function tick() {
  if (!r.active) return;
  const now = reviewNow();
  els.clock.textContent = fmtClock(now);
  els.clock.dataset.timeMs = String(Math.round(now));
  if (!r.dragging && !els.seek.disabled) els.seek.value = String(now);
}

function render() {
  const st = r.active ? r.state : 'idle';
  els.bar.dataset.state = st;
  els.play.disabled = st === 'playing' || st === 'starting';
  els.pause.disabled = st !== 'playing';
  els.stop.disabled = !r.active;
  els.marker.hidden = !r.active;
  els.status.textContent = t('review.state.' + st);
  els.clock.classList.toggle('data', r.active);
  if (r.active) {
    els.clock.textContent = fmtClock(reviewNow());
    els.clock.dataset.timeMs = String(Math.round(reviewNow()));
  } else {
    els.clock.textContent = t('review.live');
    delete els.clock.dataset.timeMs;
  }
}

export function relabelReview() {
  render();
  if (r.startMs !== null && r.endMs !== null) {
    document.getElementById('review-range').textContent = t('review.range', { from: fmtClock(r.startMs), to: fmtClock(r.endMs) });
  }
}

