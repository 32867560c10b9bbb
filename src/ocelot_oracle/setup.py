from glob import glob

from setuptools import find_packages, setup

PACKAGE = "ocelot_oracle"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},  # what `colcon test` looks for to run the package's pytest tests
    zip_safe=True,
    maintainer="Ocelot maintainers",
    maintainer_email="ocelot@example.com",
    description="The oracle controller: its control law and the lifecycle node that runs it.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["oracle_node = ocelot_oracle.oracle_node:main"]},
)
