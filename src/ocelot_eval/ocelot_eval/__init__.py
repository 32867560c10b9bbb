"""Haar-cascade evaluator node, tracking metrics, offline and closed-loop evaluation and the deploy gate."""
