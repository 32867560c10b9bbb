from setuptools import find_packages, setup

PACKAGE = "ocelot_common"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={PACKAGE: ["fastdds_profile.xml", "commands.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},  # what `colcon test` looks for to run the package's pytest tests
    zip_safe=True,
    maintainer="Ocelot maintainers",
    maintainer_email="ocelot@example.com",
    description="Shared lifecycle node base, runner and ROS environment defaults.",
    license="Apache-2.0",
)
