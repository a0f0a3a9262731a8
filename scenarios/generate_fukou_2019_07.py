#!/usr/bin/env python3
"""Deterministic generator of the July 2019 flood drill (scenarios/fukou-2019-07.toml).

The story is the product brief's ("The story it comes from"; and issue 10 §2 of the project):
heavy rain from the evening of day 1; the 湘江 at 涪口 rising through 设防, 警戒 and 保证 to about
1.5 m above 保证 at the crest on day 4, then falling; response level IV → III → II and back;
24-hour levee patrols on every levee (passes every 30 minutes above 警戒); more than 110 levee
hazards (险情), a third of them piping, all eliminated; at 23:00 on day 4 a piping hazard at 将军村
(南洲镇) grows into a breach (溃口) threatening the 京广 railway; close to 1,000 rescuers on scene
until the breach is closed at 23:10 on day 6; 7,026 people evacuated from the low-lying villages
into shelters stocked with water, bread, milk, instant noodles and mosquito coils, or to
relatives; nobody dead or missing.

Everything else (times, levels, which villages, who patrols where, every hazard but 将军村's) is
invented here, from the map in maps/fukou/ (its only input). Run it and commit its output:

    python3 scenarios/generate_fukou_2019_07.py

The output is byte-for-byte the same on every run (own PRNG, fixed rounding, no clock read).
To change the drill, change the plan tables below (HYDROGRAPHS, RESPONSE, HAZARD_KINDS,
EVACUATION, BREACH_TEAMS, …) and run it again; `crest scenario check` then checks the result.
"""

import datetime
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
MAP = os.path.join(HERE, "..", "maps", "fukou")
OUT = os.path.join(HERE, "fukou-2019-07.toml")
SEED = 20190706

# ---------------------------------------------------------------------------------------------
# The plan. Times are minutes after the start (day 1, 00:00 Beijing time); D(d, h, m) = day d
# (1-based, as the story counts days), h:m.
# ---------------------------------------------------------------------------------------------

START = "2019-07-06T00:00:00+08:00"
DURATION_DAYS = 9
JURISDICTION = "FUKOU"  # the district's id in maps/fukou/district.geojson


def D(day, h=0, m=0):
    return ((day - 1) * 24 + h) * 60 + m


# Gauge levels (m, 吴淞) at times; readings every hour are interpolated between them.
# 涪口 (G-XJ-LK): 设防 38.0, 警戒 40.0, 保证 42.5; crest 44.02 (+1.52 over 保证) on day 4.
HYDROGRAPHS = {
    "G-XJ-LK": [
        (D(1), 36.20), (D(1, 18), 36.45), (D(2, 6), 37.60), (D(2, 10), 38.10),
        (D(2, 22), 40.10), (D(3, 12), 41.60), (D(3, 21), 42.60), (D(4, 8), 43.50),
        (D(4, 18), 44.02), (D(4, 23), 43.98), (D(5, 8), 43.70), (D(5, 20), 43.00),
        (D(6, 8), 42.30), (D(6, 20), 41.20), (D(7, 8), 40.20), (D(7, 14), 39.80),
        (D(8, 0), 38.60), (D(8, 5), 37.90), (D(9, 0), 37.00), (D(9, 23), 36.60),
    ],
    # 淦田 upstream (39.0 / 41.0 / 43.5): crests some hours earlier.
    "G-XJ-GT": [
        (D(1), 37.10), (D(1, 18), 37.30), (D(2, 6), 38.60), (D(2, 9), 39.10),
        (D(2, 20), 41.10), (D(3, 12), 42.70), (D(3, 20), 43.60), (D(4, 12), 44.40),
        (D(4, 20), 44.20), (D(5, 12), 43.40), (D(6, 6), 42.20), (D(6, 20), 41.30),
        (D(7, 8), 40.60), (D(7, 20), 39.60), (D(8, 2), 38.80), (D(9, 0), 38.00),
        (D(9, 23), 37.60),
    ],
    # 濠江 (37.5 / 39.5 / 41.5): the tributary, backed up by the 湘江 at its mouth.
    "G-HJ-01": [
        (D(1), 35.80), (D(1, 18), 36.00), (D(2, 6), 37.00), (D(2, 11), 37.60),
        (D(3, 1), 39.60), (D(3, 18), 40.80), (D(4, 16), 41.80), (D(5, 2), 41.70),
        (D(5, 20), 41.10), (D(6, 12), 40.20), (D(7, 2), 39.40), (D(7, 18), 38.30),
        (D(8, 3), 37.40), (D(9, 0), 36.60), (D(9, 23), 36.20),
    ],
}
# Forecasts of the provincial hydrology centre (invented): gauge, entered at, peak, peak at.
FORECASTS = [
    ("G-XJ-LK", D(2, 16), 43.6, D(4, 20)),
    ("G-XJ-LK", D(3, 16), 44.1, D(4, 18)),
    ("G-XJ-GT", D(3, 10), 44.3, D(4, 12)),
]
NOTES = [
    (D(1, 18), "18时起全区普降暴雨到大暴雨，上游株洲、衡阳持续强降雨",
     "Heavy to torrential rain over the district from 18:00; persistent heavy rain upstream"),
    (D(2, 6), "过去12小时全区平均降雨量98毫米，湘江水位快速上涨",
     "98 mm of rain on average in the last 12 hours; the Xiang River is rising fast"),
    (D(2, 12), "区防指：全区堤防24小时巡堤查险，每段两班轮换",
     "District command: 24-hour levee patrols on every levee, two shifts per section"),
    (D(3, 8), "降雨持续，省水文中心预计湘江涪口站将超保证水位",
     "Rain goes on; the provincial hydrology centre expects 涪口 above its guaranteed level"),
    (D(4, 18), "湘江涪口站出现洪峰44.02米，超保证水位1.52米",
     "Crest at 涪口: 44.02 m, 1.52 m above its guaranteed level"),
    (D(5, 12), "雨停，湘江水位缓慢回落", "The rain has stopped; the Xiang River falls slowly"),
    (D(8, 12), "全区堤防险情全部排除，转入灾后恢复",
     "Every levee hazard eliminated; the district turns to recovery"),
]
# Response levels of the district (set_response_level); None lifts the response.
# III and II are cues for the trainees (CUES below), with a simulated answer.
RESPONSE = [
    (D(2, 10, 30), "IV", "湘江涪口站达到设防水位38.0米"),
    (D(6, 12), "III", "涪口站回落至保证水位以下，溃口已合龙"),
    (D(7, 16), "IV", "涪口站回落至警戒水位以下"),
    (D(8, 12), None, "各站回落至设防水位以下，终止应急响应"),
]

