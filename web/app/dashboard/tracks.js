// The recent track of every team: its last fixes, from `team_moved` events (live or reviewed).
// Kept in memory only; a reload starts from each team's current fix.

const MAX_FIXES = 20;

class Tracks {
  constructor() {
    this.byTeam = new Map(); // team id → [[lon, lat], …] oldest first
  }

  add(teamId, position) {
    if (!teamId || !Array.isArray(position)) return;
    let pts = this.byTeam.get(teamId);
    if (!pts) {
      pts = [];
      this.byTeam.set(teamId, pts);
    }
    const last = pts[pts.length - 1];
    if (last && last[0] === position[0] && last[1] === position[1]) return;
    pts.push(position);
    if (pts.length > MAX_FIXES) pts.splice(0, pts.length - MAX_FIXES);
  }

  /** Start each team's track at its current fix (after a snapshot or a seek). */
  seed(teams) {
    this.byTeam.clear();
    for (const [id, tm] of teams) {
      const p = tm.fix && tm.fix.position;
      if (p) this.byTeam.set(id, [p]);
    }
  }

  all() {
    return this.byTeam;
  }
}

export const tracks = new Tracks();
