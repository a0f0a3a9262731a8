// One WebSocket session with Crest (docs/protocol.md): authenticates with an `auth` message (the
// token never goes into a URL), subscribes, reconnects with backoff and resumes from the last
// seq, and keeps `state` — every subscribed layer as a Map(id → entity) — up to date.
//
// Keeping state: the snapshot gives every entity; afterwards each event marks the layers it
// touches (protocol §6) stale and the layer is read again with the `layer` query, at most every
// few hundred milliseconds per layer. Pages render from `state` and never re-implement the
// domain's rules on events. `team_moved`, by far the most frequent event, is applied at once.

/** The layers each event touches (protocol §6), with the derived fields that follow it. */
export const EVENT_LAYERS = {
  levee_defined: ['levees'],
  shelter_defined: ['shelters'],
  gauge_defined: ['gauges'],
  grid_cell_defined: ['grid_cells'],
  team_registered: ['teams'],
  hazard_reported: ['hazards', 'shelters'],
  hazard_status_changed: ['hazards', 'shelters', 'incidents'],
  hazard_escalated: ['hazards', 'shelters', 'incidents'],
  team_moved: ['teams', 'patrol_sections'],
  team_duty_changed: ['teams', 'patrol_sections'],
  assignment_created: ['assignments', 'teams'],
  assignment_state_changed: ['assignments', 'teams'],
  shelter_open_changed: ['shelters'],
  evacuees_checked_in: ['shelters'],
  evacuees_checked_out: ['shelters'],
  supply_set: ['shelters'],
  supply_changed: ['shelters'],
  reading_recorded: ['gauges'],
  threshold_crossed: ['gauges'],
  response_level_changed: ['response'],
  evacuation_ordered: ['evacuations', 'grid_cells'],
  evacuation_progressed: ['evacuations'],
  evacuation_lifted: ['evacuations', 'grid_cells'],
  evacuees_left: ['evacuations', 'grid_cells', 'casualties'],
  cell_status_reported: ['grid_cells'],
  casualty_recorded: ['casualties'],
  casualty_corrected: ['casualties'],
  people_rescued: ['casualties', 'evacuations'],
  casualties_confirmed: ['casualties'],
  patrol_section_defined: ['patrol_sections'],
  patrol_shift_assigned: ['patrol_sections'],
  patrol_interval_set: ['patrol_sections'],
  patrol_requirement_changed: ['levees', 'patrol_sections'],
  patrol_point_checked_in: ['patrol_sections'],
  alert_raised: ['alerts'],
  alert_acknowledged: ['alerts'],
  alert_resolved: ['alerts'],
  protected_asset_defined: ['protected_assets'],
  incident_opened: ['incidents', 'hazards', 'shelters'],
  command_post_set: ['incidents'],
  incident_team_changed: ['incidents', 'teams'],
  incident_stage_reached: ['incidents'],
  incident_closed: ['incidents', 'shelters'],
  watch_rules_set: ['patrol_sections', 'shelters'],
  depot_defined: ['depots'],
  depot_restocked: ['depots'],
  materials_issued: ['shipments', 'depots'],
  materials_delivered: ['shipments'],
  materials_consumed: ['shipments'],
  materials_returned: ['shipments', 'depots'],
  materials_requested: ['material_requests'],
  material_request_approved: ['material_requests', 'shipments', 'depots'],
  material_request_declined: ['material_requests'],
  material_request_fulfilled: ['material_requests'],
  flood_zone_defined: ['flood_zones', 'shelters'],
  gauge_forecast_entered: ['gauges'],
  reference_corrected: ['shelters', 'gauges', 'teams', 'protected_assets', 'patrol_sections'],
  note_recorded: ['journal'],
  exercise_started: ['journal'],
  cue_issued: ['journal'],
};

/** Layers re-read less often: large, and changed by many events. */
const SLOW_LAYERS = { patrol_sections: 1500, grid_cells: 3000, levees: 3000, evacuations: 1000 };
const FAST_MS = 400;