# Patrols: every section of the map, two teams (甲班 day 07–19, 乙班 night 19–07), from day 2
# 07:00 to day 8 07:00. A team walks its section back and forth in 14.4 minutes (≈4 km/h) with
# a fix every 7 min 12 s, so every patrol point is passed at least every 28.8 minutes.
PATROL_FROM = D(2, 7)
PATROL_SHIFTS = 12
SHIFT_MIN = 12 * 60
TRAVERSE_S = 864  # one way along the section
FIX_EVERY = "7m12s"  # half of TRAVERSE_S: a fix at each end and one in the middle
PATROL_HEADCOUNT = 6

# Hazards besides 将军村's: kind → (how many, severities, hours from handling to eliminated).
HAZARD_KINDS = [
    ("piping", 39, ["major", "major", "general", "critical"], (6, 30)),
    ("seepage", 52, ["general", "general", "major"], (2, 14)),
    ("leak", 8, ["major", "critical"], (4, 16)),
    ("slope_slide", 7, ["major", "general"], (6, 24)),
    ("sinkhole", 6, ["general", "major"], (3, 12)),
    ("crack", 5, ["general"], (2, 10)),
]
HAZARDS_FROM, HAZARDS_UNTIL = D(2, 22), D(7, 6)
DESCRIPTIONS = {
    "piping": ["堤脚背水坡出现管涌，直径约{n}厘米，冒水带沙", "背水侧水塘内发现管涌群{n}处"],
    "seepage": ["背水坡大面积散浸，长约{n}0米", "堤脚渗水，渗水范围约{n}0米"],
    "leak": ["背水坡出现漏洞，出水浑浊，直径约{n}厘米"],
    "slope_slide": ["背水坡局部滑坡，长约{n}米"],
    "sinkhole": ["堤顶出现跌窝，直径约{n}0厘米"],
    "crack": ["堤顶纵向裂缝，长约{n}米"],
}
LEVEE_DEPOT = {"XJ-E-ZH": "D-ZH", "XJ-W-ZH": "D-ZH", "XJ-E-GT": "D-GT", "XJ-W-GT": "D-GT",
               "XJ-E-NZ": "D-NZ", "XJ-W-NZ": "D-NZ", "XJ-E-LK": "D-LK", "XJ-W-LK": "D-LK",
               "XJ-E-LKN": "D-LK", "HJ-N": "D-LD", "HJ-S": "D-LK"}
PIPING_MATERIALS = {"sandbags": 600, "geotextile": 150, "stones": 15}

# The breach at 将军村 (南洲镇, levee XJ-E-NZ, by the 京广 railway).
JIANGJUN_REPORTED = D(4, 19, 40)
BREACH_AT = D(4, 23)
BREACH_CLOSED = D(6, 23, 10)
# Teams massed at the breach: id, committed, on scene (the headcount is the team's, from the map).
# Teams massed at the breach: id, when it is committed and sets off. It drives to the breach at
# TRUCK_KMH (the headcount is the team's, from the map) and is on scene when it arrives.
TRUCK_KMH = 30.0
BREACH_TEAMS = [
    ("T-37", D(4, 23, 5)),   # 南洲镇应急民兵抢险连 100
    ("T-38", D(4, 23, 5)),   # 南洲镇机关干部突击队 40
    ("T-07", D(4, 23, 8)),   # 武警抢险三队 120
    ("T-24", D(4, 23, 40)),  # 预备役步兵营 360 (mustered after the cue's request)
    ("T-21", D(4, 23, 15)),  # 武警机动支队一中队 120
    ("T-23", D(5, 0, 30)),   # 武警交通工程抢险大队 160
    ("T-17", D(5, 1, 0)),    # 预备役排涝大队 80
]
ON_SCENE_FIX_MIN = 9  # a position fix from each team's tablet on scene (silent after 10)
BREACH_STAGES = [("protect_ends", D(5, 6)), ("advance", D(5, 16)), ("close", BREACH_CLOSED)]
BREACH_MATERIALS = [  # depot, when, items
    ("D-NZ", D(4, 23, 20), {"sandbags": 20000, "geotextile": 5000, "stones": 2000, "lights": 40}),
    ("D-FUKOU", D(5, 0, 30), {"sandbags": 80000, "geotextile": 20000, "stones": 8000,
                               "lights": 100, "pumps": 10}),
    ("D-FUKOU", D(5, 14), {"sandbags": 60000, "geotextile": 15000, "stones": 6000}),
]
RESTOCK = ("D-FUKOU", D(5, 12), {"sandbags": 100000, "geotextile": 30000, "stones": 10000},
           "省防汛物资调拨到库")

