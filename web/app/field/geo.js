// Distances on the Earth (great circle, the protocol's mean radius) and how to write them.
const R = 6371008.8;
const rad = (d) => (d * Math.PI) / 180;

export function distanceM(a, b) {
  if (!a || !b) return Infinity;
  const [lon1, lat1] = a;
  const [lon2, lat2] = b;
  const dLat = rad(lat2 - lat1);
  const dLon = rad(lon2 - lon1);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
}

// Chainage in metres → "K12+300".
export function fmtChainage(m) {
  if (m == null || !Number.isFinite(m)) return '';
  const r = Math.round(m);
  const km = Math.floor(r / 1000);
  return `K${km}+${String(r - km * 1000).padStart(3, '0')}`;
}

// The position of a point entity (`position`), or the middle of a line.
export function entityPosition(e) {
  if (!e) return null;
  if (Array.isArray(e.position)) return e.position;
  if (e.fix && Array.isArray(e.fix.position)) return e.fix.position;
  return null;
}

// A point `m` metres along a polyline (its first point at chainage `origin`).
export function pointAlong(line, m, origin = 0) {
  if (!Array.isArray(line) || line.length < 2) return null;
  let left = m - origin;
  for (let i = 1; i < line.length; i++) {
    const seg = distanceM(line[i - 1], line[i]);
    if (left <= seg || i === line.length - 1) {
      const f = seg > 0 ? Math.max(0, Math.min(1, left / seg)) : 0;
      return [line[i - 1][0] + (line[i][0] - line[i - 1][0]) * f, line[i - 1][1] + (line[i][1] - line[i - 1][1]) * f];
    }
    left -= seg;
  }
  return null;
}