let counter = 0;
const deviceId = (() => {
  try {
    let id = localStorage.getItem('crest.device');
    if (!id) {
      id = Math.random().toString(36).slice(2, 10);
      localStorage.setItem('crest.device', id);
    }
    return id;
  } catch {
    return Math.random().toString(36).slice(2, 10);
  }
})();

/** A command id unique to this device: `<app>-<device>-<time>-<n>`. */
export function newCommandId(app = 'web') {
  counter += 1;
  return `${app}-${deviceId}-${Date.now().toString(36)}-${counter}`;
}

/** A refusal from the server as an Error with `code`, `message_en`, `message_zh`. */
export class CrestError extends Error {
  constructor(code, message, messageZh) {
    super(message);
    this.code = code;
    this.message_en = message;
    this.message_zh = messageZh || message;
  }
}

function emptyState(layers) {
  const s = { seq: 0, layers: {}, layerSeq: {} };
  for (const l of layers) s.layers[l] = new Map();
  return s;
}

function fill(state, layers, seq) {
  state.layerSeq = state.layerSeq || {};
  for (const [name, items] of Object.entries(layers)) {
    const m = new Map();
    for (const e of items) m.set(e.id ?? e.jurisdiction ?? JSON.stringify(e), e);
    state.layers[name] = m;
    state.layerSeq[name] = seq;
  }
  state.seq = seq;
}

export class Connection {
  constructor({
    token,
    layers,
    viewport = null,
    app = 'web',
    onSnapshot = () => {},
    onEvent = () => {},
    onStatus = () => {},
    onError = () => {},
    onServerStatus = () => {},
  }) {
    this.token = token;
    this.layers = layers;
    this.viewport = viewport;
    this.app = app;
    this.onSnapshot = onSnapshot;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onError = onError;
    // The server's `status` (protocol.md rule 8): whether its log can be written; while it
    // cannot, what it shows may be behind the log.
    this.onServerStatus = onServerStatus;
    this.serverWritable = true;
    this.state = emptyState(layers);
    this.reviewState = null;
    this.auth = null;
    this.seq = 0;
    this.status = 'connecting';
    this.ws = null;
    this.pending = new Map(); // message id -> {resolve, reject, kind}
    this.changeListeners = [];
    this.reviewListeners = [];
    this.stale = new Set();
    this.reviewStale = false;
    this.fetching = new Set();
    this.lastFetch = {};
    this.timer = null;
    this.backoff = 1000;
    this.everOpen = false;
    this.closedForGood = false;
    this.lastEventMs = null;
    this.lastEventAt = 0;
    this.reviewId = null;
    this.reviewSeq = 0;
    this.reviewTimeMs = null;
    this.reconnectTimer = null;
    this.onlineHandler = () => {
      if (this.status === 'offline' && !this.closedForGood) this.reconnectNow();
    };
    this.offlineHandler = () => {
      // The browser knows the network is gone: stop waiting for a dead socket.
      if (this.ws) this.ws.close();
    };
    window.addEventListener('online', this.onlineHandler);
    window.addEventListener('offline', this.offlineHandler);
  }

  /** Called after layers of `state` (or, during a review, of `reviewState`) changed. */
  onChange(fn) {
    this.changeListeners.push(fn);
  }

  /** `review_snapshot`, `review_event`, `review_state`, `review_ended` messages. */
  onReview(fn) {
    this.reviewListeners.push(fn);
  }