# Evacuation: the low-lying villages (their points lie in a flood zone), how many leave, when
# the order is issued, and the share that goes to relatives rather than to a shelter.
# 7,026 in all. 将军村's order is a cue for the trainees.
EVACUATION = [
    # village, people who leave, order issued at, to relatives (share)
    ("V-NZ-02", 1860, D(4, 20, 30), 0.25),  # 将军村: everybody
    ("V-NZ-03", 1026, D(4, 6), 0.30),       # 湾冲村
    ("V-NZ-08", 1612, D(4, 6), 0.30),       # 长塘村
    ("V-NZ-17", 847, D(4, 9), 0.35),        # 长华村
    ("V-LK-03", 689, D(4, 10), 0.35),       # 平柳村 (濠江 south bank)
    ("V-LK-08", 992, D(4, 10), 0.30),       # 荷港村 (濠江 south bank)
]
EVACUATED_TOTAL = 7026
LIFT_AT = {"T-NZ": D(7, 10), "T-LK": D(7, 8)}
HOME_FROM = D(7, 12)  # people go home from the shelters from here on
SHELTER_FILL = 0.88  # fill a shelter up to this share of its places (below the 90 % alert)



# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

class Lcg:
    """A fixed 64-bit LCG, so the output never depends on Python's random module."""

    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return self.state >> 11

    def uniform(self, a, b):
        return a + (b - a) * (self.next() / float(1 << 53))

    def int(self, a, b):
        """An integer in [a, b]."""
        return a + self.next() % (b - a + 1)

    def choice(self, items):
        return items[self.next() % len(items)]


def load(layer):
    with open(os.path.join(MAP, layer + ".geojson"), encoding="utf-8") as f:
        return json.load(f)["features"]


def at(minutes):
    """A relative time `+DdHH:MM` (or with seconds)."""
    s = int(round(minutes * 60))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"+{d}d{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")


START_MS = int(datetime.datetime.fromisoformat(START).timestamp() * 1000)


def epoch_ms(minutes):
    return START_MS + int(round(minutes * 60000))


def metres(a, b):
    """Distance in metres between two [lon, lat] points (haversine)."""
    r = 6371008.8
    p1, p2 = math.radians(a[1]), math.radians(b[1])
    dp, dl = p2 - p1, math.radians(b[0] - a[0])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def point_on_line(line, origin, chainage):
    """The point of a levee's line at a chainage (haversine lengths, as near as we need)."""
    left = chainage - origin
    for a, b in zip(line, line[1:]):
        seg = metres(a, b)
        if left <= seg:
            f = left / seg if seg else 0.0
            return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f]
        left -= seg
    return line[-1]


def distance_to_line(p, line):
    """Metres from a point to a polyline (local plane around p)."""
    kx = 111320.0 * math.cos(math.radians(p[1]))
    ky = 110540.0
    best = float("inf")
    for a, b in zip(line, line[1:]):
        ax, ay = (a[0] - p[0]) * kx, (a[1] - p[1]) * ky
        bx, by = (b[0] - p[0]) * kx, (b[1] - p[1]) * ky
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, -(ax * dx + ay * dy) / (dx * dx + dy * dy or 1.0)))
        best = min(best, math.hypot(ax + t * dx, ay + t * dy))
    return best


def inside(ring, p):
    c = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if (y1 > p[1]) != (y2 > p[1]) and p[0] < x1 + (p[1] - y1) * (x2 - x1) / (y2 - y1):
            c = not c
    return c


def union_ring(rings):
    """The outline of cells that share edges vertex for vertex (the map's cells do): the edges
    that belong to one cell only, chained into one closed counter-clockwise ring."""
    edges = {}
    for ring in rings:
        pts = [tuple(p) for p in ring[:-1]]
        for a, b in zip(pts, pts[1:] + pts[:1]):
            if (b, a) in edges:
                del edges[(b, a)]
            else:
                edges[(a, b)] = True
    nxt = {}
    for a, b in edges:
        assert a not in nxt, "the cells' outline touches itself"
        nxt[a] = b
    start = min(nxt)
    ring, p = [start], nxt[start]
    while p != start:
        ring.append(p)
        p = nxt[p]
    assert len(ring) == len(nxt), "the cells do not form one region"
    ring.append(start)
    area = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:]))
    assert area > 0
    return [[x, y] for x, y in ring]


# ---------------------------------------------------------------------------------------------
# TOML output
# ---------------------------------------------------------------------------------------------

def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        text = repr(round(v, 9))
        return text if ("." in text or "e" in text) else text + ".0"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def toml_key(k):
    return k if all(c.isalnum() or c in "-_" for c in k) and k.isascii() else json.dumps(k)


class Timeline:
    """Injects, written in time order (a stable sort keeps the order of things at one time)."""

    def __init__(self):
        self.items = []

    def add(self, minutes, fields, comment=None):
        self.items.append((minutes, len(self.items), fields, comment))

    def command(self, minutes, command, actor=None, ref=None, comment=None):
        fields = {}
        if actor:
            fields["as"] = actor
        if ref:
            fields["ref"] = ref
        fields["command"] = command
        self.add(minutes, fields, comment)

    def render(self):
        out = []
        for minutes, _, fields, comment in sorted(self.items, key=lambda i: (i[0], i[1])):
            out.append("")
            if comment:
                out.append(f"# {comment}")
            out.append("[[inject]]")
            out.append(f"at = {toml_value(at(minutes))}")
            for k, v in fields.items():
                out.append(f"{k} = {toml_value(v)}")
        return out


