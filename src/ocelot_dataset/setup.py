from setuptools import find_packages, setup

PACKAGE = "ocelot_dataset"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},  # what `colcon test` looks for to run the package's pytest tests
    zip_safe=True,
    maintainer="Ocelot maintainers",
    maintainer_email="ocelot@example.com",
    description="The episode dataset: schema, episode files, index, splits, checks and merges (ROS-free).",
    license="Apache-2.0",
)
