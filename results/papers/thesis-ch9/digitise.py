"""Digitises the thesis's WAN election-time CDFs (Ongaro, "Consensus: Bridging Theory and
Practice", Stanford 2014, §9.4 "Simulated WAN network", Figure 9.9,
leaderelection/multi-submission-failures.svg in github.com/ongardie/dissertation, CC BY 4.0).

Usage: python3 digitise.py multi-submission-failures.svg > published-wan.csv   (one row per failed count and statistic)

The figure is an R/ggplot SVG: each CDF is one step path of ~10 000 points (one step per
simulated election), so the curves are read exactly rather than by eye. Axis calibration, from the
SVG's own tick marks and tick labels (glyphs decoded by hand: 0 ... 9):
  left panel   x: tick "0" at 35.285156, tick "200" at 69.382812 (ms, linear)
               y: tick "0.0" at 145.074219, tick "1.0" at 12.308594 (linear)
  right panel  x: tick "0" at 274.773438, tick "1000" at 311.214844 (ms, linear)
               y: tick "0.0" at 145.074219, one decade of 1 - p per 33.191406 (ticks 0.9 at
               111.882812, 0.99 at 78.691406, 0.999 at 45.5, 0.9999 at 12.308594)
Colours are ggplot's default hues in legend order: red (#F8766D) first, green (#00BA38)
second, blue (#619CFF) third; the legend labels them 0, 1 and 2 (failed servers). The mean
printed checks the mapping against the text ("one of the five servers has failed, the average
election completes within about 475 ms ... two ... about 650 ms").
Each path starts with a horizontal run at p = 0 from the panel's padding; only the rise counts.
"""
import re, sys

svg = open(sys.argv[1]).read()
body = svg[svg.find("</defs>"):]
COLOURS = [("97.254902%", 0), ("0%,72.941176%", 1), ("38.039216%", 2)]
left, right = {}, {}
for style, d in re.findall(r'<path style="([^"]*)" d="([^"]*)"', body):
    if d.count("L") < 100:
        continue
    failed = [f for c, f in COLOURS if "stroke:rgb(" + c in style][0]
    pts = [tuple(map(float, p.split())) for p in re.findall(r"[ML] ([\d.\-]+ [\d.\-]+)", d)]
    (right if pts[0][0] > 216 else left)[failed] = pts

def left_xy(x, y):
    return (x - 35.285156) * 200 / (69.382812 - 35.285156), (145.074219 - y) / (145.074219 - 12.308594)

def right_xy(x, y):
    return (x - 274.773438) * 1000 / (311.214844 - 274.773438), 1 - 10 ** (-(145.074219 - y) / 33.191406)

QS = [q / 100 for q in range(1, 100)] + [0.995, 0.999]
print("failed,stat,ms")
for failed in (0, 1, 2):
    lpts = [left_xy(*p) for p in left[failed]]
    rpts = [right_xy(*p) for p in right[failed]]
    # The CDF as a step function: at each x the highest p reached (left panel: linear y; the right
    # panel supplies the points past the left path's end, where it is clipped at the figure's edge).
    steps = []
    for x, p in lpts + [q for q in rpts if q[0] > lpts[-1][0]]:
        if steps and p < steps[-1][1]:
            p = steps[-1][1]
        steps.append((x, p))
    # mean = integral of (1 - F) over x >= 0
    mean, (x0, p0) = 0.0, (0.0, 0.0)
    for x, p in steps:
        mean += (x - x0) * (1 - p0)
        x0, p0 = x, p
    print(f"{failed},mean,{mean:.1f}")
    for q in QS:
        x = next(x for x, p in steps if p >= q - 1e-6)
        print(f"{failed},p{q * 100:g},{x:.1f}")
    print(f"{failed},max,{steps[-1][0]:.1f}")
