from glob import glob

from setuptools import find_packages, setup

PACKAGE = "ocelot_train"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={PACKAGE: ["data/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/launch", glob("launch/*_launch.py")),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},  # what `colcon test` looks for to run the package's pytest tests
    zip_safe=True,
    maintainer="Ocelot maintainers",
    maintainer_email="ocelot@example.com",
    description="PyTorch training of the VLA policy: dataset, model, training, sweeps, ONNX export. Imports no rclpy.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [],
    },
)