# ---------------------------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------------------------

def main():
    rng = Lcg(SEED)
    levees = {f["properties"]["id"]: f for f in load("levees")}
    sections = [f["properties"] | {"line": f["geometry"]["coordinates"]}
                for f in load("patrol_sections")]
    teams = {f["properties"]["id"]: f for f in load("teams")}
    villages = {f["properties"]["id"]: f for f in load("villages")}
    cells = [f for f in load("grid_cells")]
    shelters = {f["properties"]["id"]: f for f in load("shelters")}
    zones = [f["geometry"]["coordinates"][0] for f in load("flood_zones")]
    railway = next(f for f in load("protected_assets") if f["properties"]["id"] == "PA-RAIL-JG")

    tl = Timeline()
    roster = []
    # The map's teams stand by off duty (no tablet reporting) until they are called out.
    for tid in sorted(teams):
        tl.command(0, {"type": "set_team_duty", "team_id": tid, "on_duty": False})

    def levee_end(lid):
        p = levees[lid]["properties"]
        return p["chainage_origin_m"], p["chainage_origin_m"] + p["length_m"]

    # --- rain, gauges, forecasts, response ------------------------------------------------
    for t, text, text_en in NOTES:
        tl.add(t, {"note": {"text": text, "text_en": text_en}})
    end = D(DURATION_DAYS + 1) - 60
    for gauge, levels in HYDROGRAPHS.items():
        tl.add(0, {"readings": {"gauge": gauge, "every": "1h", "until": at(end),
                                "levels": [[at(t), lv] for t, lv in levels]}},
               comment=f"hourly readings of {gauge}")
    for gauge, t, peak, peak_at in FORECASTS:
        tl.command(t, {"type": "enter_gauge_forecast", "gauge_id": gauge, "peak_m": peak,
                       "peak_at": epoch_ms(peak_at), "source": "湖南省水文中心"})
    for t, level, reason in RESPONSE:
        cmd = {"type": "set_response_level", "jurisdiction": JURISDICTION}
        if level:  # left out: TOML has no null, and a missing level lifts the response
            cmd["level"] = level
        cmd["reason"] = reason
        tl.command(t, cmd)

    # --- patrols: two teams per section, 12-hour shifts -------------------------------------
    on_shift = {}  # section id → [team of shift k]
    for s in sections:
        lo, hi = levee_end(s["levee_id"])
        from_m = round(max(s["from"], lo + 1.0), 1)
        to_m = round(min(s["to"], hi - 1.0), 1)
        length = to_m - from_m
        speed = length / TRAVERSE_S * 3.6
        pair = []
        for shift_name, suffix in (("甲班", "A"), ("乙班", "B")):
            tid = "XD-" + s["id"][3:] + "-" + suffix
            pair.append(tid)
            roster.append({"id": tid, "name": f"{s['name']}民兵巡堤{shift_name}",
                           "kind": "militia", "headcount": PATROL_HEADCOUNT,
                           "capabilities": ["lighting"], "travel_mode": "foot",
                           "position": [round(c, 6) for c in s["line"][0]]})
            tl.command(0, {"type": "set_team_duty", "team_id": tid, "on_duty": False})
        on_shift[s["id"]] = [pair[k % 2] for k in range(PATROL_SHIFTS)]
        for k in range(PATROL_SHIFTS):
            t0 = PATROL_FROM + k * SHIFT_MIN
            team = pair[k % 2]
            # The shift is put on the board an hour ahead, the team reports its position and
            # comes on duty a minute before it starts: no moment without a team on shift.
            tl.command(t0 - 60, {"type": "assign_patrol", "section_id": s["id"], "team_id": team,
                                 "from_ms": epoch_ms(t0), "until_ms": epoch_ms(t0 + SHIFT_MIN)})
            tl.command(t0 - 1, {"type": "update_position", "team_id": team,
                                "position": [round(c, 6) for c in s["line"][0]]},
                       actor=f"field:{team}")
            tl.command(t0 - 1, {"type": "set_team_duty", "team_id": team, "on_duty": True},
                       actor=f"field:{team}")
            tl.add(t0, {"patrol": {"team": team, "levee": s["levee_id"],
                                   "from_m": from_m, "to_m": to_m,
                                   "until": at(t0 + SHIFT_MIN), "speed_kmh": speed,
                                   "fix_every": FIX_EVERY}})
        for k in range(PATROL_SHIFTS):
            team = pair[k % 2]
            tl.command(PATROL_FROM + (k + 1) * SHIFT_MIN + 0.5,
                       {"type": "set_team_duty", "team_id": team, "on_duty": False},
                       actor=f"field:{team}")

    def reporter(section, t):
        k = min(max(int((t - PATROL_FROM) // SHIFT_MIN), 0), PATROL_SHIFTS - 1)
        return on_shift[section["id"]][k]

    # --- hazards ----------------------------------------------------------------------------
    level = HYDROGRAPHS["G-XJ-LK"]

    def lk_level(t):
        for (t0, v0), (t1, v1) in zip(level, level[1:]):
            if t0 <= t <= t1:
                return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
        return level[-1][1]

    total_len = sum(p["properties"]["length_m"] for p in levees.values())
    n_hazards = sum(n for _, n, _, _ in HAZARD_KINDS)
    kinds = [k for k, n, _, _ in HAZARD_KINDS for _ in range(n)]
    # Levees in turn, weighted by length, every levee at least three.
    per_levee = {lid: 3 for lid in levees}
    while sum(per_levee.values()) < n_hazards:
        lid = max(levees, key=lambda x: levees[x]["properties"]["length_m"] / total_len
                  - per_levee[x] / n_hazards)
        per_levee[lid] += 1
    slots = [lid for lid in sorted(levees) for _ in range(per_levee[lid])]
    for i in range(len(kinds) - 1, 0, -1):  # shuffle the kinds over the slots
        j = rng.int(0, i)
        kinds[i], kinds[j] = kinds[j], kinds[i]
    spec = {k: (sev, hours) for k, _, sev, hours in HAZARD_KINDS}
    hazards = []
    for n, (lid, kind) in enumerate(zip(slots, kinds)):
        while True:  # more hazards where the water is higher
            t = rng.uniform(HAZARDS_FROM, HAZARDS_UNTIL)
            if rng.uniform(0, 1) < (lk_level(t) - 39.0) / 5.2:
                break
        t = int(t)
        lo, hi = levee_end(lid)
        secs = [s for s in sections if s["levee_id"] == lid]
        s = secs[rng.int(0, len(secs) - 1)]
        chainage = round(rng.uniform(max(s["from"] + 40, lo + 400), min(s["to"] - 40, hi - 400)))
        sev, (h0, h1) = spec[kind]
        hazards.append({"n": n, "kind": kind, "severity": rng.choice(sev), "t": t, "levee": lid,
                        "section": s, "chainage": chainage,
                        "text": rng.choice(DESCRIPTIONS[kind]).format(n=rng.int(2, 9)),
                        "confirm": t + rng.int(10, 40), "handle": t + rng.int(45, 120),
                        "done": t + rng.int(h0 * 60, h1 * 60)})
    hazards.sort(key=lambda h: (h["t"], h["n"]))
    for i, h in enumerate(hazards):
        name = f"hz{i + 1:03d}"
        tl.command(h["t"], {"type": "report_hazard", "kind": h["kind"], "severity": h["severity"],
                            "position": {"levee": h["levee"], "chainage_m": h["chainage"]},
                            "description": h["text"]},
                   actor=f"field:{reporter(h['section'], h['t'])}", ref=name)
        tl.command(h["confirm"], {"type": "confirm_hazard", "hazard_id": f"${name}"})
        tl.command(h["handle"], {"type": "start_hazard_handling", "hazard_id": f"${name}"})
        if h["kind"] == "piping":
            lo, hi = levee_end(h["levee"])
            site = {"kind": "levee_stretch", "levee_id": h["levee"],
                    "from": max(lo, h["chainage"] - 50), "to": min(hi, h["chainage"] + 50)}
            tl.command(h["handle"], {"type": "issue_materials", "depot_id": LEVEE_DEPOT[h["levee"]],
                                     "site": site, "items": PIPING_MATERIALS,
                                     "note": "管涌抢护：反滤围井"}, ref=f"{name}_ms")
            tl.command(h["handle"] + 40, {"type": "deliver_materials",
                                          "shipment_id": f"${name}_ms"})
            tl.command(h["done"], {"type": "consume_materials", "shipment_id": f"${name}_ms",
                                   "items": PIPING_MATERIALS})
        tl.command(h["done"], {"type": "eliminate_hazard", "hazard_id": f"${name}",
                               "reason": "处置完毕，险情排除"})

    # --- 将军村: the piping that becomes the breach -----------------------------------------
    nz = levees["XJ-E-NZ"]
    lo, hi = levee_end("XJ-E-NZ")
    rail_line = railway["geometry"]["coordinates"]
    jj = villages["V-NZ-02"]["geometry"]["coordinates"]
    # The point of the levee nearest the railway, within 1.5 km of the village.
    best = None
    for c in range(int(lo) + 500, int(hi) - 500, 10):
        p = point_on_line(nz["geometry"]["coordinates"], lo, c)
        if metres(p, jj) > 1500:
            continue
        d = distance_to_line(p, rail_line)
        if best is None or d < best[0]:
            best = (d, c)
    rail_m, jj_chainage = best
    assert rail_m < railway["properties"]["buffer_m"] - 20, rail_m
    jj_section = next(s for s in sections
                      if s["levee_id"] == "XJ-E-NZ" and s["from"] <= jj_chainage <= s["to"])
    jj_reporter = reporter(jj_section, JIANGJUN_REPORTED)
    tl.command(JIANGJUN_REPORTED, {
        "type": "report_hazard", "kind": "piping", "severity": "major",
        "position": {"levee": "XJ-E-NZ", "chainage_m": jj_chainage},
        "description": "将军村段堤脚管涌，直径约30厘米，浑水带沙，距京广铁路约"
                       f"{int(round(rail_m, -1))}米"},
        actor=f"field:{jj_reporter}", ref="jiangjun",
        comment=f"将军村: K{jj_chainage // 1000}+{jj_chainage % 1000:03d}, "
                f"~{int(round(rail_m))} m from the railway (its buffer: 500 m)")
    tl.command(JIANGJUN_REPORTED + 8, {"type": "confirm_hazard", "hazard_id": "$jiangjun"})
    tl.command(JIANGJUN_REPORTED + 15, {"type": "start_hazard_handling", "hazard_id": "$jiangjun",
                                        "reason": "南洲镇民兵抢险连反滤压渗"})
    tl.command(JIANGJUN_REPORTED + 70, {"type": "escalate_hazard", "hazard_id": "$jiangjun",
                                        "severity": "critical",
                                        "reason": "管涌口扩大，出浑水量增加"})
    tl.command(BREACH_AT, {"type": "escalate_hazard", "hazard_id": "$jiangjun", "kind": "breach",
                           "reason": "管涌发展为溃口，口门宽约20米，洪水直逼京广铁路"},
               ref="breach", comment="the breach: escalating opens the incident ($breach)")
    post = point_on_line(nz["geometry"]["coordinates"], lo, jj_chainage)
    tl.command(BREACH_AT + 4, {"type": "set_command_post", "incident_id": "$breach",
                               "post": {"position": [round(post[0] + 0.004, 6),
                                                     round(post[1], 6)],
                                        "name": "将军村溃口现场指挥部",
                                        "commander": "区防指常务副指挥长"}})
    headcount = 0
    for tid, committed in BREACH_TEAMS:
        headcount += teams[tid]["properties"]["headcount"]
        start = teams[tid]["geometry"]["coordinates"]
        on_scene = committed + int(math.ceil(metres(start, post) / 1000 / TRUCK_KMH * 60)) + 1
        tl.command(committed, {"type": "commit_team", "incident_id": "$breach", "team_id": tid,
                               "state": "en_route"})
        # The first fix before the team comes on duty, so it is never on duty without one.
        tl.add(committed, {"move": {"team": tid, "route": [start, [round(post[0], 6),
                                                                  round(post[1], 6)]],
                                    "speed_kmh": TRUCK_KMH}})
        tl.command(committed, {"type": "set_team_duty", "team_id": tid, "on_duty": True},
                   actor=f"field:{tid}")
        tl.command(on_scene, {"type": "commit_team", "incident_id": "$breach", "team_id": tid,
                              "state": "on_scene"})
        # On scene the team's tablet keeps sending its position, so it is never reported silent.
        spot = [round(post[0] + rng.uniform(-0.0015, 0.0025), 6),
                round(post[1] + rng.uniform(-0.0015, 0.0015), 6)]
        for t in list(range(on_scene + ON_SCENE_FIX_MIN, BREACH_CLOSED, ON_SCENE_FIX_MIN)) + [
                BREACH_CLOSED]:
            tl.command(t, {"type": "update_position", "team_id": tid, "position": spot},
                       actor=f"field:{tid}")
    for stage, t in BREACH_STAGES:
        tl.command(t, {"type": "advance_incident_stage", "incident_id": "$breach",
                       "stage": stage})
    for i, (depot, t, items) in enumerate(BREACH_MATERIALS):
        tl.command(t, {"type": "issue_materials", "depot_id": depot,
                       "site": {"kind": "incident", "incident_id": "$breach"}, "items": items,
                       "note": "溃口抢险"}, ref=f"breach_ms{i}")
        tl.command(t + 60, {"type": "deliver_materials", "shipment_id": f"$breach_ms{i}"})
        tl.command(BREACH_CLOSED - 30, {"type": "consume_materials",
                                        "shipment_id": f"$breach_ms{i}", "items": items})
    depot, t, items, note = RESTOCK
    tl.command(t, {"type": "restock_depot", "depot_id": depot, "items": items})
    for tid, _ in BREACH_TEAMS:
        tl.command(BREACH_CLOSED, {"type": "commit_team", "incident_id": "$breach",
                                   "team_id": tid, "state": "released"})
        tl.command(BREACH_CLOSED + 5, {"type": "set_team_duty", "team_id": tid,
                                        "on_duty": False}, actor=f"field:{tid}")
    tl.command(BREACH_CLOSED, {"type": "close_incident", "incident_id": "$breach"},
               comment="合龙: the breach is closed")
    tl.command(BREACH_CLOSED + 20, {"type": "eliminate_hazard", "hazard_id": "$jiangjun",
                                    "reason": "溃口合龙，闭气完成"})

    # --- evacuation ----------------------------------------------------------------------
    assert sum(n for _, n, _, _ in EVACUATION) == EVACUATED_TOTAL
    safe = []  # shelters a breach cannot flood: outside every zone, or on high ground
    for sid, f in sorted(shelters.items()):
        p = f["geometry"]["coordinates"]
        if f["properties"]["high_ground"] or not any(inside(z, p) for z in zones):
            safe.append(sid)
    occupancy = {sid: 0 for sid in shelters}
    opened = {}  # shelter → minutes opened
    history = {sid: [] for sid in shelters}  # (minutes, +/- people)

    def room(sid):
        return int(shelters[sid]["properties"]["capacity"] * SHELTER_FILL) - occupancy[sid]

    orders = {}
    used = {}  # village → the shelters its people went to
    # In the order the orders are issued: the first villages get the nearest shelters.
    for vid, movers, t_order, to_relatives in sorted(EVACUATION, key=lambda e: e[2]):
        v = villages[vid]["properties"]
        vcells = sorted((c for c in cells if c["properties"]["village"] == vid),
                        key=lambda c: c["properties"]["id"])
        ring = union_ring([c["geometry"]["coordinates"][0] for c in vcells])
        name = f"{v['name']}紧急转移令"
        order_ref = "ev_" + vid.replace("-", "_").lower()
        orders[vid] = (order_ref, v["town"])
        cmd = {"type": "issue_evacuation_order", "name": name, "zone": ring}
        if vid != "V-NZ-02":  # 将军村's is the trainees' (a cue with a simulated answer)
            tl.command(t_order, cmd, ref=order_ref, comment=f"evacuation of {v['name']}")
        else:
            jj_order = cmd
        # People per cell, by population (largest remainder).
        pops = [c["properties"]["population"] for c in vcells]
        shares = [movers * p / sum(pops) for p in pops]
        per_cell = [int(x) for x in shares]
        for i in sorted(range(len(shares)), key=lambda i: per_cell[i] - shares[i])[
                :movers - sum(per_cell)]:
            per_cell[i] += 1
        vpos = villages[vid]["geometry"]["coordinates"]
        near = sorted(safe, key=lambda sid: metres(vpos, shelters[sid]["geometry"]["coordinates"]))
        t = t_order + 20
        for c, n in zip(vcells, per_cell):
            cp = c["properties"]
            gw = cp["grid_worker_id"]
            tl.command(t_order + 10, {"type": "report_cell_status", "cell_id": cp["id"],
                                      "status": "notified", "note": "逐户通知到位"},
                       actor=f"grid_worker:{gw}")
            relatives = int(round(n * to_relatives))
            to_shelter = n - relatives
            vulnerable = {k: x for k, x in cp["vulnerable"].items() if x}
            first = True
            while to_shelter > 0:
                sid = next(s for s in near if room(s) > 0)
                batch = min(to_shelter, room(sid), rng.int(40, 160))
                if first and sum(vulnerable.values()) > batch:
                    batch = min(to_shelter, room(sid))
                opened[sid] = min(opened.get(sid, t - 5), t - 5)  # opened before its first
                ci = {"type": "check_in", "shelter_id": sid, "count": batch, "from_cell": cp["id"]}
                if first and vulnerable and sum(vulnerable.values()) <= batch:
                    ci["vulnerable"] = vulnerable  # the vulnerable go first
                first = False
                tl.command(t, ci)
                used.setdefault(vid, set()).add(sid)
                occupancy[sid] += batch
                history[sid].append((t, batch))
                to_shelter -= batch
                t += rng.int(6, 20)
            while relatives > 0:
                batch = min(relatives, rng.int(15, 60))
                tl.command(t, {"type": "record_self_evacuation", "cell_id": cp["id"],
                               "count": batch, "note": "投亲靠友"}, actor=f"grid_worker:{gw}")
                relatives -= batch
                t += rng.int(5, 15)
            people_left = cp["population"] - n
            status = {"type": "report_cell_status", "cell_id": cp["id"],
                      "status": "clear" if people_left == 0 else "evacuating"}
            if people_left:
                status["people_remaining"] = people_left
            status["note"] = "转移完毕" if people_left == 0 else "低洼区域群众已转移"
            tl.command(t, status, actor=f"grid_worker:{gw}")
        # The order names the shelters its people were sent to (known once they are chosen).
        cmd["target_shelters"] = sorted({sid for sid, h in history.items()
                                         for w, x in h if x and t_order <= w} & used[vid])
    for sid in sorted(opened):
        tl.command(opened[sid], {"type": "open_shelter", "shelter_id": sid})
    # Lifting the orders, people going home, shelters closed.
    for vid, (order_ref, town) in orders.items():
        tl.command(LIFT_AT[town], {"type": "lift_evacuation_order", "evacuation_id": f"${order_ref}"})
    t = HOME_FROM
    for sid in sorted(opened):
        left = occupancy[sid]
        while left > 0:
            batch = min(left, rng.int(60, 200))
            tl.command(t, {"type": "check_out", "shelter_id": sid, "count": batch})
            history[sid].append((t, -batch))
            left -= batch
            t += rng.int(3, 10)
        tl.command(t, {"type": "close_shelter", "shelter_id": sid})
        history[sid].append((t, None))
    # Supplies: every morning, what the people of each open shelter need for a day is delivered
    # and handed out (deliver_supply, issue_supply), so the stock stays at three days' worth.
    supplies = {"water": 3.0, "instant_noodles": 2.0, "bread": 1.0, "milk": 0.5,
                "mosquito_coils": 0.5}
    for sid in sorted(opened):
        for day in range(1, DURATION_DAYS + 1):
            t = D(day, 8)
            if t <= opened[sid]:
                continue
            events = history[sid]
            if any(x is None and w <= t for w, x in events):
                break
            people = sum(x for w, x in events if x is not None and w <= t)
            if people <= 0:
                continue
            for item, daily in supplies.items():
                qty = int(math.ceil(people * daily))
                tl.command(t, {"type": "deliver_supply", "shelter_id": sid, "item": item,
                               "quantity": qty})
                tl.command(t + 30, {"type": "issue_supply", "shelter_id": sid, "item": item,
                                    "quantity": qty})

    # --- cues for the trainees, with the answers of a simulated trainee -------------------
    cues = [
        (D(2, 22), {"id": "response-III", "text": "湘江涪口站水位超过警戒水位40.0米，请启动防汛III级应急响应",
                    "text_en": "涪口 is above its warning level (40.0 m): raise the response to level III",
                    "deadline": "1h", "expect_event": "response_level_changed",
                    "expect_fields": {"jurisdiction": JURISDICTION},
                    "response": {"type": "set_response_level", "jurisdiction": JURISDICTION,
                                 "level": "III", "reason": "涪口站超警戒水位"},
                    "respond_after": "20m"}),
        (D(3, 21), {"id": "response-II", "text": "湘江涪口站水位超过保证水位42.5米，请启动防汛II级应急响应",
                    "text_en": "涪口 is above its guaranteed level (42.5 m): raise the response to level II",
                    "deadline": "1h", "expect_event": "response_level_changed",
                    "expect_fields": {"jurisdiction": JURISDICTION},
                    "response": {"type": "set_response_level", "jurisdiction": JURISDICTION,
                                 "level": "II", "reason": "涪口站超保证水位"},
                    "respond_after": "15m"}),
        (EVACUATION[0][2] - 20,
         {"id": "evacuate-jiangjun",
          "text": "将军村段管涌险情严重，村庄位于南洲段溃堤淹没区内，请下达将军村群众紧急转移令",
          "text_en": "The piping at 将军村 is serious and the village lies in the 南洲 flood zone: "
                     "order its evacuation",
          "deadline": "30m", "expect_event": "evacuation_ordered",
          "response": jj_order, "respond_after": "20m", "response_ref": "ev_v_nz_02"}),
        (BREACH_AT + 2, {"id": "reinforce-breach",
                         "text": "将军村溃口威胁京广铁路，请调派预备役步兵营（T-24）增援",
                         "text_en": "The breach at 将军村 threatens the 京广 railway: send the "
                                    "reserve infantry battalion (T-24)",
                         "deadline": "30m", "expect_event": "incident_team_changed",
                         "expect_fields": {"team_id": "T-24"},
                         "response": {"type": "commit_team", "incident_id": "$breach",
                                      "team_id": "T-24", "state": "requested"},
                         "respond_after": "5m"}),
    ]
    for t, cue in cues:
        tl.add(t, {"cue": cue})
    tl.command(D(DURATION_DAYS, 18), {"type": "confirm_casualties",
                                      "note": "经各镇逐村核查，全区无人员死亡、失踪"})

    # --- the file ---------------------------------------------------------------------------
    commands_estimate = len(tl.items)
    out = [
        "#:schema ../docs/scenario.schema.json",
        "# GENERATED by scenarios/generate_fukou_2019_07.py from maps/fukou/*.geojson and the",
        "# story of the product brief (the July flood). Do not edit by hand: change the generator",
        "# and run `python3 scenarios/generate_fukou_2019_07.py`. See scenarios/README.md.",
        f"# 将军村's piping/breach at XJ-E-NZ {jj_chainage} m, ~{int(round(rail_m))} m from the "
        f"京广 railway; {len(hazards) + 1} hazards; {len(roster)} patrol teams on the roster;",
        f"# peak headcount at the breach {headcount}.",
        "",
        f"title = {toml_value('涪口区2019年7月洪水（湘江超保证水位、将军村溃口）')}",
        "description = " + toml_value(
            "The July flood of the product brief: the 湘江 at 涪口 1.52 m above its guaranteed "
            "level on day 4, 24-hour patrols on every levee, over 110 hazards, the breach at "
            "将军村 that threatened the 京广 railway closed by close to 1,000 rescuers, 7,026 "
            "people evacuated, nobody dead or missing."),
        'map = "../maps/fukou"',
        f"start = {toml_value(START)}",
        f'duration = "{DURATION_DAYS}d"',
        'tick_every = "1m"',
        "",
        "[roster]",
        "teams = [",
    ]
    for team in roster:
        out.append("  " + toml_value(team) + ",")
    out.append("]")
    out.extend(tl.render())
    expects = [
        {"name": "every hazard is eliminated", "every": "hazards", "path": "status",
         "equals": "eliminated"},
        {"name": "more than 110 hazards", "sitrep": "hazards.total", "at_least": 111},
        {"name": "7,026 people evacuated", "sitrep": "evacuation.total.evacuated",
         "equals": EVACUATED_TOTAL},
        {"name": "nobody dead", "sitrep": "casualties.figures.dead", "equals": 0},
        {"name": "nobody missing", "sitrep": "casualties.figures.missing", "equals": 0},
        {"name": "no casualties is a confirmed fact",
         "sitrep": "casualties.confirmed_figures_current", "equals": True},
        {"name": "the 将军村 piping became the breach", "entity": "hazards:$jiangjun",
         "path": "kind", "equals": "breach"},
        {"name": "the railway was seen threatened", "alerts_raised": "asset_threatened",
         "subject": "PA-RAIL-JG", "at_least": 1},
        {"name": "the breach is closed", "entity": "incidents:$breach", "path": "open",
         "equals": False},
        {"name": "the railway protected: no levee breached at the end",
         "sitrep": "flood_safety.breached_levees", "equals": []},
        {"name": "close to 1,000 rescuers at the breach", "entity": "incidents:$breach",
         "path": "peak_headcount", "at_least": headcount - 50, "at_most": 1000},
        {"name": "every patrol point passed within its interval, all the time",
         "alerts_raised": "patrol_gap", "at_most": 0},
        {"name": "a team on shift on every section while patrols were required",
         "alerts_raised": "patrol_unstaffed", "at_most": 0},
        {"name": "no team on duty went silent", "alerts_raised": "team_silent", "at_most": 0},
        {"name": "every evacuation order is lifted", "every": "evacuations", "path": "status",
         "equals": "lifted"},
    ]
    for e in expects:
        out.append("")
        out.append("[[expect]]")
        for k, v in e.items():
            out.append(f"{k} = {toml_value(v)}")
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {os.path.relpath(OUT)}: {commands_estimate} injects, {len(roster)} roster teams, "
          f"{len(hazards) + 1} hazards, headcount {headcount}, 将军村 at {jj_chainage} m "
          f"({rail_m:.0f} m from the railway), shelters {sorted(opened)}")


if __name__ == "__main__":
    main()
