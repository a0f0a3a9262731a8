// My team's patrol stretch, kept without subscribing to the whole patrol board.
//
// The `patrol_sections` layer is the district's whole board (every section with its points,
// shifts and stretches: ~280 KB for the Fukou map), and every fix of any team on a levee changes
// it, so a subscriber re-reads it every second or two. On a levee-top mobile link that is too
// much. The tablet only needs the sections its team is on shift for, and their points' passes:
// - the board is read over HTTP now and then (the browser revalidates it with its ETag), for the
//   sections and the shifts;
// - the passes of my current sections are read with `patrol_history` (a few hundred bytes), often,
//   and right after my own fixes and check-ins were acknowledged.
const BOARD_EVERY_MS = 60000;
const PASSES_EVERY_MS = 15000;
const DAY_MS = 86400000;

export class PatrolWatch {
  // conn() → the Connection; team() → my team id; now() → the space's clock; onChange() → re-render.
  constructor({ conn, team, now, ready, onChange }) {
    this.conn = conn;
    this.team = team;
    this.now = now;
    this.ready = ready;
    this.onChange = onChange;
    this.sections = new Map(); // every section of the board, as in the layer
    this.boardAt = 0;
    this.passesAt = 0;
    this.busy = false;
    this.passTimer = null;
    setInterval(() => this.tick(), 5000);
  }

  // The sections my team is on shift for now, and the next shift.
  shifts(sections = this.sections) {
    const team = this.team();
    const now = this.now();
    const current = [];
    let next = null;
    for (const s of sections.values()) {
      for (const sh of s.shifts || []) {
        if (sh.team_id !== team) continue;
        if (sh.from_ms <= now && now < sh.until_ms) current.push({ section: s, shift: sh });
        else if (sh.from_ms > now && (!next || sh.from_ms < next.shift.from_ms)) next = { section: s, shift: sh };
      }
    }
    current.sort((a, b) => String(a.section.levee_id).localeCompare(String(b.section.levee_id)) || a.section.from_m - b.section.from_m);
    return { current, next };
  }

  // Only the sections of my team (the copy kept on the device for a reload without network).
  mine() {
    const team = this.team();
    return [...this.sections.values()].filter((s) => (s.shifts || []).some((sh) => sh.team_id === team));
  }

  tick() {
    if (!this.ready() || !this.team()) return;
    const now = Date.now();
    if (now - this.boardAt >= BOARD_EVERY_MS) this.refresh();
    else if (now - this.passesAt >= PASSES_EVERY_MS && this.shifts().current.length) this.refreshPasses();
  }

  // The connection is (back) up: read everything again.
  async refresh() {
    if (this.busy || !this.ready() || !this.team()) return;
    this.busy = true;
    this.boardAt = Date.now();
    try {
      const fc = await this.conn().http('/api/v1/layers/patrol_sections');
      const m = new Map();
      for (const f of fc.features || []) m.set(f.id, { id: f.id, ...f.properties });
      this.sections = m;
      this.onChange();
    } catch (err) {
      console.warn('patrol board not read', err && (err.code || err.message));
    } finally {
      this.busy = false;
    }
    await this.refreshPasses();
  }

  // My check-in was acknowledged: show the point passed now, then read the passes again.
  checkedIn(sectionId, pointId, at) {
    const s = this.sections.get(sectionId);
    if (s) {
      const points = (s.points || []).map((pt) => (pt.id === pointId && (!pt.last_pass || pt.last_pass.at < at)
        ? { ...pt, last_pass: { at, team_id: this.team(), how: 'checked_in' } } : pt));
      this.sections.set(sectionId, { ...s, points });
      this.onChange();
    }
    this.refreshPasses();
  }

  // Soon after a fix or a check-in of mine was acknowledged (at most every 3 s).
  soon() {
    if (this.passTimer) return;
    this.passTimer = setTimeout(() => { this.passTimer = null; this.refreshPasses(); }, 3000);
  }

  async refreshPasses() {
    if (!this.ready()) return;
    const { current } = this.shifts();
    if (!current.length) return;
    this.passesAt = Date.now();
    let changed = false;
    for (const { section } of current) {
      try {
        const r = await this.conn().query({ type: 'patrol_history', section_id: section.id, from_ms: Math.max(0, this.now() - DAY_MS) });
        const newest = new Map();
        for (const p of r.passes || []) {
          const had = newest.get(p.point_id);
          if (!had || p.at >= had.at) newest.set(p.point_id, { at: p.at, team_id: p.team_id, how: p.how });
        }
        const s = this.sections.get(section.id);
        if (!s) continue;
        const points = (s.points || []).map((pt) => {
          const n = newest.get(pt.id);
          if (n && (!pt.last_pass || n.at > pt.last_pass.at)) { changed = true; return { ...pt, last_pass: n }; }
          return pt;
        });
        this.sections.set(s.id, { ...s, points });
      } catch (err) {
        console.warn('patrol history not read', err && (err.code || err.message));
      }
    }
    if (changed) this.onChange();
  }
}

// The stretches (between consecutive points) of a section that are past due now: a stretch is
// passed when both its ends are; its clock starts at the older end's pass, or when patrols became
// required, whichever is later (protocol §4, "Patrols").
export function overdueStretches(section, now) {
  if (!section.interval_min) return 0;
  const pts = [...(section.points || [])].sort((a, b) => a.chainage_m - b.chainage_m);
  const since = section.required_since || 0;
  let n = 0;
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1].last_pass;
    const b = pts[i].last_pass;
    const passed = a && b ? Math.min(a.at, b.at) : null;
    const start = Math.max(passed ?? since, since);
    if (now > start + section.interval_min * 60000) n++;
  }
  return n;
}
