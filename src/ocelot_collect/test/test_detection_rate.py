"""Haar finds the rendered target face at 1-3 m in >= 90% of frames (generated scenarios, oracle in control)."""

import numpy as np

from ocelot_oracle.oracle_law import OracleLaw
from ocelot_sim.haar import box_centre, detect_faces
from ocelot_sim.rig import PanTiltSim
from ocelot_sim.scenario import generate


def detection_rate(sim, seed, distance):
    scenario = generate(seed)
    faces = [{} for _ in scenario.faces]
    faces[scenario.target] = {"distance_m": distance}
    scenario = generate(seed, overrides={"faces": faces})
    sim.reset(scenario)
    law, hits = OracleLaw(), []
    for frame in range(7):
        truth = sim.ground_truth()[scenario.target]
        if frame >= 3:
            boxes = detect_faces(sim.render())
            hits.append(any(np.hypot(*(np.array(box_centre(b)) - truth.pixel)) < b[2] / 2 for b in boxes))
        (pan, tilt), _ = sim.joints()
        sim.step(*law.command(sim.time, *truth.pixel, pan, tilt, truth.rates))
    return np.mean(hits)


def test_detection_rate_at_one_to_three_metres():
    sim = PanTiltSim()
    try:
        rates = {d: np.mean([detection_rate(sim, seed, d) for seed in range(100, 116)]) for d in (1.0, 2.0, 3.0)}
    finally:
        sim.close()
    print("Haar detection rate by distance:", rates)
    assert all(rate >= 0.9 for rate in rates.values()), rates
