#!/usr/bin/env python3
"""Deterministic generator of the 涪口 district map (maps/fukou/*.geojson).

Approximate geography for drills, drawn from the public description in the product brief: the
湘江 runs SSW→NNE along the district's west side past 朱亨, 淦田 and 南洲 to 涪口, where the 濠江
joins from the east; the 京广铁路 runs along the east bank behind the levees. Both banks of both
rivers have levees, cut into patrol sections (巡堤查险); the railway and the towns' substations,
water works, schools and hospitals are the protected assets. Every number comes from this file;
nothing is copied from map data. Run it and commit its output:

    python3 maps/generate_fukou.py

The output is byte-for-byte the same on every run (own PRNG, fixed rounding, sorted keys).
"""

import json
import math
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fukou")
ROUND = 6


class Lcg:
    """A fixed 64-bit LCG, so the output never depends on Python's random module."""

    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (self.state >> 11) / float(1 << 53)

    def uniform(self, a, b):
        return a + (b - a) * self.next()

    def int(self, a, b):
        return a + int(self.next() * (b - a + 1))


rng = Lcg(20260727)


def r(x):
    return round(x, ROUND)


def pt(lon, lat):
    return [r(lon), r(lat)]


# ---------------------------------------------------------------- frame

SOUTH, NORTH, EAST = 27.20, 27.77, 113.32
SPLIT = 113.195  # boundary between the riverside towns and the eastern hill towns

# 湘江 centre line, SSW → NNE (lon, lat).
XIANG = [
    (113.005, 27.185), (113.018, 27.250), (113.032, 27.310), (113.040, 27.380),
    (113.038, 27.440), (113.036, 27.500), (113.040, 27.570), (113.058, 27.610),
    (113.078, 27.640), (113.100, 27.668), (113.122, 27.697), (113.134, 27.712),
    (113.146, 27.735), (113.160, 27.785),
]
# 濠江 centre line, E → W, ending at its mouth on the 湘江 east bank.
HAO = [
    (113.325, 27.752), (113.300, 27.748), (113.262, 27.741), (113.228, 27.733),
    (113.200, 27.727), (113.175, 27.722), (113.155, 27.719), (113.1365, 27.717),
]

DEG_LON_M = 111_195.0 * math.cos(math.radians(27.5))  # metres per degree of longitude here
DEG_LAT_M = 111_195.0


def lon_at(line, lat):
    """Longitude of a S→N polyline at a latitude (linear between vertices)."""
    for (x0, y0), (x1, y1) in zip(line, line[1:]):
        if y0 <= lat <= y1:
            t = (lat - y0) / (y1 - y0)
            return x0 + t * (x1 - x0)
    raise ValueError(lat)


def lat_at(line, lon):
    """Latitude of an E→W polyline at a longitude."""
    for (x0, y0), (x1, y1) in zip(line, line[1:]):
        if x1 <= lon <= x0:
            t = (lon - x0) / (x1 - x0)
            return y0 + t * (y1 - y0)
    raise ValueError(lon)


def west_edge(lat):
    return lon_at(XIANG, lat) - 0.025


LEVEE_OFFSET = 0.0035  # east-bank levee ~350 m east of the 湘江 centre line
RAIL_OFFSET = 0.0105   # 京广铁路 ~1 km east of the centre line, behind the levee
HAO_LEVEE_OFFSET = 0.0022
HAO_LEVEE_WEST = 113.145  # the 濠江 levees' first vertex off the 湘江 east levee


def xiang_levee_lon(lat):
    return lon_at(XIANG, lat) + LEVEE_OFFSET


# At 将军村 the railway runs close behind the levee (which is why a breach there threatened it): it
# bends in smoothly over ~3 km to ~470 m from the levee, within the railway's 500 m buffer.
JIANGJUN_LAT = 27.652
RAIL_BEND, RAIL_BEND_HALF = 0.0022, 0.015


def rail_lon(lat):
    d = abs(lat - JIANGJUN_LAT)
    bend = RAIL_BEND * (1 + math.cos(math.pi * d / RAIL_BEND_HALF)) / 2 if d < RAIL_BEND_HALF else 0.0
    return lon_at(XIANG, lat) + RAIL_OFFSET - bend


# ---------------------------------------------------------------- towns

TOWNS = [
    # id, name, column, south, north, seat (lon, lat), village count
    ("ZH", "朱亨镇", "W", 27.20, 27.45, (113.050, 27.380), 19),
    ("GT", "淦田镇", "W", 27.45, 27.60, (113.050, 27.570), 18),
    ("NZ", "南洲镇", "W", 27.60, 27.68, (113.090, 27.640), 20),
    ("LK", "涪口镇", "W", 27.68, 27.77, (113.142, 27.706), 18),
    ("GY", "古岳峰镇", "E", 27.20, 27.40, (113.255, 27.300), 15),
    ("LM", "龙门镇", "E", 27.40, 27.55, (113.250, 27.480), 18),
    ("XJ", "仙井镇", "E", 27.55, 27.66, (113.255, 27.605), 16),
    ("LD", "雷打石镇", "E", 27.66, 27.77, (113.250, 27.700), 15),
]
assert sum(t[6] for t in TOWNS) == 139
BREAKS = sorted({t[3] for t in TOWNS} | {t[4] for t in TOWNS})


# The west edge has a vertex every 0.0025° of latitude (~280 m): where a grid cell's edge meets it,
# the cell takes the nearest of these vertices, so every cell lies exactly inside the district
# (a point computed on a slanted edge and rounded would be a hair outside or inside it).
WEST_STEP = 0.0025


def west_edge_points(a, b):
    """West boundary from latitude a to b (inclusive), with every river vertex and break between,
    and a vertex every WEST_STEP."""
    dense = {round(SOUTH + k * WEST_STEP, 6) for k in range(int(round((NORTH - SOUTH) / WEST_STEP)) + 1)}
    lats = sorted({a, b} | {y for _, y in XIANG if a < y < b} | {y for y in BREAKS if a < y < b}
                  | {y for y in dense if a < y < b})
    return [(west_edge(y), y) for y in lats]


def ccw(ring):
    area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:]))
    return ring if area > 0 else ring[::-1]


def close(points):
    pts = [pt(x, y) for x, y in points]
    return ccw(pts + [pts[0]])


def town_ring(col, a, b):
    inner = [y for y in BREAKS if a < y < b]
    if col == "W":
        west = west_edge_points(a, b)
        split = [(SPLIT, y) for y in sorted([b] + inner + [a], reverse=True)]
        return close(west + split)
    split = [(SPLIT, y) for y in [a] + inner + [b]]
    return close(split + [(EAST, b), (EAST, a)])


def district_ring():
    west = west_edge_points(SOUTH, NORTH)
    return close(west + [(EAST, NORTH), (EAST, SOUTH)])


def contains(ring, x, y):
    inside = False
    for (x0, y0), (x1, y1) in zip(ring, ring[1:]):
        if (y0 > y) != (y1 > y):
            if x < (x1 - x0) * (y - y0) / (y1 - y0) + x0:
                inside = not inside
    return inside


def shoelace(ring):
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:]))) / 2


