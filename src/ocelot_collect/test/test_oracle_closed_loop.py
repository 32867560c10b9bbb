"""The oracle law in closed loop with the real rig over 20 generated scenarios: <= 2 px mean, <= 6 px p95."""
import numpy as np

from ocelot_collect.oracle_law import OracleLaw
from ocelot_sim.rig import PanTiltSim
from ocelot_sim.scenario import LABELS, generate

WARMUP_FRAMES = 10  # 1 s at 10 Hz


def test_oracle_tracks_within_two_pixels():
    sim = PanTiltSim(render=False)  # ground truth only: the law does not look at images
    errors, labels, motions = [], set(), set()
    for seed in range(20):
        scenario = generate(seed, overrides={"label_key": LABELS[seed % len(LABELS)]})  # 4 of each label
        labels.add(scenario.label_key)
        motions.add(scenario.faces[scenario.target].motion.pattern)
        sim.reset(scenario)
        law = OracleLaw()
        for frame in range(140):
            truth = sim.ground_truth()[scenario.target]
            if frame >= WARMUP_FRAMES:
                errors.append(np.hypot(truth.pixel[0] - 320, truth.pixel[1] - 240))
            (pan, tilt), _ = sim.joints()
            sim.step(*law.command(sim.time, *truth.pixel, pan, tilt, truth.rates))
    errors = np.array(errors)
    print(f"oracle over 20 scenarios: mean {errors.mean():.2f} px, p95 {np.percentile(errors, 95):.2f} px")
    assert labels == set(LABELS) and motions == {"static", "linear", "sine", "random_walk"}
    assert errors.mean() <= 2.0 and np.percentile(errors, 95) <= 6.0
