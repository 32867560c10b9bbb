"""Headless MuJoCo pan-tilt rig and world, scenario generator, procedural faces and the sim lifecycle node."""