# ---------------------------------------------------------------- planar geometry for the grid cells
#
# Grid cells tile the district: per town, a Voronoi partition of the town polygon by its villages
# (the town ring clipped by the perpendicular bisectors to every other village of the town,
# measured in metres, not degrees), each village's region then cut into its 1–3 cells by straight
# lines of equal area. Pure Python, so CI can re-run this file and diff its output.

KX = DEG_LON_M / DEG_LAT_M  # a degree of longitude in degrees of latitude, for distances
X0, Y0 = 113.15, 27.5       # local origin: keeps the half-plane constants small


def clip(poly, a, b, c):
    """Sutherland–Hodgman: the part of `poly` (open list of (x, y)) where a·(x−X0) + b·(y−Y0) ≤ c."""
    def f(p):
        return a * (p[0] - X0) + b * (p[1] - Y0) - c
    out = []
    n = len(poly)
    for i in range(n):
        s, e = poly[i - 1], poly[i]
        fs, fe = f(s), f(e)
        if fe <= 0:
            if fs > 0:
                t = fs / (fs - fe)
                out.append((s[0] + t * (e[0] - s[0]), s[1] + t * (e[1] - s[1])))
            out.append(e)
        elif fs <= 0:
            t = fs / (fs - fe)
            out.append((s[0] + t * (e[0] - s[0]), s[1] + t * (e[1] - s[1])))
    # consecutive duplicates (a vertex on the line) go
    return [p for i, p in enumerate(out) if p != out[i - 1]] if len(out) > 1 else out


def poly_area(poly):
    """Signed shoelace area of an open ring, degrees²."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1])) / 2


def voronoi_region(ring, site, others):
    """The part of the town ring nearer (in metres) to `site` than to any of `others`."""
    poly = [tuple(p) for p in ring[:-1]]
    sx, sy = (site[0] - X0) * KX, site[1] - Y0
    for o in others:
        ox, oy = (o[0] - X0) * KX, o[1] - Y0
        # |p − s|² ≤ |p − o|²  ⇔  2(o − s)·p ≤ |o|² − |s|², in scaled local coordinates
        poly = clip(poly, 2 * (ox - sx) * KX, 2 * (oy - sy), ox * ox + oy * oy - sx * sx - sy * sy)
    return poly


def split_equal(poly, k):
    """Cuts a region into k parts of equal area by straight lines across its longer side."""
    xs, ys = [p[0] for p in poly], [p[1] for p in poly]
    across_lon = (max(xs) - min(xs)) * KX >= max(ys) - min(ys)
    lo, hi = (min(xs), max(xs)) if across_lon else (min(ys), max(ys))
    a, b = (1.0, 0.0) if across_lon else (0.0, 1.0)
    o = X0 if across_lon else Y0
    total = abs(poly_area(poly))
    cuts = []
    for j in range(1, k):
        l, h = lo, hi
        for _ in range(80):
            m = (l + h) / 2
            if abs(poly_area(clip(poly, a, b, m - o))) < total * j / k:
                l = m
            else:
                h = m
        cuts.append((l + h) / 2)
    parts, rest = [], poly
    for c in cuts:
        parts.append(clip(rest, a, b, c - o))
        rest = clip(rest, -a, -b, -(c - o))
    return parts + [rest]


def seg_distance(p, a, b):
    """Distance from p to segment ab (planar degrees) and where along it (0..1)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    L = dx * dx + dy * dy
    t = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / L if L else 0.0
    t = min(1.0, max(0.0, t))
    qx, qy = a[0] + t * dx, a[1] + t * dy
    return math.hypot(p[0] - qx, p[1] - qy), t


def conforming(polys, west_edge):
    """Makes the cells' rings share their vertices exactly, then rounds them.

    A Voronoi vertex is computed once per cell that meets there, so its copies differ in the last
    bits: they become one. A point where a cell's edge meets the slanted west edge of the district
    takes the nearest vertex of that edge, so the cell stays exactly inside the district. A vertex
    of one cell that lies on another's edge (where a village's region is cut into cells) is put
    into that edge too. Then every shared edge is the same run of vertices in both cells, and
    rounding to ROUND decimals keeps them equal: no gap, no overlap."""
    eps = 1e-9
    grid, canon = {}, {}

    def key(p):
        return (math.floor(p[0] / 1e-7), math.floor(p[1] / 1e-7))

    def find(p):
        kx, ky = key(p)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for q in grid.get((kx + dx, ky + dy), ()):
                    if abs(q[0] - p[0]) < eps and abs(q[1] - p[1]) < eps:
                        return q
        grid.setdefault((kx, ky), []).append(p)
        return p

    for v in west_edge:
        find(tuple(v))
    for poly in polys:
        for p in poly:
            canon[p] = find(p)
    rings = []
    for poly in polys:
        ring = []
        for p in poly:
            if not ring or ring[-1] != canon[p]:
                ring.append(canon[p])
        while len(ring) > 1 and ring[0] == ring[-1]:
            ring.pop()
        rings.append(ring)
    # T-junctions: vertices lying on another cell's edge.
    verts = {q for ring in rings for q in ring}
    buckets = {}
    for q in verts:
        buckets.setdefault((math.floor(q[0] / 0.01), math.floor(q[1] / 0.01)), []).append(q)
    full_rings = []
    for ring in rings:
        full = []
        for a, b in zip(ring, ring[1:] + ring[:1]):
            full.append(a)
            x0, x1 = sorted((a[0], b[0]))
            y0, y1 = sorted((a[1], b[1]))
            on = []
            for bx in range(math.floor(x0 / 0.01), math.floor(x1 / 0.01) + 1):
                for by in range(math.floor(y0 / 0.01), math.floor(y1 / 0.01) + 1):
                    for q in buckets.get((bx, by), ()):
                        if q == a or q == b or not (x0 - eps <= q[0] <= x1 + eps and y0 - eps <= q[1] <= y1 + eps):
                            continue
                        d, t = seg_distance(q, a, b)
                        if d < eps and 0 < t < 1:
                            on.append((t, q))
            full.extend(q for _, q in sorted(on))
        full_rings.append(full)
    # Points on the slanted west edge take its nearest vertex.
    west = [tuple(v) for v in west_edge]
    snapped = {}
    for q in verts:
        if q in west:
            continue
        for a, b in zip(west, west[1:]):
            d, t = seg_distance(q, a, b)
            if d < eps:
                snapped[q] = a if t < 0.5 else b
                break
    out = []
    for full in full_rings:
        rounded = []
        for p in full:
            x, y = snapped.get(p, p)
            q = (r(x), r(y))
            if not rounded or rounded[-1] != q:
                rounded.append(q)
        while rounded[0] == rounded[-1]:
            rounded.pop()
        out.append(rounded)
    return out