  connect() {
    this.closedForGood = false;
    if (typeof navigator !== 'undefined' && navigator.onLine === false) {
      this.setStatus('offline');
      this.scheduleReconnect();
      return;
    }
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    let ws;
    try {
      ws = new WebSocket(`${proto}://${location.host}/ws`);
    } catch {
      this.setStatus('offline');
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.subscribed = false;
    if (!this.everOpen) this.setStatus('connecting');
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: this.token }));
    ws.onmessage = (m) => this.receive(m.data);
    ws.onclose = (e) => this.closed(ws, e);
    ws.onerror = () => {};
  }

  close() {
    this.closedForGood = true;
    clearTimeout(this.reconnectTimer);
    window.removeEventListener('online', this.onlineHandler);
    window.removeEventListener('offline', this.offlineHandler);
    if (this.ws) this.ws.close(1000);
  }

  reconnectNow() {
    clearTimeout(this.reconnectTimer);
    this.backoff = 1000;
    if (!this.ws) this.connect();
  }

  scheduleReconnect() {
    if (this.closedForGood) return;
    clearTimeout(this.reconnectTimer);
    const wait = this.backoff * (0.75 + Math.random() * 0.5);
    this.backoff = Math.min(this.backoff * 2, 15000);
    this.reconnectTimer = setTimeout(() => {
      if (!this.ws) this.connect();
    }, wait);
  }

  closed(ws, e) {
    if (this.ws !== ws) return;
    this.ws = null;
    this.subscribed = false;
    for (const [id, p] of this.pending) {
      if (p.keep) continue; // sent again on reconnect, with the same id
      p.reject(new CrestError('not_sent', 'the connection dropped before an answer', '连接中断，未收到答复'));
      this.pending.delete(id);
    }
    if (this.closedForGood) return;
    if (e.code === 1008 && this.status === 'closed') return;
    if (e.code === 1008) {
      this.closedForGood = true;
      this.setStatus('closed', { code: 'revoked_token', reason: e.reason });
      return;
    }
    this.setStatus('offline');
    this.scheduleReconnect();
  }

  setStatus(status, info = {}) {
    this.status = status;
    this.onStatus(status, { auth: this.auth, ...info });
  }

  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  receive(text) {
    let m;
    try {
      m = JSON.parse(text);
    } catch {
      return;
    }
    switch (m.type) {
      case 'hello':
        break;
      case 'authenticated':
        this.auth = {
          role: m.role,
          team: m.team ?? null,
          grid_worker: m.grid_worker ?? null,
          name: m.name,
          exercise: m.exercise ?? null,
        };
        this.subscribe();
        for (const p of this.pending.values()) if (p.keep) this.send(p.msg);
        break;
      case 'snapshot': {
        const wasOpen = this.everOpen;
        fill(this.state, m.layers, m.seq);
        this.seq = m.seq;
        this.stale.clear();
        this.subscribed = true;
        this.everOpen = true;
        this.backoff = 1000;
        this.onSnapshot(this.state.layers, m.seq, m.reason);
        this.changed(Object.keys(m.layers));
        this.setStatus(wasOpen ? 'resynced' : 'open');
        break;
      }
      case 'resumed':
        this.subscribed = true;
        this.backoff = 1000;
        this.setStatus('resynced', { resumed: true });
        break;
      case 'resync':
        break;
      case 'event':
        this.event(m);
        break;
      case 'enter':
      case 'leave':
        this.seq = Math.max(this.seq, m.seq);
        this.markStale([m.layer]);
        break;
      case 'ack':
      case 'answer': {
        const p = this.pending.get(m.id);
        if (p) {
          this.pending.delete(m.id);
          p.resolve(m.type === 'ack' ? m : m.result);
        }
        break;
      }
      case 'error':
        this.error(m);
        break;
      case 'status':
        this.serverWritable = m.writable !== false;
        this.onServerStatus(m);
        break;
      case 'review_snapshot':
      case 'review_event':
      case 'review_state':
      case 'review_ended':
        this.reviewMessage(m);
        break;
      default:
        break;
    }
  }

  subscribe() {
    const msg = { type: 'subscribe', layers: this.layers };
    if (this.viewport) msg.viewport = this.viewport;
    if (this.everOpen && this.seq > 0) msg.resume_from = this.seq;
    this.send(msg);
  }

  error(m) {
    const err = new CrestError(m.code, m.message, m.message_zh);
    if (m.id && this.pending.has(m.id)) {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p.reject(err);
      return;
    }
    if (['invalid_token', 'revoked_token', 'unauthenticated'].includes(m.code) && !this.auth) {
      this.closedForGood = true;
      this.setStatus('closed', { code: m.code, message: m.message, message_zh: m.message_zh });
      if (this.ws) this.ws.close(1000);
      return;
    }
    this.onError(err);
  }

  event(m) {
    this.seq = Math.max(this.seq, m.seq);
    this.state.seq = this.seq;
    this.lastEventMs = m.time_ms;
    this.lastEventAt = Date.now();
    const ev = m.event;
    if (ev.type === 'team_moved') {
      const team = this.state.layers.teams?.get(ev.team_id);
      if (team) {
        team.fix = ev.fix;
        if (ev.on_levee) team.on_levee = ev.on_levee;
        else delete team.on_levee;
        this.changed(['teams']);
      }
      if (ev.on_levee && this.state.layers.patrol_sections) this.markStale(['patrol_sections']);
    } else {
      this.markStale(EVENT_LAYERS[ev.type] || this.layers);
    }
    this.onEvent(ev, m.seq, m.time_ms);
  }

  /** The space's clock as well as the page can tell: the newest event's time plus the time
   * since it arrived (a drill's scenario clock runs at its own speed; its events keep this close). */
  nowMs() {
    if (this.lastEventMs === null) return Date.now();
    return Math.max(this.lastEventMs + (Date.now() - this.lastEventAt), this.lastEventMs);
  }

  markStale(layers) {
    for (const l of layers) if (this.state.layers[l]) this.stale.add(l);
    this.pump();
  }

  pump() {
    if (this.timer) return;
    let wait = Infinity;
    const now = Date.now();
    for (const l of this.stale) {
      if (this.fetching.has(l)) continue;
      const gap = SLOW_LAYERS[l] ?? FAST_MS;
      const due = (this.lastFetch[l] ?? 0) + gap;
      wait = Math.min(wait, Math.max(0, due - now));
    }
    if (this.reviewStale && !this.fetching.has('#review')) wait = Math.min(wait, 0);
    if (wait === Infinity) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.refetchDue();
      this.pump();
    }, wait);
  }

  refetchDue() {
    const now = Date.now();
    for (const l of [...this.stale]) {
      if (this.fetching.has(l)) continue;
      const gap = SLOW_LAYERS[l] ?? FAST_MS;
      if ((this.lastFetch[l] ?? 0) + gap > now) continue;
      if (!this.subscribed) continue;
      this.stale.delete(l);
      this.fetching.add(l);
      this.lastFetch[l] = now;
      this.query({ type: 'layer', layer: l })
        .then((r) => {
          const m = new Map();
          for (const e of r.entities) m.set(e.id ?? e.jurisdiction, e);
          this.state.layers[l] = m;
          this.state.layerSeq[l] = r.seq;
          this.changed([l]);
        })
        .catch(() => this.stale.add(l))
        .finally(() => {
          this.fetching.delete(l);
          this.pump();
        });
    }
    if (this.reviewStale && this.reviewId && !this.fetching.has('#review')) this.refetchReview();
  }

  changed(layers) {
    for (const fn of this.changeListeners) fn(layers);
  }

  request(msg, kind, keep = false) {
    // The same command id again while it waits: the same answer (the server applies an id once).
    const waitingFor = this.pending.get(msg.id);
    if (waitingFor && waitingFor.promise) return waitingFor.promise;
    const entry = { kind, keep, msg };
    entry.promise = new Promise((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
      if (!this.send(msg) && !keep) {
        reject(new CrestError('not_sent', 'not connected', '未连接'));
        return;
      }
      this.pending.set(msg.id, entry);
    });
    return entry.promise;
  }

  /**
   * Sends a command; resolves with the `ack`, rejects with a CrestError. With `{keep: true}` a
   * command whose answer the connection lost is not given up: it is sent again with the same id
   * as soon as the session is back (the server applies an id once, and answers a resend with the
   * original ack), and the promise settles then.
   */
  command(command, id = newCommandId(this.app), { keep = false } = {}) {
    return this.request({ type: 'command', id, command }, 'command', keep);
  }

  /** Sends a query (optionally `at` a moment); resolves with its `result`. */
  query(query, at) {
    const msg = { type: 'query', id: newCommandId(`${this.app}-q`), query };
    if (at !== undefined && at !== null) msg.at = at;
    return this.request(msg, 'query');
  }

  headers() {
    return { Authorization: `Bearer ${this.token}`, Accept: 'application/json' };
  }

  async httpResponse(path) {
    const r = await fetch(path, { headers: this.headers(), cache: 'no-cache' });
    if (!r.ok) {
      let body = {};
      try {
        body = await r.json();
      } catch {
        // Not JSON: the status says enough.
      }
      throw new CrestError(body.code || `http_${r.status}`, body.message || r.statusText, body.message_zh);
    }
    return r;
  }

  async http(path) {
    return (await this.httpResponse(path)).json();
  }

  async httpText(path) {
    return (await this.httpResponse(path)).text();
  }

  // ---- After-action review (protocol §5, "Reviewing the log") ----

  /** Starts playing the log back: `{from, to?, speed, layers}`. */
  review({ from, to, speed = 1, layers = this.layers }) {
    const id = newCommandId(`${this.app}-rv`);
    this.reviewId = id;
    this.reviewLayers = layers;
    this.reviewState = emptyState(layers);
    const msg = { type: 'review', id, from, speed, layers };
    if (to !== undefined && to !== null) msg.to = to;
    this.send(msg);
    return id;
  }

  reviewControl(action, arg) {
    const msg = { type: 'review_control', action };
    if (action === 'seek') msg.at = arg;
    if (action === 'speed') msg.speed = arg;
    this.send(msg);
    if (action === 'stop') this.endReview();
  }

  endReview() {
    this.reviewId = null;
    this.reviewState = null;
    this.reviewStale = false;
    this.changed(this.layers);
  }

  reviewMessage(m) {
    if (m.id !== this.reviewId) return;
    if (m.type === 'review_snapshot') {
      fill(this.reviewState, m.layers, m.seq);
      this.reviewSeq = m.seq;
      this.reviewTimeMs = m.time_ms;
      this.changed(Object.keys(m.layers));
    } else if (m.type === 'review_event') {
      this.reviewSeq = m.seq;
      this.reviewTimeMs = m.time_ms;
      this.reviewStale = true;
      this.pump();
    } else if (m.type === 'review_state') {
      this.reviewSeq = m.seq;
      if (m.time_ms !== undefined) this.reviewTimeMs = m.time_ms;
    }
    for (const fn of this.reviewListeners) fn(m);
    if (m.type === 'review_ended' && m.reason !== 'replaced') {
      // The last state played stays on screen until the page stops the review.
      this.reviewStale = true;
      this.pump();
    }
  }

  refetchReview() {
    this.reviewStale = false;
    const id = this.reviewId;
    const seq = this.reviewSeq;
    this.fetching.add('#review');
    const layers = this.reviewLayers;
    Promise.all(layers.map((l) => this.query({ type: 'layer', layer: l }, seq).then((r) => [l, r.entities])))
      .then((all) => {
        if (this.reviewId !== id) return;
        const obj = {};
        for (const [l, items] of all) obj[l] = items;
        fill(this.reviewState, obj, seq);
        this.changed(layers);
      })
      .catch(() => {})
      .finally(() => {
        this.fetching.delete('#review');
        setTimeout(() => this.pump(), 500);
      });
  }

  /** The state pages should draw: the review's while one is on, else the live one. */
  view() {
    return this.reviewState ?? this.state;
  }
}
