from glob import glob

from setuptools import find_packages, setup

PACKAGE = "ocelot_sim"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/config/robots", glob("config/robots/*.yaml")),
        (f"share/{PACKAGE}/launch", glob("launch/*_launch.py")),
        # worlds/ is the repository's top-level folder (a link here), so the files live in one place
        (f"share/{PACKAGE}/worlds", glob("worlds/*.xml") + glob("worlds/*.csv")),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},  # what `colcon test` looks for to run the package's pytest tests
    zip_safe=True,
    maintainer="Ocelot maintainers",
    maintainer_email="ocelot@example.com",
    description="Headless MuJoCo pan-tilt rig and world, scenarios, procedural faces and the sim lifecycle node.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "sim_node = ocelot_sim.sim_node:main",
        ],
    },
)