def simple(ring):
    """True when no two non-adjacent edges of the open ring touch."""
    def orient(p, q, s):
        v = (q[0] - p[0]) * (s[1] - p[1]) - (q[1] - p[1]) * (s[0] - p[0])
        return (v > 0) - (v < 0)

    def on_seg(p, q, s):
        return min(p[0], q[0]) <= s[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= s[1] <= max(p[1], q[1])

    def meet(p1, p2, p3, p4):
        d1, d2, d3, d4 = orient(p3, p4, p1), orient(p3, p4, p2), orient(p1, p2, p3), orient(p1, p2, p4)
        if d1 != d2 and d3 != d4:
            return True
        return (d1 == 0 and on_seg(p3, p4, p1)) or (d2 == 0 and on_seg(p3, p4, p2)) \
            or (d3 == 0 and on_seg(p1, p2, p3)) or (d4 == 0 and on_seg(p1, p2, p4))

    n = len(ring)
    edges = [(ring[i], ring[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue
            if meet(*edges[i], *edges[j]):
                return False
    return True


# ---------------------------------------------------------------- villages and grid cells

BLOCK_W, BLOCK_H = 0.0060, 0.0050  # a village's grid block, ~590 m × 555 m
SPACING_X, SPACING_Y = 0.0125, 0.0110

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = ["建国", "秀英", "桂兰", "志强", "国华", "玉梅", "海燕", "伟", "芳", "军", "敏", "静", "丽", "强", "磊", "洋",
         "红梅", "春生", "德明", "小平", "文华", "淑珍", "卫东", "红英", "金凤", "永红", "新民", "爱华", "少波", "丹"]
VILLAGE_WORDS = ["新", "长", "团", "石", "桥", "塘", "湾", "坪", "山", "冲", "岭", "洲", "坝", "港", "口", "源",
                 "竹", "枫", "荷", "柳", "桃", "梅", "兴", "和", "平", "安", "富", "华", "青", "龙", "凤", "狮"]


def person():
    return SURNAMES[rng.int(0, len(SURNAMES) - 1)] + GIVEN[rng.int(0, len(GIVEN) - 1)]


def clear_of_water(x, y):
    """A village block must sit on dry, protected land: east of the 湘江 levee and off the 濠江."""
    half_w, half_h = BLOCK_W / 2, BLOCK_H / 2
    if y - half_h < SOUTH + 0.003 or y + half_h > NORTH - 0.003:
        return False
    corners_lat = (max(y - half_h, SOUTH), min(y + half_h, NORTH))
    levee = max(xiang_levee_lon(c) for c in corners_lat)
    rail = max(lon_at(XIANG, c) + RAIL_OFFSET for c in corners_lat)
    if x - half_w < levee + 0.0025:
        return False
    # Ordinary villages keep off the railway embankment; the seats and 将军村 are placed by hand.
    if x - half_w < rail + 0.0015:
        return False
    if HAO[-1][0] <= x + half_w and x - half_w <= HAO[0][0]:
        lo = max(HAO[-1][0], x - half_w)
        hi = min(HAO[0][0], x + half_w)
        for xx in (lo, (lo + hi) / 2, hi):
            if abs(lat_at(HAO, xx) - y) < half_h + HAO_LEVEE_OFFSET + 0.002:
                return False
    return True


def block_inside(ring, x, y, margin=0.0008):
    hw, hh = BLOCK_W / 2 + margin, BLOCK_H / 2 + margin
    return all(contains(ring, x + dx, y + dy) for dx in (-hw, hw) for dy in (-hh, hh))


def villages_for(town, ring, fixed):
    tid, name, col, a, b, seat, count = town
    xs = [p[0] for p in ring]
    candidates = []
    y = a + SPACING_Y / 2
    row = 0
    while y < b:
        x = min(xs) + SPACING_X / 2 + (SPACING_X / 2 if row % 2 else 0)
        while x < max(xs):
            jx, jy = x + rng.uniform(-0.002, 0.002), y + rng.uniform(-0.0018, 0.0018)
            if block_inside(ring, jx, jy) and clear_of_water(jx, jy):
                if all(abs(jx - fx) > BLOCK_W + 0.002 or abs(jy - fy) > BLOCK_H + 0.002 for fx, fy in fixed):
                    candidates.append((jx, jy))
            x += SPACING_X
        y += SPACING_Y
        row += 1
    need = count - len(fixed)
    if len(candidates) < need:
        raise SystemExit(f"{name}: only {len(candidates)} places for {need} villages")
    # Deterministic shuffle, then take what is needed.
    for i in range(len(candidates) - 1, 0, -1):
        j = rng.int(0, i)
        candidates[i], candidates[j] = candidates[j], candidates[i]
    return fixed + candidates[:need]


def village_name(used):
    while True:
        n = VILLAGE_WORDS[rng.int(0, len(VILLAGE_WORDS) - 1)] + VILLAGE_WORDS[rng.int(0, len(VILLAGE_WORDS) - 1)] + "村"
        if n not in used:
            used.add(n)
            return n


def feature(geometry_type, coordinates, props):
    return {"type": "Feature", "geometry": {"type": geometry_type, "coordinates": coordinates}, "properties": props}


def write(name, features):
    doc = {"type": "FeatureCollection", "features": features}
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, sort_keys=True, indent=1)
        f.write("\n")


def line_length_m(coords):
    total = 0.0
    for (x0, y0), (x1, y1) in zip(coords, coords[1:]):
        p0, p1 = math.radians(y0), math.radians(y1)
        dl = math.radians(x1 - x0)
        h = math.sin((p1 - p0) / 2) ** 2 + math.cos(p0) * math.cos(p1) * math.sin(dl / 2) ** 2
        total += 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(h)))
    return total


# ---------------------------------------------------------------- patrol sections (巡堤查险)

SECTION_MAX_M = 1000.0    # one patrol group's stretch, at most
SECTION_OVERLAP_M = 20.0  # adjacent sections overlap (the rule says at least 10 m)
POINT_SPACING_M = 300.0   # consecutive patrol points at most this far apart
POINT_SPACING_MIN_M = 200.0

# Structures through each levee (sluices 涵闸, culverts 涵洞, pump stations 排渍站/电排站), invented:
# (fraction of the levee's length from its start, name).
STRUCTURES = {
    "XJ-E-ZH": [(0.08, "朱亨南涵闸"), (0.27, "石子湾涵洞"), (0.46, "朱亨排渍站"), (0.63, "太湖港涵闸"), (0.88, "新港电排站")],
    "XJ-E-GT": [(0.15, "淦田港涵闸"), (0.41, "淦田排渍站"), (0.66, "白关涵洞"), (0.9, "王家洲电排站")],
    "XJ-E-NZ": [(0.12, "堤湾涵洞"), (0.35, "南洲排渍站"), (0.6, "将军村涵闸"), (0.83, "南洲电灌站")],
    "XJ-E-LK": [(0.2, "城南涵闸"), (0.55, "涪口排渍站"), (0.85, "河街涵洞")],
    "XJ-E-LKN": [(0.25, "新码头涵闸"), (0.7, "涪口北排渍站")],
    "XJ-W-ZH": [(0.1, "沙坪涵闸"), (0.38, "西洲涵洞"), (0.57, "对河排渍站"), (0.82, "鸭婆洲涵闸")],
    "XJ-W-GT": [(0.22, "渔洲涵闸"), (0.5, "淦田西排渍站"), (0.78, "杨柳湾涵洞")],
    "XJ-W-NZ": [(0.3, "荷叶塘涵闸"), (0.65, "南洲西排渍站")],
    "XJ-W-LK": [(0.18, "鹅公洲涵闸"), (0.45, "涪口西排渍站"), (0.76, "西岸涵洞")],
    "HJ-N": [(0.06, "濠口北排渍站"), (0.3, "濠江北涵闸"), (0.55, "龙门港涵洞"), (0.8, "雷打石北电排站")],
    "HJ-S": [(0.06, "濠口排渍站"), (0.33, "濠江南涵闸"), (0.6, "雷打石涵洞"), (0.85, "仙井港电排站")],
}


def ceil1(x):
    return math.ceil(round(x * 10, 6)) / 10


def floor1(x):
    return math.floor(round(x * 10, 6)) / 10


def chainage_text(m):
    m = int(round(m))
    return f"K{m // 1000}+{m % 1000:03d}"


class Line:
    """A levee's line with cumulative great-circle lengths, for positions at a chainage."""

    def __init__(self, coords, origin):
        self.coords, self.origin = coords, origin
        self.cum = [0.0]
        for a, b in zip(coords, coords[1:]):
            self.cum.append(self.cum[-1] + line_length_m([a, b]))
        self.end = origin + self.cum[-1]

    def at(self, chainage):
        d = min(max(chainage - self.origin, 0.0), self.cum[-1])
        for i in range(len(self.coords) - 1):
            if d <= self.cum[i + 1] or i == len(self.coords) - 2:
                (x0, y0), (x1, y1) = self.coords[i], self.coords[i + 1]
                t = (d - self.cum[i]) / (self.cum[i + 1] - self.cum[i])
                return pt(x0 + t * (x1 - x0), y0 + t * (y1 - y0))

    def course(self, a, b):
        """The line from chainage a to b: its ends and the vertices between."""
        inner = [c for c, m in zip(self.coords, self.cum) if a < self.origin + m < b]
        return [self.at(a)] + inner + [self.at(b)]


def patrol_sections(levee):
    """Sections of at most 1,000 m, equal in length, overlapping by 20 m, from end to end of the
    levee; patrol points evenly 200–300 m apart from end to end of each section, plus the levee's
    structures that fall within it."""
    props = levee["properties"]
    lid, lname = props["id"], props["name"]
    line = Line(levee["geometry"]["coordinates"], props["chainage_origin_m"])
    start, length = line.origin, line.cum[-1]
    structures = [(round(start + f * length), name) for f, name in STRUCTURES[lid]]
    n = max(1, math.ceil((length - SECTION_OVERLAP_M) / (SECTION_MAX_M - 1 - SECTION_OVERLAP_M)))
    size = (length + SECTION_OVERLAP_M * (n - 1)) / n
    out = []
    for k in range(n):
        a = start + k * (size - SECTION_OVERLAP_M)
        frm = ceil1(a) if k == 0 else round(a, 1)
        to = floor1(line.end) if k == n - 1 else round(a + size, 1)
        assert start <= frm < to <= line.end and to - frm <= SECTION_MAX_M, (lid, k, frm, to)
        sid = f"PS-{lid}-{k + 1:02d}"
        steps = math.ceil((to - frm) / (POINT_SPACING_M - 1))
        spacing = (to - frm) / steps
        assert POINT_SPACING_MIN_M <= spacing <= POINT_SPACING_M, (sid, spacing)
        points = [(frm if j == 0 else to if j == steps else round(frm + j * spacing, 1), "regular", None)
                  for j in range(steps + 1)]
        points += [(float(c), "structure", name) for c, name in structures if frm <= c <= to]
        points.sort(key=lambda p: (p[0], p[1]))
        for p, q in zip(points, points[1:]):
            assert 0 < q[0] - p[0] <= POINT_SPACING_M, (sid, p, q)
        out.append(feature("LineString", line.course(frm, to), {
            "id": sid, "name": f"{lname}第{k + 1}巡查段", "levee_id": lid, "from": frm, "to": to,
            "points": [{"id": f"PP-{lid}-{k + 1:02d}-{j + 1}", "chainage": c, "kind": kind,
                        "name": name or f"巡查点{chainage_text(c)}"} for j, (c, kind, name) in enumerate(points)],
        }))
    for p, q in zip(out, out[1:]):
        assert p["properties"]["to"] - q["properties"]["from"] >= 10.0, (p["properties"]["id"], q["properties"]["id"])
    assert out[0]["properties"]["from"] - start < 1.0 and line.end - out[-1]["properties"]["to"] < 1.0, lid
    for c, name in structures:
        assert any(s["properties"]["from"] <= c <= s["properties"]["to"] for s in out), (lid, name)
    return out


# ---------------------------------------------------------------- protected assets

# The 京广铁路's kilometre posts grow from Beijing, southward: the protected line runs N→S and its
# post at the district's north edge is K1650+000 (invented, of the right order for this stretch).
RAIL_CHAINAGE_ORIGIN_M = 1_650_000.0

# Invented: (id, name, kind, priority 1 highest … 3, buffer_m, town, lon, lat).
ASSETS = [
    ("PA-SUB-LK", "涪口220kV变电站", "substation", 1, 500, "LK", 113.154, 27.696),
    ("PA-SUB-NZ", "南洲110kV变电站", "substation", 1, 300, "NZ", 113.102, 27.628),
    ("PA-SUB-GT", "淦田110kV变电站", "substation", 2, 300, "GT", 113.062, 27.560),
    ("PA-SUB-ZH", "朱亨110kV变电站", "substation", 2, 300, "ZH", 113.062, 27.392),
    ("PA-SUB-LD", "雷打石110kV变电站", "substation", 2, 300, "LD", 113.262, 27.690),
    ("PA-WW-LK", "涪口自来水厂", "water_works", 1, 300, "LK", 113.146, 27.684),
    ("PA-WW-NZ", "南洲水厂", "water_works", 1, 300, "NZ", 113.108, 27.652),
    ("PA-WW-GT", "淦田水厂", "water_works", 2, 200, "GT", 113.066, 27.582),
    ("PA-HOS-LK", "涪口区人民医院", "hospital", 1, 300, "LK", 113.160, 27.702),
    ("PA-HOS-TCM", "涪口区中医医院", "hospital", 2, 200, "LK", 113.170, 27.690),
    ("PA-HOS-NZ", "南洲镇卫生院", "hospital", 2, 200, "NZ", 113.100, 27.636),
    ("PA-HOS-ZH", "朱亨镇卫生院", "hospital", 2, 200, "ZH", 113.058, 27.372),
    ("PA-SCH-LK", "涪口区第一中学", "school", 2, 200, "LK", 113.166, 27.712),
    # Between the levee and the railway, where a breach at 将军村 would strike first.
    ("PA-SCH-JJ", "将军村小学", "school", 2, 200, "NZ", 113.0975, 27.6555),
]


def protected_assets(railway, town_rings):
    rail = railway["geometry"]["coordinates"][::-1]
    out = [feature("LineString", rail, {
        "id": "PA-RAIL-JG", "name": "京广铁路涪口段", "kind": "railway", "priority": 1, "buffer_m": 500,
        "chainage_origin_m": RAIL_CHAINAGE_ORIGIN_M})]
    for aid, name, kind, priority, buffer_m, town, x, y in ASSETS:
        assert contains(town_rings[town], x, y), aid
        # On the land the levees protect: east of the 湘江 east levee, and clear of the 濠江 levees.
        assert x > xiang_levee_lon(y) + 0.003, aid
        assert not HAO[-1][0] <= x <= HAO[0][0] or abs(lat_at(HAO, x) - y) > HAO_LEVEE_OFFSET + 0.002, aid
        out.append(feature("Point", pt(x, y), {"id": aid, "name": name, "kind": kind, "priority": priority, "buffer_m": buffer_m}))
    return out


# Flood-materials depots (防汛物资仓库): the district's reserve at 涪口 and one per town, on the
# protected land by the town seat. By item (whole units: pieces, m², boats, units, m³): what the
# district reserve, a riverside town's depot and an eastern town's depot hold at the start. The
# low-stock level of every item is a quarter of the opening stock (at least one unit).
DEPOT_STOCK = {
    "sandbags": (200_000, 50_000, 15_000),
    "geotextile": (60_000, 15_000, 4_000),
    "life_jackets": (3_000, 800, 300),
    "rescue_boats": (20, 6, 2),
    "pumps": (40, 10, 4),
    "stones": (20_000, 5_000, 1_000),
    "lights": (300, 80, 30),
}


def depots():
    """The depots layer: fixed places and numbers (no PRNG), so it never shifts with the rest."""
    specs = [("D-FUKOU", "涪口区防汛物资储备中心", "LK", (0.014, -0.012), 0)]
    specs += [(f"D-{tid}", name + "防汛物资仓库", tid, (0.006, -0.004), 1 if col == "W" else 2)
              for tid, name, col, a, b, seat, count in TOWNS]
    out = []
    for did, name, tid, (dx, dy), tier in specs:
        _, _, col, a, b, seat, _ = next(t for t in TOWNS if t[0] == tid)
        x, y = seat[0] + dx, seat[1] + dy
        assert contains(town_ring(col, a, b), x, y), did
        # On the land the levees protect: east of the 湘江 east levee, and clear of the 濠江 levees.
        assert x > xiang_levee_lon(y) + 0.003, did
        assert not HAO[-1][0] <= x <= HAO[0][0] or abs(lat_at(HAO, x) - y) > HAO_LEVEE_OFFSET + 0.002, did
        stock = {item: counts[tier] for item, counts in DEPOT_STOCK.items()}
        out.append(feature("Point", pt(x, y), {"id": did, "name": name, "town": f"T-{tid}", "stock": stock,
                                               "low_stock": {item: max(1, n // 4) for item, n in stock.items()}}))
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    district = district_ring()
    towns_out, villages_out, cells_out, shelters_out = [], [], [], []
    used_names = set()
    village_rows = []  # (town, village id, name, x, y, population)

    jiangjun = (xiang_levee_lon(JIANGJUN_LAT) + 0.0042, JIANGJUN_LAT)  # 将军村, between the levee and the railway
    assert jiangjun[0] < rail_lon(JIANGJUN_LAT) - 0.0005
    for town in TOWNS:
        tid, name, col, a, b, seat, count = town
        ring = town_ring(col, a, b)
        fixed = [seat] + ([jiangjun] if tid == "NZ" else [])
        for fx, fy in fixed:
            assert block_inside(ring, fx, fy, 0.0), (name, fx, fy)
        spots = villages_for(town, ring, fixed)
        town_pop = 0
        for i, (x, y) in enumerate(spots):
            vid = f"V-{tid}-{i + 1:02d}"
            if i == 0:
                vname, kind, pop = name.replace("镇", "社区"), "community", rng.int(8000, 14000)
            elif tid == "NZ" and i == 1:
                vname, kind, pop = "将军村", "village", 1860
            else:
                vname, kind, pop = village_name(used_names), "village", rng.int(1050, 2750)
            town_pop += pop
            village_rows.append((tid, vid, vname, kind, x, y, pop))
        towns_out.append((tid, name, ring, seat, town_pop))

    # Grid cells: 260 in all, tiling the district. The 18 largest villages get three cells, the
    # next 85 two, the rest one.
    ranked = sorted(village_rows, key=lambda v: (-v[6], v[1]))
    cells_per = {}
    for i, v in enumerate(ranked):
        cells_per[v[1]] = 3 if i < 18 else 2 if i < 18 + 85 else 1
    assert sum(cells_per.values()) == 260
    # Each village's region: the part of its town nearer to it than to any other of the town's
    # villages; then cut into its cells.
    parts = []  # (village row, cell index, open ring)
    for tid, name, ring, seat, pop in towns_out:
        rows = [v for v in village_rows if v[0] == tid]
        for v in rows:
            region = voronoi_region(ring, (v[4], v[5]), [(o[4], o[5]) for o in rows if o is not v])
            for c, part in enumerate(split_equal(region, cells_per[v[1]])):
                parts.append((v, c, part))
    west = [(r(x), r(y)) for x, y in west_edge_points(SOUTH, NORTH)]
    rings = conforming([p for _, _, p in parts], west)
    # 76 workers cover two cells (the first two cells of 76 multi-cell villages, side by side):
    # 260 - 76 = 184.
    shared = {v[1] for v in ranked if cells_per[v[1]] >= 2}
    shared = set(sorted(shared)[:76])
    worker_no, worker, names = 0, None, {}
    cell_area = {}
    town_names = {t[0]: t[1] for t in towns_out}
    for (v, c, _), ring in zip(parts, rings):
        tid, vid, vname, kind, x, y, pop = v
        assert simple(ring), (vid, c)
        ring = ccw([list(p) for p in ring] + [list(ring[0])])
        if c == 0 or not (vid in shared and c == 1):
            worker_no += 1
            worker = (f"GW-{worker_no:03d}", person())
        cells_out.append(feature("Polygon", [ring], {
            "id": f"GC-{vid[2:]}-{c + 1}", "name": f"{vname}第{c + 1}网格", "town": f"T-{tid}", "village": vid,
            "town_name": town_names[tid], "village_name": vname,
            "grid_worker_id": worker[0], "grid_worker": worker[1],
        }))
        names.setdefault(worker[0], worker[1])
        cell_area[cells_out[-1]["properties"]["id"]] = shoelace(ring)
    assert worker_no == 184, worker_no
    assert len(cells_out) == 260
    # Exactly tiled: every town's cells add up to the town, and every village lies inside exactly
    # one cell, which names it.
    for tid, name, ring, seat, pop in towns_out:
        total = sum(cell_area[f["properties"]["id"]] for f in cells_out if f["properties"]["town"] == f"T-{tid}")
        assert abs(total - shoelace(ring)) < 1e-9 * shoelace(ring), (tid, total, shoelace(ring))
    for tid, vid, vname, kind, x, y, pop in village_rows:
        holders = [f for f in cells_out if contains(f["geometry"]["coordinates"][0], *pt(x, y))]
        assert [f["properties"]["village"] for f in holders] == [vid], (vid, [f["properties"]["id"] for f in holders])
    # Population: the cell a village's houses cluster in holds more; households ~2.9 people; the
    # vulnerable people (重点人群) ~3–5 % of a cell.
    by_village = {}
    for f in cells_out:
        by_village.setdefault(f["properties"]["village"], []).append(f)
    for tid, vid, vname, kind, x, y, pop in village_rows:
        cells = by_village[vid]
        weights = [rng.uniform(0.8, 1.2) * (1.6 if contains(f["geometry"]["coordinates"][0], *pt(x, y)) else 1.0)
                   for f in cells]
        pops = [int(pop * w / sum(weights)) for w in weights]
        pops[-1] += pop - sum(pops)
        for f, p in zip(cells, pops):
            f["properties"].update({
                "population": p, "households": max(1, round(p / 2.9)),
                "vulnerable": {
                    "elderly_alone": round(p * rng.uniform(0.015, 0.025)),
                    "disabled": round(p * rng.uniform(0.006, 0.012)),
                    "pregnant": round(p * rng.uniform(0.003, 0.007)),
                    "unaccompanied_children": round(p * rng.uniform(0.001, 0.004)),
                }})

    for tid, vid, vname, kind, x, y, pop in village_rows:
        villages_out.append(feature("Point", pt(x, y), {"id": vid, "name": vname, "kind": kind, "town": f"T-{tid}", "population": pop}))
    district_pop = sum(t[4] for t in towns_out)
    assert 340_000 <= district_pop < 350_000, district_pop  # 近35万市民
    vulnerable = sum(sum(f["properties"]["vulnerable"].values()) for f in cells_out)
    assert 0.03 <= vulnerable / district_pop <= 0.05, vulnerable

    # Shelters: four per town — two schools, the town hall and a gym — in the larger villages.
    rates = {"water": (3.0, "L"), "instant_noodles": (2.0, "packs"), "bread": (1.0, "loaves"),
             "milk": (0.5, "L"), "mosquito_coils": (0.5, "coils")}
    for tid, name, ring, seat, pop in towns_out:
        hosts = [v for v in village_rows if v[0] == tid]
        hosts = [hosts[0]] + sorted(hosts[1:], key=lambda v: (-v[6], v[1]))[:3]
        kinds = [("town_hall", name + "人民政府礼堂"), ("school", name + "中学"), ("school", name + "中心小学"), ("gym", name + "文体中心")]
        for i, ((kind, sname), host) in enumerate(zip(kinds, hosts)):
            cap = {"town_hall": rng.int(15, 30) * 10, "school": rng.int(25, 45) * 10, "gym": rng.int(35, 60) * 10}[kind]
            days = 3 if kind != "gym" else 4
            supplies = {item: {"stock": float(cap * per * days), "per_person_daily": per, "unit": unit} for item, (per, unit) in rates.items()}
            shelters_out.append(feature("Point", pt(host[4] + 0.0012 * (1 if i % 2 else -1), host[5] + 0.0009), {
                "id": f"S-{tid}-{i + 1:02d}", "name": sname, "kind": kind, "town": f"T-{tid}", "capacity": cap,
                "open": False, "supplies": supplies,
            }))
    # 将军村小学, between the 南洲 levee and the railway: a school the village would shelter in, and
    # the first place a breach there floods.
    cap = 200
    shelters_out.append(feature("Point", pt(113.0975, 27.6555), {
        "id": "S-NZ-05", "name": "将军村小学", "kind": "school", "town": "T-NZ", "capacity": cap, "open": False,
        "supplies": {item: {"stock": float(cap * per * 3), "per_person_daily": per, "unit": unit}
                     for item, (per, unit) in rates.items()}}))
    total_capacity = sum(s["properties"]["capacity"] for s in shelters_out)
    assert len(shelters_out) >= 30 and total_capacity > 9000, total_capacity

    # Levees. The district reaches ~2.2 km across the 湘江 (its west edge runs 0.025° west of the
    # centre line), so the 湘江 has a levee on each bank, in one segment per riverside town with
    # chainage continuing northward; see maps/README.md. The east bank stops at the 濠江 mouth and
    # goes on north of it with its own chainage; the west bank runs through.
    levees_out = []
    for bank, side, hand, prefix, bank_name, segments in [
        ("east", 1, "left", "XJ-E", "东岸", [
            ("ZH", "朱亨", SOUTH + 0.002, 27.45, 46.2, 44.0),
            ("GT", "淦田", 27.45, 27.60, 45.6, 43.5),
            ("NZ", "南洲", 27.60, 27.68, 45.0, 43.0),
            ("LK", "涪口", 27.68, 27.7135, 44.5, 42.5)]),
        # The west bank shields polder farmland, not towns: a crest half a metre lower.
        ("west", -1, "right", "XJ-W", "西岸", [
            ("ZH", "朱亨", SOUTH + 0.002, 27.45, 45.7, 44.0),
            ("GT", "淦田", 27.45, 27.60, 45.1, 43.5),
            ("NZ", "南洲", 27.60, 27.68, 44.5, 43.0),
            ("LK", "涪口", 27.68, NORTH - 0.004, 44.0, 42.4)]),
    ]:
        chain = 0.0
        for town, town_name, a, b, crest, design in segments:
            lats = sorted({a, b} | {y for _, y in XIANG if a < y < b} | {a + (b - a) * k / 12 for k in range(1, 12)})
            coords = [pt(lon_at(XIANG, y) + side * LEVEE_OFFSET, y) for y in lats]
            length = line_length_m(coords)
            levees_out.append(feature("LineString", coords, {
                "id": f"{prefix}-{town}", "name": f"湘江{bank_name}大堤{town_name}段", "river": "湘江", "bank": bank,
                "riverside": hand, "chainage_origin_m": round(chain, 1), "length_m": round(length, 1),
                "crest_elevation_m": crest, "design_flood_level_m": design,
            }))
            chain += length
        if bank == "east":
            # 湘江 east bank north of the 濠江 mouth: its own chainage.
            lats = [27.7205 + (NORTH - 0.004 - 27.7205) * k / 10 for k in range(11)]
            coords = [pt(xiang_levee_lon(y), y) for y in lats]
            levees_out.append(feature("LineString", coords, {
                "id": "XJ-E-LKN", "name": "湘江东岸涪口北堤", "river": "湘江", "bank": "east", "riverside": "left",
                "chainage_origin_m": 0.0, "length_m": round(line_length_m(coords), 1), "crest_elevation_m": 44.3,
                "design_flood_level_m": 42.3,
            }))
    # 濠江 banks from the mouth upstream (eastward) to the district's east edge: river on the right of
    # the north bank, left of the south bank. Each starts where the 湘江 east levee meets it (the north
    # bank at XJ-E-LKN's start, the south bank at XJ-E-LK's end), on dry land, not in the 湘江.
    ends = {f["properties"]["id"]: f["geometry"]["coordinates"] for f in levees_out}
    hao_lons = [HAO_LEVEE_WEST + (EAST - 0.002 - HAO_LEVEE_WEST) * k / 20 for k in range(21)]
    for lid, lname, sign, hand, bank, junction in [("HJ-N", "濠江北岸堤", 1, "right", "north", ends["XJ-E-LKN"][0]),
                                                  ("HJ-S", "濠江南岸堤", -1, "left", "south", ends["XJ-E-LK"][-1])]:
        coords = [junction] + [pt(x, lat_at(HAO, x) + sign * HAO_LEVEE_OFFSET) for x in hao_lons]
        levees_out.append(feature("LineString", coords, {
            "id": lid, "name": lname, "river": "濠江", "bank": bank, "riverside": hand,
            "chainage_origin_m": 0.0, "length_m": round(line_length_m(coords), 1), "crest_elevation_m": 43.2, "design_flood_level_m": 41.5,
        }))

    # Flood zones: what a breach of each levee would flood — the low land (圩垸) behind it, from
    # the levee ~1.6–3 km inland, inside the district. Behind the 湘江 east levees a strip whose
    # width varies along the bank; behind the west levees the polder out to the district's west
    # edge (~2.1 km); north and south of the 濠江 a strip ~1.8 km wide that keeps east of the
    # 湘江 east levee. Where polders meet (the 濠江 mouth) zones overlap: either levee floods it.
    def inland(y):
        return 0.016 + 0.014 * (0.5 + 0.5 * math.sin(y * 41.0))  # 0.016–0.030° of longitude

    flood_out = []
    for f in levees_out:
        lp = f["properties"]
        coords = [tuple(c) for c in f["geometry"]["coordinates"]]
        lid = lp["id"]
        if lid.startswith("XJ-E"):
            keep = coords if lid != "XJ-E-LKN" else [c for c in coords if c[1] >= 27.73]
            back = [(x + inland(y), y) for x, y in reversed(keep)]
        elif lid.startswith("XJ-W"):
            lo, hi = coords[0][1], coords[-1][1]
            back = [(x, y) for x, y in reversed(district) if lo <= y <= hi and x < SPLIT]
            back = sorted(set(back), key=lambda p: -p[1])
        else:
            sign = 1 if lid == "HJ-N" else -1
            back = []
            for x, y in reversed(coords[1:]):
                yy = min(max(y + sign * 0.016, SOUTH + 0.001), NORTH - 0.0005)
                back.append((max(x, xiang_levee_lon(yy) + 0.0005), yy))
        ring = close(coords + back)
        assert simple([tuple(p) for p in ring[:-1]]), lid
        for x, y in ring:
            assert contains(district, x, y) or (x, y) in [tuple(c) for c in district], (lid, x, y)
        flood_out.append(feature("Polygon", [ring], {
            "id": f"FZ-{lid}", "name": f"{lp['name']}溃口淹没区", "levee_id": lid}))
    # Shelters in a flood zone: the town halls stand on the old towns' raised ground (老街高地) and
    # stay usable when the levee breaks; the other shelters in a zone must not be opened while its
    # levee is breached — 将军村小学, right behind the 南洲 levee, above all.
    zone_rings = {z["properties"]["levee_id"]: z["geometry"]["coordinates"][0] for z in flood_out}
    for s in shelters_out:
        x, y = s["geometry"]["coordinates"]
        flooded = [lid for lid, zr in zone_rings.items() if contains(zr, x, y)]
        s["properties"]["high_ground"] = bool(flooded) and s["properties"]["kind"] == "town_hall"
    in_nz = [s for s in shelters_out if contains(zone_rings["XJ-E-NZ"], *s["geometry"]["coordinates"])]
    assert any(s["properties"]["high_ground"] for s in in_nz) and not all(s["properties"]["high_ground"] for s in in_nz), \
        [(s["properties"]["id"], s["properties"]["high_ground"]) for s in in_nz]

    gauges_out = [
        feature("Point", pt(lon_at(XIANG, 27.709) + 0.0025, 27.709), {
            "id": "G-XJ-LK", "name": "湘江涪口站", "river": "湘江", "datum": "吴淞",
            "thresholds": {"guard_m": 38.0, "warning_m": 40.0, "guaranteed_m": 42.5}, "levee_ids": ["XJ-E-NZ", "XJ-E-LK", "XJ-E-LKN", "XJ-W-NZ", "XJ-W-LK"],
            # The brief's record flood for comparison: 44.58 m at 株洲 in 1994.
            "record": {"level_m": 44.58, "date": "1994", "station": "株洲"}}),
        feature("Point", pt(lon_at(XIANG, 27.57) + 0.0025, 27.57), {
            "id": "G-XJ-GT", "name": "湘江淦田站", "river": "湘江", "datum": "吴淞",
            "thresholds": {"guard_m": 39.0, "warning_m": 41.0, "guaranteed_m": 43.5}, "levee_ids": ["XJ-E-ZH", "XJ-E-GT", "XJ-W-ZH", "XJ-W-GT"]}),
        feature("Point", pt(113.20, lat_at(HAO, 113.20) - 0.0012), {
            "id": "G-HJ-01", "name": "濠江站", "river": "濠江", "datum": "吴淞",
            "thresholds": {"guard_m": 37.5, "warning_m": 39.5, "guaranteed_m": 41.5}, "levee_ids": ["HJ-N", "HJ-S"]}),
    ]

    rivers_out = [
        feature("LineString", [pt(x, y) for x, y in XIANG], {"id": "R-XIANG", "name": "湘江", "kind": "river"}),
        feature("LineString", [pt(x, y) for x, y in HAO], {"id": "R-HAO", "name": "濠江", "kind": "river"}),
    ]
    # 湘江 water surface: ~500 m wide, clipped to the district's latitudes.
    lats = sorted({SOUTH, NORTH} | {y for _, y in XIANG if SOUTH < y < NORTH})
    east = [(lon_at(XIANG, y) + 0.0026, y) for y in lats]
    west = [(lon_at(XIANG, y) - 0.0026, y) for y in reversed(lats)]
    water_out = [feature("Polygon", [close(east + west)], {"id": "W-XIANG", "name": "湘江", "kind": "river"})]

    bend = {JIANGJUN_LAT + RAIL_BEND_HALF * k / 4 for k in range(-4, 5)}
    rail = [pt(rail_lon(y), y) for y in sorted({SOUTH, NORTH} | {y for _, y in XIANG if SOUTH < y < NORTH} | bend)]
    railways_out = [feature("LineString", rail, {"id": "RW-JINGGUANG", "name": "京广铁路", "kind": "railway"})]
    # No levee vertex in the water: a levee stands on the bank.
    for f in levees_out:
        for x, y in f["geometry"]["coordinates"]:
            assert not contains(water_out[0]["geometry"]["coordinates"][0], x, y), (f["properties"]["id"], x, y)
    sections_out = [s for f in levees_out for s in patrol_sections(f)]
    assets_out = protected_assets(railways_out[0], {t[0]: t[2] for t in towns_out})
    roads_out = [
        feature("LineString", [pt(lon_at(XIANG, y) + 0.032, y) for y in [SOUTH, 27.31, 27.38, 27.44, 27.50, 27.57, 27.64, 27.70, NORTH]],
                {"id": "RD-G107", "name": "G107国道", "kind": "national_road"}),
        feature("LineString", [pt(113.050, 27.380), pt(113.150, 27.350), pt(113.255, 27.300)], {"id": "RD-S211", "name": "朱亨—古岳峰公路", "kind": "provincial_road"}),
        feature("LineString", [pt(113.050, 27.570), pt(113.150, 27.520), pt(113.250, 27.480)], {"id": "RD-X031", "name": "淦田—龙门公路", "kind": "county_road"}),
        feature("LineString", [pt(113.090, 27.640), pt(113.170, 27.625), pt(113.255, 27.605)], {"id": "RD-X032", "name": "南洲—仙井公路", "kind": "county_road"}),
        feature("LineString", [pt(113.142, 27.706), pt(113.200, 27.703), pt(113.250, 27.700)], {"id": "RD-X033", "name": "涪口—雷打石公路", "kind": "county_road"}),
    ]

    # Standing roster: where the rescue and patrol teams stage, in the units such forces turn out
    # in (a company of armed police or militia ~100–120, a boat team ~24, a reserve battalion
    # ~360). T-01 … T-20 keep the ids and kinds they had before the roster was enlarged.
    teams_out = []
    roster = [
        ("armed_police", "武警抢险{}队", 120, ["engineering", "lighting"], "vehicle"),
        ("fire_rescue", "消防救援冲锋舟{}队", 24, ["boat", "medical"], "boat"),
        ("militia", "{}民兵巡堤队", 120, [], "foot"),
    ]
    n = 0
    seats = {tid: seat for tid, name, ring, seat, pop in towns_out}
    for tid, name, ring, seat, pop in towns_out:
        riverside = tid in ("ZH", "GT", "NZ", "LK")
        for kind, pattern, head, caps, mode in roster:
            if kind != "militia" and not riverside:
                continue
            n += 1
            label = name if kind == "militia" else "一二三四"[len([t for t in teams_out if t["properties"]["kind"] == kind])]
            teams_out.append(feature("Point", pt(seat[0] + 0.002 * (n % 3), seat[1] - 0.001 * (n % 2)), {
                "id": f"T-{n:02d}", "name": pattern.format(label), "kind": kind, "headcount": head,
                "capabilities": caps, "travel_mode": mode}))
    workers_in = {tid: len({f["properties"]["grid_worker_id"] for f in cells_out if f["properties"]["town"] == f"T-{tid}"})
                  for tid, *_ in towns_out}
    assert sum(workers_in.values()) == 184
    extra = [
        ("reserve_force", "预备役排涝大队", 80, ["pump", "heavy_machinery"], "vehicle", (113.150, 27.690)),
        ("volunteers", "蓝天救援队", 40, ["boat", "medical", "communications"], "vehicle", (113.100, 27.600)),
        ("cadres", "区防指机关干部突击队", 50, ["communications"], "vehicle", (113.146, 27.704)),
        ("grid_workers", "涪口网格员应急分队", workers_in["LK"], [], "foot", (113.150, 27.712)),
        # From T-21: the district's reserves, staged at the seat and along G107.
        ("armed_police", "武警机动支队一中队", 120, ["engineering", "lighting"], "vehicle", (113.152, 27.700)),
        ("armed_police", "武警机动支队二中队", 120, ["engineering", "lighting"], "vehicle", (113.154, 27.698)),
        ("armed_police", "武警交通工程抢险大队", 160, ["engineering", "heavy_machinery", "lighting"], "vehicle", (113.120, 27.640)),
        ("reserve_force", "预备役步兵营", 360, ["engineering"], "vehicle", (113.156, 27.706)),
        ("reserve_force", "预备役工兵连", 120, ["engineering", "heavy_machinery"], "vehicle", (113.125, 27.645)),
        ("fire_rescue", "涪口区消防救援大队特勤站", 30, ["boat", "medical", "diving"], "vehicle", (113.148, 27.702)),
        ("fire_rescue", "株洲市消防救援支队水域救援队", 40, ["boat", "diving", "medical"], "boat", (113.110, 27.630)),
        ("volunteers", "涪口区红十字救援队", 40, ["medical"], "vehicle", (113.160, 27.702)),
        ("volunteers", "涪口区青年志愿者服务队", 120, [], "foot", (113.144, 27.708)),
        ("volunteers", "退役军人志愿服务队", 80, ["communications"], "vehicle", (113.100, 27.642)),
    ]
    # Per town: a second militia company, the town's cadres, and its grid workers (涪口's are T-20).
    for tid, name, ring, seat, pop in towns_out:
        extra.append(("militia", f"{name}应急民兵抢险连", 100, ["engineering"], "foot", (seat[0] - 0.002, seat[1] + 0.001)))
        extra.append(("cadres", f"{name}机关干部突击队", 40, ["communications"], "vehicle", (seat[0] + 0.001, seat[1] + 0.002)))
        if tid != "LK":
            extra.append(("grid_workers", f"{name}网格员应急分队", workers_in[tid], [], "foot", (seat[0] - 0.001, seat[1] - 0.002)))
    for kind, tname, head, caps, mode, at in extra:
        n += 1
        teams_out.append(feature("Point", pt(*at), {"id": f"T-{n:02d}", "name": tname, "kind": kind, "headcount": head,
                                                   "capabilities": sorted(caps), "travel_mode": mode}))
    roster_total = sum(t["properties"]["headcount"] for t in teams_out)
    assert 3000 <= roster_total <= 8000, roster_total
    assert sum(t["properties"]["headcount"] for t in teams_out if t["properties"]["kind"] == "grid_workers") == 184
    # The 将军村 breach drew close to 1,000 rescuers: the armed police, reserves, militia, fire
    # rescue and cadres staged within 20 km of it are more than that.
    jj = pt(*jiangjun)
    near_jj = sum(t["properties"]["headcount"] for t in teams_out
                  if t["properties"]["kind"] in ("armed_police", "reserve_force", "militia", "fire_rescue", "cadres")
                  and line_length_m([t["geometry"]["coordinates"], jj]) < 20_000)
    assert near_jj >= 1000, near_jj

    write("district.geojson", [feature("Polygon", [district], {"id": "FUKOU", "name": "涪口区", "population": district_pop})])
    write("towns.geojson", [feature("Polygon", [ring], {"id": f"T-{tid}", "name": name, "seat": pt(*seat), "population": pop})
                            for tid, name, ring, seat, pop in towns_out])
    write("villages.geojson", villages_out)
    write("grid_cells.geojson", cells_out)
    write("levees.geojson", levees_out)
    write("shelters.geojson", shelters_out)
    write("gauges.geojson", gauges_out)
    write("rivers.geojson", rivers_out)
    write("water.geojson", water_out)
    write("railways.geojson", railways_out)
    write("patrol_sections.geojson", sections_out)
    write("protected_assets.geojson", assets_out)
    write("roads.geojson", roads_out)
    write("teams.geojson", teams_out)
    write("depots.geojson", depots())
    write("flood_zones.geojson", flood_out)

    area = shoelace(district)
    assert abs(sum(shoelace(t[2]) for t in towns_out) - area) < 1e-9 * area
    print(f"district population {district_pop}, {len(villages_out)} villages, {len(cells_out)} grid cells, "
          f"{worker_no} grid workers, {len(shelters_out)} shelters ({total_capacity} places), {len(levees_out)} levees, "
          f"{len(teams_out)} teams, {len(sections_out)} patrol sections "
          f"({sum(len(s['properties']['points']) for s in sections_out)} points), {len(assets_out)} protected assets, "
          f"{len(flood_out)} flood zones ({sum(s['properties']['high_ground'] for s in shelters_out)} shelters on high ground), "
          f"roster {roster_total} people ({near_jj} within 20 km of 将军村)")


if __name__ == "__main__":
    main()
