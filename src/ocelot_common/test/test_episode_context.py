import numpy as np

from ocelot_common.episode_context import (
    AT_REST,
    EpisodeContext,
    no_previous_action,
    previous_actions,
    previous_targets,
)


def test_each_frame_gets_the_one_before_and_the_first_gets_rest_or_none():
    applied = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], np.float32)
    np.testing.assert_array_equal(
        previous_actions(applied), np.concatenate([np.zeros((1, 2), np.float32), applied[:-1]])
    )
    shifted = previous_targets(applied)
    assert np.isnan(shifted[0]).all()
    np.testing.assert_array_equal(shifted[1:], applied[:-1])
    assert tuple(no_previous_action(3)[2]) == AT_REST and no_previous_action(3).dtype == np.float32


def test_the_context_forgets_its_estimate_on_reset():
    context = EpisodeContext()
    assert context.known_target is None and np.isnan(context.previous_target).all()
    context.remember(np.array([[0.25, -0.5]]), (0.5, -0.125))
    np.testing.assert_array_equal(context.known_target, [0.25, -0.5])
    np.testing.assert_array_equal(context.earlier_action, [[0.5, -0.125]])
    context.remember(None, (0.0, 1.0))  # a model without an estimate: the command is still kept
    np.testing.assert_array_equal(context.known_target, [0.25, -0.5])
    np.testing.assert_array_equal(context.earlier_action, [[0.0, 1.0]])
    context.known_target[0] = 9.0  # a copy: the caller cannot change what is fed back
    np.testing.assert_array_equal(context.previous_target, [[0.25, -0.5]])
    context.reset()
    assert context.known_target is None and not context.earlier_action.any()
