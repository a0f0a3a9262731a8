// Sends the team's position from the device's geolocation.
//
// Every new fix is sent, but at most one every 2 s (the newest wins: a fix that arrives during the
// pause replaces the waiting one), and at least one every 60 s while a fix exists, so that the
// command sees the team alive. Positions are not queued offline beyond the newest one: an old fix
// sent late is worth nothing (and the server refuses a fix older than the team's last with
// `invalid_value`; such a fix is dropped).
const MIN_GAP_MS = 2000;
const HEARTBEAT_MS = 60000;

export class PositionSender {
  // send(fix) → Promise (the ack), rejects with an Error carrying `.code`;
  // ready() → whether the connection can take commands; enabled() → whether this token may send.
  constructor({ send, ready, enabled, onRefused }) {
    this.send = send;
    this.ready = ready;
    this.enabled = enabled;
    this.onRefused = onRefused || (() => {});
    this.latest = null; // the newest fix seen
    this.lastSentFixTime = -Infinity; // time_ms of the newest fix the server has (or refused)
    this.lastSentAt = 0; // device clock of the last send
    this.timer = null;
    this.inFlight = false;
    this.asking = false;
    this.heartbeat = setInterval(() => this.beat(), 2000);
  }

  newFix(fix) {
    if (!this.latest || fix.time_ms >= this.latest.time_ms) this.latest = fix;
    this.pump();
  }

  // The connection came back (or the heartbeat is due): send the newest fix if it is not sent.
  pump(force = false) {
    if (!this.enabled() || !this.latest) return;
    const fresh = this.latest.time_ms > this.lastSentFixTime;
    if (!fresh && !force) return;
    const wait = this.lastSentAt + MIN_GAP_MS - Date.now();
    if (wait > 0) {
      if (!this.timer) this.timer = setTimeout(() => { this.timer = null; this.pump(force); }, wait);
      return;
    }
    if (!this.ready() || this.inFlight) return;
    const fix = this.latest;
    this.inFlight = true;
    this.lastSentAt = Date.now();
    this.send(fix).then(() => {
      this.lastSentFixTime = Math.max(this.lastSentFixTime, fix.time_ms);
    }, (err) => {
      if (err && err.code === 'invalid_value') {
        // Older than the team's last fix (or from a clock far ahead): drop it for good.
        this.lastSentFixTime = Math.max(this.lastSentFixTime, fix.time_ms);
        this.onRefused(err);
      } else if (err && err.code === 'forbidden') {
        this.lastSentFixTime = Math.max(this.lastSentFixTime, fix.time_ms);
        this.onRefused(err);
      }
      // Anything else (offline, unavailable): the newest fix is sent when the connection is back.
    }).finally(() => {
      this.inFlight = false;
      if (this.latest && this.latest.time_ms > this.lastSentFixTime) this.pump();
    });
  }

  beat() {
    if (!this.latest || !this.enabled() || !this.ready()) return;
    const since = Date.now() - this.lastSentAt;
    // From 45 s on, ask for a fresh fix; at 58 s send the newest there is, fresh or not, so that
    // a standing team is heard from at least every minute.
    if (since >= HEARTBEAT_MS - 2000) { this.pump(true); return; }
    if (since < HEARTBEAT_MS - 15000 || this.asking || !navigator.geolocation || !navigator.geolocation.getCurrentPosition) return;
    this.asking = true;
    navigator.geolocation.getCurrentPosition((p) => {
      this.asking = false;
      const fix = toFix(p);
      if (fix.time_ms > (this.latest ? this.latest.time_ms : -Infinity)) this.newFix(fix);
    }, () => { this.asking = false; }, { enableHighAccuracy: true, maximumAge: 0, timeout: 10000 });
  }
}

export function toFix(p) {
  const acc = Number.isFinite(p.coords.accuracy) ? Math.min(100000, Math.max(0, Math.round(p.coords.accuracy * 10) / 10)) : 0;
  return {
    position: [round6(p.coords.longitude), round6(p.coords.latitude)],
    time_ms: Math.round(p.timestamp || Date.now()),
    accuracy_m: acc,
  };
}

const round6 = (x) => Math.round(x * 1e6) / 1e6;
